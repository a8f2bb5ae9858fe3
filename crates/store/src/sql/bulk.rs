//! Bulk writes for seeding and imports: many rows per statement, one transaction per call.

use std::collections::HashMap;

use closedloop_domain::TicketNumber;
use sqlx::Row;

use super::{Arg, Sql, SqlStore};
use crate::model::to_ms;
use crate::{BulkTicket, Result, StoreError};

/// Rows per INSERT: 500 rows × 16 values stays under SQLite's 32,766 bound values.
const ROWS_PER_STATEMENT: usize = 500;

impl SqlStore {
    pub(crate) async fn bulk_insert_impl(&self, tickets: &[BulkTicket]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let departments: HashMap<String, i64> = sqlx::query("SELECT code, id FROM departments")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        // Reserve a block of numbers per day up front, atomically, as live creation does one.
        let mut per_day: Vec<(chrono::NaiveDate, i64)> = Vec::new();
        for t in tickets {
            let d = t.created_at.date_naive();
            match per_day.iter_mut().find(|(day, _)| *day == d) {
                Some((_, n)) => *n += 1,
                None => per_day.push((d, 1)),
            }
        }
        let mut next: HashMap<chrono::NaiveDate, i64> = HashMap::new();
        for (day, n) in per_day {
            let last: i64 = sqlx::query_scalar(
                "INSERT INTO ticket_counters (day, value) VALUES ($1, $2) \
                 ON CONFLICT (day) DO UPDATE SET value = ticket_counters.value + $2 RETURNING value",
            )
            .bind(TicketNumber::day_key(day))
            .bind(n)
            .fetch_one(&mut *tx)
            .await?;
            next.insert(day, last - n + 1);
        }
        for chunk in tickets.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::new(
                "INSERT INTO tickets (number, channel, requester_id, title, title_generated, description, category, nature, \
                 priority, severity, impact_scope, department_id, status, created_at, updated_at, resolved_at) VALUES ",
            );
            for (i, t) in chunk.iter().enumerate() {
                let dep = match &t.department {
                    Some(code) => Some(*departments.get(code).ok_or_else(|| {
                        StoreError::invalid(
                            "department",
                            "unknown_department",
                            format!("no department with code {code}"),
                        )
                    })?),
                    None => None,
                };
                let created = to_ms(t.created_at);
                let resolved = (!t.status.is_open()).then_some(created + 86_400_000);
                sql.push(if i == 0 { "(" } else { ", (" });
                let day = t.created_at.date_naive();
                let seq = next.entry(day).or_insert(1);
                let number = TicketNumber::new(day, u64::try_from(*seq).unwrap_or_default());
                *seq += 1;
                sql.bind(Arg::Text(number.as_str().to_owned())).push(", ");
                sql.bind(Arg::Text(t.channel.as_str().into())).push(", ");
                sql.opt_int(t.requester_id).push(", ");
                sql.bind(Arg::Text(t.title.clone())).push(", 1, ");
                sql.bind(Arg::Text(t.description.clone())).push(", ");
                sql.opt_text(t.category.as_deref()).push(", ");
                sql.opt_text(t.nature.map(|n| n.as_str())).push(", ");
                sql.bind(Arg::Text(t.priority.as_str().into())).push(", ");
                sql.bind(Arg::Text(t.severity.as_str().into())).push(", ");
                sql.bind(Arg::Text(t.impact_scope.as_str().into()))
                    .push(", ");
                sql.opt_int(dep).push(", ");
                sql.bind(Arg::Text(t.status.as_str().into())).push(", ");
                sql.bind(Arg::Int(created)).push(", ");
                sql.bind(Arg::Int(created)).push(", ");
                sql.opt_int(resolved).push(")");
            }
            sql.push(" RETURNING id, created_at");
            let inserted = sql.query().fetch_all(&mut *tx).await?;
            let mut entries =
                Sql::new("INSERT INTO timeline (ticket_id, kind, public, created_at) VALUES ");
            for (i, row) in inserted.iter().enumerate() {
                entries.push(if i == 0 { "(" } else { ", (" });
                entries
                    .bind(Arg::Int(row.try_get(0)?))
                    .push(", 'created', 1, ")
                    .bind(Arg::Int(row.try_get(1)?))
                    .push(")");
            }
            entries.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
