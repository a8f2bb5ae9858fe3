//! The rows service reports are computed from: one per ticket registered in the period,
//! within the reader's scope.

use closedloop_domain::report::Row;
use sqlx::Row as _;

use super::rows::scope;
use super::{Arg, Sql, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{Principal, Result};

impl SqlStore {
    pub(crate) async fn report_rows_impl(
        &self,
        actor: &Principal,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Row>> {
        let mut sql = Sql::new(
            "SELECT t.channel, t.category, t.region, d.code, a.name, t.status, t.created_at, \
             t.first_response_at, \
             (SELECT COUNT(*) FROM sla_due b WHERE b.ticket_id = t.id AND b.clock = 'first_response' \
                AND b.stage = 'breach' AND b.done_at IS NOT NULL), \
             t.resolved_at, \
             (SELECT COUNT(*) FROM sla_due b WHERE b.ticket_id = t.id AND b.clock = 'resolution' \
                AND b.stage = 'breach' AND b.done_at IS NOT NULL), \
             s.stars, \
             (SELECT COUNT(*) FROM appeals ap WHERE ap.ticket_id = t.id), \
             (SELECT COUNT(*) FROM appeals ap WHERE ap.ticket_id = t.id AND ap.outcome = 'upheld'), \
             (SELECT COUNT(*) FROM appeals ap WHERE ap.ticket_id = t.id AND ap.outcome = 'revised'), \
             (SELECT COUNT(*) FROM timeline e WHERE e.ticket_id = t.id AND e.kind = 'reply' \
                AND e.actor_id = t.requester_id), \
             (SELECT COUNT(*) FROM timeline e WHERE e.ticket_id = t.id AND e.kind = 'status_changed' \
                AND e.new_value = 'reopened'), \
             (SELECT MIN(e.created_at) FROM timeline e WHERE e.ticket_id = t.id AND e.kind = 'assigned' \
                AND e.new_value IS NOT NULL), \
             t.accepted_at, \
             (SELECT MIN(so.proposed_at) FROM solutions so WHERE so.ticket_id = t.id), \
             (SELECT COUNT(*) FROM solutions so WHERE so.ticket_id = t.id AND so.approval <> 'not_required'), \
             (SELECT MAX(so.decided_at) FROM solutions so WHERE so.ticket_id = t.id), \
             t.resolution_due_at \
             FROM tickets t \
             LEFT JOIN departments d ON d.id = t.department_id \
             LEFT JOIN users a ON a.id = t.assignee_id \
             LEFT JOIN surveys s ON s.ticket_id = t.id \
             WHERE t.created_at >= ",
        );
        sql.bind(Arg::Int(to_ms(from)))
            .push(" AND t.created_at < ")
            .bind(Arg::Int(to_ms(to)));
        scope(&mut sql, actor);
        let opt =
            |r: &sqlx::any::AnyRow, i: usize| -> Result<Option<chrono::DateTime<chrono::Utc>>> {
                Ok(r.try_get::<Option<i64>, _>(i)?.map(from_ms))
            };
        let count = |r: &sqlx::any::AnyRow, i: usize| -> Result<u32> {
            Ok(u32::try_from(r.try_get::<i64, _>(i)?).unwrap_or(0))
        };
        let mut out = Vec::new();
        for r in sql.query().fetch_all(&self.read).await? {
            out.push(Row {
                channel: r.try_get(0)?,
                category: r.try_get(1)?,
                region: r.try_get(2)?,
                department: r.try_get(3)?,
                agent: r.try_get(4)?,
                status: parse_stored(&r.try_get::<String, _>(5)?)?,
                created_at: from_ms(r.try_get(6)?),
                first_response_at: opt(&r, 7)?,
                first_response_breached: count(&r, 8)? > 0,
                resolved_at: opt(&r, 9)?,
                resolution_breached: count(&r, 10)? > 0,
                stars: r
                    .try_get::<Option<i64>, _>(11)?
                    .and_then(|s| u8::try_from(s).ok()),
                appeals: count(&r, 12)?,
                appeals_upheld: count(&r, 13)?,
                appeals_revised: count(&r, 14)?,
                customer_replies: count(&r, 15)?,
                reopened: count(&r, 16)? > 0,
                assigned_at: opt(&r, 17)?,
                accepted_at: opt(&r, 18)?,
                proposed_at: opt(&r, 19)?,
                needs_approval: count(&r, 20)? > 0,
                decided_at: opt(&r, 21)?,
                resolution_due_at: opt(&r, 22)?,
            });
        }
        Ok(out)
    }
}
