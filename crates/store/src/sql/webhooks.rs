//! The signed webhook channel: sources with their service accounts, and message intake that
//! threads one conversation of a source system onto one ticket.
//!
//! Intake is written to be safe under redelivery and concurrency without a lock held across the
//! ticket's creation (which goes through the group committer like every new ticket):
//! - a message id is claimed in `webhook_messages` in the same transaction as its effect, so a
//!   redelivered message is answered from there and never written twice;
//! - a thread's ticket is created with an idempotency key derived from the thread (and its
//!   generation) under the source's service account, so two first messages of one thread that
//!   race each other make one ticket: the loser learns the winner's ticket from the key and
//!   threads onto it in the next round.

use closedloop_domain::{Channel, Description, Status, TicketNumber};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::people::principal_where;
use super::{Arg, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{
    IdempotencyKey, NewTicket, NewWebhookSource, Result, StoreError, WebhookCredentials,
    WebhookMessage, WebhookOutcome, WebhookSource,
};

const SOURCE_SELECT: &str = "SELECT s.id, s.name, s.channel, s.secret, s.user_id, u.email, \
    s.active, s.created_at FROM webhook_sources s JOIN users u ON u.id = s.user_id";

/// Rounds of [`SqlStore::webhook_intake_impl`]: each one either finishes or learns what a
/// concurrent request wrote (the thread's ticket, or this very message), so three settle it.
const ROUNDS: usize = 3;

enum Step {
    Done(WebhookOutcome),
    Again,
}

fn source(row: &AnyRow) -> Result<WebhookSource> {
    Ok(WebhookSource {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        channel: parse_stored::<Channel>(&row.try_get::<String, _>(2)?)?,
        user_id: row.try_get(4)?,
        user_email: row.try_get(5)?,
        active: row.try_get::<i64, _>(6)? != 0,
        created_at: from_ms(row.try_get(7)?),
    })
}

/// A new message after the ticket is closed opens a new ticket rather than reopening: reopening
/// a closed ticket is a supervisor's decision in the life cycle, its SLA and survey are over,
/// and a chat that resumes weeks later is usually about something new. The new ticket names
/// the old one, so nothing is lost.
fn is_finished(status: Status) -> bool {
    matches!(status, Status::Closed | Status::Duplicate)
}

impl SqlStore {
    pub(crate) async fn create_webhook_source_impl(
        &self,
        new: NewWebhookSource,
    ) -> Result<WebhookSource> {
        let now = to_ms(self.clock.now());
        let email = format!("webhook+{}@closedloop.local", new.name);
        let mut tx = self.begin_write().await?;
        // An agent without departments and without a password: it cannot log in, and its scope
        // (tickets it created) is exactly the tickets of this source.
        let user_id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, name, role, password_hash, active, created_at) \
             VALUES ($1, $2, 'agent', NULL, 1, $3) RETURNING id",
        )
        .bind(&email)
        .bind(format!("{} (webhook)", new.name))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::unique_as("name"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhook_sources (name, channel, secret, user_id, active, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) RETURNING id",
        )
        .bind(&new.name)
        .bind(new.channel.as_str())
        .bind(&new.secret)
        .bind(user_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::unique_as("name"))?;
        tx.commit().await?;
        Ok(WebhookSource {
            id,
            name: new.name,
            channel: new.channel,
            user_id,
            user_email: email,
            active: true,
            created_at: from_ms(now),
        })
    }

    pub(crate) async fn list_webhook_sources_impl(&self) -> Result<Vec<WebhookSource>> {
        let rows = sqlx::query(&format!("{SOURCE_SELECT} ORDER BY s.name"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(source).collect()
    }

    pub(crate) async fn webhook_credentials_impl(
        &self,
        name: &str,
    ) -> Result<Option<WebhookCredentials>> {
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query(&format!(
            "{SOURCE_SELECT} WHERE s.name = $1 AND s.active = 1"
        ))
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let source = source(&row)?;
        // A deactivated service account silences its source too.
        let Some(service) =
            principal_where(&mut conn, "u.id = $1", Arg::Int(source.user_id)).await?
        else {
            return Ok(None);
        };
        Ok(Some(WebhookCredentials {
            secret: row.try_get(3)?,
            source,
            service,
        }))
    }

    pub(crate) async fn webhook_intake_impl(
        &self,
        c: &WebhookCredentials,
        m: WebhookMessage,
    ) -> Result<WebhookOutcome> {
        for _ in 0..ROUNDS {
            if let Step::Done(outcome) = self.intake_round(c, &m).await? {
                return Ok(outcome);
            }
        }
        tracing::error!(source = %c.source.name, thread = %m.thread, "webhook intake did not settle");
        Err(StoreError::Database(sqlx::Error::Protocol(
            "webhook intake did not settle".into(),
        )))
    }

    async fn intake_round(&self, c: &WebhookCredentials, m: &WebhookMessage) -> Result<Step> {
        let source_id = c.source.id;
        let mut read = self.read.acquire().await?;
        let seen = sqlx::query(
            "SELECT m.threaded, t.number FROM webhook_messages m JOIN tickets t ON t.id = m.ticket_id \
             WHERE m.source_id = $1 AND m.thread = $2 AND m.message_id = $3",
        )
        .bind(source_id)
        .bind(&m.thread)
        .bind(&m.message_id)
        .fetch_optional(&mut *read)
        .await?;
        if let Some(row) = seen {
            return Ok(Step::Done(WebhookOutcome {
                threaded: row.try_get::<i64, _>(0)? != 0,
                ticket: parse_stored(&row.try_get::<String, _>(1)?)?,
                replay: true,
            }));
        }
        let thread = sqlx::query(
            "SELECT w.ticket_id, w.generation, t.status, t.number FROM webhook_threads w \
             JOIN tickets t ON t.id = w.ticket_id WHERE w.source_id = $1 AND w.thread = $2",
        )
        .bind(source_id)
        .bind(&m.thread)
        .fetch_optional(&mut *read)
        .await?;
        drop(read);
        let Some(row) = thread else {
            return self.open_ticket(c, m, 0, None).await;
        };
        let ticket_id: i64 = row.try_get(0)?;
        let generation: i64 = row.try_get(1)?;
        let status = parse_stored::<Status>(&row.try_get::<String, _>(2)?)?;
        let number = parse_stored::<TicketNumber>(&row.try_get::<String, _>(3)?)?;
        if is_finished(status) {
            self.open_ticket(c, m, generation + 1, Some(number)).await
        } else {
            self.thread_onto(c, m, ticket_id, number).await
        }
    }

    /// Adds the message to the thread's ticket as a public entry by the service account.
    async fn thread_onto(
        &self,
        c: &WebhookCredentials,
        m: &WebhookMessage,
        ticket_id: i64,
        number: TicketNumber,
    ) -> Result<Step> {
        let now_ms = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let status: String = sqlx::query_scalar(&format!(
            "SELECT t.status FROM tickets t WHERE t.id = $1{}",
            self.dialect.lock_ticket()
        ))
        .bind(ticket_id)
        .fetch_one(&mut *tx)
        .await?;
        let status = parse_stored::<Status>(&status)?;
        if is_finished(status) {
            // Closed since the thread was read: the next round opens the new ticket.
            return Ok(Step::Again);
        }
        // Claiming the message id first makes a concurrent copy of this message wait here and
        // then find it taken; it is answered as a replay in its next round.
        let claimed = sqlx::query(
            "INSERT INTO webhook_messages (source_id, thread, message_id, ticket_id, threaded, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (source_id, thread, message_id) DO NOTHING",
        )
        .bind(c.source.id)
        .bind(&m.thread)
        .bind(&m.message_id)
        .bind(ticket_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(Step::Again);
        }
        let actor = Some(c.service.user_id);
        self.append_requester_reply(&mut tx, ticket_id, status, actor, m.body.as_str(), now_ms)
            .await?;
        tx.commit().await?;
        Ok(Step::Done(WebhookOutcome {
            ticket: number,
            threaded: true,
            replay: false,
        }))
    }

    /// Opens the thread's ticket number `generation` (0 for the first; later ones continue a
    /// closed `previous`).
    async fn open_ticket(
        &self,
        c: &WebhookCredentials,
        m: &WebhookMessage,
        generation: i64,
        previous: Option<TicketNumber>,
    ) -> Result<Step> {
        let description = match &previous {
            None => m.body.clone(),
            // At the end, so the title made from the first sentence is still the user's words.
            Some(prev) => Description::parse(&format!(
                "{}\n\n(Continues {prev}, which was closed.)",
                m.body.as_str()
            ))?,
        };
        // The source system's address is not the user's: no IP or user agent to record.
        let new = NewTicket {
            category: m.category.clone(),
            priority: m.triage.priority,
            impact_scope: m.triage.impact_scope,
            requester_email: m.requester_email.clone(),
            suggested_category: m.triage.suggested_category.clone(),
            triage: m.triage.record.clone(),
            ..NewTicket::new(c.source.channel, m.title.clone(), description)
        };
        let key = IdempotencyKey {
            key: format!("webhook-thread:{generation}:{}", m.thread),
            // Which message opened it: the same one retrying is told apart from another one.
            request_hash: format!("message:{}", m.message_id),
        };
        match self
            .create_ticket_impl(&c.service, new, Some(key.clone()))
            .await
        {
            Ok((ticket, created)) => {
                // Not created: this same message opened the ticket before, and its request
                // stopped before the rows below were written. Finish that and answer a replay.
                self.record_thread(c.source.id, &m.thread, ticket.id, generation, Some(m))
                    .await?;
                Ok(Step::Done(WebhookOutcome {
                    ticket: ticket.number,
                    threaded: false,
                    replay: !created,
                }))
            }
            Err(StoreError::IdempotencyMismatch) => {
                // Another message of the thread opened it first; thread onto its ticket.
                let ticket_id: i64 = sqlx::query_scalar(
                    "SELECT ticket_id FROM idempotency_keys WHERE user_id = $1 AND key = $2",
                )
                .bind(c.service.user_id)
                .bind(&key.key)
                .fetch_one(&self.read)
                .await?;
                self.record_thread(c.source.id, &m.thread, ticket_id, generation, None)
                    .await?;
                Ok(Step::Again)
            }
            Err(e) => Err(e),
        }
    }

    /// Points the thread at its newest ticket and, given the message, records it as accepted.
    async fn record_thread(
        &self,
        source_id: i64,
        thread: &str,
        ticket_id: i64,
        generation: i64,
        message: Option<&WebhookMessage>,
    ) -> Result<()> {
        let now_ms = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO webhook_threads (source_id, thread, ticket_id, generation, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (source_id, thread) DO UPDATE \
             SET ticket_id = excluded.ticket_id, generation = excluded.generation, updated_at = excluded.updated_at \
             WHERE webhook_threads.generation < excluded.generation",
        )
        .bind(source_id)
        .bind(thread)
        .bind(ticket_id)
        .bind(generation)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if let Some(m) = message {
            sqlx::query(
                "INSERT INTO webhook_messages (source_id, thread, message_id, ticket_id, threaded, created_at) \
                 VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (source_id, thread, message_id) DO NOTHING",
            )
            .bind(source_id)
            .bind(thread)
            .bind(&m.message_id)
            .bind(ticket_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
