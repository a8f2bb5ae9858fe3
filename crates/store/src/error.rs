use closedloop_domain::solution::ApprovalError;
use closedloop_domain::{DomainError, TransitionError};
use thiserror::Error;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The thing does not exist, or the actor may not see it: the two are indistinguishable on
    /// purpose so scoping leaks nothing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken; `field` names it.
    #[error("{field} is already taken")]
    Taken { field: &'static str },
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// The request is valid but the state of things refuses it (answered already, say).
    #[error("{}", .0.message)]
    Conflict(DomainError),
    #[error("the actor may not {0}")]
    Forbidden(&'static str),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyMismatch,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            match code.parse::<u32>() {
                // SQLite's result codes are numbers; the low byte is the primary code:
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6) and their extended forms.
                Ok(n) if code.len() < 5 => matches!(n & 0xff, 5 | 6),
                // PostgreSQL's SQLSTATE: class 08 is a connection exception; 57P01-03 an
                // administrator shutdown, a crash restart or a server still starting; 53300
                // too many connections; 25006 a standby (a primary demoted, or not yet
                // promoted); 40001 a standby cancelling a read that conflicts with replay.
                _ => {
                    code.starts_with("08")
                        || matches!(
                            &*code,
                            "57P01" | "57P02" | "57P03" | "53300" | "25006" | "40001"
                        )
                }
            }
        }),
        _ => false,
    }
}

impl StoreError {
    pub fn invalid(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid(DomainError::new(field, code, message))
    }

    /// Turns a unique-constraint violation into [`StoreError::Taken`] naming `field`.
    pub(crate) fn unique_as(field: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Taken { field },
            _ => StoreError::Database(e),
        }
    }

    /// The database cannot take work now (down, restarting, out of connections, locked past the
    /// busy timeout) rather than refusing this request: the same request may succeed when
    /// retried, so the edge answers 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => unavailable(e),
            _ => false,
        }
    }

    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
            || matches!(self, StoreError::Taken { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_that_cannot_take_work_is_unavailable_and_a_bad_request_is_not() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            assert!(StoreError::Database(e).is_unavailable());
        }
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::NotFound("ticket").is_unavailable());
        assert!(!StoreError::Taken { field: "email" }.is_unavailable());
    }
}
