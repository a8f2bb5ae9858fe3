//! `closedloop ingest-email < message.eml`: one message from an MTA pipe.
//!
//! Contract (scripts rely on it): a message that opened or joined a ticket prints the ticket
//! number on its last line and exits 0; an auto-generated one prints `ignored: RULE` and exits 0;
//! one that cannot be read exits non-zero with a one-line reason, its raw bytes kept in
//! `<data_dir>/quarantine/` and its outcome recorded. It never panics, whatever the input.

use std::io::Read;

use closedloop_domain::{Channel, Description, TicketNumber, Title};
use closedloop_mail::{AutoPolicy, Inbound};
use closedloop_server::Config;
use closedloop_server::triage::Engine;
use closedloop_store::{InboundMail, MailOutcome, NewTicket, SqlStore, Store};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::{CliError, CliResult};

pub async fn run(store: &SqlStore, config: &Config) -> CliResult<String> {
    let data_dir = config.data_dir.as_path();
    let policy = AutoPolicy::default();
    let mut raw = Vec::new();
    // One byte past the limit is enough to know it is too large.
    std::io::stdin()
        .take(policy.max_bytes as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
    let digest = format!("{:x}", Sha256::digest(&raw));
    let message = match closedloop_mail::parse(&raw, &policy) {
        Ok(m) => m,
        Err(e) => {
            let dir = data_dir.join("quarantine");
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join(format!("{digest}.eml")), &raw))
                .map_err(|io| CliError(format!("{e}; and it could not be quarantined: {io}")))?;
            store
                .quarantine_mail(&format!("sha256:{digest}"), "", &e.to_string(), "pipe")
                .await?;
            return Err(CliError(format!("quarantined: {e}")));
        }
    };
    let engine = Engine::configured(config).map_err(CliError)?;
    let mail = inbound(message, &digest, &engine)?;
    Ok(match store.ingest_mail(mail).await? {
        MailOutcome::Created(n) | MailOutcome::Threaded(n) => n.as_str().to_owned(),
        MailOutcome::Ignored { rule } => format!("ignored: {rule}"),
    })
}

fn inbound(m: Inbound, digest: &str, engine: &Engine) -> CliResult<InboundMail> {
    let text = clean(&m.text);
    let subject = clean(&m.subject);
    let body = [text.as_str(), subject.as_str()]
        .into_iter()
        .find(|t| !t.trim().is_empty())
        .unwrap_or("(empty message)");
    let description = Description::parse(&cut(body, Description::MAX_GRAPHEMES))
        .map_err(|e| CliError(format!("{}: {}", e.field, e.message)))?;
    let reply = clean(&m.new_text);
    let reply = if reply.trim().is_empty() {
        text.clone()
    } else {
        reply
    };
    let title = Title::parse(&cut(strip_reply_prefixes(&subject), Title::MAX_GRAPHEMES)).ok();
    let mut ticket = NewTicket {
        evidence: m
            .attachments
            .iter()
            .take(20)
            .map(|a| {
                let name = a.filename.as_deref().unwrap_or("attachment");
                cut(
                    &format!("{name} ({}, {} bytes)", a.content_type, a.data.len()),
                    200,
                )
            })
            .collect(),
        ..NewTicket::new(Channel::Email, title, description)
    };
    closedloop_server::triage::apply(&engine.current(), &mut ticket);
    Ok(InboundMail {
        message_id: m.message_id.unwrap_or_else(|| format!("sha256:{digest}")),
        path: "pipe",
        from: m.from.address.to_lowercase(),
        cc: m.cc.iter().map(|c| c.address.to_lowercase()).collect(),
        references: m.in_reply_to.into_iter().chain(m.references).collect(),
        ticket_numbers: m
            .ticket_numbers
            .iter()
            .filter_map(|n| n.parse::<TicketNumber>().ok())
            .collect(),
        reply: cut(&reply, Description::MAX_GRAPHEMES),
        auto: m.auto.map(|a| a.rule.as_str().to_owned()),
        ticket,
    })
}

/// Mail text as a ticket field takes it: no control characters but line breaks and tabs.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

fn cut(s: &str, max: usize) -> String {
    s.graphemes(true).take(max).collect()
}

fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let before = s;
        for p in [
            "re:",
            "fw:",
            "fwd:",
            "aw:",
            "回复:",
            "回复：",
            "答复:",
            "答复：",
            "回覆:",
            "回覆：",
            "转发:",
            "转发：",
        ] {
            if s.len() >= p.len()
                && s.is_char_boundary(p.len())
                && s[..p.len()].eq_ignore_ascii_case(p)
            {
                s = s[p.len()..].trim_start();
            }
        }
        if s == before {
            return s;
        }
    }
}
