//! The top-level header block: sanity check, 8-bit repair, and the fields we read ourselves.

use std::borrow::Cow;

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Address, Message};

use crate::charset::{self, Hint};
use crate::model::Mailbox;
use crate::warnings::Warnings;

/// Headers any real message has at least one of.
const MESSAGE_HEADERS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "sender",
    "mime-version",
    "content-type",
    "delivered-to",
];

/// Strip an mbox `From ` separator line, which some exports leave in front.
pub(crate) fn strip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(nl) => &raw[nl + 1..],
            None => &[],
        }
    } else {
        raw
    }
}

/// Offset of the empty line that ends the header block (or the input's end).
pub(crate) fn header_block_end(raw: &[u8]) -> usize {
    let mut line_start = 0;
    while line_start < raw.len() {
        let line_end = raw[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| line_start + p);
        let line = &raw[line_start..line_end];
        if line.is_empty() || line == b"\r" {
            return line_start;
        }
        line_start = line_end + 1;
    }
    raw.len()
}

/// Refuse what is not a message: the first line must be a header field and the block must hold
/// at least one header every message has.
pub(crate) fn check_header_block(block: &[u8]) -> Result<(), &'static str> {
    let mut found_known = false;
    let mut first = true;
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if first {
                return Err("no header block");
            }
            continue;
        }
        let Some(name) = field_name(line) else {
            if first {
                return Err("no header block");
            }
            continue;
        };
        first = false;
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        if MESSAGE_HEADERS.contains(&name.as_str()) {
            found_known = true;
        }
    }
    if first {
        Err("no header block")
    } else if found_known {
        Ok(())
    } else {
        Err("no message headers")
    }
}

fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line[..colon].trim_ascii_end();
    let ok = !name.is_empty()
        && name
            .iter()
            .all(|&b| (0x21..=0x7e).contains(&b) && b != b':');
    ok.then_some(name)
}

/// Headers with raw 8-bit bytes that are not UTF-8 (an unencoded GBK subject or display name):
/// decode the header block with the detected charset and hand mail-parser UTF-8 (RFC 6532).
pub(crate) fn repair_8bit_headers<'a>(
    raw: &'a [u8],
    hint: &Hint<'_>,
    warnings: &mut Warnings,
) -> Cow<'a, [u8]> {
    let end = header_block_end(raw);
    let block = &raw[..end];
    if block.is_ascii() || std::str::from_utf8(block).is_ok() {
        return Cow::Borrowed(raw);
    }
    let enc = charset::detect(block, hint);
    warnings.push(format!(
        "8-bit header bytes decoded as {}",
        enc.name().to_ascii_lowercase()
    ));
    let (text, _) = enc.decode_without_bom_handling(block);
    // GB18030's four-byte sequences shrink to three UTF-8 bytes: size from the parts.
    let mut fixed = Vec::with_capacity(text.len() + (raw.len() - end));
    fixed.extend_from_slice(text.as_bytes());
    fixed.extend_from_slice(&raw[end..]);
    Cow::Owned(fixed)
}

/// Raw, unfolded values of every top-level header called `name`, in order.
pub(crate) fn raw_values<'m>(message: &'m Message<'_>, name: &str) -> Vec<Cow<'m, str>> {
    let Some(root) = message.parts.first() else {
        return Vec::new();
    };
    root.headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| {
            message
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
        })
        .map(|bytes| unfold(String::from_utf8_lossy(bytes)))
        .collect()
}

pub(crate) fn raw_value<'m>(message: &'m Message<'_>, name: &str) -> Option<Cow<'m, str>> {
    raw_values(message, name).into_iter().next()
}

fn unfold(value: Cow<'_, str>) -> Cow<'_, str> {
    if value.contains(['\r', '\n']) {
        let mut out = String::with_capacity(value.len());
        for line in value.split('\n') {
            out.push_str(line.strip_suffix('\r').unwrap_or(line));
        }
        Cow::Owned(out.trim().to_owned())
    } else {
        match value {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
        }
    }
}

/// Message ids in a header value, without angle brackets: every `<...>`; if there are none,
/// the white-space separated words that look like `local@domain`.
pub(crate) fn message_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            break;
        };
        let id: String = after[..close]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
        rest = &after[close + 1..];
    }
    if ids.is_empty() {
        for word in value.split_whitespace() {
            let word = word.trim_matches(|c: char| c == '"' || c == ',' || c == ';');
            if word.contains('@') && !word.starts_with('@') && !ids.iter().any(|i| i == word) {
                ids.push(word.to_owned());
            }
        }
    }
    ids
}

/// `Return-Path`: `Some("")` for `<>`.
pub(crate) fn return_path(message: &Message<'_>) -> Option<String> {
    let value = raw_value(message, "return-path")?;
    let value = value.trim();
    let path = match value.strip_prefix('<') {
        Some(inner) => inner.split('>').next().unwrap_or_default(),
        None => value.split_whitespace().next().unwrap_or_default(),
    };
    Some(path.trim().to_lowercase())
}

pub(crate) fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(address) = address else {
        return Vec::new();
    };
    address
        .iter()
        .filter_map(|addr| {
            let email = addr.address.as_deref()?.trim().trim_matches(['<', '>']);
            if email.is_empty() {
                return None;
            }
            let name = addr
                .name
                .as_deref()
                .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(email));
            Some(Mailbox {
                name,
                address: email.to_lowercase(),
            })
        })
        .collect()
}

pub(crate) fn date(message: &Message<'_>) -> Option<DateTime<Utc>> {
    let date = message.date()?;
    if !date.is_valid() {
        return None;
    }
    Utc.timestamp_opt(date.to_timestamp(), 0).single()
}

/// Top-level domain of an address, for charset guessing.
pub(crate) fn tld(address: &str) -> Option<&str> {
    let domain = address.rsplit_once('@')?.1;
    let tld = domain.rsplit('.').next()?;
    (!tld.is_empty() && tld.is_ascii()).then_some(tld)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_has_no_header_block() {
        assert_eq!(check_header_block(b"hello world"), Err("no header block"));
        assert_eq!(
            check_header_block(b"\x00\x01binary"),
            Err("no header block")
        );
        assert_eq!(check_header_block(b" Subject: x"), Err("no header block"));
        assert_eq!(
            check_header_block(b"X-Foo: bar\r\n"),
            Err("no message headers")
        );
        assert_eq!(check_header_block(b"Subject: x\r\n\tcontinued\r\n"), Ok(()));
    }

    #[test]
    fn message_ids_are_taken_from_brackets_or_bare_words() {
        assert_eq!(message_ids("<a@x> <b@y>"), vec!["a@x", "b@y"]);
        assert_eq!(message_ids("<a@x>\t(comment) <a@x>"), vec!["a@x"]);
        assert_eq!(message_ids("a@x"), vec!["a@x"]);
        assert_eq!(message_ids("Your message of Monday"), Vec::<String>::new());
    }
}
