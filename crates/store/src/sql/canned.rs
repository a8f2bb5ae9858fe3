//! Canned responses, scoped like tickets: an agent sees those of their departments and the
//! shared ones; supervisors add and remove them for their departments, admins for all.

use closedloop_domain::Role;
use sqlx::Row;

use super::SqlStore;
use crate::model::to_ms;
use crate::{CannedResponse, NewCannedResponse, Principal, Result, StoreError};

const SELECT: &str = "SELECT c.id, c.title, c.lang, c.body, d.code FROM canned_responses c \
                      LEFT JOIN departments d ON d.id = c.department_id";

fn canned(r: &sqlx::any::AnyRow) -> Result<CannedResponse> {
    Ok(CannedResponse {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        lang: super::parse_stored(&r.try_get::<String, _>(2)?)?,
        body: r.try_get(3)?,
        department: r.try_get(4)?,
    })
}

/// A text field: trimmed, not empty, at most `max` characters.
fn text(field: &'static str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(StoreError::invalid(field, "required", "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(StoreError::invalid(
            field,
            "too_long",
            format!("at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

impl SqlStore {
    pub(crate) async fn canned_responses_impl(
        &self,
        actor: &Principal,
    ) -> Result<Vec<CannedResponse>> {
        if !actor.role.is_staff() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!("{SELECT} ORDER BY c.title, c.id"))
            .fetch_all(&self.read)
            .await?;
        let all = rows.iter().map(canned).collect::<Result<Vec<_>>>()?;
        if actor.role == Role::Admin {
            return Ok(all);
        }
        let mine = self.department_codes(&actor.departments).await?;
        Ok(all
            .into_iter()
            .filter(|c| c.department.as_ref().is_none_or(|d| mine.contains(d)))
            .collect())
    }

    async fn department_codes(&self, ids: &[i64]) -> Result<Vec<String>> {
        let mut codes = Vec::with_capacity(ids.len());
        for id in ids {
            let code: Option<String> =
                sqlx::query_scalar("SELECT code FROM departments WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await?;
            codes.extend(code);
        }
        Ok(codes)
    }

    /// Supervisors edit their departments' (and shared) responses only when they belong to the
    /// department named; a shared one needs an admin.
    async fn may_edit(&self, actor: &Principal, department: Option<&str>) -> Result<()> {
        match (actor.role, department) {
            (Role::Admin, _) => Ok(()),
            (Role::Supervisor, Some(d))
                if self
                    .department_codes(&actor.departments)
                    .await?
                    .iter()
                    .any(|c| c == d) =>
            {
                Ok(())
            }
            (Role::Supervisor, _) => Err(StoreError::Forbidden(
                "supervisors edit the canned responses of their own departments; shared ones need an admin",
            )),
            _ => Err(StoreError::Forbidden(
                "only supervisors and admins edit canned responses",
            )),
        }
    }

    pub(crate) async fn add_canned_response_impl(
        &self,
        actor: &Principal,
        new: NewCannedResponse,
    ) -> Result<CannedResponse> {
        let title = text("title", &new.title, 120)?;
        let body = text("body", &new.body, 20_000)?;
        let department = new
            .department
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        self.may_edit(actor, department.as_deref()).await?;
        let department_id: Option<i64> = match &department {
            Some(code) => Some(
                sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&self.read)
                    .await?
                    .ok_or_else(|| {
                        StoreError::invalid("department", "unknown", "no department with this code")
                    })?,
            ),
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO canned_responses (title, lang, body, department_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&title)
        .bind(new.lang.as_str())
        .bind(&body)
        .bind(department_id)
        .bind(actor.user_id)
        .bind(to_ms(self.clock.now()))
        .fetch_one(&self.write)
        .await
        .map_err(StoreError::unique_as("title"))?;
        Ok(CannedResponse {
            id,
            title,
            lang: new.lang,
            body,
            department,
        })
    }

    pub(crate) async fn delete_canned_response_impl(
        &self,
        actor: &Principal,
        id: i64,
    ) -> Result<()> {
        let row = sqlx::query(&format!("{SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("canned response"))?;
        let c = canned(&row)?;
        self.may_edit(actor, c.department.as_deref()).await?;
        sqlx::query("DELETE FROM canned_responses WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
