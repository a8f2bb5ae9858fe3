//! The rows service reports are computed from: one per ticket registered in the period,
//! within the reader's scope. They are read from `ticket_facts` (migration 0014), kept by a
//! background pass; tickets written since the pass last read them are computed live.

use closedloop_domain::report::Row;
use futures_util::TryStreamExt;
use sqlx::Row as _;

use super::rows::scope;
use super::{Arg, Dialect, Sql, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{Principal, Result};

/// What `scope` filters on; the same columns in `tickets` and `ticket_facts`.
const SCOPE: &[&str] = &[
    "id",
    "requester_id",
    "created_by",
    "assignee_id",
    "department_id",
];

/// Each fact in the order `row` reads it: its column in `ticket_facts` and how it is computed
/// from a ticket `t` and its survey `s`.
const FACTS: &[(&str, &str)] = &[
    ("channel", "t.channel"),
    ("category", "t.category"),
    ("region", "t.region"),
    ("status", "t.status"),
    ("created_at", "t.created_at"),
    ("first_response_at", "t.first_response_at"),
    (
        "first_response_breached",
        "(SELECT COUNT(*) FROM sla_due b WHERE b.ticket_id = t.id AND b.clock = 'first_response' \
         AND b.stage = 'breach' AND b.done_at IS NOT NULL)",
    ),
    ("resolved_at", "t.resolved_at"),
    (
        "resolution_breached",
        "(SELECT COUNT(*) FROM sla_due b WHERE b.ticket_id = t.id AND b.clock = 'resolution' \
         AND b.stage = 'breach' AND b.done_at IS NOT NULL)",
    ),
    ("stars", "s.stars"),
    (
        "appeals",
        "(SELECT COUNT(*) FROM appeals ap WHERE ap.ticket_id = t.id)",
    ),
    (
        "appeals_upheld",
        "(SELECT COUNT(*) FROM appeals ap WHERE ap.ticket_id = t.id AND ap.outcome = 'upheld')",
    ),
    (
        "appeals_revised",
        "(SELECT COUNT(*) FROM appeals ap WHERE ap.ticket_id = t.id AND ap.outcome = 'revised')",
    ),
    (
        "customer_replies",
        "(SELECT COUNT(*) FROM timeline e WHERE e.ticket_id = t.id AND e.kind = 'reply' \
         AND e.actor_id = t.requester_id)",
    ),
    (
        "reopened",
        "(SELECT COUNT(*) FROM timeline e WHERE e.ticket_id = t.id AND e.kind = 'status_changed' \
         AND e.new_value = 'reopened')",
    ),
    (
        "assigned_at",
        "(SELECT MIN(e.created_at) FROM timeline e WHERE e.ticket_id = t.id AND e.kind = 'assigned' \
         AND e.new_value IS NOT NULL)",
    ),
    ("accepted_at", "t.accepted_at"),
    (
        "proposed_at",
        "(SELECT MIN(so.proposed_at) FROM solutions so WHERE so.ticket_id = t.id)",
    ),
    (
        "needs_approval",
        "(SELECT COUNT(*) FROM solutions so WHERE so.ticket_id = t.id AND so.approval <> 'not_required')",
    ),
    (
        "decided_at",
        "(SELECT MAX(so.decided_at) FROM solutions so WHERE so.ticket_id = t.id)",
    ),
    ("resolution_due_at", "t.resolution_due_at"),
];

/// Tickets whose facts are computed live: from `tickets t` joined with its survey `s`.
const LIVE_FROM: &str = " FROM tickets t LEFT JOIN surveys s ON s.ticket_id = t.id";

fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// The report's columns: the department's code, the assignee's name, then `FACTS`, either
/// read from `ticket_facts` or computed.
fn select(live: bool) -> String {
    let facts = list(FACTS.iter().map(|(column, expr)| {
        if live {
            (*expr).to_owned()
        } else {
            format!("t.{column}")
        }
    }));
    format!("SELECT d.code, a.name, {facts}")
}

/// Joins for the department's code and the assignee's name; then the period and the scope.
fn rest(sql: &mut Sql, actor: &Principal, from: i64, to: i64) {
    sql.push(
        " LEFT JOIN departments d ON d.id = t.department_id \
         LEFT JOIN users a ON a.id = t.assignee_id WHERE t.created_at >= ",
    )
    .bind(Arg::Int(from))
    .push(" AND t.created_at < ")
    .bind(Arg::Int(to));
    scope(sql, actor);
}

fn row(r: &sqlx::any::AnyRow) -> Result<Row> {
    let opt = |i: usize| -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        Ok(r.try_get::<Option<i64>, _>(i)?.map(from_ms))
    };
    let count =
        |i: usize| -> Result<u32> { Ok(u32::try_from(r.try_get::<i64, _>(i)?).unwrap_or(0)) };
    Ok(Row {
        department: r.try_get(0)?,
        agent: r.try_get(1)?,
        channel: r.try_get(2)?,
        category: r.try_get(3)?,
        region: r.try_get(4)?,
        status: parse_stored(&r.try_get::<String, _>(5)?)?,
        created_at: from_ms(r.try_get(6)?),
        first_response_at: opt(7)?,
        first_response_breached: count(8)? > 0,
        resolved_at: opt(9)?,
        resolution_breached: count(10)? > 0,
        stars: r
            .try_get::<Option<i64>, _>(11)?
            .and_then(|s| u8::try_from(s).ok()),
        appeals: count(12)?,
        appeals_upheld: count(13)?,
        appeals_revised: count(14)?,
        customer_replies: count(15)?,
        reopened: count(16)? > 0,
        assigned_at: opt(17)?,
        accepted_at: opt(18)?,
        proposed_at: opt(19)?,
        needs_approval: count(20)? > 0,
        decided_at: opt(21)?,
        resolution_due_at: opt(22)?,
    })
}

impl SqlStore {
    pub(crate) async fn report_rows_impl(
        &self,
        actor: &Principal,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Row>> {
        let (from, to) = (to_ms(from), to_ms(to));
        // One statement, so a ticket the pass moves from pending to read meanwhile is counted
        // exactly once.
        let mut sql = Sql::new(&select(false));
        sql.push(" FROM ticket_facts t");
        rest(&mut sql, actor, from, to);
        sql.push(" AND NOT EXISTS (SELECT 1 FROM facts_pending p WHERE p.ticket_id = t.id)");
        sql.push(" UNION ALL ").push(&select(true)).push(LIVE_FROM);
        rest(&mut sql, actor, from, to);
        sql.push(" AND EXISTS (SELECT 1 FROM facts_pending p WHERE p.ticket_id = t.id)");
        let mut out = Vec::new();
        let mut rows = sql.query().fetch(&self.replica);
        while let Some(r) = rows.try_next().await? {
            out.push(row(&r)?);
        }
        Ok(out)
    }

    /// Reads the facts of up to `limit` pending tickets; returns how many were pending. On
    /// PostgreSQL instances take disjoint batches; a write to a ticket during the pass leaves
    /// it pending for the next one.
    pub(crate) async fn refresh_facts_impl(&self, limit: u32) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let mut sql =
            Sql::new("SELECT ticket_id, mark FROM facts_pending ORDER BY ticket_id LIMIT ");
        sql.bind(Arg::Int(i64::from(limit)));
        if self.dialect == Dialect::Postgres {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        let pending: Vec<(i64, i64)> = sql
            .query()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        if pending.is_empty() {
            return Ok(0);
        }
        // Each column of `ticket_facts` and what fills it; `id` (first) is the conflict key.
        let sources = SCOPE
            .iter()
            .map(|c| (*c, format!("t.{c}")))
            .chain(FACTS.iter().map(|(c, e)| (*c, (*e).to_owned())));
        let columns = list(sources.clone().map(|(c, _)| c.to_owned()));
        let values = list(sources.clone().map(|(_, e)| e));
        let updates = list(sources.skip(1).map(|(c, _)| format!("{c} = excluded.{c}")));
        let mut upsert = Sql::batch(
            &format!(
                "INSERT INTO ticket_facts ({columns}) SELECT {values}{LIVE_FROM} WHERE t.id IN "
            ),
            self.dialect,
        );
        upsert
            .bind_list(pending.iter().map(|(id, _)| *id))
            .push(&format!(" ON CONFLICT (id) DO UPDATE SET {updates}"));
        upsert.query().execute(&mut *tx).await?;
        let mut done = Sql::batch("DELETE FROM facts_pending WHERE ", self.dialect);
        for (i, (id, mark)) in pending.iter().enumerate() {
            done.push(if i == 0 {
                "(ticket_id = "
            } else {
                " OR (ticket_id = "
            })
            .bind(Arg::Int(*id))
            .push(" AND mark = ")
            .bind(Arg::Int(*mark))
            .push(")");
        }
        done.query().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(pending.len())
    }
}
