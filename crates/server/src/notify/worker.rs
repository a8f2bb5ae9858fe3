//! Delivers queued notices: renders each from its event's template (an administrator's version
//! or the built-in one) and sends it by its channel. Every instance runs one; the store's lease
//! hands each notice to one of them. A refusal that will not change (a 5xx from the mail
//! server, a 4xx from the SMS provider) gives up at once; anything else is retried with growing
//! pauses, then given up. Also closes results nobody answered in time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use closedloop_domain::notice::{Event, Lang, NoticeChannel, TemplateText, default_template};
use closedloop_mail::{Acknowledgement, Mailbox, build_acknowledgement};
use closedloop_store::NoticeItem;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rand::Rng as _;
use serde_json::json;

use super::links::Purpose;
use super::templates::{Rendered, render};
use crate::AppState;

/// Claimed together under one lease; the lease covers the worst case of sending them all
/// (each SMTP step may wait 30 s) so no other instance takes one over while it is sending.
const BATCH: u32 = 5;
const MAX_ATTEMPTS: i64 = 8;

type Transport = AsyncSmtpTransport<Tokio1Executor>;

pub async fn run(state: AppState) {
    let transport = state.config.smtp.transport_url().and_then(|url| {
        // Checked when the configuration was loaded.
        Transport::from_url(&url)
            .ok()
            .map(|b| b.timeout(Some(Duration::from_secs(30))).build())
    });
    let domain = state
        .config
        .smtp
        .from_address
        .rsplit_once('@')
        .map_or("closedloop.local", |(_, d)| d)
        .to_owned();
    let message_ids: closedloop_store::MessageIds = Arc::new(move |number| {
        let random: u128 = rand::thread_rng().r#gen();
        format!("{number}.{random:032x}@{domain}")
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let every = Duration::from_millis(state.config.smtp.poll_ms);
    loop {
        match state
            .store
            .claim_notices(BATCH, chrono::Duration::minutes(15), message_ids.clone())
            .await
        {
            Ok(items) => {
                let full = items.len() == BATCH as usize;
                let overrides = templates(&state).await;
                for item in items {
                    let outcome =
                        deliver(&state, transport.as_ref(), &http, &overrides, &item).await;
                    record(&state, &item, outcome).await;
                }
                if full {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the notice outbox"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Closes results the user left unanswered past `loop.auto_close_hours`.
pub async fn auto_close(state: AppState) {
    let every = Duration::from_millis(state.config.sla_poll_ms.max(1_000));
    let after = chrono::Duration::hours(state.config.closing.auto_close_hours);
    loop {
        match state.store.auto_close(state.clock.now() - after, 100).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "unanswered results closed"),
            Err(error) => tracing::warn!(%error, "cannot close unanswered results"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Asks a sample of recent users the NPS question every `loop.nps_every_days`; of several
/// instances, the one that claims the round asks.
pub async fn nps(state: AppState) {
    let days = state.config.closing.nps_every_days;
    if days == 0 {
        return;
    }
    let every = chrono::Duration::days(i64::from(days));
    loop {
        match state.store.claim_run("nps_last_round", every).await {
            Ok(true) => match nps_round(&state, state.config.closing.nps_sample_percent).await {
                Ok(n) => tracing::info!(asked = n, "NPS round"),
                Err(error) => tracing::warn!(%error, "NPS round failed"),
            },
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "cannot claim the NPS round"),
        }
        tokio::time::sleep(Duration::from_secs(3_600)).await;
    }
}

/// One NPS round: users with a ticket closed within the period who were not asked in it.
pub async fn nps_round(state: &AppState, percent: u8) -> closedloop_store::Result<usize> {
    let now = state.clock.now();
    let period = chrono::Duration::days(i64::from(state.config.closing.nps_every_days.max(1)));
    let seed = rand::thread_rng().gen_range(0..100);
    state
        .store
        .queue_nps(percent, now - period, now - period, seed, 10_000)
        .await
}

type Overrides = HashMap<(Event, Lang, NoticeChannel), TemplateText>;

async fn templates(state: &AppState) -> Overrides {
    match state.store.templates().await {
        Ok(list) => list
            .into_iter()
            .map(|t| {
                (
                    (t.event, t.lang, t.channel),
                    TemplateText {
                        subject: t.subject,
                        body: t.body,
                    },
                )
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot read templates; using the built-in ones");
            Overrides::new()
        }
    }
}

/// Why a notice did not go: `Permanent` will not go however often it is tried.
enum Failure {
    Permanent(String),
    Transient(String),
}

async fn record(state: &AppState, item: &NoticeItem, outcome: Result<Rendered, Failure>) {
    let recorded = match outcome {
        Ok(r) => state.store.notice_sent(item.id, &r.subject, &r.text).await,
        Err(failure) => {
            let (error, retry_at) = match failure {
                Failure::Transient(e) if item.attempts < MAX_ATTEMPTS => {
                    let pause = chrono::Duration::seconds(30 << item.attempts.clamp(0, 10));
                    (e, Some(state.clock.now() + pause))
                }
                Failure::Transient(e) | Failure::Permanent(e) => (e, None),
            };
            tracing::warn!(ticket = %item.ticket_number, event = %item.event, channel = %item.channel,
                attempt = item.attempts, %error, given_up = retry_at.is_none(), "notice not delivered");
            state.store.notice_failed(item.id, &error, retry_at).await
        }
    };
    if let Err(error) = recorded {
        // The lease runs out and the notice is tried again: at worst sent twice, with one id.
        tracing::warn!(%error, "cannot record how delivery went");
    }
}

/// The values a notice's template sees.
pub fn variables(state: &AppState, item: &NoticeItem) -> serde_json::Value {
    let smtp = &state.config.smtp;
    let contact = state
        .config
        .closing
        .contact
        .clone()
        .unwrap_or_else(|| smtp.from_address.clone());
    let mut vars = json!({
        "number": item.ticket_number.as_str(),
        "title": item.ticket_title,
        "name": if item.name.is_empty() { item.address.clone() } else { item.name.clone() },
        "contact": contact,
    });
    let public = state.config.public_url();
    let now = state.clock.now();
    match item.event {
        Event::Result => {
            // The result link lasts as long as the right to appeal.
            let from = item.resolved_at.unwrap_or(now);
            let expires = from + chrono::Duration::days(state.config.closing.appeal_days);
            let token = state.links.sign(item.ticket_id, Purpose::Result, expires);
            vars["confirm_url"] = json!(format!("{public}/r/{token}"));
        }
        Event::Survey => {
            let token = state.links.sign(
                item.ticket_id,
                Purpose::Survey,
                now + chrono::Duration::days(30),
            );
            vars["survey_url"] = json!(format!("{public}/r/{token}"));
        }
        Event::Nps => {
            let id = item.params["nps_id"].as_i64().unwrap_or_default();
            let token = state
                .links
                .sign(id, Purpose::Nps, now + chrono::Duration::days(30));
            vars["survey_url"] = json!(format!("{public}/r/{token}"));
        }
        _ => {}
    }
    if let (Some(target), Some(params)) = (vars.as_object_mut(), item.params.as_object()) {
        for (k, v) in params {
            target.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    vars
}

async fn deliver(
    state: &AppState,
    transport: Option<&Transport>,
    http: &reqwest::Client,
    overrides: &Overrides,
    item: &NoticeItem,
) -> Result<Rendered, Failure> {
    // In-app notices read the e-mail template: same words, shown in the portal.
    let template_channel = match item.channel {
        NoticeChannel::Sms => NoticeChannel::Sms,
        NoticeChannel::Email | NoticeChannel::InApp => NoticeChannel::Email,
    };
    let template = overrides
        .get(&(item.event, item.lang, template_channel))
        .cloned()
        .unwrap_or_else(|| default_template(item.event, item.lang, template_channel));
    let rendered = render(&template, &variables(state, item)).map_err(Failure::Permanent)?;
    match item.channel {
        NoticeChannel::InApp => Ok(rendered),
        NoticeChannel::Email => {
            let transport =
                transport.ok_or_else(|| Failure::Permanent("no SMTP server configured".into()))?;
            send_mail(state, transport, item, &rendered).await?;
            Ok(rendered)
        }
        NoticeChannel::Sms => {
            send_sms(state, http, item, &rendered.text).await?;
            Ok(rendered)
        }
    }
}

async fn send_mail(
    state: &AppState,
    transport: &Transport,
    item: &NoticeItem,
    r: &Rendered,
) -> Result<(), Failure> {
    let smtp = &state.config.smtp;
    let from = Mailbox::new(Some(&smtp.from_name), &smtp.from_address);
    let to = Mailbox::new(None, &item.address);
    let message_id = format!("<{}>", item.message_id.as_deref().unwrap_or_default());
    // Threading headers only for an id that can be written back as one; the answer goes out
    // without them otherwise, rather than not at all.
    let in_reply_to = item.in_reply_to.as_deref().filter(|id| {
        id.is_ascii() && !id.is_empty() && !id.contains(['<', '>', ' ', '\t', '\r', '\n'])
    });
    let references: Vec<String> = in_reply_to.iter().map(|s| (*s).to_owned()).collect();
    let raw = build_acknowledgement(&Acknowledgement {
        from: &from,
        to: &to,
        ticket_number: item.ticket_number.as_str(),
        subject: &r.subject,
        body: &r.text,
        html: Some(&r.html),
        replied: item.event == Event::Received,
        message_id: &message_id,
        in_reply_to,
        references: &references,
        date: state.clock.now(),
    })
    .map_err(|e| Failure::Permanent(e.to_string()))?;
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

async fn send_sms(
    state: &AppState,
    http: &reqwest::Client,
    item: &NoticeItem,
    text: &str,
) -> Result<(), Failure> {
    let closing = &state.config.closing;
    let url = closing
        .sms_url
        .as_deref()
        .ok_or_else(|| Failure::Permanent("no SMS provider configured".into()))?;
    let mut request = http.post(url).json(&json!({
        "to": item.address,
        "text": text,
        "ticket": item.ticket_number.as_str(),
        // The provider may drop a repeat of the same id (a resend after a crash).
        "id": format!("notice-{}", item.id),
    }));
    if let Some(token) = &closing.sms_token {
        request = request.bearer_auth(token.expose());
    }
    let response = request
        .send()
        .await
        .map_err(|e| Failure::Transient(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else if status.is_client_error() && status.as_u16() != 429 {
        Err(Failure::Permanent(format!(
            "SMS provider answered {status}"
        )))
    } else {
        Err(Failure::Transient(format!(
            "SMS provider answered {status}"
        )))
    }
}
