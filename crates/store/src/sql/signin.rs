//! Failed sign-ins and account lockout.

use chrono::{DateTime, Utc};

use sqlx::Row;

use super::SqlStore;
use crate::Result;
use crate::model::{from_ms, to_ms};

impl SqlStore {
    pub(crate) async fn login_locked_until_impl(
        &self,
        user_id: i64,
    ) -> Result<Option<DateTime<Utc>>> {
        let until: Option<i64> = sqlx::query_scalar(
            "SELECT locked_until FROM users WHERE id = $1 AND locked_until > $2",
        )
        .bind(user_id)
        .bind(to_ms(self.clock.now()))
        .fetch_optional(&self.read)
        .await?
        .flatten();
        Ok(until.map(from_ms))
    }

    pub(crate) async fn record_login_failure_impl(
        &self,
        user_id: i64,
        max_failures: u32,
        lock_for: chrono::Duration,
    ) -> Result<Option<DateTime<Utc>>> {
        let now = self.clock.now();
        // One statement, so failures from several instances at once are all counted; the count
        // starts again once it has locked the account.
        let until: Option<i64> = sqlx::query_scalar(
            "UPDATE users SET \
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END, \
             failed_logins = CASE WHEN failed_logins + 1 >= $3 THEN 0 ELSE failed_logins + 1 END \
             WHERE id = $4 RETURNING locked_until",
        )
        .bind(i64::from(max_failures))
        .bind(to_ms(now + lock_for))
        .bind(i64::from(max_failures))
        .bind(user_id)
        .fetch_optional(&self.write)
        .await?
        .flatten();
        Ok(until.filter(|u| *u > to_ms(now)).map(from_ms))
    }

    pub(crate) async fn record_login_success_impl(&self, user_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1 \
             AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
        )
        .bind(user_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn set_password_impl(
        &self,
        user_id: i64,
        hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn totp_impl(&self, user_id: i64) -> Result<crate::TotpState> {
        let r = sqlx::query("SELECT totp_secret, totp_pending FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.write)
            .await?
            .ok_or(crate::StoreError::NotFound("user"))?;
        Ok(crate::TotpState {
            secret: r.try_get(0)?,
            pending: r.try_get(1)?,
        })
    }

    pub(crate) async fn set_totp_impl(
        &self,
        user_id: i64,
        change: crate::TotpChange,
    ) -> Result<()> {
        let sql = match change {
            crate::TotpChange::Pending(_) => "UPDATE users SET totp_pending = $1 WHERE id = $2",
            crate::TotpChange::Enable(_) => {
                "UPDATE users SET totp_secret = $1, totp_pending = NULL WHERE id = $2"
            }
            crate::TotpChange::Disable => {
                "UPDATE users SET totp_secret = NULL, totp_pending = $1, totp_last_step = NULL \
                 WHERE id = $2"
            }
        };
        let value = match change {
            crate::TotpChange::Pending(s) | crate::TotpChange::Enable(s) => Some(s),
            crate::TotpChange::Disable => None,
        };
        sqlx::query(sql)
            .bind(value)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub(crate) async fn use_totp_step_impl(&self, user_id: i64, step: i64) -> Result<bool> {
        // One statement: of two sign-ins with the same code at once, one wins.
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(step)
        .bind(user_id)
        .bind(step)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
