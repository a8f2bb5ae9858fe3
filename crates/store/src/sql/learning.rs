//! What triage learns from: agents' corrections, trained models, and re-classification of
//! tickets nobody has handled yet.

use closedloop_domain::{Category, Status, TicketNumber};
use sqlx::Row;

use super::tickets::append;
use super::{Arg, Sql, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{EntryKind, Result, StoreError, TriageCandidate};

impl SqlStore {
    pub(crate) async fn triage_examples_impl(&self, kind: &str) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT label, text FROM triage_examples WHERE kind = $1 ORDER BY id")
                .bind(kind)
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub(crate) async fn save_triage_model_impl(&self, model: &str, report: &str) -> Result<i64> {
        let now = to_ms(self.clock.now());
        Ok(sqlx::query_scalar(
            "INSERT INTO triage_models (model, report, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(model)
        .bind(report)
        .bind(now)
        .fetch_one(&self.write)
        .await?)
    }

    pub(crate) async fn newer_triage_model_impl(&self, than: i64) -> Result<Option<(i64, String)>> {
        let row = sqlx::query(
            "SELECT id, model FROM triage_models WHERE id > $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(than)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Open tickets (id, description) after `after_id`, for the duplicate index.
    pub(crate) async fn open_ticket_texts_impl(
        &self,
        after_id: i64,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<(i64, chrono::DateTime<chrono::Utc>, String)>> {
        let rows = sqlx::query(
            "SELECT id, created_at, description FROM tickets WHERE id > $1 AND created_at >= $2 \
             AND status NOT IN ('closed', 'duplicate') ORDER BY id LIMIT $3",
        )
        .bind(after_id)
        .bind(to_ms(since))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, from_ms(r.try_get(1)?), r.try_get(2)?)))
            .collect()
    }

    /// Those of `ids` that are still open: (id, number, description).
    pub(crate) async fn open_tickets_by_id_impl(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, TicketNumber, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT id, number, description FROM tickets WHERE id IN ");
        sql.bind_list(ids.iter().copied())
            .push(" AND status NOT IN ('closed', 'duplicate')");
        let rows = sql.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    parse_stored::<TicketNumber>(&r.try_get::<String, _>(1)?)?,
                    r.try_get(2)?,
                ))
            })
            .collect()
    }

    pub(crate) async fn triage_candidates_impl(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<TriageCandidate>> {
        let mut sql = Sql::new(
            "SELECT id, number, title, description, category, status, created_at FROM tickets WHERE created_at >= ",
        );
        sql.bind(Arg::Int(to_ms(since)))
            .push(" AND id > ")
            .bind(Arg::Int(after_id))
            .push(" ORDER BY id LIMIT ")
            .bind(Arg::Int(i64::from(limit)));
        let rows = sql.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let category: Option<String> = r.try_get(4)?;
                Ok(TriageCandidate {
                    id: r.try_get(0)?,
                    number: parse_stored::<TicketNumber>(&r.try_get::<String, _>(1)?)?,
                    title: r.try_get(2)?,
                    description: r.try_get(3)?,
                    category: category
                        .map(|c| Category::parse("category", &c))
                        .transpose()?,
                    status: parse_stored::<Status>(&r.try_get::<String, _>(5)?)?,
                    created_at: from_ms(r.try_get(6)?),
                })
            })
            .collect()
    }

    /// Gives a ticket nobody has handled yet the category a newer model reads, re-routed by the
    /// matrix, with the verdict on its timeline. Tickets a person has taken are left alone.
    pub(crate) async fn reclassify_impl(
        &self,
        ticket_id: i64,
        category: &Category,
        verdict: &str,
    ) -> Result<bool> {
        let routing = self.routing().await?;
        let route = routing.category(category.as_str())?;
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT t.status, t.category, d.code FROM tickets t LEFT JOIN departments d ON d.id = t.department_id WHERE t.id = $1{}",
            self.dialect.lock_ticket()
        ))
        .bind(ticket_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("ticket"))?;
        let status: Status = parse_stored(&row.try_get::<String, _>(0)?)?;
        let old: Option<String> = row.try_get(1)?;
        if status != Status::Received || old.as_deref() == Some(category.as_str()) {
            return Ok(false);
        }
        let old_department: Option<String> = row.try_get(2)?;
        sqlx::query(
            "UPDATE tickets SET category = $1, nature = $2, department_id = $3, updated_at = $4, version = version + 1 WHERE id = $5",
        )
        .bind(category.as_str())
        .bind(route.nature.as_str())
        .bind(route.handling)
        .bind(now)
        .bind(ticket_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM ticket_coordinators WHERE ticket_id = $1")
            .bind(ticket_id)
            .execute(&mut *tx)
            .await?;
        for c in route.coordinators.iter().filter(|c| **c != route.handling) {
            sqlx::query(
                "INSERT INTO ticket_coordinators (ticket_id, department_id) VALUES ($1, $2)",
            )
            .bind(ticket_id)
            .bind(*c)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            ticket_id,
            EntryKind::Triaged,
            false,
            None,
            Some(verdict),
            None,
            None,
            now,
        )
        .await?;
        super::tickets::append_change(
            &mut tx,
            ticket_id,
            EntryKind::FieldChanged,
            false,
            None,
            None,
            Some("category"),
            old.as_deref(),
            Some(category.as_str()),
            now,
        )
        .await?;
        let new_department = routing.department_code(route.handling).to_owned();
        if old_department.as_deref() != Some(new_department.as_str()) {
            super::tickets::append_change(
                &mut tx,
                ticket_id,
                EntryKind::Routed,
                false,
                None,
                None,
                Some("department"),
                old_department.as_deref(),
                Some(&new_department),
                now,
            )
            .await?;
        }
        // Category and coordinating departments choose the SLA targets.
        super::sla::refresh(&mut tx, self.dialect, &self.sla, ticket_id, from_ms(now)).await?;
        tx.commit().await?;
        Ok(true)
    }
}
