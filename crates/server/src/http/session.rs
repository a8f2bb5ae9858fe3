//! Logging in and out with a session cookie, for browsers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use closedloop_store::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::AppState;
use crate::auth::{self, Actor, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::rate_limit::{LoginAttempts, Throttled};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
    /// The 6-digit code of the user's authenticator app, when they turned the second factor on.
    #[serde(default)]
    totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResult {
    user: User,
    /// Send back as `X-CSRF-Token` on every state-changing request made with the cookie.
    csrf_token: String,
}

/// A hash of a random password, verified for unknown emails.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| auth::hash_password(&auth::random_password()).unwrap_or_default());

/// Starts a browser session (cookie `closedloop_session`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = LoginResult), (status = 401, body = ErrorBody),
        (status = 423, body = ErrorBody, description = "Too many failed sign-ins in a row: the account is locked for a while (`account_locked`)"),
        (status = 429, body = ErrorBody, description = "Too many attempts from this address; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    _limit: Throttled<LoginAttempts>,
    jar: CookieJar,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<(CookieJar, Json<LoginResult>)> {
    let user = check_credentials(&state, &body.email, body.password)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong email or password",
            )
        })?;
    second_factor(&state, &user, body.totp.as_deref()).await?;
    let (cookie, csrf) = start_session(&state, user.id, &jar).await?;
    Ok((
        jar.add(cookie),
        Json(LoginResult {
            user,
            csrf_token: csrf,
        }),
    ))
}

/// The active user with this email and password; `None` otherwise. Unknown emails still pay
/// for a verification, so the answer time does not tell which emails have accounts. Failed
/// attempts on an account are counted; enough in a row lock it (`account_locked`), and a locked
/// account is refused even the right password until the lock ends. The count starts again only
/// in [`second_factor`], so a right password does not buy more guesses at the code.
pub(crate) async fn check_credentials(
    state: &AppState,
    email: &str,
    password: String,
) -> ApiResult<Option<User>> {
    let found = state.store.user_credentials(email).await?;
    let max_failures = state.config.login_max_failures;
    if let Some((user, _)) = &found
        && max_failures > 0
        && let Some(until) = state.store.login_locked_until(user.id).await?
    {
        tracing::warn!(user = user.id, "sign-in refused: account locked");
        return Err(locked(until));
    }
    let hash = found
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match found {
        Some((user, _)) if ok && user.active => Ok(Some(user)),
        Some((user, _)) => {
            tracing::warn!(user = user.id, "sign-in failed");
            count_failure(state, user.id).await?;
            Ok(None)
        }
        None => {
            tracing::warn!("sign-in failed for an address without an account");
            Ok(None)
        }
    }
}

/// Counts a failed attempt on an account; `Err(account_locked)` when it locks the account.
pub(crate) async fn count_failure(state: &AppState, user_id: i64) -> ApiResult<()> {
    let max_failures = state.config.login_max_failures;
    if max_failures == 0 {
        return Ok(());
    }
    let lock = chrono::Duration::minutes(state.config.login_lock_minutes);
    match state
        .store
        .record_login_failure(user_id, max_failures, lock)
        .await?
    {
        Some(until) => {
            tracing::warn!(user = user_id, %until, "account locked after {max_failures} failed sign-ins");
            Err(locked(until))
        }
        None => Ok(()),
    }
}

/// After the password: the one-time code, for users who turned it on (a wrong one counts as a
/// failed sign-in; none at all is `totp_required`, which the sign-in form answers by asking).
/// Clears the failure count once everything is right.
pub(crate) async fn second_factor(
    state: &AppState,
    user: &User,
    code: Option<&str>,
) -> ApiResult<()> {
    if let Some(secret) = state.store.totp(user.id).await?.secret {
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp_required",
                "enter the 6-digit code from your authenticator app",
            )
            .field("totp"));
        };
        if !fresh_code(state, user.id, &secret, &user.email, code).await? {
            tracing::warn!(
                user = user.id,
                "sign-in failed: wrong or reused one-time code"
            );
            count_failure(state, user.id).await?;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp_invalid",
                "wrong or already used code",
            )
            .field("totp"));
        }
    }
    state.store.record_login_success(user.id).await?;
    Ok(())
}

/// Whether `code` is one of `secret`'s for now and was not used before (using it up if so).
pub(crate) async fn fresh_code(
    state: &AppState,
    user_id: i64,
    secret: &str,
    account: &str,
    code: &str,
) -> ApiResult<bool> {
    Ok(
        match crate::totp::step_of(secret, account, code, state.clock.now()) {
            Some(step) => state.store.use_totp_step(user_id, step).await?,
            None => false,
        },
    )
}

pub(crate) fn locked(until: chrono::DateTime<chrono::Utc>) -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "account_locked",
        format!(
            "too many failed sign-ins in a row: this account is locked until {} (UTC); try again then or ask an administrator",
            until.format("%Y-%m-%d %H:%M")
        ),
    )
}

/// A new session for the user: its cookie and its CSRF token. The one the browser came with
/// (if any) ends, so a session id someone planted or saw before the sign-in is worthless after.
pub(crate) async fn start_session(
    state: &AppState,
    user_id: i64,
    previous: &CookieJar,
) -> ApiResult<(Cookie<'static>, String)> {
    if let Some(old) = previous.get(SESSION_COOKIE) {
        state
            .store
            .delete_session(&auth::digest(old.value()))
            .await?;
    }
    let (session, digest) = auth::new_secret();
    let (csrf, _) = auth::new_secret();
    let ttl = chrono::Duration::hours(state.config.session_ttl_hours);
    state
        .store
        .create_session(&digest, user_id, &csrf, ttl)
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, session))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time_duration(ttl))
        .build();
    Ok((cookie, csrf))
}

fn time_duration(d: chrono::Duration) -> time::Duration {
    time::Duration::seconds(d.num_seconds())
}

/// Ends the browser session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    _actor: Actor,
    jar: CookieJar,
) -> ApiResult<(CookieJar, StatusCode)> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        state.store.delete_session(&auth::digest(c.value())).await?;
    }
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    id: i64,
    email: String,
    name: String,
    role: String,
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn me(Actor(p): Actor) -> Json<Me> {
    Json(Me {
        id: p.user_id,
        email: p.email,
        name: p.name,
        role: p.role.to_string(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's password. The current one is checked like a sign-in (wrong guesses
/// count towards the lockout); the new one must meet the password policy. Every other session
/// of the user ends; the one making the change (if any) stays.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 422, body = ErrorBody), (status = 423, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    Actor(who): Actor,
    jar: CookieJar,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    set_password(
        &state,
        &who,
        body.current_password,
        &body.new_password,
        &jar,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The password change itself, shared with the settings page.
pub(crate) async fn set_password(
    state: &AppState,
    who: &closedloop_store::Principal,
    current: String,
    new: &str,
    jar: &CookieJar,
) -> ApiResult<()> {
    closedloop_domain::password::check(new, &who.email)
        .map_err(|e| ApiError::from(e).field("new_password"))?;
    if check_credentials(state, &who.email, current)
        .await?
        .is_none()
    {
        return Err(ApiError::invalid(
            "current_password",
            "wrong_password",
            "this is not your current password",
        ));
    }
    let new = new.to_owned();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|_| ApiError::internal())??;
    let keep = jar.get(SESSION_COOKIE).map(|c| auth::digest(c.value()));
    state
        .store
        .set_password(who.user_id, &hash, keep.as_deref())
        .await?;
    tracing::info!(user = who.user_id, "password changed; other sessions ended");
    Ok(())
}
