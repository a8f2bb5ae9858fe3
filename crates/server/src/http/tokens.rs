//! API tokens for integrations: shown once, stored as digests, revocable.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use closedloop_domain::TextField;
use closedloop_store::{ApiToken, TokenScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::AppState;
use crate::auth::{self, Actor};
use crate::error::{ApiError, ApiResult, ErrorBody};

/// The caller's tokens (never the secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth",
    responses((status = 200, body = Vec<ApiToken>)), security(("bearer" = []), ("session" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(state.store.list_api_tokens(actor.0.user_id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// 1-3650 days; no expiry when absent.
    expires_in_days: Option<i64>,
    /// `all` (default: whatever you may) or `read` (GET requests only).
    #[serde(default)]
    scope: TokenScope,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    info: ApiToken,
    /// Send as `Authorization: Bearer <token>`. Shown only now.
    token: String,
}

/// Creates a token acting as the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = ErrorBody)), security(("bearer" = []), ("session" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = TextField::parse("name", &body.name, 100)?;
    let expires_at = match body.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(state.clock.now() + chrono::Duration::days(d)),
        Some(_) => {
            return Err(ApiError::invalid(
                "expires_in_days",
                "out_of_range",
                "must be between 1 and 3650",
            ));
        }
    };
    let (token, info) = issue(
        &state,
        actor.0.user_id,
        name.as_str(),
        expires_at,
        body.scope,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { info, token })))
}

/// Makes a token for a user; shared with `closedloop token create`.
pub async fn issue(
    state: &AppState,
    user_id: i64,
    name: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    scope: TokenScope,
) -> ApiResult<(String, ApiToken)> {
    let (secret, digest) = auth::new_secret();
    let info = state
        .store
        .create_api_token(user_id, name, &digest, expires_at, scope)
        .await?;
    Ok((secret, info))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("session" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.store.revoke_api_token(actor.0.user_id, id).await?;
    state.tokens.forget();
    Ok(StatusCode::NO_CONTENT)
}
