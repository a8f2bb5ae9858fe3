//! Group commit for new tickets.
//!
//! Every request still gets its own committed ticket before it is answered; what is shared is the
//! transaction. Requests that arrive while one batch is being written are written together in the
//! next one: one counter bump per day, one multi-row INSERT per table, one COMMIT. On SQLite, where
//! all writes queue for one connection, this turns per-statement round trips into per-batch ones;
//! on PostgreSQL it turns one WAL flush per ticket into one per batch. A batch that fails is
//! replayed one ticket per transaction, so a bad request fails alone and gets its own error.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use closedloop_domain::TicketNumber;
use closedloop_domain::notice::Event;
use serde_json::json;
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::{Arg, Dialect, Sql};
use crate::model::to_ms;
use crate::{IdempotencyKey, LoopPolicy, Result, StoreError};

/// Tickets per transaction: 20 values a row keeps one statement far below SQLite's 32,766.
const MAX_BATCH: usize = 128;

/// A ticket ready to be written: validated, routed, its requester resolved.
pub(crate) struct Pending {
    pub at: DateTime<Utc>,
    pub actor_id: i64,
    pub requester_id: Option<i64>,
    pub requester_ip: Option<String>,
    pub requester_user_agent: Option<String>,
    pub channel: &'static str,
    pub title: String,
    pub title_generated: bool,
    pub description: String,
    pub evidence: String,
    pub order_number: Option<String>,
    pub expected_resolution: Option<String>,
    pub region: Option<String>,
    pub category: Option<String>,
    pub nature: Option<&'static str>,
    pub priority: &'static str,
    pub severity: &'static str,
    pub impact_scope: &'static str,
    pub department_id: i64,
    pub department_code: String,
    pub coordinators: Vec<i64>,
    pub idempotency: Option<IdempotencyKey>,
    pub triage: Option<String>,
    /// (id, number) of the open ticket this one repeats.
    pub duplicate_of: Option<(i64, String)>,
    /// The SLA moments of the new ticket and its due columns.
    pub due: Vec<closedloop_domain::sla::Due>,
    pub first_response_due: Option<i64>,
    pub resolution_due: Option<i64>,
    /// Queue the "received" notice for the requester.
    pub acknowledge: bool,
    /// Fields whose personal data was masked: their originals.
    pub originals: Vec<super::privacy::Original>,
}

struct Job {
    ticket: Pending,
    reply: oneshot::Sender<Result<(i64, TicketNumber)>>,
}

/// Handle to the task that writes new tickets; dropping the store ends the task.
pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
}

/// What the writer task needs besides the pool.
struct Writer {
    pool: AnyPool,
    dialect: Dialect,
    policy: Arc<LoopPolicy>,
    /// The longest a batch may take. A database host that vanishes without closing its
    /// connections leaves a statement waiting on TCP: past this the batch is answered as
    /// unavailable (its outcome unknown; a retry with the same Idempotency-Key tells).
    limit: std::time::Duration,
}

impl Committer {
    pub fn start(
        pool: AnyPool,
        dialect: Dialect,
        policy: Arc<LoopPolicy>,
        limit: std::time::Duration,
    ) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(
            Writer {
                pool,
                dialect,
                policy,
                limit,
            },
            rx,
        ));
        Self { jobs }
    }

    /// Writes the ticket and returns its id and number once it is committed.
    pub async fn commit(&self, ticket: Pending) -> Result<(i64, TicketNumber)> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { ticket, reply })
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }
}

async fn run(w: Writer, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let tickets: Vec<&Pending> = batch.iter().map(|j| &j.ticket).collect();
        let written = tokio::time::timeout(w.limit, insert(&w, &tickets))
            .await
            .unwrap_or_else(|_| {
                let stuck = std::io::Error::from(std::io::ErrorKind::TimedOut);
                Err(StoreError::Database(sqlx::Error::Io(stuck)))
            });
        match written {
            Ok(ids) => {
                for (job, written) in batch.drain(..).zip(ids) {
                    let _ = job.reply.send(Ok(written));
                }
            }
            // Replaying one by one against a database that is down would hold the last
            // request for a whole connection timeout per ticket ahead of it; and those queued
            // meanwhile have waited as long as this batch did, so they fail with it.
            Err(e) if e.is_unavailable() => {
                let reason = format!("{e:?}");
                while let Ok(job) = rx.try_recv() {
                    batch.push(job);
                }
                for job in batch.drain(..) {
                    let down = std::io::Error::other(reason.clone());
                    let _ = job
                        .reply
                        .send(Err(StoreError::Database(sqlx::Error::Io(down))));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(_) => {
                for job in batch.drain(..) {
                    let one = insert(&w, &[&job.ticket]).await;
                    let one = one.and_then(|ids| {
                        ids.into_iter().next().ok_or(StoreError::NotFound("ticket"))
                    });
                    let _ = job.reply.send(one);
                }
            }
        }
    }
}

/// Writes the tickets in one transaction and returns their ids and numbers in the order given.
async fn insert(w: &Writer, batch: &[&Pending]) -> Result<Vec<(i64, TicketNumber)>> {
    let dialect = w.dialect;
    let mut tx = super::begin_write(&w.pool, w.dialect).await?;

    // One counter bump per day reserves a block of numbers, as atomically as a single ticket's.
    // On PostgreSQL its row lock is held until the batch commits, so instances' batches take
    // turns on it. Bumping it in a transaction of its own removed those waits but not their
    // cause: on two shared cores the waits were CPU starvation, and more batches at once made
    // reads twice as slow (BENCHMARKS.md, "Scale-out").
    let mut next = reserve_numbers(&mut tx, batch.iter().map(|t| t.at.date_naive())).await?;

    let mut sql = Sql::batch(
        "INSERT INTO tickets (number, channel, requester_id, requester_ip, requester_user_agent, title, \
         title_generated, description, evidence, order_number, expected_resolution, region, category, nature, \
         priority, severity, impact_scope, department_id, status, created_at, updated_at, created_by, duplicate_of, \
         first_response_due_at, resolution_due_at) VALUES ",
        dialect,
    );
    let mut numbers = Vec::with_capacity(batch.len());
    for (i, t) in batch.iter().enumerate() {
        let day = t.at.date_naive();
        let seq = next.entry(day).or_insert(1);
        let number = TicketNumber::new(day, u64::try_from(*seq).unwrap_or_default());
        *seq += 1;
        let at = to_ms(t.at);
        sql.push(if i == 0 { "(" } else { ", (" })
            .bind(Arg::Text(number.as_str().to_owned()))
            .push(", ")
            .bind(Arg::Text(t.channel.into()))
            .push(", ")
            .opt_int(t.requester_id)
            .push(", ")
            .opt_text(t.requester_ip.as_deref())
            .push(", ")
            .opt_text(t.requester_user_agent.as_deref())
            .push(", ")
            .bind(Arg::Text(t.title.clone()))
            .push(", ")
            .bind(Arg::Int(i64::from(t.title_generated)))
            .push(", ")
            .bind(Arg::Text(t.description.clone()))
            .push(", ")
            .bind(Arg::Text(t.evidence.clone()))
            .push(", ")
            .opt_text(t.order_number.as_deref())
            .push(", ")
            .opt_text(t.expected_resolution.as_deref())
            .push(", ")
            .opt_text(t.region.as_deref())
            .push(", ")
            .opt_text(t.category.as_deref())
            .push(", ")
            .opt_text(t.nature)
            .push(", ")
            .bind(Arg::Text(t.priority.into()))
            .push(", ")
            .bind(Arg::Text(t.severity.into()))
            .push(", ")
            .bind(Arg::Text(t.impact_scope.into()))
            .push(", ")
            .bind(Arg::Int(t.department_id))
            .push(if t.duplicate_of.is_some() {
                ", 'duplicate', "
            } else {
                ", 'received', "
            })
            .bind(Arg::Int(at))
            .push(", ")
            .bind(Arg::Int(at))
            .push(", ")
            .bind(Arg::Int(t.actor_id))
            .push(", ")
            .opt_int(t.duplicate_of.as_ref().map(|d| d.0))
            .push(", ")
            .opt_int(t.first_response_due)
            .push(", ")
            .opt_int(t.resolution_due)
            .push(")");
        numbers.push(number);
    }
    // RETURNING order is unspecified on SQLite, so ids are matched back by number.
    sql.push(" RETURNING id, number");
    let mut by_number = HashMap::with_capacity(batch.len());
    for row in sql.query().fetch_all(&mut *tx).await? {
        by_number.insert(row.try_get::<String, _>(1)?, row.try_get::<i64, _>(0)?);
    }
    let ids = numbers
        .iter()
        .map(|n| {
            by_number
                .get(n.as_str())
                .copied()
                .ok_or(StoreError::NotFound("ticket"))
        })
        .collect::<Result<Vec<i64>>>()?;

    let mut coordinators = Sql::batch(
        "INSERT INTO ticket_coordinators (ticket_id, department_id) VALUES ",
        dialect,
    );
    let mut any = false;
    for (t, id) in batch.iter().zip(&ids) {
        for c in &t.coordinators {
            coordinators
                .push(if any { ", (" } else { "(" })
                .bind(Arg::Int(*id))
                .push(", ")
                .bind(Arg::Int(*c))
                .push(")");
            any = true;
        }
    }
    if any {
        coordinators.query().execute(&mut *tx).await?;
    }

    let mut originals = Sql::batch(
        "INSERT INTO personal_data (ticket_id, field, original, kinds) VALUES ",
        dialect,
    );
    let mut any = false;
    for (t, id) in batch.iter().zip(&ids) {
        for o in &t.originals {
            originals
                .push(if any { ", (" } else { "(" })
                .bind(Arg::Int(*id))
                .push(", ")
                .bind(Arg::Text(o.field.into()))
                .push(", ")
                .bind(Arg::Text(o.text.clone()))
                .push(", ")
                .bind(Arg::Text(o.kinds.clone()))
                .push(")");
            any = true;
        }
    }
    if any {
        originals.query().execute(&mut *tx).await?;
    }

    let mut timeline = Sql::batch(
        "INSERT INTO timeline (ticket_id, kind, public, actor_id, body, field, new_value, created_at) VALUES ",
        dialect,
    );
    for (i, (t, id)) in batch.iter().zip(&ids).enumerate() {
        let at = to_ms(t.at);
        timeline
            .push(if i == 0 { "(" } else { ", (" })
            .bind(Arg::Int(*id))
            .push(", 'created', 1, ")
            .bind(Arg::Int(t.actor_id))
            .push(", ")
            .bind(Arg::Text(t.channel.into()))
            .push(", NULL, NULL, ")
            .bind(Arg::Int(at))
            .push("), (")
            .bind(Arg::Int(*id))
            .push(", 'routed', 0, NULL, NULL, 'department', ")
            .bind(Arg::Text(t.department_code.clone()))
            .push(", ")
            .bind(Arg::Int(at))
            .push(")");
    }
    for (t, id) in batch.iter().zip(&ids) {
        if let Some((_, master)) = &t.duplicate_of {
            timeline
                .push(", (")
                .bind(Arg::Int(*id))
                .push(", 'status_changed', 1, NULL, ")
                .bind(Arg::Text(format!(
                    "The same as {master}, which is being handled."
                )))
                .push(", 'status', 'duplicate', ")
                .bind(Arg::Int(to_ms(t.at)))
                .push(")");
        }
        if let Some(verdict) = &t.triage {
            timeline
                .push(", (")
                .bind(Arg::Int(*id))
                .push(", 'triaged', 0, NULL, ")
                .bind(Arg::Text(verdict.clone()))
                .push(", NULL, NULL, ")
                .bind(Arg::Int(to_ms(t.at)))
                .push(")");
        }
    }
    timeline.query().execute(&mut *tx).await?;

    let mut due = Vec::new();
    for (t, id) in batch.iter().zip(&ids) {
        due.extend(t.due.iter().map(|d| (*id, d)));
    }
    super::sla::insert_due(&mut tx, dialect, &due).await?;

    let mut keys = Sql::batch(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, ticket_id, created_at) VALUES ",
        dialect,
    );
    let mut any = false;
    for (t, id) in batch.iter().zip(&ids) {
        if let Some(k) = &t.idempotency {
            keys.push(if any { ", (" } else { "(" })
                .bind(Arg::Int(t.actor_id))
                .push(", ")
                .bind(Arg::Text(k.key.clone()))
                .push(", ")
                .bind(Arg::Text(k.request_hash.clone()))
                .push(", ")
                .bind(Arg::Int(*id))
                .push(", ")
                .bind(Arg::Int(to_ms(t.at)))
                .push(")");
            any = true;
        }
    }
    if any {
        keys.query().execute(&mut *tx).await?;
    }

    for (t, id) in batch.iter().zip(&ids) {
        if t.acknowledge {
            let at = to_ms(t.at);
            super::notices::queue(
                &mut tx,
                &w.policy,
                *id,
                Event::Received,
                &json!({}),
                true,
                at,
            )
            .await?;
        }
    }

    tx.commit().await?;
    Ok(ids.into_iter().zip(numbers).collect())
}

/// Reserves a block of ticket numbers for each day in `days` (one counter bump per day, atomic
/// like a single ticket's) and returns the first number of each day's block.
pub(crate) async fn reserve_numbers(
    conn: &mut sqlx::AnyConnection,
    days: impl Iterator<Item = NaiveDate>,
) -> Result<HashMap<NaiveDate, i64>> {
    let mut per_day: Vec<(NaiveDate, i64)> = Vec::new();
    for d in days {
        match per_day.iter_mut().find(|(day, _)| *day == d) {
            Some((_, n)) => *n += 1,
            None => per_day.push((d, 1)),
        }
    }
    let mut next = HashMap::new();
    for (day, n) in per_day {
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_counters (day, value) VALUES ($1, $2) \
             ON CONFLICT (day) DO UPDATE SET value = ticket_counters.value + $2 RETURNING value",
        )
        .bind(TicketNumber::day_key(day))
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
        next.insert(day, last - n + 1);
    }
    Ok(next)
}
