//! Evidence files of a ticket, for those who may see the ticket.

use axum::extract::{Path, State};
use axum::response::Response;

use super::tickets::parse_number;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// One attachment of a ticket (`attachment:<id>` in its `evidence`), with the type sniffed from
/// its content when it was uploaded. Images are shown inline, everything else is a download;
/// `Content-Security-Policy: sandbox` and `nosniff` keep browsers from running anything.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/attachments/{id}", tag = "tickets",
    params(("number" = String, Path, example = "FB-20261122-000042"), ("id" = i64, Path)),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn download(
    State(state): State<AppState>,
    actor: Actor,
    Path((number, id)): Path<(String, i64)>,
) -> ApiResult<Response> {
    let number = parse_number(&number)?;
    let ticket = state.store.get_ticket(&actor.0, &number).await?;
    let a = state
        .store
        .attachments(ticket.id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    Ok(crate::attachments::serve(&state.config.attachments_dir(), &a).await)
}
