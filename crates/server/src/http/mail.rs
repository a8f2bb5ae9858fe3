//! Mail over HTTP: the endpoint mail providers post inbound messages to, the intake log, the
//! quarantine and its retry, and `/metrics`. Administrators only (an API token as Bearer, or as
//! the password of Basic authentication for providers that only take credentials in a URL).

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use closedloop_store::{MailLogEntry, MailLogFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::require_admin;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::mail_intake::{Ingested, IntakeError, quarantined_bytes};

/// What became of a posted message.
#[derive(Serialize, ToSchema)]
pub struct MailAccepted {
    /// `created`, `threaded`, `ignored` or `quarantined`.
    outcome: &'static str,
    /// The ticket it opened or joined.
    #[schema(example = "FB-20261122-000042")]
    ticket: Option<String>,
    /// The rule that marked it automatic, or why it could not be read.
    reason: Option<String>,
    /// For a quarantined message: the id to retry it by.
    quarantine_id: Option<String>,
}

fn answer(outcome: Result<Ingested, IntakeError>) -> ApiResult<(StatusCode, Json<MailAccepted>)> {
    let (status, body) = match outcome.map_err(|e| match e {
        IntakeError::Store(s) => ApiError::from(s),
        IntakeError::Disk { .. } => {
            tracing::error!(error = %e, "mail intake cannot write its quarantine");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the message could not be kept; send it again later",
            )
        }
    })? {
        Ingested::Created(n) => (
            StatusCode::CREATED,
            MailAccepted {
                outcome: "created",
                ticket: Some(n.as_str().to_owned()),
                reason: None,
                quarantine_id: None,
            },
        ),
        Ingested::Threaded(n) => (
            StatusCode::OK,
            MailAccepted {
                outcome: "threaded",
                ticket: Some(n.as_str().to_owned()),
                reason: None,
                quarantine_id: None,
            },
        ),
        Ingested::Ignored { rule } => (
            StatusCode::OK,
            MailAccepted {
                outcome: "ignored",
                ticket: None,
                reason: Some(rule),
                quarantine_id: None,
            },
        ),
        // Kept, not lost: a provider must not send it again and again.
        Ingested::Quarantined { digest, reason } => (
            StatusCode::ACCEPTED,
            MailAccepted {
                outcome: "quarantined",
                ticket: None,
                reason: Some(reason),
                quarantine_id: Some(digest),
            },
        ),
    };
    Ok((status, Json(body)))
}

/// Takes one raw RFC 822 / MIME message (the body, as it arrived; any content type) and files
/// it as the `ingest-email` pipe does. Retries are safe: a message already handled (same
/// Message-ID) is answered as before, writing nothing. 201 a new ticket, 200 threaded onto one
/// or ignored as automatic mail, 202 kept in quarantine (with the reason).
#[utoipa::path(post, path = "/api/v1/intake/email", tag = "intake",
    request_body(content = String, content_type = "message/rfc822", description = "The raw message"),
    responses(
        (status = 201, body = MailAccepted), (status = 200, body = MailAccepted),
        (status = 202, body = MailAccepted),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn email(
    State(state): State<AppState>,
    actor: Actor,
    body: Body,
) -> ApiResult<(StatusCode, Json<MailAccepted>)> {
    require_admin(&actor)?;
    // The message limit, not the API's: mail with attachments is larger than any JSON body.
    // Up to twice the limit is read so an oversized message is kept in quarantine as the pipe
    // keeps it (a setting can be raised and the message retried); beyond that it is refused
    // and stays with the provider.
    let limit = state.config.mail.max_bytes.saturating_mul(2);
    let raw = to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a message may have at most {limit} bytes"),
        )
        .field("body")
    })?;
    answer(state.mail_intake().ingest(&raw, "http").await)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// `created`, `threaded`, `ignored`, `quarantined` or `sent`.
    outcome: Option<String>,
    /// `pipe`, `http`, `retry`.
    path: Option<String>,
    /// RFC 3339: lines older than this (the `at` of the last line of the previous page).
    before: Option<String>,
    /// 1-500, default 100.
    limit: Option<u32>,
}

/// The intake log: every message with what became of it, newest first.
#[utoipa::path(get, path = "/api/v1/intake/mail", tag = "intake", params(LogQuery),
    responses((status = 200, body = Vec<MailLogEntry>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn log(
    State(state): State<AppState>,
    actor: Actor,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Vec<MailLogEntry>>> {
    require_admin(&actor)?;
    const OUTCOMES: [&str; 5] = ["created", "threaded", "ignored", "quarantined", "sent"];
    if let Some(o) = &q.outcome
        && !OUTCOMES.contains(&o.as_str())
    {
        return Err(ApiError::invalid(
            "outcome",
            "unknown_outcome",
            format!("one of {}", OUTCOMES.join(", ")),
        ));
    }
    let before = q
        .before
        .as_deref()
        .map(|b| {
            chrono::DateTime::parse_from_rfc3339(b)
                .map(|t| t.to_utc())
                .map_err(|_| ApiError::invalid("before", "invalid_time", "use an RFC 3339 time"))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "out_of_range", "1-500"));
    }
    let entries = state
        .store
        .mail_log(MailLogFilter {
            outcome: q.outcome,
            path: q.path,
            before,
            limit,
        })
        .await?;
    Ok(Json(entries))
}

/// The raw bytes of a quarantined message, to see what is wrong with it.
#[utoipa::path(get, path = "/api/v1/intake/mail/quarantine/{id}", tag = "intake",
    params(("id" = String, Path, description = "`quarantine_id`: the message's SHA-256 (hex)")),
    responses((status = 200, content_type = "message/rfc822", description = "The message as it arrived"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn quarantined(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&actor)?;
    let raw = quarantined_bytes(&state.config.data_dir, &id)
        .ok_or_else(|| ApiError::not_found("quarantined message"))?;
    // A download, never rendered: it is untrusted input.
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.eml\""),
            ),
        ],
        raw,
    )
        .into_response())
}

/// Reads a quarantined message again (after a fix to the parser or the settings): it opens or
/// joins a ticket as it would have, or stays in quarantine with the new reason.
#[utoipa::path(post, path = "/api/v1/intake/mail/quarantine/{id}/retry", tag = "intake",
    params(("id" = String, Path, description = "`quarantine_id`: the message's SHA-256 (hex)")),
    responses((status = 201, body = MailAccepted), (status = 200, body = MailAccepted),
        (status = 202, body = MailAccepted),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<MailAccepted>)> {
    require_admin(&actor)?;
    let raw = quarantined_bytes(&state.config.data_dir, &id)
        .ok_or_else(|| ApiError::not_found("quarantined message"))?;
    answer(state.mail_intake().ingest(&raw, "retry").await)
}
