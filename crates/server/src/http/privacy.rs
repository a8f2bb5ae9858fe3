//! Personal data: revealing what was masked, and the log of who looked at what.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use closedloop_domain::{Role, TicketNumber};
use closedloop_store::{AccessEntry, AccessFilter, RevealedField};
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
        let int = |min: i64, max: i64| {
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
        };
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
