//! Erasing one person's data (MISSION §7): everything written by or about them is removed or
//! rewritten without the personal data, in one transaction, while the rows that statistics
//! count (tickets, their timestamps, categories, SLA facts, survey stars) stay.

use closedloop_privacy::Known;
use sqlx::{AnyConnection, Row};

use super::{Dialect, SqlStore};
use crate::model::{from_ms, to_ms};
use crate::{ErasureRequest, ErasureSummary, ErasureWork, Result, StoreError};

const COLUMNS: &str =
    "id, user_id, requested_by, requested_at, due_at, completed_at, alerted_at, summary";

fn request(r: &sqlx::any::AnyRow) -> Result<ErasureRequest> {
    let summary: Option<String> = r.try_get(7)?;
    Ok(ErasureRequest {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        requested_by: r.try_get(2)?,
        requested_at: from_ms(r.try_get(3)?),
        due_at: from_ms(r.try_get(4)?),
        completed_at: r.try_get::<Option<i64>, _>(5)?.map(from_ms),
        alerted_at: r.try_get::<Option<i64>, _>(6)?.map(from_ms),
        summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

/// Which texts of which table are rewritten, and how its rows are picked (`$1` = the person's
/// id). Rows are read and written by `key` one at a time: a person has few of them.
struct Texts {
    table: &'static str,
    key: &'static str,
    columns: &'static [&'static str],
    rows: &'static str,
}

/// Every place free text about the person's tickets or by the person lives.
const TEXTS: &[Texts] = &[
    Texts {
        table: "tickets",
        key: "id",
        columns: &["title", "description", "expected_resolution"],
        rows: "requester_id = $1 OR created_by = $2",
    },
    Texts {
        table: "timeline",
        key: "id",
        columns: &["body", "old_value", "new_value"],
        rows: "ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    },
    Texts {
        table: "timeline",
        key: "id",
        columns: &["body", "old_value", "new_value"],
        // What the person wrote on others' tickets (a customer added as a participant).
        rows: "actor_id = $1 AND $2 = $2",
    },
    Texts {
        table: "triage_examples",
        key: "id",
        columns: &["text"],
        rows: "ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    },
    Texts {
        table: "solutions",
        key: "id",
        columns: &[
            "summary",
            "instructions",
            "cause",
            "improvement",
            "decision_note",
        ],
        rows: "ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    },
    Texts {
        table: "appeals",
        key: "id",
        columns: &["reason", "note"],
        rows: "ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    },
    Texts {
        table: "surveys",
        key: "ticket_id",
        columns: &["comment"],
        rows: "ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    },
    Texts {
        table: "nps_surveys",
        key: "id",
        columns: &["comment"],
        rows: "user_id = $1 AND $2 = $2",
    },
    Texts {
        table: "notifications",
        key: "id",
        columns: &["body"],
        // Staff's in-app notifications about the tickets quote their titles.
        rows: "ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    },
    Texts {
        table: "kb_articles",
        key: "id",
        columns: &["title", "body"],
        rows: "source_ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    },
    Texts {
        table: "kb_revisions",
        key: "id",
        columns: &["title", "body"],
        rows: "article_id IN (SELECT id FROM kb_articles WHERE source_ticket_id IN \
               (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2))",
    },
];

/// Rows deleted outright: secrets, copies of personal data, and links that only served the
/// person (`$1` = the person's id).
const DELETES: &[&str] = &[
    "DELETE FROM personal_data WHERE ticket_id IN \
     (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    "DELETE FROM ticket_participants WHERE ticket_id IN \
     (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    "DELETE FROM ticket_links WHERE ticket_id IN \
     (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    "DELETE FROM webhook_messages WHERE ticket_id IN \
     (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    "DELETE FROM webhook_threads WHERE ticket_id IN \
     (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    "DELETE FROM notifications WHERE user_id = $1 AND $2 = $2",
    "DELETE FROM sessions WHERE user_id = $1 AND $2 = $2",
    "DELETE FROM api_tokens WHERE user_id = $1 AND $2 = $2",
    "DELETE FROM idempotency_keys WHERE user_id = $1 AND $2 = $2",
];

/// Outgoing messages keep their row (the counts of what was sent) but not whom they went to
/// or what they said; unsent ones are given up.
const OUTBOX: &[&str] = &[
    "UPDATE notices SET address = '', subject = NULL, body = NULL, params = '{}', \
     failed_at = CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN $3 ELSE failed_at END, \
     error = CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 'erased' ELSE error END \
     WHERE user_id = $1 OR ticket_id IN (SELECT id FROM tickets WHERE requester_id = $2 OR created_by = $4)",
];

/// Attachments of the person's tickets whose file no other ticket holds (files are stored once
/// per content).
const OWN_FILES: &str = "SELECT DISTINCT a.sha256 FROM attachments a \
     WHERE a.ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2) \
     AND NOT EXISTS (SELECT 1 FROM attachments o JOIN tickets t ON t.id = o.ticket_id \
     WHERE o.sha256 = a.sha256 AND (t.requester_id IS NULL OR t.requester_id <> $3) \
     AND (t.created_by IS NULL OR t.created_by <> $4))";

impl SqlStore {
    pub(crate) async fn request_erasure_impl(
        &self,
        user_id: i64,
        requested_by: i64,
        within: chrono::Duration,
    ) -> Result<(ErasureRequest, bool)> {
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        match role.as_deref() {
            None => return Err(StoreError::NotFound("user")),
            Some("customer") => {}
            Some(_) => {
                return Err(StoreError::invalid(
                    "user_id",
                    "staff_account",
                    "staff accounts are deactivated, not erased: their work is the record of \
                     how tickets were handled",
                ));
            }
        }
        let open = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM erasure_requests WHERE user_id = $1 AND completed_at IS NULL"
        ))
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = open {
            return Ok((request(&r)?, false));
        }
        let r = sqlx::query(&format!(
            "INSERT INTO erasure_requests (user_id, requested_by, requested_at, due_at) \
             VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
        ))
        .bind(user_id)
        .bind(requested_by)
        .bind(to_ms(now))
        .bind(to_ms(now + within))
        .fetch_one(&mut *tx)
        .await?;
        let made = request(&r)?;
        tx.commit().await?;
        Ok((made, true))
    }

    pub(crate) async fn erasure_requests_impl(
        &self,
        user_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ErasureRequest>> {
        let sql = match user_id {
            Some(_) => format!(
                "SELECT {COLUMNS} FROM erasure_requests WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
            ),
            None => format!(
                "SELECT {COLUMNS} FROM erasure_requests WHERE $1 = $1 ORDER BY id DESC LIMIT $2"
            ),
        };
        sqlx::query(&sql)
            .bind(user_id.unwrap_or(0))
            .bind(limit)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(request)
            .collect()
    }

    pub(crate) async fn claim_erasure_impl(
        &self,
        lease: chrono::Duration,
    ) -> Result<Option<ErasureWork>> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let Some(r) = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM erasure_requests WHERE completed_at IS NULL \
             AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY due_at LIMIT 1{}",
            match self.dialect {
                Dialect::Sqlite => "",
                Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            }
        ))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let request = request(&r)?;
        sqlx::query("UPDATE erasure_requests SET claimed_until = $1 WHERE id = $2")
            .bind(now + lease.num_milliseconds())
            .bind(request.id)
            .execute(&mut *tx)
            .await?;
        let files = own_files(&mut tx, request.user_id).await?;
        tx.commit().await?;
        Ok(Some(ErasureWork { request, files }))
    }

    pub(crate) async fn complete_erasure_impl(&self, request_id: i64) -> Result<Vec<String>> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        if self.dialect == Dialect::Sqlite {
            // Freed space is zeroed, so the old text is not left in the file's free pages.
            sqlx::query("PRAGMA secure_delete = ON")
                .execute(&mut *tx)
                .await?;
        }
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM erasure_requests WHERE id = $1 AND completed_at IS NULL"
        ))
        .bind(request_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("erasure request"))?;
        let req = request(&r)?;
        let user = req.user_id;
        let mut summary = ErasureSummary::default();

        let known = known_values(&mut tx, user).await?;
        let tickets: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2 ORDER BY id",
        )
        .bind(user)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        summary.tickets = tickets.len() as i64;
        for texts in TEXTS {
            summary.texts += rewrite(&mut tx, texts, user, &known).await?;
        }
        sqlx::query(
            "UPDATE tickets SET order_number = NULL, requester_ip = NULL, \
             requester_user_agent = NULL, evidence = '[]', keywords = NULL, version = version + 1 \
             WHERE requester_id = $1 OR created_by = $2",
        )
        .bind(user)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        for &sql in DELETES {
            summary.deleted += sqlx::query(sql)
                .bind(user)
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        }
        for &sql in OUTBOX {
            summary.outbox += sqlx::query(sql)
                .bind(user)
                .bind(user)
                .bind(now)
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        }
        sqlx::query("UPDATE mail_messages SET address = '' WHERE address = $1")
            .bind(&known_email(&mut tx, user).await?)
            .execute(&mut *tx)
            .await?;
        let files = own_files(&mut tx, user).await?;
        summary.attachments = sqlx::query(
            "DELETE FROM attachments WHERE ticket_id IN \
             (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
        )
        .bind(user)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        sqlx::query(
            "UPDATE users SET name = $1, email = $2, phone = NULL, password_hash = NULL, \
             active = 0, time_zone = NULL, failed_logins = 0, locked_until = NULL WHERE id = $3",
        )
        .bind("Erased user")
        .bind(format!("erased-{user}@erased.invalid"))
        .bind(user)
        .execute(&mut *tx)
        .await?;
        // A change on each ticket's feed, so every instance's search index re-reads it.
        for &ticket in &tickets {
            sqlx::query(
                "INSERT INTO timeline (ticket_id, kind, public, actor_id, field, new_value, created_at) \
                 VALUES ($1, 'field_changed', 0, $2, 'personal_data', 'erased', $3)",
            )
            .bind(ticket)
            .bind(req.requested_by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE erasure_requests SET completed_at = $1, summary = $2, claimed_until = NULL \
             WHERE id = $3",
        )
        .bind(now)
        .bind(serde_json::to_string(&summary).unwrap_or_default())
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        if self.dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA secure_delete = FAST")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if self.dialect == Dialect::Sqlite {
            // The write-ahead log still holds the pages as they were; fold it into the
            // database and empty it. Readers in the middle of a query can hold it back, in
            // which case the next checkpoint does it.
            let busy: Option<i64> = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_optional(&self.write)
                .await?;
            if busy.unwrap_or(0) != 0 {
                tracing::warn!("the write-ahead log could not be emptied after an erasure yet");
            }
        }
        Ok(files)
    }

    pub(crate) async fn overdue_erasures_impl(&self) -> Result<Vec<ErasureRequest>> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let overdue = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM erasure_requests WHERE completed_at IS NULL \
             AND alerted_at IS NULL AND due_at < $1 ORDER BY id"
        ))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(request)
        .collect::<Result<Vec<_>>>()?;
        for r in &overdue {
            sqlx::query(
                "INSERT INTO notifications (user_id, ticket_id, kind, body, created_at) \
                 SELECT id, NULL, 'erasure_overdue', $1, $2 FROM users \
                 WHERE role = 'admin' AND active = 1",
            )
            .bind(format!(
                "Erasure request {} for user {} is overdue: it was due {}.",
                r.id,
                r.user_id,
                r.due_at.format("%Y-%m-%d %H:%M UTC")
            ))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE erasure_requests SET alerted_at = $1 WHERE id = $2")
                .bind(now)
                .bind(r.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(overdue)
    }

    pub(crate) async fn erasures_completed_impl(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM erasure_requests WHERE completed_at IS NOT NULL",
        )
        .fetch_one(&self.read)
        .await?)
    }
}

async fn own_files(conn: &mut AnyConnection, user: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(OWN_FILES)
        .bind(user)
        .bind(user)
        .bind(user)
        .bind(user)
        .fetch_all(conn)
        .await?)
}

async fn known_email(conn: &mut AnyConnection, user: i64) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(conn)
        .await?)
}

/// What is known to be the person's: their name, e-mail, phone, the addresses their mail came
/// from, and each personal value in the originals kept when their tickets were masked.
async fn known_values(conn: &mut AnyConnection, user: i64) -> Result<Known> {
    let mut known = Known::default();
    let r = sqlx::query("SELECT name, email, phone FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    let name: String = r.try_get(0)?;
    let email: String = r.try_get(1)?;
    known.add_name(&name);
    known.add(&email);
    if let Some(phone) = r.try_get::<Option<String>, _>(2)? {
        known.add(&phone);
    }
    let originals: Vec<String> = sqlx::query_scalar(
        "SELECT original FROM personal_data WHERE ticket_id IN \
         (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    )
    .bind(user)
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    for original in &originals {
        known.add_found_in(original);
    }
    let addresses: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT address FROM ticket_participants WHERE ticket_id IN \
         (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2)",
    )
    .bind(user)
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    for address in &addresses {
        known.add(address);
    }
    Ok(known)
}

/// Rewrites one table's texts for the person; how many texts changed.
async fn rewrite(conn: &mut AnyConnection, t: &Texts, user: i64, known: &Known) -> Result<i64> {
    let rows = sqlx::query(&format!(
        "SELECT {}, {} FROM {} WHERE {}",
        t.key,
        t.columns.join(", "),
        t.table,
        t.rows
    ))
    .bind(user)
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    let mut changed = 0;
    for r in rows {
        let key: i64 = r.try_get(0)?;
        for (i, column) in t.columns.iter().enumerate() {
            let Some(text) = r.try_get::<Option<String>, _>(i + 1)? else {
                continue;
            };
            let Some(erased) = closedloop_privacy::erase(&text, known) else {
                continue;
            };
            sqlx::query(&format!(
                "UPDATE {} SET {column} = $1 WHERE {} = $2",
                t.table, t.key
            ))
            .bind(erased)
            .bind(key)
            .execute(&mut *conn)
            .await?;
            changed += 1;
        }
    }
    Ok(changed)
}
