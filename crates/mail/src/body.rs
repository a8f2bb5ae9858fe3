//! Body text and attachments. mail-parser finds the parts and undoes the transfer encoding;
//! text parts are then decoded again from their raw bytes with our charset rules
//! ([`crate::charset`]), because mail-parser turns unlabelled or mislabelled 8-bit text into
//! U+FFFD and does not know every alias (`euc-cn`).

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use crate::charset::{self, Hint};
use crate::html::html_to_text;
use crate::model::Attachment;
use crate::transfer;
use crate::warnings::Warnings;

pub(crate) struct Body {
    pub(crate) text: String,
    pub(crate) html_only: bool,
    pub(crate) attachments: Vec<Attachment>,
}

pub(crate) fn extract(message: &Message<'_>, hint: &Hint<'_>, warnings: &mut Warnings) -> Body {
    let mut body_ids: Vec<usize> = message.text_body.iter().map(|&i| i as usize).collect();
    if body_ids.is_empty() {
        body_ids = message.html_body.iter().map(|&i| i as usize).collect();
    }
    body_ids.retain(|&i| {
        message
            .parts
            .get(i)
            .is_some_and(|p| matches!(p.body, PartType::Text(_) | PartType::Html(_)))
    });
    if body_ids.is_empty() {
        body_ids = recover_text_parts(message);
        if !body_ids.is_empty() {
            warnings.push("damaged MIME structure: text taken from unlisted parts");
        }
    }

    let mut texts = Vec::new();
    let mut html_only = !body_ids.is_empty();
    for &id in &body_ids {
        let Some(part) = message.parts.get(id) else {
            continue;
        };
        let decoded = part_text(message, part, hint, warnings);
        match part.body {
            PartType::Html(_) => texts.push(html_to_text(&decoded)),
            _ => {
                html_only = false;
                texts.push(decoded);
            }
        }
    }
    let mut text = normalize(&texts.join("\n\n"));

    if body_ids.is_empty() {
        html_only = false;
        if let Some(recovered) = broken_multipart(message, hint, warnings) {
            text = recovered;
        }
    }

    let attachments = message
        .parts
        .iter()
        .enumerate()
        .filter(|(id, part)| {
            !body_ids.contains(id)
                && !declared_multipart(part)
                && message.attachments.contains(&(*id as u32))
        })
        .map(|(_, part)| attachment(message, part))
        .collect();

    Body {
        text,
        html_only,
        attachments,
    }
}

/// Text/HTML leaves that are not attachments, when mail-parser listed none (an unterminated
/// multipart, for example).
fn recover_text_parts(message: &Message<'_>) -> Vec<usize> {
    let mut ids: Vec<usize> = message
        .parts
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            matches!(p.body, PartType::Text(_) | PartType::Html(_))
                && !declared_multipart(p)
                && p.attachment_name().is_none()
                && !p
                    .content_disposition()
                    .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
        })
        .map(|(i, _)| i)
        .collect();
    // Prefer plain text over HTML when both were recovered.
    if ids
        .iter()
        .any(|&i| matches!(message.parts[i].body, PartType::Text(_)))
    {
        ids.retain(|&i| matches!(message.parts[i].body, PartType::Text(_)));
    }
    ids
}

/// The root says multipart but its boundary never occurs (or is missing): look for the boundary
/// the body really uses, parse again with it, and failing that keep the raw body as text.
fn broken_multipart(
    message: &Message<'_>,
    hint: &Hint<'_>,
    warnings: &mut Warnings,
) -> Option<String> {
    let root = message.parts.first()?;
    let is_multipart = root
        .content_type()
        .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
    if !is_multipart {
        return None;
    }
    let raw = message
        .raw_message
        .get(root.offset_body as usize..root.offset_end as usize)?;
    if let Some(boundary) = raw
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find_map(|l| l.strip_prefix(b"--"))
        .map(|b| b.strip_suffix(b"--").unwrap_or(b))
        .filter(|b| !b.is_empty() && b.len() <= 200 && b.iter().all(|c| c.is_ascii_graphic()))
    {
        let mut fixed = b"Content-Type: multipart/mixed; boundary=\"".to_vec();
        fixed.extend_from_slice(boundary);
        fixed.extend_from_slice(b"\"\r\nMIME-Version: 1.0\r\n\r\n");
        fixed.extend_from_slice(raw);
        if let Some(inner) = mail_parser::MessageParser::default().parse(&fixed) {
            let mut inner_warnings = Warnings::default();
            let body = extract_simple(&inner, hint, &mut inner_warnings);
            if !body.trim().is_empty() {
                warnings.push(
                    "broken MIME boundary: parts recovered with the boundary found in the body",
                );
                return Some(body);
            }
        }
    }
    let text = String::from_utf8_lossy(raw);
    let text = normalize(&text);
    if text.is_empty() {
        return None;
    }
    warnings.push("broken MIME structure: raw body kept as text");
    Some(text)
}

/// A multipart container, or a part that says it is one but could not be split (its content is
/// not text of its own).
fn declared_multipart(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Multipart(_))
        || part
            .content_type()
            .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
}

/// Body text of a re-parsed message, without a second round of recovery.
fn extract_simple(message: &Message<'_>, hint: &Hint<'_>, warnings: &mut Warnings) -> String {
    let ids: Vec<usize> = if message.text_body.is_empty() {
        recover_text_parts(message)
    } else {
        message.text_body.iter().map(|&i| i as usize).collect()
    };
    let texts: Vec<String> = ids
        .iter()
        .filter_map(|&i| message.parts.get(i))
        .map(|part| {
            let text = part_text(message, part, hint, warnings);
            if matches!(part.body, PartType::Html(_)) {
                html_to_text(&text)
            } else {
                text
            }
        })
        .collect();
    normalize(&texts.join("\n\n"))
}

/// A text part decoded with our charset rules; mail-parser's text where we have no better.
fn part_text(
    message: &Message<'_>,
    part: &MessagePart<'_>,
    hint: &Hint<'_>,
    warnings: &mut Warnings,
) -> String {
    let parsed = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.as_ref(),
        _ => "",
    };
    let label = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::to_owned);
    let Some(raw) = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)
    else {
        return parsed.to_owned();
    };
    let bytes = transfer::decode(raw, part.encoding);
    charset::decode(&bytes, label.as_deref(), hint, warnings).unwrap_or_else(|| parsed.to_owned())
}

fn attachment(message: &Message<'_>, part: &MessagePart<'_>) -> Attachment {
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_owned(),
        })
        .unwrap_or_else(|| match part.body {
            PartType::Text(_) => "text/plain".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            PartType::Message(_) => "message/rfc822".to_owned(),
            _ => "application/octet-stream".to_owned(),
        })
        .to_ascii_lowercase();
    let data = match &part.body {
        // Keep text attachments in their own charset, as the sender's file was.
        PartType::Text(_) | PartType::Html(_) => message
            .raw_message
            .get(part.offset_body as usize..part.offset_end as usize)
            .map_or_else(
                || part.contents().to_vec(),
                |raw| transfer::decode(raw, part.encoding),
            ),
        _ => part.contents().to_vec(),
    };
    let filename = part
        .attachment_name()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    Attachment {
        filename,
        content_type,
        data,
    }
}

/// `\n` line ends, no trailing white space at the end.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = text.replace("\r\n", "\n").replace('\r', "\n");
    let end = out.trim_end().len();
    out.truncate(end);
    out
}
