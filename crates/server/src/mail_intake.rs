//! Inbound mail, whichever way it arrives (the `ingest-email` pipe, the HTTP endpoint for mail
//! providers, a quarantine retry): parse, keep what cannot be read, store the attachments,
//! thread or open a ticket. One routine, so the paths cannot disagree about an outcome.

use std::path::{Path, PathBuf};

use closedloop_domain::{Channel, Description, TicketNumber, Title};
use closedloop_mail::{AutoPolicy, Inbound};
use closedloop_store::{
    AckRequest, InboundMail, MailOutcome, NewAttachment, NewTicket, Store, StoreError,
};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::Config;
use crate::attachments;
use crate::triage::Engine;

/// Files kept from one message; the rest are listed by name in the ticket's evidence.
const MAX_MAIL_FILES: usize = 20;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Created(TicketNumber),
    Threaded(TicketNumber),
    /// Auto-generated mail (the rule that matched): no ticket, no acknowledgement.
    Ignored {
        rule: String,
    },
    /// It could not be read; its bytes are kept under `digest` for a retry.
    Quarantined {
        digest: String,
        reason: String,
    },
}

impl From<MailOutcome> for Ingested {
    fn from(o: MailOutcome) -> Self {
        match o {
            MailOutcome::Created(n) => Self::Created(n),
            MailOutcome::Threaded(n) => Self::Threaded(n),
            MailOutcome::Ignored { rule } => Self::Ignored { rule },
        }
    }
}

/// Something other than the message went wrong (the database, the disk): the message has no
/// outcome yet and must be offered again.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot keep the message in {dir}: {source}")]
    Disk {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Where quarantined messages are kept: `<data_dir>/quarantine/<sha256>.eml`.
pub fn quarantine_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("quarantine")
}

/// The raw bytes of a quarantined message, by the digest in its `sha256:<digest>` id.
pub fn quarantined_bytes(data_dir: &Path, digest: &str) -> Option<Vec<u8>> {
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    std::fs::read(quarantine_dir(data_dir).join(format!("{digest}.eml"))).ok()
}

pub struct MailIntake<'a> {
    pub store: &'a dyn Store,
    pub engine: &'a Engine,
    pub policy: &'a AutoPolicy,
    pub data_dir: &'a Path,
    pub attachments_dir: PathBuf,
    /// Larger files are named in the evidence, not kept.
    pub max_file_bytes: usize,
    /// Whether and how new tickets are acknowledged.
    pub smtp: &'a crate::config::SmtpConfig,
}

impl<'a> MailIntake<'a> {
    /// Intake as `config` sets it up, writing to `store` and triaging with `engine`.
    pub fn configured(store: &'a dyn Store, engine: &'a Engine, config: &'a Config) -> Self {
        MailIntake {
            store,
            engine,
            policy: &config.mail,
            data_dir: &config.data_dir,
            attachments_dir: config.attachments_dir(),
            max_file_bytes: config.max_attachment_bytes,
            smtp: &config.smtp,
        }
    }

    /// Handles one message. `path` names the way in (`pipe`, `http`, `retry`) in the log.
    pub async fn ingest(&self, raw: &[u8], path: &'static str) -> Result<Ingested, IntakeError> {
        let digest = format!("{:x}", Sha256::digest(raw));
        let message = match closedloop_mail::parse(raw, self.policy) {
            Ok(m) => m,
            Err(e) => return self.quarantine(raw, digest, e.to_string(), "", path).await,
        };
        let from = message.from.address.to_lowercase();
        let mail = match self.inbound(message, &digest, path).await? {
            Ok(m) => m,
            Err(Refused(reason)) => {
                return self.quarantine(raw, digest, reason, &from, path).await;
            }
        };
        let outcome = self.store.ingest_mail(mail).await?;
        if path == "retry" {
            // Read at last: its quarantine record and kept copy are no longer needed (a message
            // without a Message-ID was recorded under the same id and keeps its new outcome).
            self.store
                .forget_quarantined(&format!("sha256:{digest}"))
                .await?;
            let _ =
                std::fs::remove_file(quarantine_dir(self.data_dir).join(format!("{digest}.eml")));
        }
        Ok(outcome.into())
    }

    async fn quarantine(
        &self,
        raw: &[u8],
        digest: String,
        reason: String,
        from: &str,
        path: &'static str,
    ) -> Result<Ingested, IntakeError> {
        let dir = quarantine_dir(self.data_dir);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join(format!("{digest}.eml")), raw))
            .map_err(|source| IntakeError::Disk {
                dir: dir.clone(),
                source,
            })?;
        self.store
            .quarantine_mail(&format!("sha256:{digest}"), from, &reason, path)
            .await?;
        Ok(Ingested::Quarantined { digest, reason })
    }

    async fn inbound(
        &self,
        m: Inbound,
        digest: &str,
        path: &'static str,
    ) -> Result<Result<InboundMail, Refused>, IntakeError> {
        let text = clean(&m.text);
        let subject = clean(&m.subject);
        let body = [text.as_str(), subject.as_str()]
            .into_iter()
            .find(|t| !t.trim().is_empty())
            .unwrap_or("(empty message)");
        let description = match Description::parse(&cut(body, Description::MAX_GRAPHEMES)) {
            Ok(d) => d,
            Err(e) => return Ok(Err(Refused(format!("{}: {}", e.field, e.message)))),
        };
        let reply = clean(&m.new_text);
        let reply = if reply.trim().is_empty() {
            text.clone()
        } else {
            reply
        };
        let title = Title::parse(&cut(strip_reply_prefixes(&subject), Title::MAX_GRAPHEMES)).ok();
        // Automatic mail opens nothing, so its files are not worth keeping.
        let (files, evidence) = if m.auto.is_some() {
            (Vec::new(), Vec::new())
        } else {
            self.store_files(&m).await?
        };
        let mut ticket = NewTicket {
            evidence,
            // Mail is acknowledged below, with its loop protection.
            acknowledge: false,
            ..NewTicket::new(Channel::Email, title, description)
        };
        crate::triage::apply(&self.engine.current(), &mut ticket);
        // Derived from the message it answers: two deliveries of one message racing each other
        // queue one acknowledgement, not two.
        let ack_id = format!(
            "ack.{}@{}",
            &format!(
                "{:x}",
                Sha256::digest(m.message_id.as_deref().unwrap_or(digest))
            )[..32],
            self.smtp
                .from_address
                .rsplit_once('@')
                .map_or("closedloop.local", |(_, d)| d)
        );
        Ok(Ok(InboundMail {
            message_id: m.message_id.unwrap_or_else(|| format!("sha256:{digest}")),
            path,
            from: m.from.address.to_lowercase(),
            cc: m.cc.iter().map(|c| c.address.to_lowercase()).collect(),
            references: m.in_reply_to.into_iter().chain(m.references).collect(),
            ticket_numbers: m
                .ticket_numbers
                .iter()
                .filter_map(|n| n.parse::<TicketNumber>().ok())
                .collect(),
            reply: cut(&reply, Description::MAX_GRAPHEMES),
            // Never to automatic mail, nor to a sender who asked for no automatic answers.
            acknowledge: (self.smtp.acknowledge
                && self.smtp.url.is_some()
                && m.auto.is_none()
                && !m.suppress_auto_reply)
                .then_some(AckRequest {
                    message_id: ack_id,
                    per_hour: self.smtp.acknowledgements_per_address_per_hour,
                }),
            auto: m.auto.map(|a| a.rule.as_str().to_owned()),
            attachments: files,
            ticket,
        }))
    }

    /// Keeps the message's files by content hash; a file that is too large, or one past the
    /// limit, is named in the evidence instead so staff know it existed. A file that cannot be
    /// written fails the message, which is then offered again (nothing is dropped quietly).
    async fn store_files(
        &self,
        m: &Inbound,
    ) -> Result<(Vec<NewAttachment>, Vec<String>), IntakeError> {
        let (mut files, mut evidence) = (Vec::new(), Vec::new());
        for a in &m.attachments {
            let name =
                attachments::sanitise_filename(a.filename.as_deref().unwrap_or("attachment"));
            if files.len() < MAX_MAIL_FILES && a.data.len() <= self.max_file_bytes {
                let sha256 = attachments::digest(&a.data);
                attachments::save(&self.attachments_dir, &sha256, &a.data)
                    .await
                    .map_err(|source| IntakeError::Disk {
                        dir: self.attachments_dir.clone(),
                        source,
                    })?;
                files.push(NewAttachment {
                    sha256,
                    size: i64::try_from(a.data.len()).unwrap_or(i64::MAX),
                    // Never the sender's label: only what the bytes are, else a download.
                    content_type: attachments::sniff(&a.data)
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                    filename: name,
                });
            } else if evidence.len() < 20 {
                evidence.push(cut(
                    &format!(
                        "{name} ({}, {} bytes, not kept)",
                        a.content_type,
                        a.data.len()
                    ),
                    200,
                ));
            }
        }
        Ok((files, evidence))
    }
}

struct Refused(String);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_are_stripped_in_both_languages() {
        assert_eq!(strip_reply_prefixes("Re: RE: Fwd: 订单问题"), "订单问题");
        assert_eq!(strip_reply_prefixes("回复：转发: refund"), "refund");
        assert_eq!(strip_reply_prefixes("Really late"), "Really late");
    }
}
