//! Marking and building our own outgoing mail (acknowledgements and other notifications).
//!
//! Headers, per RFC 3834 ("Recommendations for Automatic Responses to Electronic Mail"):
//! - `Auto-Submitted: auto-replied` — the standard marker for a response to a message (§5);
//!   well-behaved responders and our own intake ([`crate::parse`]) will not answer it.
//! - `X-Auto-Response-Suppress: All` — Exchange/Outlook honour it and send no out-of-office or
//!   other automatic reply to it; without it every ticket with an away customer gets an OOF back.
//! - no `Precedence: bulk`: it is not standardised (RFC 3834 §3.1.8 tells responders not to rely
//!   on it), and providers' spam filters weigh it as bulk marketing, which our one-to-one
//!   acknowledgements are not.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::Rng;

use crate::error::BuildError;
use crate::model::Mailbox;

/// The headers every automatic message we send must carry.
pub fn auto_reply_headers() -> [(&'static str, &'static str); 2] {
    [
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
    ]
}

/// A Message-ID for our outgoing mail: `<FB-20261122-000042.5f0c…@domain>`, with 128 random bits.
pub fn message_id(ticket_number: &str, domain: &str, rng: &mut impl Rng) -> String {
    let random: u128 = rng.r#gen();
    format!("<{ticket_number}.{random:032x}@{domain}>")
}

/// An acknowledgement of a customer's message.
#[derive(Debug, Clone)]
pub struct Acknowledgement<'a> {
    pub from: &'a Mailbox,
    pub to: &'a Mailbox,
    pub ticket_number: &'a str,
    /// Subject text; `[ticket_number] ` is put in front unless it already contains the number.
    pub subject: &'a str,
    /// Plain UTF-8 text.
    pub body: &'a str,
    /// The same as HTML (its values escaped by the caller); sent as an alternative.
    pub html: Option<&'a str>,
    /// An answer to the user's own message (`Auto-Submitted: auto-replied`); otherwise a
    /// notice of something that happened (`auto-generated`).
    pub replied: bool,
    /// Our Message-ID, with angle brackets (see [`message_id`]).
    pub message_id: &'a str,
    /// The customer's Message-ID (without brackets), to thread the answer.
    pub in_reply_to: Option<&'a str>,
    /// The customer's `References` (without brackets).
    pub references: &'a [String],
    pub date: DateTime<Utc>,
}

/// Build the complete RFC 5322 message: CRLF line ends, RFC 2047 encoded subject and names,
/// base64 UTF-8 body.
pub fn build_acknowledgement(ack: &Acknowledgement<'_>) -> Result<Vec<u8>, BuildError> {
    let subject = if ack.subject.contains(ack.ticket_number) {
        ack.subject.to_owned()
    } else {
        format!("[{}] {}", ack.ticket_number, ack.subject)
    };
    check_line("subject", &subject)?;
    check_line("ticket number", ack.ticket_number)?;
    let message_id = ack.message_id.trim();
    check_id("message id", message_id.trim_matches(['<', '>']))?;

    let mut out = String::with_capacity(512 + ack.body.len() * 2);
    header(&mut out, "From", &mailbox("from", ack.from)?);
    header(&mut out, "To", &mailbox("to", ack.to)?);
    header(&mut out, "Subject", &encode_words(&subject));
    header(&mut out, "Date", &ack.date.to_rfc2822());
    header(&mut out, "Message-ID", message_id);
    let mut references: Vec<&str> = ack.references.iter().map(String::as_str).collect();
    if let Some(parent) = ack.in_reply_to {
        check_id("in-reply-to", parent)?;
        header(&mut out, "In-Reply-To", &format!("<{parent}>"));
        if !references.contains(&parent) {
            references.push(parent);
        }
    }
    if !references.is_empty() {
        let mut value = String::new();
        for (i, id) in references.iter().enumerate() {
            check_id("references", id)?;
            if i > 0 {
                value.push_str("\r\n ");
            }
            let _ = write!(value, "<{id}>");
        }
        header(&mut out, "References", &value);
    }
    for (name, value) in auto_reply_headers() {
        let value = if name == "Auto-Submitted" && !ack.replied {
            "auto-generated"
        } else {
            value
        };
        header(&mut out, name, value);
    }
    header(&mut out, "MIME-Version", "1.0");
    match ack.html {
        None => part(&mut out, "text/plain", ack.body),
        Some(html) => {
            // Both parts are base64, which has no '_' or '-': the boundary cannot occur in them.
            let boundary = "=_closedloop-alternative";
            header(
                &mut out,
                "Content-Type",
                &format!("multipart/alternative; boundary=\"{boundary}\""),
            );
            out.push_str("\r\n");
            for (kind, text) in [("text/plain", ack.body), ("text/html", html)] {
                let _ = write!(out, "--{boundary}\r\n");
                part(&mut out, kind, text);
            }
            let _ = write!(out, "--{boundary}--\r\n");
        }
    }
    Ok(out.into_bytes())
}

/// A base64 UTF-8 text part: its headers, a blank line, the body.
fn part(out: &mut String, content_type: &str, text: &str) {
    header(
        out,
        "Content-Type",
        &format!("{content_type}; charset=utf-8"),
    );
    header(out, "Content-Transfer-Encoding", "base64");
    out.push_str("\r\n");
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let encoded = STANDARD.encode(text.as_bytes());
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
}

fn header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

fn check_line(field: &'static str, value: &str) -> Result<(), BuildError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(BuildError::Invalid {
            field,
            reason: "contains a line break",
        });
    }
    Ok(())
}

fn check_id(field: &'static str, id: &str) -> Result<(), BuildError> {
    check_line(field, id)?;
    if id.is_empty() || id.contains(['<', '>', ' ', '\t']) || !id.is_ascii() {
        return Err(BuildError::Invalid {
            field,
            reason: "not a message id",
        });
    }
    Ok(())
}

fn mailbox(field: &'static str, mailbox: &Mailbox) -> Result<String, BuildError> {
    let address = mailbox.address.trim();
    check_line(field, address)?;
    if !address.contains('@') || address.contains(['<', '>', ' ', ',', '"']) || !address.is_ascii()
    {
        return Err(BuildError::Invalid {
            field,
            reason: "not an ASCII e-mail address",
        });
    }
    let Some(name) = mailbox
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return Ok(address.to_owned());
    };
    check_line(field, name)?;
    let display = if name.is_ascii() {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        encode_words(name)
    };
    Ok(format!("{display} <{address}>"))
}

/// RFC 2047 `B` encoding of non-ASCII text: words of at most 75 characters, never splitting a
/// character, folded onto continuation lines. ASCII text is returned as is.
pub(crate) fn encode_words(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    const PREFIX: &str = "=?UTF-8?B?";
    // 75 - "=?UTF-8?B?" - "?=" = 63 base64 characters = 45 bytes of UTF-8 at most.
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > MAX_BYTES {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| format!("{PREFIX}{}?=", STANDARD.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_are_short_and_split_on_characters() {
        let encoded = encode_words(&"投诉".repeat(30));
        for line in encoded.split("\r\n ") {
            assert!(line.len() <= 75, "{line}");
            assert!(line.starts_with("=?UTF-8?B?") && line.ends_with("?="));
        }
        assert_eq!(encode_words("plain"), "plain");
    }

    #[test]
    fn header_injection_is_refused() {
        let from = Mailbox::new(Some("客服"), "support@example.com");
        let to = Mailbox::new(None, "a@example.com\r\nBcc: x@evil.com");
        let ack = Acknowledgement {
            from: &from,
            to: &to,
            ticket_number: "FB-20261122-000042",
            subject: "x",
            body: "y",
            html: None,
            replied: true,
            message_id: "<a@b>",
            in_reply_to: None,
            references: &[],
            date: DateTime::<Utc>::default(),
        };
        assert!(build_acknowledgement(&ack).is_err());
    }
}
