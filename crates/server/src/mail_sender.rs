//! Sends queued mail through the configured relay. Every instance runs one; the store's lease
//! hands each message to one of them. A message the relay refuses for good (5xx) is given up
//! at once; anything else is retried with growing pauses, then given up.

use std::time::Duration;

use closedloop_mail::{Acknowledgement, Mailbox, build_acknowledgement};
use closedloop_store::OutboxItem;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::AppState;
use crate::config::host_port;

/// Claimed together under one lease; the lease covers the worst case of sending them all
/// (each SMTP step may wait 30 s) so no other instance takes one over while it is sending.
const BATCH: u32 = 5;
const MAX_ATTEMPTS: i64 = 8;

pub async fn run(state: AppState) {
    // Checked when the configuration was loaded.
    let Some((host, port)) = state.config.smtp.relay.as_deref().and_then(host_port) else {
        return;
    };
    // Plain SMTP to a relay the operator runs; it does TLS onwards.
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.to_owned())
        .port(port)
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let every = Duration::from_millis(state.config.smtp.poll_ms);
    loop {
        match state
            .store
            .claim_outbox(BATCH, chrono::Duration::minutes(15))
            .await
        {
            Ok(items) => {
                let full = items.len() == BATCH as usize;
                for item in items {
                    send(&state, &transport, item).await;
                }
                if full {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the mail outbox"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Why a message did not go: `Permanent` will not go however often it is tried.
enum Failure {
    Permanent(String),
    Transient(String),
}

async fn send(state: &AppState, transport: &AsyncSmtpTransport<Tokio1Executor>, item: OutboxItem) {
    let result = deliver(state, transport, &item).await;
    let recorded = match result {
        Ok(()) => state.store.outbox_sent(item.id).await,
        Err(failure) => {
            let (error, retry_at) = match failure {
                Failure::Transient(e) if item.attempts < MAX_ATTEMPTS => {
                    let pause = chrono::Duration::seconds(30 << item.attempts.clamp(0, 10));
                    (e, Some(state.clock.now() + pause))
                }
                Failure::Transient(e) | Failure::Permanent(e) => (e, None),
            };
            tracing::warn!(ticket = %item.ticket_number, attempt = item.attempts, %error,
                given_up = retry_at.is_none(), "acknowledgement not sent");
            state.store.outbox_failed(item.id, &error, retry_at).await
        }
    };
    if let Err(error) = recorded {
        // The lease runs out and the message is tried again: at worst sent twice, with one id.
        tracing::warn!(%error, "cannot record how sending went");
    }
}

async fn deliver(
    state: &AppState,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    item: &OutboxItem,
) -> Result<(), Failure> {
    let smtp = &state.config.smtp;
    let raw = acknowledgement(state, item).map_err(Failure::Permanent)?;
    let from = smtp
        .from_address
        .parse()
        .map_err(|e| Failure::Permanent(format!("from: {e}")))?;
    let to = item
        .address
        .parse()
        .map_err(|e| Failure::Permanent(format!("to: {e}")))?;
    let envelope =
        Envelope::new(Some(from), vec![to]).map_err(|e| Failure::Permanent(e.to_string()))?;
    transport
        .send_raw(&envelope, &raw)
        .await
        .map(|_| ())
        .map_err(|e| {
            if e.is_permanent() {
                Failure::Permanent(e.to_string())
            } else {
                Failure::Transient(e.to_string())
            }
        })
}

fn acknowledgement(state: &AppState, item: &OutboxItem) -> Result<Vec<u8>, String> {
    let smtp = &state.config.smtp;
    let from = Mailbox::new(Some(&smtp.from_name), &smtp.from_address);
    let to = Mailbox::new(None, &item.address);
    let number = item.ticket_number.as_str();
    let body = format!(
        "您好，\n\n我们已收到您的反馈，编号 {number}。请直接回复此邮件补充信息，我们会记录在同一编号下。\n\n\
         Hello,\n\nWe have received your message and registered it as {number}. Reply to this \
         mail to add to it; your answer is kept with the same number.\n\n{}\n",
        smtp.from_name
    );
    let message_id = format!("<{}>", item.message_id);
    // Threading headers only for an id that can be written back as one; the answer goes out
    // without them otherwise, rather than not at all.
    let in_reply_to = item.in_reply_to.as_deref().filter(|id| {
        id.is_ascii() && !id.is_empty() && !id.contains(['<', '>', ' ', '\t', '\r', '\n'])
    });
    let references: Vec<String> = in_reply_to.iter().map(|s| (*s).to_owned()).collect();
    build_acknowledgement(&Acknowledgement {
        from: &from,
        to: &to,
        ticket_number: number,
        subject: &item.ticket_title,
        body: &body,
        message_id: &message_id,
        in_reply_to,
        references: &references,
        date: state.clock.now(),
    })
    .map_err(|e| e.to_string())
}
