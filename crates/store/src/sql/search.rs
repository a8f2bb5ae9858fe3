//! The search index's reads: the change feed (the timeline, to which every write to a ticket
//! appends in its own transaction) and tickets as documents.

use std::collections::HashMap;

use sqlx::Row;

use super::rows::{TICKET_SELECT, attach_coordinators, scope};
use super::{Arg, Sql, SqlStore, parse_stored, rows};
use crate::model::from_ms;
use crate::{FeedChange, Principal, Result, Ticket, TicketDocument};

const DOCUMENT_SELECT: &str = "SELECT t.id, t.number, t.title, t.description, t.status, t.category, \
    t.priority, t.channel, t.department_id, t.requester_id, t.assignee_id, t.created_by, t.created_at \
    FROM tickets t";

/// An append-only table whose ids are a change feed: the entry's id and what it changed.
#[derive(Clone, Copy)]
pub(crate) struct Feed {
    table: &'static str,
    subject: &'static str,
}

/// Every write to a ticket appends to its timeline.
pub(crate) const TICKET_FEED: Feed = Feed {
    table: "timeline",
    subject: "ticket_id",
};
/// Every save of an article appends a revision.
pub(crate) const ARTICLE_FEED: Feed = Feed {
    table: "kb_revisions",
    subject: "article_id",
};

fn changes(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<FeedChange>> {
    rows.iter()
        .map(|r| {
            Ok(FeedChange {
                seq: r.try_get(0)?,
                ticket_id: r.try_get(1)?,
            })
        })
        .collect()
}

impl SqlStore {
    /// Entries of `feed` after `after`, in order, at most `limit`.
    pub(crate) async fn feed_after(
        &self,
        feed: Feed,
        after: i64,
        limit: u32,
    ) -> Result<Vec<FeedChange>> {
        let mut sql = Sql::new(&format!(
            "SELECT id, {} FROM {} WHERE id > ",
            feed.subject, feed.table
        ));
        sql.bind(Arg::Int(after))
            .push(" ORDER BY id LIMIT ")
            .bind(Arg::Int(i64::from(limit)));
        changes(sql.query().fetch_all(&self.read).await?)
    }

    /// Those of `seqs` that exist in `feed` now.
    pub(crate) async fn feed_at(&self, feed: Feed, seqs: &[i64]) -> Result<Vec<FeedChange>> {
        let mut out = Vec::new();
        for chunk in seqs.chunks(500) {
            let mut sql = Sql::new(&format!(
                "SELECT id, {} FROM {} WHERE id IN ",
                feed.subject, feed.table
            ));
            sql.bind_list(chunk.iter().copied()).push(" ORDER BY id");
            out.extend(changes(sql.query().fetch_all(&self.read).await?)?);
        }
        Ok(out)
    }

    /// The newest entry of `feed` (0 when empty).
    pub(crate) async fn feed_head(&self, feed: Feed) -> Result<i64> {
        Ok(
            sqlx::query_scalar::<_, Option<i64>>(&format!("SELECT MAX(id) FROM {}", feed.table))
                .fetch_one(&self.read)
                .await?
                .unwrap_or(0),
        )
    }

    pub(crate) async fn ticket_documents_impl(&self, ids: &[i64]) -> Result<Vec<TicketDocument>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(DOCUMENT_SELECT);
        sql.push(" WHERE t.id IN ").bind_list(ids.iter().copied());
        self.documents(sql).await
    }

    pub(crate) async fn ticket_documents_after_impl(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<TicketDocument>> {
        let mut sql = Sql::new(DOCUMENT_SELECT);
        sql.push(" WHERE t.id > ")
            .bind(Arg::Int(after_id))
            .push(" ORDER BY t.id LIMIT ")
            .bind(Arg::Int(i64::from(limit)));
        self.documents(sql).await
    }

    pub(crate) async fn count_tickets_impl(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
            .fetch_one(&self.read)
            .await?)
    }

    pub(crate) async fn tickets_by_id_impl(
        &self,
        actor: &Principal,
        ids: &[i64],
    ) -> Result<Vec<Ticket>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(TICKET_SELECT);
        sql.push(" WHERE t.id IN ").bind_list(ids.iter().copied());
        scope(&mut sql, actor);
        let mut conn = self.read.acquire().await?;
        let mut items = sql
            .query()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(rows::ticket)
            .collect::<Result<Vec<_>>>()?;
        attach_coordinators(&mut conn, &mut items).await?;
        Ok(items)
    }

    /// Rows of `sql` (a [`DOCUMENT_SELECT`]) with their coordinators and messages. A change
    /// committed between these reads appends to the timeline after them, so the feed brings
    /// the ticket again and its document is rewritten whole.
    async fn documents(&self, sql: Sql) -> Result<Vec<TicketDocument>> {
        let mut tx = self.read.acquire().await?;
        let mut docs = Vec::new();
        for r in sql.query().fetch_all(&mut *tx).await? {
            let department: Option<i64> = r.try_get(8)?;
            docs.push(TicketDocument {
                id: r.try_get(0)?,
                number: parse_stored(&r.try_get::<String, _>(1)?)?,
                title: r.try_get(2)?,
                description: r.try_get(3)?,
                replies: String::new(),
                notes: String::new(),
                status: parse_stored(&r.try_get::<String, _>(4)?)?,
                category: r.try_get(5)?,
                priority: parse_stored(&r.try_get::<String, _>(6)?)?,
                channel: parse_stored(&r.try_get::<String, _>(7)?)?,
                departments: department.into_iter().collect(),
                requester_id: r.try_get(9)?,
                assignee_id: r.try_get(10)?,
                created_by: r.try_get(11)?,
                created_at: from_ms(r.try_get(12)?),
            });
        }
        if docs.is_empty() {
            return Ok(docs);
        }
        let at: HashMap<i64, usize> = docs.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
        let mut sql = Sql::new(
            "SELECT ticket_id, department_id FROM ticket_coordinators WHERE ticket_id IN ",
        );
        sql.bind_list(docs.iter().map(|d| d.id))
            .push(" ORDER BY ticket_id, department_id");
        for r in sql.query().fetch_all(&mut *tx).await? {
            if let Some(&i) = at.get(&r.try_get::<i64, _>(0)?) {
                docs[i].departments.push(r.try_get(1)?);
            }
        }
        let mut sql = Sql::new(
            "SELECT ticket_id, public, body FROM timeline WHERE kind IN ('reply', 'note') \
             AND body IS NOT NULL AND ticket_id IN ",
        );
        sql.bind_list(docs.iter().map(|d| d.id))
            .push(" ORDER BY id");
        for r in sql.query().fetch_all(&mut *tx).await? {
            let Some(&i) = at.get(&r.try_get::<i64, _>(0)?) else {
                continue;
            };
            let public = r.try_get::<i64, _>(1)? != 0;
            let body: String = r.try_get(2)?;
            let into = if public {
                &mut docs[i].replies
            } else {
                &mut docs[i].notes
            };
            if !into.is_empty() {
                into.push('\n');
            }
            into.push_str(&body);
        }
        Ok(docs)
    }
}
