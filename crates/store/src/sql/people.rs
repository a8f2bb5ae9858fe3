//! Users, departments, the routing matrix, API tokens and sessions.

use chrono::{DateTime, Duration, Utc};
use closedloop_domain::{Nature, Role};
use sqlx::{AnyConnection, Connection as _, Row};

use super::rows::{self, user};
use super::{Arg, Sql, SqlStore, department_id, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{
    ApiToken, CategoryRoute, Department, NewUser, Principal, Result, StoreError, TokenScope, User,
};

/// Token use is recorded at most this often, so authenticating stays a read.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl SqlStore {
    pub(crate) async fn create_user_impl(&self, new: NewUser) -> Result<User> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, name, role, password_hash, active, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) RETURNING id",
        )
        .bind(new.email.to_lowercase())
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(new.password_hash.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::unique_as("email"))?;
        for code in &new.departments {
            let dep = department_id(&mut tx, code).await?;
            sqlx::query("INSERT INTO user_departments (user_id, department_id) VALUES ($1, $2)")
                .bind(id)
                .bind(dep)
                .execute(&mut *tx)
                .await?;
        }
        let created = load_user(&mut tx, id).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Every user, or only staff (a short list even when customers number in the millions).
    pub(crate) async fn list_users_impl(&self, staff_only: bool) -> Result<Vec<User>> {
        let mut conn = self.read.acquire().await?;
        let filter = if staff_only {
            " WHERE role <> 'customer'"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT id, email, name, role, active, created_at FROM users{filter} ORDER BY id"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let mut users = rows.iter().map(user).collect::<Result<Vec<_>>>()?;
        let memberships = sqlx::query(
            "SELECT ud.user_id, d.code FROM user_departments ud JOIN departments d ON d.id = ud.department_id ORDER BY d.code",
        )
        .fetch_all(&mut *conn)
        .await?;
        for m in memberships {
            let uid: i64 = m.try_get(0)?;
            if let Some(u) = users.iter_mut().find(|u| u.id == uid) {
                u.departments.push(m.try_get(1)?);
            }
        }
        Ok(users)
    }

    pub(crate) async fn set_user_active_impl(&self, user_id: i64, active: bool) -> Result<User> {
        let changed = sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(user_id)
            .execute(&self.write)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query(
            "SELECT id, email, name, role, active, created_at FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
        let mut u = user(&row)?;
        u.departments = sqlx::query_scalar(
            "SELECT d.code FROM user_departments ud JOIN departments d ON d.id = ud.department_id \
             WHERE ud.user_id = $1 ORDER BY d.code",
        )
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(u)
    }

    pub(crate) async fn count_admins_impl(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1")
                .fetch_one(&self.read)
                .await?,
        )
    }

    pub(crate) async fn user_credentials_impl(
        &self,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>> {
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query("SELECT id, email, name, role, active, created_at, password_hash FROM users WHERE email = $1")
            .bind(email.to_lowercase())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: Option<String> = row.try_get("password_hash")?;
        let u = load_user(&mut conn, row.try_get("id")?).await?;
        Ok(Some((u, hash)))
    }

    pub(crate) async fn principal_impl(&self, user_id: i64) -> Result<Option<Principal>> {
        let mut conn = self.read.acquire().await?;
        principal_where(&mut conn, "u.id = $1", Arg::Int(user_id)).await
    }

    pub(crate) async fn create_department_impl(
        &self,
        code: &str,
        name: &str,
        name_zh: &str,
    ) -> Result<Department> {
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar("INSERT INTO departments (code, name, name_zh, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(code)
            .bind(name)
            .bind(name_zh)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::unique_as("code"))?;
        tx.commit().await?;
        self.routing.forget();
        Ok(Department {
            id,
            code: code.to_owned(),
            name: name.to_owned(),
            name_zh: name_zh.to_owned(),
        })
    }

    pub(crate) async fn list_departments_impl(&self) -> Result<Vec<Department>> {
        let rows = sqlx::query("SELECT id, code, name, name_zh FROM departments ORDER BY code")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Department {
                    id: r.try_get(0)?,
                    code: r.try_get(1)?,
                    name: r.try_get(2)?,
                    name_zh: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub(crate) async fn list_categories_impl(&self) -> Result<Vec<CategoryRoute>> {
        let mut conn = self.read.acquire().await?;
        let rows = sqlx::query(
            "SELECT c.code, c.name, c.name_zh, c.nature, d.code FROM categories c \
             JOIN departments d ON d.id = c.handling_department_id ORDER BY c.code",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut routes = rows
            .iter()
            .map(|r| {
                Ok(CategoryRoute {
                    code: r.try_get(0)?,
                    name: r.try_get(1)?,
                    name_zh: r.try_get(2)?,
                    nature: parse_stored::<Nature>(&r.try_get::<String, _>(3)?)?,
                    handling_department: r.try_get(4)?,
                    coordinating_departments: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let coord = sqlx::query(
            "SELECT cc.category, d.code FROM category_coordinators cc JOIN departments d ON d.id = cc.department_id ORDER BY d.code",
        )
        .fetch_all(&mut *conn)
        .await?;
        for r in coord {
            let cat: String = r.try_get(0)?;
            if let Some(route) = routes.iter_mut().find(|c| c.code == cat) {
                route.coordinating_departments.push(r.try_get(1)?);
            }
        }
        Ok(routes)
    }

    pub(crate) async fn create_api_token_impl(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        expires_at: Option<DateTime<Utc>>,
        scope: TokenScope,
    ) -> Result<ApiToken> {
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at, scope) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(to_ms(now))
        .bind(expires_at.map(to_ms))
        .bind(scope.as_str())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ApiToken {
            id,
            name: name.to_owned(),
            scope,
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked: false,
        })
    }

    pub(crate) async fn list_api_tokens_impl(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, expires_at, last_used_at, revoked_at, scope FROM api_tokens WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    created_at: from_ms(r.try_get(2)?),
                    expires_at: r.try_get::<Option<i64>, _>(3)?.map(from_ms),
                    last_used_at: r.try_get::<Option<i64>, _>(4)?.map(from_ms),
                    revoked: r.try_get::<Option<i64>, _>(5)?.is_some(),
                    scope: TokenScope::from_column(&r.try_get::<String, _>(6)?),
                })
            })
            .collect()
    }

    pub(crate) async fn revoke_api_token_impl(&self, user_id: i64, token_id: i64) -> Result<()> {
        let now = to_ms(self.clock.now());
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(token_id)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("token"));
        }
        Ok(())
    }

    pub(crate) async fn principal_by_token_impl(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Principal, TokenScope)>> {
        let now = to_ms(self.clock.now());
        let row = sqlx::query(
            "SELECT id, user_id, last_used_at, scope FROM api_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (id, user_id): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let last_used: Option<i64> = row.try_get(2)?;
        let scope = TokenScope::from_column(&row.try_get::<String, _>(3)?);
        if last_used.is_none_or(|t| now - t > LAST_USED_RESOLUTION_MS) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.write)
                .await?;
        }
        Ok(self.principal_impl(user_id).await?.map(|p| (p, scope)))
    }

    pub(crate) async fn create_session_impl(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        ttl: Duration,
    ) -> Result<()> {
        let now = self.clock.now();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(user_id)
            .bind(csrf)
            .bind(to_ms(now))
            .bind(to_ms(now + ttl))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub(crate) async fn principal_by_session_impl(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Principal, String)>> {
        let now = to_ms(self.clock.now());
        let row = sqlx::query(
            "SELECT user_id, csrf_token FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let csrf: String = row.try_get(1)?;
        Ok(self
            .principal_impl(row.try_get(0)?)
            .await?
            .map(|p| (p, csrf)))
    }

    pub(crate) async fn delete_session_impl(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

async fn load_user(conn: &mut AnyConnection, id: i64) -> Result<User> {
    let row =
        sqlx::query("SELECT id, email, name, role, active, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
    let mut u = rows::user(&row)?;
    u.departments = sqlx::query_scalar(
        "SELECT d.code FROM user_departments ud JOIN departments d ON d.id = ud.department_id WHERE ud.user_id = $1 ORDER BY d.code",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(u)
}

/// An active user as a principal, with their department ids.
pub(crate) async fn principal_where(
    conn: &mut AnyConnection,
    condition: &str,
    arg: Arg,
) -> Result<Option<Principal>> {
    let mut sql = Sql::new(
        "SELECT u.id, u.email, u.name, u.role, u.lang, u.time_zone FROM users u WHERE u.active = 1 AND ",
    );
    sql.push(condition);
    let sql = Sql {
        args: vec![arg],
        ..sql
    };
    let Some(row) = sql.query().fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let user_id: i64 = row.try_get(0)?;
    let departments =
        sqlx::query_scalar("SELECT department_id FROM user_departments WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Some(Principal {
        user_id,
        email: row.try_get(1)?,
        name: row.try_get(2)?,
        role: parse_stored::<Role>(&row.try_get::<String, _>(3)?)?,
        departments,
        lang: row
            .try_get::<Option<String>, _>(4)?
            .and_then(|l| l.parse().ok()),
        time_zone: row.try_get(5)?,
    }))
}

/// Finds a customer by email or registers one without a password (a caller logged by an agent,
/// say), so every identified requester is a user whose tickets can be listed together.
pub(crate) async fn customer_by_email(
    conn: &mut AnyConnection,
    email: &str,
    now_ms: i64,
) -> Result<i64> {
    let email = email.trim().to_lowercase();
    if let Some(id) = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(id);
    }
    let name = email.split('@').next().unwrap_or(&email).to_owned();
    // Two first messages from one new address may race here (a provider's retry, two
    // instances): the loser finds the winner's account instead of failing.
    let mut tx = conn.begin().await?;
    let made: Option<i64> = sqlx::query_scalar(
        "INSERT INTO users (email, name, role, active, created_at) VALUES ($1, $2, 'customer', 1, $3) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(&email)
    .bind(name)
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await?;
    let id = match made {
        Some(id) => id,
        None => {
            sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
                .bind(&email)
                .fetch_one(&mut *tx)
                .await?
        }
    };
    tx.commit().await?;
    Ok(id)
}
