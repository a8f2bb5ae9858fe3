//! Turning the second factor (authenticator-app codes) on and off. Staff only: they hold other
//! people's data. Setting up is two steps, so a secret is only required at sign-in once the
//! user has shown their app makes the right codes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use closedloop_domain::Role;
use closedloop_store::TotpChange;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret in base32, to type into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` address (what a QR code would hold).
    pub otpauth_url: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// The 6 digits the app shows now.
    pub code: String,
}

fn staff_only(who: &closedloop_store::Principal) -> ApiResult<()> {
    if who.role.is_staff() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "the second factor is for staff accounts",
        ))
    }
}

/// Starts setting up the second factor: a new secret for the caller's authenticator app.
/// Nothing changes at sign-in until it is confirmed with a code.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "auth",
    responses((status = 200, body = TotpSetup), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn start(State(state): State<AppState>, Actor(who): Actor) -> ApiResult<Json<TotpSetup>> {
    staff_only(&who)?;
    if state.store.totp(who.user_id).await?.secret.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "totp_enabled",
            "the second factor is already on; turn it off first to change the app",
        ));
    }
    let secret = crate::totp::new_secret();
    let otpauth_url = crate::totp::url(&secret, &who.email)?;
    state
        .store
        .set_totp(who.user_id, TotpChange::Pending(secret.clone()))
        .await?;
    Ok(Json(TotpSetup {
        secret,
        otpauth_url,
    }))
}

/// Confirms the set-up with a code from the app: from now on, sign-ins ask for a code.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "auth", request_body = TotpCode,
    responses((status = 204), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    Actor(who): Actor,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<StatusCode> {
    staff_only(&who)?;
    let Some(pending) = state.store.totp(who.user_id).await?.pending else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_totp_setup",
            "start the set-up first (POST /api/v1/me/totp)",
        ));
    };
    check_code(&state, who.user_id, &pending, &who.email, &body.code).await?;
    state
        .store
        .set_totp(who.user_id, TotpChange::Enable(pending))
        .await?;
    tracing::info!(user = who.user_id, "second factor turned on");
    Ok(StatusCode::NO_CONTENT)
}

/// Turns the second factor off; a current code proves it is the user (not just their session).
#[utoipa::path(post, path = "/api/v1/me/totp/disable", tag = "auth", request_body = TotpCode,
    responses((status = 204), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn disable(
    State(state): State<AppState>,
    Actor(who): Actor,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<StatusCode> {
    let Some(secret) = state.store.totp(who.user_id).await?.secret else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "totp_off",
            "the second factor is not on",
        ));
    };
    check_code(&state, who.user_id, &secret, &who.email, &body.code).await?;
    state
        .store
        .set_totp(who.user_id, TotpChange::Disable)
        .await?;
    tracing::info!(user = who.user_id, "second factor turned off");
    Ok(StatusCode::NO_CONTENT)
}

/// An administrator turns someone's second factor off (a lost phone).
#[utoipa::path(delete, path = "/api/v1/users/{id}/totp", tag = "auth",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn reset(
    State(state): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    if who.role != Role::Admin {
        return Err(ApiError::forbidden(
            "only administrators reset someone's second factor",
        ));
    }
    state.store.totp(id).await?;
    state.store.set_totp(id, TotpChange::Disable).await?;
    tracing::warn!(
        user = id,
        by = who.user_id,
        "second factor reset by an administrator"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// A code of `secret` for now, not used before (422 naming `code` otherwise).
async fn check_code(
    state: &AppState,
    user_id: i64,
    secret: &str,
    account: &str,
    code: &str,
) -> ApiResult<()> {
    // A locked account takes no guesses here either (the lock counts these failures too).
    if let Some(until) = state.store.login_locked_until(user_id).await? {
        return Err(super::session::locked(until));
    }
    if super::session::fresh_code(state, user_id, secret, account, code).await? {
        Ok(())
    } else {
        // Guesses here count like sign-in guesses: a stolen session cannot try them all.
        super::session::count_failure(state, user_id).await?;
        Err(ApiError::invalid(
            "code",
            "totp_invalid",
            "wrong or already used code",
        ))
    }
}
