//! Personal data: revealing what was masked, and the log of who looked at what.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use closedloop_domain::{Role, TicketNumber};
use closedloop_store::{AccessEntry, AccessFilter, ErasureRequest, RevealedField, SecurityEvent};
use serde::Serialize;
use utoipa::ToSchema;

use super::tickets::parse_number;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    /// The ticket's masked fields with their original text; empty when nothing was masked.
    pub fields: Vec<RevealedField>,
}

/// The original text of a ticket's masked fields (personal data from a public channel).
/// Staff of the configured role (`privacy.reveal_from`, default supervisor) and up, within
/// their scope; every reveal is written to the access log.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/reveal", tag = "privacy",
    params(("number" = String, Path, example = "FB-20261122-000042")),
    responses((status = 200, body = Revealed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn reveal(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Revealed>> {
    let number = parse_number(&number)?;
    may_reveal(&state, &actor.0)?;
    let fields = state.store.reveal_personal_data(&actor.0, &number).await?;
    tracing::info!(actor = actor.0.user_id, ticket = %number, "personal data revealed");
    Ok(Json(Revealed { fields }))
}

pub(crate) fn may_reveal(state: &AppState, who: &closedloop_store::Principal) -> ApiResult<()> {
    let from = state.config.privacy.reveal_from;
    if who.role.is_staff() && who.role >= from {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "revealing personal data needs the {} role or higher",
            from.as_str()
        )))
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccessPage {
    pub items: Vec<AccessEntry>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next: Option<i64>,
}

/// Who opened which ticket and who revealed which personal data, newest first.
/// Administrators only; the log cannot be changed through any route.
#[utoipa::path(get, path = "/api/v1/access-log", tag = "privacy",
    params(
        ("ticket" = Option<String>, Query, description = "a ticket number"),
        ("actor_id" = Option<i64>, Query, description = "a user id"),
        ("before" = Option<i64>, Query, description = "the `next` of the previous page"),
        ("limit" = Option<i64>, Query, description = "1-500, default 100"),
    ),
    responses((status = 200, body = AccessPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn access_log(
    State(state): State<AppState>,
    actor: Actor,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<AccessPage>> {
    if actor.0.role != Role::Admin {
        return Err(ApiError::forbidden("the access log is for administrators"));
    }
    let mut filter = AccessFilter {
        limit: 100,
        ..AccessFilter::default()
    };
    for (key, value) in &q {
        let int = |min, max| whole_number(key, value, min, max);
        match key.as_str() {
            "ticket" => {
                filter.ticket = Some(value.parse::<TicketNumber>().map_err(|_| {
                    ApiError::invalid("ticket", "invalid_value", "not a ticket number")
                })?);
            }
            "actor_id" => filter.actor_id = Some(int(1, i64::MAX)?),
            "before" => filter.before = Some(int(1, i64::MAX)?),
            "limit" => filter.limit = int(1, 500)?,
            _ => {
                return Err(ApiError::invalid(
                    key,
                    "unknown_parameter",
                    "not a parameter of this route",
                ));
            }
        }
    }
    let items = state.store.access_log(&filter).await?;
    let next = (items.len() as i64 == filter.limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(Json(AccessPage { items, next }))
}

/// Asks for a person's data to be erased: within `privacy.erasure_hours` (default 72) their
/// tickets keep only what statistics count, and everything else of theirs (personal fields,
/// personal data in messages, attachments, the search index, outgoing mail, training examples,
/// the account's name and address) is removed. Customers ask for themselves; administrators
/// for anyone who is a customer. Asking again while a request is open returns it (200).
#[utoipa::path(post, path = "/api/v1/users/{id}/erasure", tag = "privacy",
    params(("id" = i64, Path, description = "the user whose data is erased")),
    responses((status = 202, body = ErasureRequest), (status = 200, body = ErasureRequest),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn request_erasure(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<ErasureRequest>)> {
    may_act_for(&actor.0, id)?;
    let within = chrono::Duration::hours(i64::from(state.config.privacy.erasure_hours));
    let (request, new) = state
        .store
        .request_erasure(id, actor.0.user_id, within)
        .await?;
    tracing::info!(
        user = id,
        by = actor.0.user_id,
        request = request.id,
        "erasure requested"
    );
    let status = if new {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(request)))
}

/// A user's erasure requests, newest first: when each is due and when it was done.
#[utoipa::path(get, path = "/api/v1/users/{id}/erasure", tag = "privacy",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<ErasureRequest>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn erasure_status(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ErasureRequest>>> {
    may_act_for(&actor.0, id)?;
    Ok(Json(state.store.erasure_requests(Some(id), 100).await?))
}

/// Every erasure request, newest first (administrators): open ones past `due_at` are overdue.
#[utoipa::path(get, path = "/api/v1/erasures", tag = "privacy",
    responses((status = 200, body = Vec<ErasureRequest>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn erasures(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<ErasureRequest>>> {
    if actor.0.role != Role::Admin {
        return Err(ApiError::forbidden(
            "erasure requests are for administrators",
        ));
    }
    Ok(Json(state.store.erasure_requests(None, 500).await?))
}

fn may_act_for(who: &closedloop_store::Principal, user_id: i64) -> ApiResult<()> {
    if who.role == Role::Admin || who.user_id == user_id {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only administrators act on someone else's data",
        ))
    }
}

/// A query parameter that must be a whole number in `min..=max` (422 naming it otherwise).
fn whole_number(key: &str, value: &str, min: i64, max: i64) -> ApiResult<i64> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            ApiError::invalid(
                key,
                "invalid_value",
                format!("must be a whole number from {min} to {max}"),
            )
        })
}

#[derive(Serialize, ToSchema)]
pub struct SecurityPage {
    pub items: Vec<SecurityEvent>,
    /// Pass as `before` for the next (older) page; absent on the last.
    pub next: Option<i64>,
}

/// Requests refused for security reasons, newest first (administrators): failed and locked
/// sign-ins, missing CSRF tokens, read-only tokens used to write, and records asked for
/// outside the caller's scope. Nothing can change the log through any route.
#[utoipa::path(get, path = "/api/v1/security-log", tag = "privacy",
    params(
        ("actor_id" = Option<i64>, Query, description = "a user id"),
        ("before" = Option<i64>, Query, description = "the `next` of the previous page"),
        ("limit" = Option<i64>, Query, description = "1-500, default 100"),
    ),
    responses((status = 200, body = SecurityPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn security_log(
    State(state): State<AppState>,
    actor: Actor,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<SecurityPage>> {
    if actor.0.role != Role::Admin {
        return Err(ApiError::forbidden(
            "the security log is for administrators",
        ));
    }
    let (mut actor_id, mut before, mut limit) = (None, None, 100);
    for (key, value) in &q {
        match key.as_str() {
            "actor_id" => actor_id = Some(whole_number(key, value, 1, i64::MAX)?),
            "before" => before = Some(whole_number(key, value, 1, i64::MAX)?),
            "limit" => limit = whole_number(key, value, 1, 500)?,
            _ => {
                return Err(ApiError::invalid(
                    key,
                    "unknown_parameter",
                    "not a parameter of this route",
                ));
            }
        }
    }
    let items = state.store.security_events(actor_id, before, limit).await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(Json(SecurityPage { items, next }))
}

/// Everything we hold about a customer that they may see, as one ZIP archive: profile,
/// preferences, portal messages, and each ticket with its conversation, survey answer and
/// attachments. The customer themselves, or an administrator on their behalf.
#[utoipa::path(get, path = "/api/v1/users/{id}/export", tag = "privacy",
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/zip", description = "the archive"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    may_act_for(&actor.0, id)?;
    let bytes = crate::export::archive(&state, id).await?;
    tracing::info!(
        user = id,
        by = actor.0.user_id,
        bytes = bytes.len(),
        "personal data exported"
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"closedloop-data-{id}.zip\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
