//! What the user is told: notices queued with the change that calls for them, claimed by one
//! instance at a time through a lease, and recorded as delivered with what was sent. E-mail
//! ones are logged as outbound mail, so replies to them thread onto their ticket.

use std::str::FromStr;

use closedloop_domain::TicketNumber;
use closedloop_domain::notice::{Event, Lang, NoticeChannel};
use sqlx::Row;

use super::tickets::append;
use super::{Arg, Dialect, Sql, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{
    AckRequest, CustomerMessage, EntryKind, LoopPolicy, NoticeItem, NoticeRecord, Result,
    StoreError, TemplateOverride,
};

const HOUR_MS: i64 = 3_600_000;

/// Queues `event` for the ticket's requester on every channel they accept: the portal always,
/// e-mail unless they opted out, SMS with their consent. With `once`, a second call for the
/// same ticket and event queues nothing (the survey is sent once).
pub(super) async fn queue(
    conn: &mut sqlx::AnyConnection,
    policy: &LoopPolicy,
    ticket_id: i64,
    event: Event,
    params: &serde_json::Value,
    once: bool,
    now: i64,
) -> Result<()> {
    if !policy.notify {
        return Ok(());
    }
    let row = sqlx::query(
        "SELECT u.id, u.email, u.phone, u.lang, u.notify_email, u.notify_sms, t.description \
         FROM tickets t JOIN users u ON u.id = t.requester_id \
         WHERE t.id = $1 AND u.role = 'customer' AND u.active = 1",
    )
    .bind(ticket_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let user_id: i64 = row.try_get(0)?;
    let email: String = row.try_get(1)?;
    let phone: Option<String> = row.try_get(2)?;
    let lang = row
        .try_get::<Option<String>, _>(3)?
        .and_then(|l| Lang::from_str(&l).ok())
        .unwrap_or_else(|| Lang::of_text(&row.try_get::<String, _>(6).unwrap_or_default()));
    let mut channels = vec![(NoticeChannel::InApp, String::new())];
    if policy.email && row.try_get::<i64, _>(4)? != 0 && email.contains('@') {
        channels.push((NoticeChannel::Email, email.clone()));
    }
    if policy.sms
        && row.try_get::<i64, _>(5)? != 0
        && let Some(phone) = phone.filter(|p| !p.is_empty())
    {
        channels.push((NoticeChannel::Sms, phone));
    }
    // Answers thread under the newest message the user sent us about this ticket.
    let in_reply_to: Option<String> = sqlx::query_scalar(
        "SELECT message_id FROM mail_messages WHERE ticket_id = $1 AND direction = 'in' \
         AND address = $2 AND message_id NOT LIKE 'sha256:%' ORDER BY created_at DESC LIMIT 1",
    )
    .bind(ticket_id)
    .bind(&email)
    .fetch_optional(&mut *conn)
    .await?;
    let params = params.to_string();
    for (channel, address) in channels {
        let once_key = once.then(|| format!("{event}:{ticket_id}:{channel}"));
        sqlx::query(
            "INSERT INTO notices (ticket_id, user_id, event, channel, address, lang, params, once_key, \
             in_reply_to, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (once_key) DO NOTHING",
        )
        .bind(ticket_id)
        .bind(user_id)
        .bind(event.as_str())
        .bind(channel.as_str())
        .bind(&address)
        .bind(lang.as_str())
        .bind(&params)
        .bind(once_key)
        .bind(in_reply_to.as_deref().filter(|_| channel == NoticeChannel::Email))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Queues the acknowledgement of a ticket a message opened, unless its sender has had
/// `per_hour` of them in the past hour: then staff get a note instead. Returns whether it was
/// queued.
pub(super) async fn queue_acknowledgement(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    ticket_id: i64,
    address: &str,
    in_reply_to: Option<&str>,
    ack: &AckRequest,
    now: i64,
) -> Result<bool> {
    if dialect == Dialect::Postgres {
        // Count-then-insert must not interleave for one address, or concurrent mail from it
        // could pass the limit; held to the end of the transaction. (SQLite writes one
        // transaction at a time already.)
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS held")
            .bind(address)
            .execute(&mut *conn)
            .await?;
    }
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notices WHERE address = $1 AND event = 'received' AND created_at > $2",
    )
    .bind(address)
    .bind(now - HOUR_MS)
    .fetch_one(&mut *conn)
    .await?;
    if recent >= i64::from(ack.per_hour) {
        let body = format!(
            "No acknowledgement sent to {address}: it has had {recent} in the past hour, the limit (a mail loop is likely)."
        );
        append(
            conn,
            ticket_id,
            EntryKind::Note,
            false,
            None,
            Some(&body),
            None,
            None,
            now,
        )
        .await?;
        return Ok(false);
    }
    let row = sqlx::query(
        "SELECT t.requester_id, u.lang, t.description FROM tickets t LEFT JOIN users u ON u.id = t.requester_id \
         WHERE t.id = $1",
    )
    .bind(ticket_id)
    .fetch_one(&mut *conn)
    .await?;
    let lang = row
        .try_get::<Option<String>, _>(1)?
        .and_then(|l| Lang::from_str(&l).ok())
        .unwrap_or_else(|| Lang::of_text(&row.try_get::<String, _>(2).unwrap_or_default()));
    sqlx::query(
        "INSERT INTO notices (ticket_id, user_id, event, channel, address, lang, message_id, in_reply_to, \
         created_at, next_attempt_at) VALUES ($1, $2, 'received', 'email', $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(ticket_id)
    .bind(row.try_get::<Option<i64>, _>(0)?)
    .bind(address)
    .bind(lang.as_str())
    .bind(&ack.message_id)
    .bind(in_reply_to)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(true)
}

fn parse<T: FromStr<Err = closedloop_domain::DomainError>>(s: &str) -> Result<T> {
    parse_stored(s)
}

impl SqlStore {
    pub(crate) async fn claim_notices_impl(
        &self,
        limit: u32,
        lease: chrono::Duration,
        message_id: crate::MessageIds,
    ) -> Result<Vec<NoticeItem>> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let mut sql = Sql::new("UPDATE notices SET attempts = attempts + 1, next_attempt_at = ");
        sql.bind(Arg::Int(now + lease.num_milliseconds()))
            .push(
                " WHERE id IN (SELECT id FROM notices WHERE sent_at IS NULL AND failed_at IS NULL \
                 AND next_attempt_at <= ",
            )
            .bind(Arg::Int(now))
            .push(" ORDER BY next_attempt_at, id LIMIT ")
            .bind(Arg::Int(i64::from(limit)));
        if self.dialect == Dialect::Postgres {
            // Two instances never claim the same row; each takes what the other left.
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        sql.push(
            ") RETURNING id, ticket_id, event, channel, address, lang, params, message_id, in_reply_to, \
             attempts, user_id",
        );
        let rows = sql.query().fetch_all(&mut *tx).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let ticket_id: i64 = r.try_get(1)?;
            let t = sqlx::query(
                "SELECT t.number, t.title, t.resolved_at, u.name FROM tickets t \
                 LEFT JOIN users u ON u.id = t.requester_id WHERE t.id = $1",
            )
            .bind(ticket_id)
            .fetch_one(&mut *tx)
            .await?;
            let number = parse::<TicketNumber>(&t.try_get::<String, _>(0)?)?;
            let channel = parse::<NoticeChannel>(&r.try_get::<String, _>(3)?)?;
            let mut mid: Option<String> = r.try_get(7)?;
            if mid.is_none() && channel == NoticeChannel::Email {
                // Fixed before the first attempt: a resend after a crash carries the same id.
                let fresh = message_id(&number);
                sqlx::query("UPDATE notices SET message_id = $1 WHERE id = $2")
                    .bind(&fresh)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                mid = Some(fresh);
            }
            items.push(NoticeItem {
                id,
                ticket_id,
                ticket_number: number,
                ticket_title: t.try_get(1)?,
                event: parse(&r.try_get::<String, _>(2)?)?,
                channel,
                address: r.try_get(4)?,
                lang: parse(&r.try_get::<String, _>(5)?)?,
                name: t.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                params: serde_json::from_str(&r.try_get::<String, _>(6)?)
                    .unwrap_or(serde_json::Value::Null),
                message_id: mid,
                in_reply_to: r.try_get(8)?,
                resolved_at: t.try_get::<Option<i64>, _>(2)?.map(from_ms),
                attempts: r.try_get(9)?,
            });
        }
        tx.commit().await?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    pub(crate) async fn notice_sent_impl(&self, id: i64, subject: &str, body: &str) -> Result<()> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE notices SET sent_at = $1, error = NULL, subject = $2, body = $3 \
             WHERE id = $4 AND sent_at IS NULL RETURNING message_id, address, ticket_id, event, channel",
        )
        .bind(now)
        .bind(subject)
        .bind(body)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row
            && row.try_get::<String, _>(4)? == NoticeChannel::Email.as_str()
        {
            sqlx::query(
                "INSERT INTO mail_messages (message_id, direction, address, ticket_id, outcome, reason, path, created_at) \
                 VALUES ($1, 'out', $2, $3, 'sent', $4, 'smtp', $5) ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(row.try_get::<Option<String>, _>(0)?)
            .bind(row.try_get::<String, _>(1)?)
            .bind(row.try_get::<i64, _>(2)?)
            .bind(row.try_get::<String, _>(3)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn notice_failed_impl(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()> {
        let now = to_ms(self.clock.now());
        let error: String = error.chars().take(500).collect();
        match retry_at {
            Some(at) => {
                sqlx::query("UPDATE notices SET error = $1, next_attempt_at = $2 WHERE id = $3")
                    .bind(&error)
                    .bind(to_ms(at))
                    .bind(id)
                    .execute(&self.write)
                    .await?
            }
            None => {
                sqlx::query("UPDATE notices SET error = $1, failed_at = $2 WHERE id = $3")
                    .bind(&error)
                    .bind(now)
                    .bind(id)
                    .execute(&self.write)
                    .await?
            }
        };
        Ok(())
    }

    pub(crate) async fn customer_messages_impl(
        &self,
        user_id: i64,
        limit: u32,
    ) -> Result<Vec<CustomerMessage>> {
        let rows = sqlx::query(
            "SELECT n.id, t.number, n.event, n.subject, n.body, n.sent_at, n.read_at FROM notices n \
             JOIN tickets t ON t.id = n.ticket_id WHERE n.user_id = $1 AND n.channel = 'in_app' \
             AND n.sent_at IS NOT NULL ORDER BY n.id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerMessage {
                    id: r.try_get(0)?,
                    ticket_number: parse(&r.try_get::<String, _>(1)?)?,
                    event: parse(&r.try_get::<String, _>(2)?)?,
                    subject: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    body: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
                    sent_at: from_ms(r.try_get(5)?),
                    read: r.try_get::<Option<i64>, _>(6)?.is_some(),
                })
            })
            .collect()
    }

    pub(crate) async fn mark_message_read_impl(&self, user_id: i64, id: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE notices SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3 \
             AND channel = 'in_app' AND sent_at IS NOT NULL",
        )
        .bind(to_ms(self.clock.now()))
        .bind(id)
        .bind(user_id)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("message"));
        }
        Ok(())
    }

    pub(crate) async fn ticket_notices_impl(&self, ticket_id: i64) -> Result<Vec<NoticeRecord>> {
        let rows = sqlx::query(
            "SELECT id, event, channel, address, created_at, attempts, sent_at, failed_at, error, subject \
             FROM notices WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(ticket_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NoticeRecord {
                    id: r.try_get(0)?,
                    event: parse(&r.try_get::<String, _>(1)?)?,
                    channel: parse(&r.try_get::<String, _>(2)?)?,
                    address: r.try_get(3)?,
                    created_at: from_ms(r.try_get(4)?),
                    attempts: r.try_get(5)?,
                    sent_at: r.try_get::<Option<i64>, _>(6)?.map(from_ms),
                    failed_at: r.try_get::<Option<i64>, _>(7)?.map(from_ms),
                    error: r.try_get(8)?,
                    subject: r.try_get(9)?,
                })
            })
            .collect()
    }

    pub(crate) async fn templates_impl(&self) -> Result<Vec<TemplateOverride>> {
        let rows = sqlx::query(
            "SELECT event, lang, channel, subject, body, updated_at FROM notice_templates ORDER BY event, lang, channel",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TemplateOverride {
                    event: parse(&r.try_get::<String, _>(0)?)?,
                    lang: parse(&r.try_get::<String, _>(1)?)?,
                    channel: parse(&r.try_get::<String, _>(2)?)?,
                    subject: r.try_get(3)?,
                    body: r.try_get(4)?,
                    updated_at: from_ms(r.try_get(5)?),
                })
            })
            .collect()
    }

    pub(crate) async fn save_template_impl(
        &self,
        actor_id: i64,
        t: &TemplateOverride,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO notice_templates (event, lang, channel, subject, body, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event, lang, channel) DO UPDATE SET \
             subject = excluded.subject, body = excluded.body, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(t.event.as_str())
        .bind(t.lang.as_str())
        .bind(t.channel.as_str())
        .bind(&t.subject)
        .bind(&t.body)
        .bind(actor_id)
        .bind(to_ms(t.updated_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn delete_template_impl(
        &self,
        event: Event,
        lang: Lang,
        channel: NoticeChannel,
    ) -> Result<()> {
        sqlx::query("DELETE FROM notice_templates WHERE event = $1 AND lang = $2 AND channel = $3")
            .bind(event.as_str())
            .bind(lang.as_str())
            .bind(channel.as_str())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub(crate) async fn setting_impl(&self, key: &str, initial: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(initial)
        .execute(&self.write)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&self.write)
                .await?,
        )
    }
}
