//! Webhook sources: the systems (chat bots, social-monitoring tools, hotline/CRM systems) allowed
//! to post signed messages to `/api/v1/intake/webhook/{name}`. Admin only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use closedloop_domain::Channel;
use closedloop_store::{NewWebhookSource, Store, WebhookSource};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use super::require_admin;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    /// 1-64 of a-z, 0-9 and `-`, starting with a letter or digit, e.g. `wechat-bot`.
    name: String,
    /// Channel of the tickets it opens, e.g. `chat`, `social`, `phone`.
    channel: Channel,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedSource {
    #[serde(flatten)]
    source: WebhookSource,
    /// The HMAC key for `X-Closedloop-Signature`. Shown only now.
    secret: String,
}

/// A source name: it is part of the intake address and of its service account's email.
pub fn valid_source_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// Adds a source with a fresh secret; shared with `closedloop webhook add`. Returns the source
/// and its secret, which is not shown again.
pub async fn add_source(
    store: &dyn Store,
    name: &str,
    channel: Channel,
) -> ApiResult<(WebhookSource, String)> {
    if !valid_source_name(name) {
        return Err(ApiError::invalid(
            "name",
            "invalid_name",
            "use 1-64 of a-z, 0-9 and -, starting with a letter or digit",
        ));
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let source = store
        .create_webhook_source(NewWebhookSource {
            name: name.to_owned(),
            channel,
            secret: secret.clone(),
        })
        .await?;
    Ok((source, secret))
}

/// Adds a webhook source and its service account `webhook+NAME@closedloop.local`, which its
/// tickets are attributed to. The secret is in this answer only. Admin only.
#[utoipa::path(post, path = "/api/v1/webhook-sources", tag = "intake", request_body = NewSource,
    responses((status = 201, body = CreatedSource), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_source(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<NewSource>,
) -> ApiResult<(StatusCode, Json<CreatedSource>)> {
    require_admin(&actor)?;
    let (source, secret) = add_source(state.store.as_ref(), &body.name, body.channel).await?;
    Ok((StatusCode::CREATED, Json(CreatedSource { source, secret })))
}

/// All webhook sources, without their secrets. Admin only.
#[utoipa::path(get, path = "/api/v1/webhook-sources", tag = "intake",
    responses((status = 200, body = Vec<WebhookSource>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_sources(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<WebhookSource>>> {
    require_admin(&actor)?;
    Ok(Json(state.store.list_webhook_sources().await?))
}
