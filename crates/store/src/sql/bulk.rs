//! Bulk writes for seeding and imports: many rows per statement, one transaction per call.

use std::collections::{HashMap, HashSet};

use closedloop_domain::TicketNumber;
use sqlx::Row;

use super::committer::reserve_numbers;
use super::people::customer_by_email;
use super::{Arg, Sql, SqlStore};
use crate::model::to_ms;
use crate::{BulkOutcome, BulkTicket, Result};

/// Rows per INSERT: 500 rows × 18 values stays under SQLite's 32,766 bound values.
const ROWS_PER_STATEMENT: usize = 500;

impl SqlStore {
    pub(crate) async fn bulk_insert_impl(&self, tickets: &[BulkTicket]) -> Result<BulkOutcome> {
        let routing = self.routing().await?;
        let mut tx = self.begin_write().await?;

        // Records an earlier run (or an earlier row of this batch) already brought in.
        let mut seen = HashSet::new();
        let keys: Vec<&str> = tickets
            .iter()
            .filter_map(|t| t.import_key.as_deref())
            .collect();
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::batch("SELECT key FROM import_keys WHERE key IN (", self.dialect);
            for (i, k) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "" } else { ", " })
                    .bind(Arg::Text((*k).to_owned()));
            }
            sql.push(")");
            for row in sql.query().fetch_all(&mut *tx).await? {
                seen.insert(row.try_get::<String, _>(0)?);
            }
        }
        let fresh: Vec<&BulkTicket> = tickets
            .iter()
            .filter(|t| match &t.import_key {
                Some(k) => seen.insert(k.clone()),
                None => true,
            })
            .collect();
        let outcome = BulkOutcome {
            inserted: fresh.len() as u64,
            skipped: (tickets.len() - fresh.len()) as u64,
        };

        let mut requesters: HashMap<&str, i64> = HashMap::new();
        for t in &fresh {
            if let Some(email) = t.requester_email.as_deref()
                && !requesters.contains_key(email)
            {
                let id = customer_by_email(&mut tx, email, to_ms(t.created_at)).await?;
                requesters.insert(email, id);
            }
        }

        // Numbers are reserved per day up front, as live creation does.
        let mut next =
            reserve_numbers(&mut tx, fresh.iter().map(|t| t.created_at.date_naive())).await?;

        for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::batch(
                "INSERT INTO tickets (number, channel, requester_id, title, title_generated, description, category, nature, \
                 priority, severity, impact_scope, department_id, status, created_at, updated_at, resolved_at, \
                 order_number, region) VALUES ",
                self.dialect,
            );
            let mut keys_by_number = HashMap::new();
            // Public-channel history is masked as live intake is; originals by ticket number.
            let mut originals_by_number = HashMap::new();
            for (i, t) in chunk.iter().enumerate() {
                let mut masker = super::privacy::Masker {
                    on: self.privacy.mask_channels.contains(&t.channel),
                    originals: Vec::new(),
                };
                let title = masker.text("title", &t.title);
                let description = masker.text("description", &t.description);
                let dep = t
                    .department
                    .as_deref()
                    .map(|code| routing.department_id(code))
                    .transpose()?;
                let created = to_ms(t.created_at);
                let resolved = t.resolved_at.map(to_ms);
                let day = t.created_at.date_naive();
                let seq = next.entry(day).or_insert(1);
                let number = TicketNumber::new(day, u64::try_from(*seq).unwrap_or_default());
                *seq += 1;
                let requester = t
                    .requester_email
                    .as_deref()
                    .and_then(|e| requesters.get(e).copied());
                sql.push(if i == 0 { "(" } else { ", (" })
                    .bind(Arg::Text(number.as_str().to_owned()))
                    .push(", ")
                    .bind(Arg::Text(t.channel.as_str().into()))
                    .push(", ")
                    .opt_int(requester)
                    .push(", ")
                    .bind(Arg::Text(title))
                    .push(", 1, ")
                    .bind(Arg::Text(description))
                    .push(", ")
                    .opt_text(t.category.as_deref())
                    .push(", ")
                    .opt_text(t.nature.map(|n| n.as_str()))
                    .push(", ")
                    .bind(Arg::Text(t.priority.as_str().into()))
                    .push(", ")
                    .bind(Arg::Text(t.severity.as_str().into()))
                    .push(", ")
                    .bind(Arg::Text(t.impact_scope.as_str().into()))
                    .push(", ")
                    .opt_int(dep)
                    .push(", ")
                    .bind(Arg::Text(t.status.as_str().into()))
                    .push(", ")
                    .bind(Arg::Int(created))
                    .push(", ")
                    .bind(Arg::Int(created))
                    .push(", ")
                    .opt_int(resolved)
                    .push(", ")
                    .opt_text(t.order_number.as_deref())
                    .push(", ")
                    .opt_text(t.region.as_deref())
                    .push(")");
                if let Some(k) = &t.import_key {
                    keys_by_number.insert(number.as_str().to_owned(), (k.as_str(), created));
                }
                if !masker.originals.is_empty() {
                    originals_by_number.insert(number.as_str().to_owned(), masker.originals);
                }
            }
            sql.push(" RETURNING id, created_at, number, status");
            let inserted = sql.query().fetch_all(&mut *tx).await?;
            let mut entries = Sql::batch(
                "INSERT INTO timeline (ticket_id, kind, public, field, old_value, new_value, created_at) VALUES ",
                self.dialect,
            );
            let mut keys = Sql::batch(
                "INSERT INTO import_keys (key, ticket_id, created_at) VALUES ",
                self.dialect,
            );
            let mut any_key = false;
            for (i, row) in inserted.iter().enumerate() {
                let id: i64 = row.try_get(0)?;
                let created: i64 = row.try_get(1)?;
                entries
                    .push(if i == 0 { "(" } else { ", (" })
                    .bind(Arg::Int(id))
                    .push(", 'created', 1, NULL, NULL, NULL, ")
                    .bind(Arg::Int(created))
                    .push(")");
                // The history says where an imported ticket stands, so its clocks (derived
                // from the history) stop or pause as the ticket did.
                let status: String = row.try_get(3)?;
                if status != "received" {
                    entries
                        .push(", (")
                        .bind(Arg::Int(id))
                        .push(", 'status_changed', 1, 'status', 'received', ")
                        .bind(Arg::Text(status))
                        .push(", ")
                        .bind(Arg::Int(created))
                        .push(")");
                }
                let number: String = row.try_get(2)?;
                for o in originals_by_number.remove(&number).unwrap_or_default() {
                    sqlx::query(
                        "INSERT INTO personal_data (ticket_id, field, original, kinds) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(o.field)
                    .bind(o.text)
                    .bind(o.kinds)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some((key, created)) = keys_by_number.get(&number) {
                    keys.push(if any_key { ", (" } else { "(" })
                        .bind(Arg::Text((*key).to_owned()))
                        .push(", ")
                        .bind(Arg::Int(id))
                        .push(", ")
                        .bind(Arg::Int(*created))
                        .push(")");
                    any_key = true;
                }
            }
            entries.query().execute(&mut *tx).await?;
            if any_key {
                keys.query().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }
}
