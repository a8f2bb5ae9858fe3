//! The one error type of the HTTP edge: a status, a stable snake_case `code` the UI can
//! translate, a message, and the offending `field` when there is one.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use closedloop_domain::solution::ApprovalError;
use closedloop_domain::{DomainError, TransitionError};
use closedloop_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// What a 503 asks clients to wait: about as long as a PostgreSQL restart or fail-over.
const RETRY_AFTER_SECONDS: &str = "2";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

/// `{"error": {...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in or send a valid Bearer token",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).field(field)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut res = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        res.extensions_mut()
            .insert(crate::security_log::ErrorCode(self.code));
        res
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::invalid(e.field, e.code, e.message)
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        let message = e.to_string();
        match e {
            TransitionError::Illegal { from, to, .. } => {
                let to = to.map(|s| s.as_str()).unwrap_or("?");
                ApiError::new(
                    StatusCode::CONFLICT,
                    "invalid_transition",
                    format!("{message} ({from} → {to} is not allowed)"),
                )
                .field("action")
            }
            TransitionError::Forbidden { .. } => ApiError::forbidden(message).field("action"),
            TransitionError::AppealWindowClosed { .. } => {
                ApiError::new(StatusCode::CONFLICT, "appeal_window_closed", message).field("action")
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Taken { field } => ApiError::new(
                StatusCode::CONFLICT,
                "already_exists",
                format!("{field} is already taken"),
            )
            .field(field),
            StoreError::Invalid(d) => d.into(),
            StoreError::Transition(t) => t.into(),
            StoreError::Forbidden(what) => ApiError::forbidden(format!("your role may not {what}")),
            StoreError::Approval(a) => {
                let status = match a {
                    ApprovalError::OwnProposal | ApprovalError::NotSupervisor => {
                        StatusCode::FORBIDDEN
                    }
                    _ => StatusCode::CONFLICT,
                };
                ApiError::new(status, a.code(), a.to_string()).field("solution")
            }
            StoreError::Conflict(d) => {
                ApiError::new(StatusCode::CONFLICT, d.code, d.message).field(d.field)
            }
            StoreError::IdempotencyMismatch => {
                ApiError::invalid("Idempotency-Key", "idempotency_key_reused", e.to_string())
            }
            e if e.is_unavailable() => {
                tracing::warn!(error = ?e, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is not answering; retry shortly (with the same Idempotency-Key)",
                )
            }
            StoreError::Database(_) | StoreError::Migrate(_) => {
                tracing::error!(error = ?e, "store failure");
                ApiError::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
