//! Moving a ticket through its life cycle, replies, internal notes and the timeline.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use closedloop_domain::{Action, TextField};
use closedloop_store::{Ticket, TimelineEntry, TransitionRequest};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiJson;
use super::tickets::parse_number;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiResult, ErrorBody};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    action: Action,
    /// Shown on the timeline (to the customer too).
    reason: Option<String>,
    /// For `mark_duplicate`: the master ticket's number.
    duplicate_of: Option<String>,
    /// For `request_info`: what the user should send, one item each (time, steps,
    /// screenshots, expected result). The ticket waits on the user until they answer.
    #[serde(default)]
    checklist: Vec<String>,
}

/// Moves a ticket: `accept`, `start`, `request_info`, `resume`, `propose_solution`, `rework`,
/// `resolve`, `close`, `reopen`, `mark_duplicate`, `appeal`, `uphold_appeal`, `revise_appeal`.
/// An action the status or the caller's role does not allow answers 409 or 403 naming it.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/transitions", tag = "tickets", request_body = Transition,
    params(("number" = String, Path)),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn transition(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<Transition>,
) -> ApiResult<Json<Ticket>> {
    let number = parse_number(&number)?;
    let request = TransitionRequest {
        action: body.action,
        reason: TextField::parse_optional("reason", body.reason.as_deref(), 2000)?
            .map(TextField::into_string),
        duplicate_of: body
            .duplicate_of
            .as_deref()
            .map(|n| {
                n.parse().map_err(|_| {
                    crate::error::ApiError::invalid(
                        "duplicate_of",
                        "invalid_ticket_number",
                        "expected FB-YYYYMMDD-NNNNNN",
                    )
                })
            })
            .transpose()?,
        checklist: checklist(body.checklist)?,
    };
    let ticket = state.store.transition(&actor.0, &number, request).await?;
    state.duplicates.forget(ticket.id);
    Ok(Json(ticket))
}

fn checklist(items: Vec<String>) -> ApiResult<Vec<String>> {
    if items.len() > 20 {
        return Err(crate::error::ApiError::invalid(
            "checklist",
            "too_many",
            "at most 20 items",
        ));
    }
    items
        .iter()
        .filter(|i| !i.trim().is_empty())
        .map(|i| {
            TextField::parse_optional("checklist", Some(i), 500)
                .map(|t| t.map(TextField::into_string).unwrap_or_default())
                .map_err(Into::into)
        })
        .collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    body: String,
}

const MAX_ENTRY: usize = 20_000;

/// A public reply: the customer sees it. A staff member's first reply is the first response.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/replies", tag = "tickets", request_body = EntryBody,
    params(("number" = String, Path)),
    responses((status = 201, body = TimelineEntry), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn reply(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<EntryBody>,
) -> ApiResult<(StatusCode, Json<TimelineEntry>)> {
    add(state, actor, number, true, body).await
}

/// An internal note: staff only, never shown to the customer.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/notes", tag = "tickets", request_body = EntryBody,
    params(("number" = String, Path)),
    responses((status = 201, body = TimelineEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn note(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<EntryBody>,
) -> ApiResult<(StatusCode, Json<TimelineEntry>)> {
    add(state, actor, number, false, body).await
}

async fn add(
    state: AppState,
    actor: Actor,
    number: String,
    public: bool,
    body: EntryBody,
) -> ApiResult<(StatusCode, Json<TimelineEntry>)> {
    let number = parse_number(&number)?;
    let text = TextField::parse("body", &body.body, MAX_ENTRY)?;
    let entry = state
        .store
        .add_entry(&actor.0, &number, public, text.as_str(), &[])
        .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// The ticket's history, oldest first; customers see public entries only.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/timeline", tag = "tickets",
    params(("number" = String, Path)),
    responses((status = 200, body = Vec<TimelineEntry>), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn timeline(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<TimelineEntry>>> {
    let number = parse_number(&number)?;
    Ok(Json(state.store.timeline(&actor.0, &number).await?))
}

/// Every SLA clock of the ticket as of now, derived from its history: target, due and warning
/// times (RFC 3339), elapsed and remaining seconds, and `running`, `paused`, `met` or
/// `breached`. Staff only.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/sla", tag = "tickets",
    params(("number" = String, Path)),
    responses((status = 200, body = Vec<Object>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn sla(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<closedloop_domain::sla::ClockState>>> {
    if !actor.0.role.is_staff() {
        return Err(crate::error::ApiError::forbidden(
            "SLA clocks are for staff",
        ));
    }
    let number = parse_number(&number)?;
    Ok(Json(state.store.ticket_clocks(&actor.0, &number).await?))
}

/// The caller's newest notifications (SLA warnings and escalations), newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    responses((status = 200, body = Vec<closedloop_store::Notification>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<closedloop_store::Notification>>> {
    Ok(Json(state.store.notifications(actor.0.user_id, 100).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BacklogQuery {
    /// Open tickets unchanged for this many days count as stuck (default 3).
    stuck_days: Option<u32>,
}

/// Open, overdue and stuck tickets per department (supervisors: the tickets they may see; admins:
/// all). The periodic backlog check; `closedloop sla backlog` prints the same.
#[utoipa::path(get, path = "/api/v1/reports/backlog", tag = "reports", params(BacklogQuery),
    responses((status = 200, body = Vec<closedloop_store::BacklogRow>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn backlog(
    State(state): State<AppState>,
    actor: Actor,
    query: Result<axum::extract::Query<BacklogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<closedloop_store::BacklogRow>>> {
    let axum::extract::Query(q) = query.map_err(|e| {
        crate::error::ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            e.body_text(),
        )
    })?;
    if actor.0.role < closedloop_domain::Role::Supervisor {
        return Err(crate::error::ApiError::forbidden(
            "the backlog report is for supervisors and administrators",
        ));
    }
    let days = q.stuck_days.unwrap_or(3);
    if !(1..=365).contains(&days) {
        return Err(crate::error::ApiError::invalid(
            "stuck_days",
            "out_of_range",
            "use 1 to 365",
        ));
    }
    let before = state.clock.now() - chrono::Duration::days(i64::from(days));
    Ok(Json(state.store.backlog(&actor.0, before).await?))
}
