//! Erasing personal data (MISSION §7), in two shapes: everything of one person when they ask
//! (erasure requests), and the old closed tickets of everyone (retention). Texts are rewritten
//! without the personal data and personal fields emptied, in one transaction, while the rows
//! that statistics count (tickets, their timestamps, categories, SLA facts, survey stars) stay.

use closedloop_privacy::Known;
use sqlx::{AnyConnection, Row};

use super::{Dialect, SqlStore};
use crate::model::{from_ms, to_ms};
use crate::{ErasedFiles, ErasureRequest, ErasureSummary, ErasureWork, Result, StoreError};

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

/// Texts of a table to rewrite, the rows picked by `rows` (one `$1`: a ticket's or a person's
/// id) and written back by `key` one at a time: a ticket or a person has few of them.
struct Texts {
    table: &'static str,
    key: &'static str,
    columns: &'static [&'static str],
    rows: &'static str,
}

const fn texts(
    table: &'static str,
    key: &'static str,
    columns: &'static [&'static str],
    rows: &'static str,
) -> Texts {
    Texts {
        table,
        key,
        columns,
        rows,
    }
}

/// Every place free text about a ticket lives (`$1` = the ticket).
const TICKET_TEXTS: &[Texts] = &[
    texts(
        "tickets",
        "id",
        &["title", "description", "expected_resolution"],
        "id = $1",
    ),
    texts(
        "timeline",
        "id",
        &["body", "old_value", "new_value"],
        "ticket_id = $1",
    ),
    texts("triage_examples", "id", &["text"], "ticket_id = $1"),
    texts(
        "solutions",
        "id",
        &[
            "summary",
            "instructions",
            "cause",
            "improvement",
            "decision_note",
        ],
        "ticket_id = $1",
    ),
    texts("appeals", "id", &["reason", "note"], "ticket_id = $1"),
    texts("surveys", "ticket_id", &["comment"], "ticket_id = $1"),
    // Staff's in-app notifications about the ticket quote its title.
    texts("notifications", "id", &["body"], "ticket_id = $1"),
];

/// Knowledge articles drafted from a ticket (`$1`): on a person's request only, since
/// retention is about tickets and articles are the organisation's reviewed text.
const ARTICLE_TEXTS: &[Texts] = &[
    texts(
        "kb_articles",
        "id",
        &["title", "body"],
        "source_ticket_id = $1",
    ),
    texts(
        "kb_revisions",
        "id",
        &["title", "body"],
        "article_id IN (SELECT id FROM kb_articles WHERE source_ticket_id = $1)",
    ),
];

/// What a person wrote outside their own tickets (`$1` = the person).
const PERSON_TEXTS: &[Texts] = &[
    texts(
        "timeline",
        "id",
        &["body", "old_value", "new_value"],
        "actor_id = $1",
    ),
    texts("nps_surveys", "id", &["comment"], "user_id = $1"),
];

/// Rows of a ticket (`$1`) deleted outright: copies of personal data and links that only
/// served its requester.
const TICKET_DELETES: &[&str] = &[
    "DELETE FROM personal_data WHERE ticket_id = $1",
    "DELETE FROM ticket_participants WHERE ticket_id = $1",
    "DELETE FROM ticket_links WHERE ticket_id = $1",
    "DELETE FROM webhook_messages WHERE ticket_id = $1",
    "DELETE FROM webhook_threads WHERE ticket_id = $1",
    // Machine translations quote the text; they are not made again for an old ticket.
    "DELETE FROM translations WHERE ticket_id = $1",
    // Keys of retried deliveries name the thread (a phone number or handle, often).
    "DELETE FROM idempotency_keys WHERE ticket_id = $1",
];

/// A person's (`$1`) secrets and notifications.
const PERSON_DELETES: &[&str] = &[
    "DELETE FROM notifications WHERE user_id = $1",
    "DELETE FROM sessions WHERE user_id = $1",
    "DELETE FROM api_tokens WHERE user_id = $1",
    "DELETE FROM idempotency_keys WHERE user_id = $1",
];

/// Outgoing notices keep their row (the counts of what was sent) but not whom they went to or
/// what they said; unsent ones are given up. `$1` = now, `$2` = the ticket or the person.
fn outbox(rows: &str) -> String {
    format!(
        "UPDATE notices SET address = '', subject = NULL, body = NULL, params = '{{}}', \
         failed_at = CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN $1 ELSE failed_at END, \
         error = CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 'erased' ELSE error END \
         WHERE {rows}"
    )
}

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
        // One open request per person (a unique index): of two asking at once, one inserts and
        // both get it back.
        let inserted = sqlx::query(
            "INSERT INTO erasure_requests (user_id, requested_by, requested_at, due_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) WHERE completed_at IS NULL DO NOTHING",
        )
        .bind(user_id)
        .bind(requested_by)
        .bind(to_ms(now))
        .bind(to_ms(now + within))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM erasure_requests WHERE user_id = $1 AND completed_at IS NULL"
        ))
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let open = request(&r)?;
        tx.commit().await?;
        Ok((open, inserted))
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

    pub(crate) async fn complete_erasure_impl(&self, request_id: i64) -> Result<ErasedFiles> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        self.secure_delete(&mut tx, true).await?;
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

        let mut known = known_person(&mut tx, user).await?;
        let email = sqlx::query_scalar::<_, String>("SELECT email FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        let tickets: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2 ORDER BY id",
        )
        .bind(user)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        // What is found on any of the person's tickets is theirs on all of them.
        for &ticket in &tickets {
            known_on_ticket(&mut tx, ticket, &mut known).await?;
        }
        let mut files = Vec::new();
        for &ticket in &tickets {
            let scrub = Scrub {
                known: &known,
                now,
                actor: Some(req.requested_by),
                mark: "erased",
            };
            files.extend(scrub.ticket(&mut tx, ticket, &mut summary).await?);
            for t in ARTICLE_TEXTS {
                summary.texts += rewrite(&mut tx, t, ticket, &known).await?;
            }
            // A new revision moves the articles' search feed, so every index re-reads them.
            sqlx::query(
                "INSERT INTO kb_revisions (article_id, actor_id, status, title, body, created_at) \
                 SELECT id, $1, status, title, body, $2 FROM kb_articles WHERE source_ticket_id = $3",
            )
            .bind(req.requested_by)
            .bind(now)
            .bind(ticket)
            .execute(&mut *tx)
            .await?;
        }
        // Others' tickets the person wrote on: their entries are rewritten, and each ticket gets
        // a change on its feed so the search indexes re-read it.
        let elsewhere: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT ticket_id FROM timeline WHERE actor_id = $1 AND ticket_id NOT IN \
             (SELECT id FROM tickets WHERE requester_id = $2 OR created_by = $3)",
        )
        .bind(user)
        .bind(user)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        for t in PERSON_TEXTS {
            summary.texts += rewrite(&mut tx, t, user, &known).await?;
        }
        for ticket in elsewhere {
            mark_changed(&mut tx, ticket, Some(req.requested_by), "erased", now).await?;
        }
        // Copied in on others' mail.
        summary.deleted +=
            sqlx::query("DELETE FROM ticket_participants WHERE lower(address) = lower($1)")
                .bind(&email)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        // Mail of theirs that never became a ticket and waits in quarantine: the caller deletes
        // the files and their rows.
        let quarantined: Vec<String> = sqlx::query_scalar(
            "SELECT message_id FROM mail_messages WHERE lower(address) = lower($1) \
             AND outcome = 'quarantined'",
        )
        .bind(&email)
        .fetch_all(&mut *tx)
        .await?;
        for &sql in PERSON_DELETES {
            summary.deleted += sqlx::query(sql)
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
        }
        summary.outbox += sqlx::query(&outbox("user_id = $2"))
            .bind(now)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
        // Mail from the address that never became a ticket (ignored, quarantined).
        sqlx::query("UPDATE mail_messages SET address = '' WHERE address = $1")
            .bind(&email)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE users SET name = $1, email = $2, phone = NULL, password_hash = NULL, \
             active = 0, time_zone = NULL, failed_logins = 0, locked_until = NULL WHERE id = $3",
        )
        .bind("Erased user")
        .bind(format!("erased-{user}@erased.invalid"))
        .bind(user)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE erasure_requests SET completed_at = $1, summary = $2, claimed_until = NULL \
             WHERE id = $3",
        )
        .bind(now)
        .bind(serde_json::to_string(&summary).unwrap_or_default())
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        let attachments = unreferenced(&mut tx, files).await?;
        self.finish_purge(tx).await?;
        Ok(ErasedFiles {
            attachments,
            quarantined_mail: quarantined
                .iter()
                .filter_map(|id| id.strip_prefix("sha256:").map(str::to_owned))
                .collect(),
        })
    }

    /// Anonymises up to `limit` tickets closed before `before` (retention); how many, and the
    /// attachment files no ticket holds any more.
    pub(crate) async fn anonymise_closed_impl(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<(usize, Vec<String>)> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT id, requester_id FROM tickets WHERE anonymised_at IS NULL \
             AND closed_at < $1 AND status = 'closed' ORDER BY closed_at LIMIT $2",
        )
        .bind(to_ms(before))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok((0, Vec::new()));
        }
        self.secure_delete(&mut tx, true).await?;
        let mut summary = ErasureSummary::default();
        let mut files = Vec::new();
        for r in &rows {
            let ticket: i64 = r.try_get(0)?;
            let mut known = match r.try_get::<Option<i64>, _>(1)? {
                Some(requester) => known_person(&mut tx, requester).await?,
                None => Known::default(),
            };
            known_on_ticket(&mut tx, ticket, &mut known).await?;
            let scrub = Scrub {
                known: &known,
                now,
                actor: None,
                mark: "anonymised",
            };
            files.extend(scrub.ticket(&mut tx, ticket, &mut summary).await?);
            // The ticket no longer says whose it was: not on the ticket, not on the entries the
            // requester wrote (the account itself stays, with its newer tickets).
            if let Some(requester) = r.try_get::<Option<i64>, _>(1)? {
                for sql in [
                    "UPDATE timeline SET actor_id = NULL WHERE ticket_id = $1 AND actor_id = $2",
                    "UPDATE appeals SET opened_by = NULL WHERE ticket_id = $1 AND opened_by = $2",
                ] {
                    sqlx::query(sql)
                        .bind(ticket)
                        .bind(requester)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            sqlx::query(
                "UPDATE tickets SET anonymised_at = $1, requester_id = NULL, \
                 created_by = CASE WHEN created_by = requester_id THEN NULL ELSE created_by END \
                 WHERE id = $2",
            )
            .bind(now)
            .bind(ticket)
            .execute(&mut *tx)
            .await?;
        }
        let files = unreferenced(&mut tx, files).await?;
        self.finish_purge(tx).await?;
        Ok((rows.len(), files))
    }

    /// How many purges (erasures, retention batches) have run: search indexes purge their
    /// files when it grows.
    pub(crate) async fn purges_impl(&self) -> Result<i64> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = 'privacy_purges'")
                .fetch_optional(&self.read)
                .await?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// On SQLite, freed space is zeroed while this transaction runs, so old text does not stay
    /// in the file's free space.
    async fn secure_delete(&self, conn: &mut AnyConnection, on: bool) -> Result<()> {
        if self.dialect == Dialect::Sqlite {
            let mode = if on { "ON" } else { "FAST" };
            sqlx::query(&format!("PRAGMA secure_delete = {mode}"))
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// Counts the purge and commits; on SQLite, the write-ahead log, which still holds the
    /// pages as they were, is then folded into the database and emptied.
    async fn finish_purge(&self, mut tx: sqlx::Transaction<'static, sqlx::Any>) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('privacy_purges', '1') \
             ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)",
        )
        .execute(&mut *tx)
        .await?;
        self.secure_delete(&mut tx, false).await?;
        tx.commit().await?;
        if self.dialect == Dialect::Sqlite {
            // Readers in the middle of a query can hold it back; the next checkpoint does it.
            let busy: Option<i64> = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_optional(&self.write)
                .await?;
            if busy.unwrap_or(0) != 0 {
                tracing::warn!("the write-ahead log could not be emptied after a purge yet");
            }
        }
        Ok(())
    }
}

/// Rewriting one ticket without personal data.
struct Scrub<'a> {
    known: &'a Known,
    now: i64,
    /// Who the change on the ticket's feed is recorded for (none: the system).
    actor: Option<i64>,
    /// What the feed entry says was done: `erased` or `anonymised`.
    mark: &'static str,
}

impl Scrub<'_> {
    /// Rewrites the ticket's texts, empties its personal fields, deletes its copies of personal
    /// data and its attachments; the digests of the files that were attached.
    async fn ticket(
        &self,
        conn: &mut AnyConnection,
        ticket: i64,
        summary: &mut ErasureSummary,
    ) -> Result<Vec<String>> {
        summary.tickets += 1;
        for t in TICKET_TEXTS {
            summary.texts += rewrite(conn, t, ticket, self.known).await?;
        }
        sqlx::query(
            "UPDATE tickets SET order_number = NULL, requester_ip = NULL, \
             requester_user_agent = NULL, evidence = '[]', keywords = NULL, version = version + 1 \
             WHERE id = $1",
        )
        .bind(ticket)
        .execute(&mut *conn)
        .await?;
        for &sql in TICKET_DELETES {
            summary.deleted += sqlx::query(sql)
                .bind(ticket)
                .execute(&mut *conn)
                .await?
                .rows_affected() as i64;
        }
        summary.outbox += sqlx::query(&outbox("ticket_id = $2"))
            .bind(self.now)
            .bind(ticket)
            .execute(&mut *conn)
            .await?
            .rows_affected() as i64;
        sqlx::query("UPDATE mail_messages SET address = '' WHERE ticket_id = $1")
            .bind(ticket)
            .execute(&mut *conn)
            .await?;
        let files: Vec<String> =
            sqlx::query_scalar("SELECT sha256 FROM attachments WHERE ticket_id = $1")
                .bind(ticket)
                .fetch_all(&mut *conn)
                .await?;
        summary.attachments += sqlx::query("DELETE FROM attachments WHERE ticket_id = $1")
            .bind(ticket)
            .execute(&mut *conn)
            .await?
            .rows_affected() as i64;
        mark_changed(conn, ticket, self.actor, self.mark, self.now).await?;
        Ok(files)
    }
}

/// A change on the ticket's feed, so every instance's search index re-reads it.
async fn mark_changed(
    conn: &mut AnyConnection,
    ticket: i64,
    actor: Option<i64>,
    mark: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO timeline (ticket_id, kind, public, actor_id, field, new_value, created_at) \
         VALUES ($1, 'field_changed', 0, $2, 'personal_data', $3, $4)",
    )
    .bind(ticket)
    .bind(actor)
    .bind(mark)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Of these files (digests), the ones no ticket holds any more.
async fn unreferenced(conn: &mut AnyConnection, mut files: Vec<String>) -> Result<Vec<String>> {
    files.sort();
    files.dedup();
    let mut gone = Vec::new();
    for sha256 in files {
        let held: Option<i64> = sqlx::query_scalar("SELECT 1 FROM attachments WHERE sha256 = $1")
            .bind(&sha256)
            .fetch_optional(&mut *conn)
            .await?;
        if held.is_none() {
            gone.push(sha256);
        }
    }
    Ok(gone)
}

/// Attachments of the person's tickets whose file no other ticket holds (files are stored once
/// per content).
async fn own_files(conn: &mut AnyConnection, user: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT a.sha256 FROM attachments a \
         WHERE a.ticket_id IN (SELECT id FROM tickets WHERE requester_id = $1 OR created_by = $2) \
         AND NOT EXISTS (SELECT 1 FROM attachments o JOIN tickets t ON t.id = o.ticket_id \
         WHERE o.sha256 = a.sha256 AND (t.requester_id IS NULL OR t.requester_id <> $3) \
         AND (t.created_by IS NULL OR t.created_by <> $4))",
    )
    .bind(user)
    .bind(user)
    .bind(user)
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// What is known to be a person's: their name (and its parts), e-mail and phone.
async fn known_person(conn: &mut AnyConnection, user: i64) -> Result<Known> {
    let mut known = Known::default();
    let r = sqlx::query("SELECT name, email, phone FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    known.add_name(&r.try_get::<String, _>(0)?);
    known.add(&r.try_get::<String, _>(1)?);
    if let Some(phone) = r.try_get::<Option<String>, _>(2)? {
        known.add(&phone);
    }
    Ok(known)
}

/// Adds what a ticket shows of its requester: each personal value in the originals kept when
/// it was masked (and their masked forms), and the addresses its mail came from.
async fn known_on_ticket(conn: &mut AnyConnection, ticket: i64, known: &mut Known) -> Result<()> {
    let originals: Vec<String> =
        sqlx::query_scalar("SELECT original FROM personal_data WHERE ticket_id = $1")
            .bind(ticket)
            .fetch_all(&mut *conn)
            .await?;
    for original in &originals {
        known.add_found_in(original);
    }
    let addresses: Vec<String> =
        sqlx::query_scalar("SELECT address FROM ticket_participants WHERE ticket_id = $1")
            .bind(ticket)
            .fetch_all(&mut *conn)
            .await?;
    for address in &addresses {
        known.add(address);
    }
    Ok(())
}

/// Rewrites one table's texts for a ticket or a person; how many texts changed.
async fn rewrite(conn: &mut AnyConnection, t: &Texts, id: i64, known: &Known) -> Result<i64> {
    let rows = sqlx::query(&format!(
        "SELECT {}, {} FROM {} WHERE {}",
        t.key,
        t.columns.join(", "),
        t.table,
        t.rows
    ))
    .bind(id)
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
