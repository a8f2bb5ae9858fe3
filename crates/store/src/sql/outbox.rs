//! Outgoing mail: queued with the change that calls for it, claimed by one instance at a time
//! through a lease, and logged as outbound mail once the relay has it.

use closedloop_domain::TicketNumber;
use sqlx::Row;

use super::tickets::append;
use super::{Arg, Dialect, Sql, SqlStore, parse_stored};
use crate::model::to_ms;
use crate::{AckRequest, EntryKind, OutboxItem, Result};

const HOUR_MS: i64 = 3_600_000;

/// Queues the acknowledgement of a ticket a message opened, unless its sender has had
/// `per_hour` of them in the past hour: then staff get a note instead. Returns whether it was
/// queued.
pub(super) async fn queue_acknowledgement(
    conn: &mut sqlx::AnyConnection,
    ticket_id: i64,
    address: &str,
    in_reply_to: Option<&str>,
    ack: &AckRequest,
    now: i64,
) -> Result<bool> {
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_outbox WHERE address = $1 AND created_at > $2",
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
    sqlx::query(
        "INSERT INTO mail_outbox (kind, ticket_id, address, message_id, in_reply_to, created_at, next_attempt_at) \
         VALUES ('acknowledgement', $1, $2, $3, $4, $5, $5) ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(ticket_id)
    .bind(address)
    .bind(&ack.message_id)
    .bind(in_reply_to)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(true)
}

impl SqlStore {
    pub(crate) async fn claim_outbox_impl(
        &self,
        limit: u32,
        lease: chrono::Duration,
    ) -> Result<Vec<OutboxItem>> {
        let now = to_ms(self.clock.now());
        let mut tx = self.write.begin().await?;
        let mut sql =
            Sql::new("UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ");
        sql.bind(Arg::Int(now + lease.num_milliseconds()))
            .push(
                " WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL \
                 AND next_attempt_at <= ",
            )
            .bind(Arg::Int(now))
            .push(" ORDER BY next_attempt_at, id LIMIT ")
            .bind(Arg::Int(i64::from(limit)));
        if self.dialect == Dialect::Postgres {
            // Two instances never claim the same row; each takes what the other left.
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        sql.push(") RETURNING id, ticket_id, address, message_id, in_reply_to, attempts");
        let rows = sql.query().fetch_all(&mut *tx).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let ticket_id: i64 = r.try_get(1)?;
            let t = sqlx::query("SELECT number, title FROM tickets WHERE id = $1")
                .bind(ticket_id)
                .fetch_one(&mut *tx)
                .await?;
            items.push(OutboxItem {
                id: r.try_get(0)?,
                ticket_number: parse_stored::<TicketNumber>(&t.try_get::<String, _>(0)?)?,
                ticket_title: t.try_get(1)?,
                address: r.try_get(2)?,
                message_id: r.try_get(3)?,
                in_reply_to: r.try_get(4)?,
                attempts: r.try_get(5)?,
            });
        }
        tx.commit().await?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    pub(crate) async fn outbox_sent_impl(&self, id: i64) -> Result<()> {
        let now = to_ms(self.clock.now());
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "UPDATE mail_outbox SET sent_at = $1, error = NULL WHERE id = $2 AND sent_at IS NULL \
             RETURNING message_id, address, ticket_id",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            sqlx::query(
                "INSERT INTO mail_messages (message_id, direction, address, ticket_id, outcome, reason, path, created_at) \
                 VALUES ($1, 'out', $2, $3, 'sent', 'acknowledgement', 'smtp', $4) ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(row.try_get::<String, _>(0)?)
            .bind(row.try_get::<String, _>(1)?)
            .bind(row.try_get::<i64, _>(2)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn outbox_failed_impl(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()> {
        let now = to_ms(self.clock.now());
        let error: String = error.chars().take(500).collect();
        match retry_at {
            Some(at) => {
                sqlx::query("UPDATE mail_outbox SET error = $1, next_attempt_at = $2 WHERE id = $3")
                    .bind(&error)
                    .bind(to_ms(at))
                    .bind(id)
                    .execute(&self.write)
                    .await?
            }
            None => {
                sqlx::query("UPDATE mail_outbox SET error = $1, failed_at = $2 WHERE id = $3")
                    .bind(&error)
                    .bind(now)
                    .bind(id)
                    .execute(&self.write)
                    .await?
            }
        };
        Ok(())
    }
}
