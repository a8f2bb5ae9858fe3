//! The metrics counts: a few GROUP BYs over indexed columns.

use sqlx::Row;

use super::{Arg, Sql, SqlStore};
use crate::model::to_ms;
use crate::{Count, MetricsSnapshot, Result};

impl SqlStore {
    pub(crate) async fn metrics_impl(&self) -> Result<MetricsSnapshot> {
        let now = to_ms(self.clock.now());
        let mut overdue = Sql::new(
            "SELECT COALESCE(d.code, ''), COUNT(*) FROM tickets t \
             LEFT JOIN departments d ON d.id = t.department_id \
             WHERE t.status NOT IN ('resolved', 'closed', 'duplicate') AND (t.first_response_due_at < ",
        );
        overdue
            .bind(Arg::Int(now))
            .push(" OR t.resolution_due_at < ")
            .bind(Arg::Int(now))
            .push(") GROUP BY d.code");
        Ok(MetricsSnapshot {
            tickets: self
                .counts(
                    Sql::new("SELECT status, COUNT(*) FROM tickets GROUP BY status"),
                    &["status"],
                )
                .await?,
            open: self
                .counts(
                    Sql::new(
                        "SELECT COALESCE(d.code, ''), t.priority, COUNT(*) FROM tickets t \
                         LEFT JOIN departments d ON d.id = t.department_id \
                         WHERE t.status NOT IN ('resolved', 'closed', 'duplicate') \
                         GROUP BY d.code, t.priority",
                    ),
                    &["department", "priority"],
                )
                .await?,
            overdue: self.counts(overdue, &["department"]).await?,
            breaches: self
                .counts(
                    Sql::new(
                        "SELECT clock, COUNT(*) FROM sla_due WHERE stage = 'breach' \
                         AND done_at IS NOT NULL GROUP BY clock",
                    ),
                    &["clock"],
                )
                .await?,
            notices_pending: self
                .counts(
                    Sql::new(
                        "SELECT channel, COUNT(*) FROM notices \
                         WHERE sent_at IS NULL AND failed_at IS NULL GROUP BY channel",
                    ),
                    &["channel"],
                )
                .await?,
        })
    }

    /// Rows of label columns followed by a count.
    async fn counts(&self, sql: Sql, labels: &[&'static str]) -> Result<Vec<Count>> {
        let mut out = Vec::new();
        for row in sql.query().fetch_all(&self.read).await? {
            let mut l = Vec::with_capacity(labels.len());
            for (i, name) in labels.iter().enumerate() {
                l.push((
                    *name,
                    row.try_get::<Option<String>, _>(i)?.unwrap_or_default(),
                ));
            }
            out.push(Count {
                labels: l,
                value: row.try_get(labels.len())?,
            });
        }
        Ok(out)
    }
}
