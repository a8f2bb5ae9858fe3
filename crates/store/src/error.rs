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

    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
            || matches!(self, StoreError::Taken { .. })
    }
}
