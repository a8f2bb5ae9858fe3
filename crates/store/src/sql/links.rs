//! The public web form: tickets with a private follow link, replies through that link, and the
//! attachments of a ticket.

use closedloop_domain::{Role, Status};
use sqlx::Row;

use super::people::{customer_by_email, principal_where};
use super::rows::{self, ENTRY_SELECT};
use super::tickets::ticket_by_id;
use super::{Arg, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{
    Attachment, Principal, Result, StoreError, Ticket, TimelineEntry, WEB_FORM_ACCOUNT,
    WebSubmission,
};

impl SqlStore {
    /// Registers the ticket as its sender would through the API (the customer with the contact
    /// address, or the web-form account for an anonymous one), then stores its link and files.
    ///
    /// Two transactions: tickets are written by the group committer. Should the second fail,
    /// the ticket exists without a link and the sender sees an error; nothing leaks.
    pub(crate) async fn create_web_ticket_impl(&self, s: WebSubmission) -> Result<Ticket> {
        let now = to_ms(self.clock.now());
        let actor = match &s.contact_email {
            Some(email) => {
                let id = {
                    let mut write = self.write.acquire().await?;
                    customer_by_email(&mut write, email, now).await?
                };
                let p = self
                    .principal_impl(id)
                    .await?
                    .ok_or(StoreError::NotFound("user"))?;
                // Whoever owns the address, on this ticket they are its requester.
                Principal {
                    role: Role::Customer,
                    departments: Vec::new(),
                    ..p
                }
            }
            None => {
                let mut read = self.read.acquire().await?;
                principal_where(
                    &mut read,
                    "u.email = $1",
                    Arg::Text(WEB_FORM_ACCOUNT.to_owned()),
                )
                .await?
                .ok_or(StoreError::NotFound("user"))?
            }
        };
        let mut new = s.ticket;
        new.requester_email = None;
        let (mut ticket, _) = self.create_ticket_impl(&actor, new, None).await?;

        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO ticket_links (token_hash, ticket_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&s.link_hash)
        .bind(ticket.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(evidence) = attach(&mut tx, ticket.id, &s.attachments, now).await? {
            ticket.evidence = evidence;
        }
        tx.commit().await?;
        Ok(ticket)
    }

    pub(crate) async fn ticket_by_link_impl(&self, link_hash: &str) -> Result<Option<Ticket>> {
        let mut conn = self.read.acquire().await?;
        let id: Option<i64> =
            sqlx::query_scalar("SELECT ticket_id FROM ticket_links WHERE token_hash = $1")
                .bind(link_hash)
                .fetch_optional(&mut *conn)
                .await?;
        match id {
            Some(id) => Ok(Some(ticket_by_id(&mut conn, id).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn public_timeline_impl(&self, ticket_id: i64) -> Result<Vec<TimelineEntry>> {
        let rows = sqlx::query(&format!(
            "{ENTRY_SELECT} WHERE e.ticket_id = $1 AND e.public = 1 ORDER BY e.id"
        ))
        .bind(ticket_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rows::entry).collect()
    }

    /// A public reply by the ticket's requester (none for an anonymous ticket), as a customer's
    /// reply through the API: refused on a finished ticket, resumes one waiting on the user.
    pub(crate) async fn reply_by_link_impl(
        &self,
        ticket_id: i64,
        body: &str,
    ) -> Result<TimelineEntry> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT t.status, t.requester_id FROM tickets t WHERE t.id = $1{}",
            self.dialect.lock_ticket()
        ))
        .bind(ticket_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("ticket"))?;
        let status = parse_stored::<Status>(&row.try_get::<String, _>(0)?)?;
        let requester: Option<i64> = row.try_get(1)?;
        if matches!(status, Status::Closed | Status::Duplicate) {
            return Err(StoreError::invalid(
                "body",
                "ticket_closed",
                "this ticket is closed; open a new one",
            ));
        }
        let id = self
            .append_requester_reply(&mut tx, ticket_id, status, requester, body, now)
            .await?;
        let row = sqlx::query(&format!("{ENTRY_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let entry = rows::entry(&row)?;
        tx.commit().await?;
        Ok(entry)
    }

    pub(crate) async fn attachments_impl(&self, ticket_id: i64) -> Result<Vec<Attachment>> {
        let rows = sqlx::query(
            "SELECT id, ticket_id, sha256, size, content_type, filename, created_at \
             FROM attachments WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(ticket_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Attachment {
                    id: r.try_get(0)?,
                    ticket_id: r.try_get(1)?,
                    sha256: r.try_get(2)?,
                    size: r.try_get(3)?,
                    content_type: r.try_get(4)?,
                    filename: r.try_get(5)?,
                    created_at: from_ms(r.try_get(6)?),
                })
            })
            .collect()
    }
}

/// Records the files (already on disk) as the ticket's and names each in its evidence as
/// `attachment:<id>`; returns the evidence as it now is (nothing is read without files).
pub(super) async fn attach(
    conn: &mut sqlx::AnyConnection,
    ticket_id: i64,
    files: &[crate::NewAttachment],
    now: i64,
) -> Result<Option<Vec<String>>> {
    if files.is_empty() {
        return Ok(None);
    }
    let stored: String = sqlx::query_scalar("SELECT evidence FROM tickets WHERE id = $1")
        .bind(ticket_id)
        .fetch_one(&mut *conn)
        .await?;
    let mut evidence: Vec<String> = serde_json::from_str(&stored).unwrap_or_default();
    for a in files {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO attachments (ticket_id, sha256, size, content_type, filename, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(ticket_id)
        .bind(&a.sha256)
        .bind(a.size)
        .bind(&a.content_type)
        .bind(&a.filename)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        evidence.push(format!("attachment:{id}"));
    }
    sqlx::query("UPDATE tickets SET evidence = $1 WHERE id = $2")
        .bind(serde_json::to_string(&evidence).unwrap_or_else(|_| "[]".into()))
        .bind(ticket_id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(evidence))
}
