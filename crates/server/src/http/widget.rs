//! The in-app feedback widget: a site embeds `<script src=".../widget.js" data-site-key="...">`
//! and its pages post to `/api/v1/intake/widget/{site_key}`. The key is public; a post is taken
//! only from a page served from one of the site's configured origins (CORS, checked on the
//! preflight and again on the post), within a per-address and a per-site rate limit.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use closedloop_domain::{Category, Channel, Description};
use closedloop_store::{NewAttachment, NewTicket, WidgetSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::parse;
use super::require_admin;
use super::valid_email;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::rate_limit::{Public, RateLimited, Throttled};
use crate::web::{anonymous_origin, random_token, register};

/// What the widget posts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetPost {
    /// What happened, in the user's words.
    description: String,
    /// A category code from the list the script carries.
    category: Option<String>,
    /// For an answer by mail; anonymous when absent.
    email: Option<String>,
    /// The page the user was on.
    page: Option<String>,
    screenshot: Option<Screenshot>,
}

/// An image the user attached (a screenshot), base64, optionally as a `data:` URL.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Screenshot {
    filename: Option<String>,
    data: String,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetAccepted {
    #[schema(example = "FB-20261122-000042")]
    ticket: String,
    /// The private page where the user follows the ticket and answers.
    follow_url: String,
}

/// Site management (admin).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    /// A name for people, unique.
    name: String,
    /// `scheme://host[:port]` of the pages that embed the widget.
    origins: Vec<String>,
}

/// `scheme://host[:port]` with nothing after it, http or https.
fn valid_origin(o: &str) -> bool {
    let Some((scheme, rest)) = o.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && o.len() <= 255
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Adds a site that may embed the widget; the answer carries its key.
#[utoipa::path(post, path = "/api/v1/widget-sites", tag = "intake", request_body = NewSite,
    responses((status = 201, body = WidgetSite), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_site(
    State(state): State<AppState>,
    actor: Actor,
    super::ApiJson(input): super::ApiJson<NewSite>,
) -> ApiResult<(StatusCode, Json<WidgetSite>)> {
    require_admin(&actor)?;
    let site = add_site(&state, &input.name, &input.origins).await?;
    Ok((StatusCode::CREATED, Json(site)))
}

/// Checks and adds a site allowed to embed the widget, with a fresh public key; shared with
/// the administrators' channels page.
pub(crate) async fn add_site(
    state: &AppState,
    name: &str,
    origins_in: &[String],
) -> ApiResult<WidgetSite> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "name",
            "invalid_name",
            "1-100 characters",
        ));
    }
    if origins_in.is_empty() || origins_in.len() > 20 {
        return Err(ApiError::invalid(
            "origins",
            "invalid_origins",
            "1-20 origins",
        ));
    }
    let mut origins = Vec::with_capacity(origins_in.len());
    for o in origins_in {
        let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
        if !valid_origin(&o) {
            return Err(ApiError::invalid(
                "origins",
                "invalid_origin",
                format!("{o}: use scheme://host[:port], e.g. https://shop.example"),
            ));
        }
        origins.push(o);
    }
    let key = format!("wk_{}", random_token());
    Ok(state.store.create_widget_site(name, &key, &origins).await?)
}

#[utoipa::path(get, path = "/api/v1/widget-sites", tag = "intake",
    responses((status = 200, body = Vec<WidgetSite>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_sites(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<WidgetSite>>> {
    require_admin(&actor)?;
    Ok(Json(state.store.list_widget_sites().await?))
}

/// The site of `key`, when the request's `Origin` is one of its origins.
async fn allowed(
    state: &AppState,
    key: &str,
    headers: &HeaderMap,
) -> ApiResult<(WidgetSite, String)> {
    let site = if key.len() <= 64 {
        state.store.widget_site(key).await?
    } else {
        None
    };
    let site = site.filter(|s| s.active).ok_or_else(|| {
        ApiError::forbidden("no active widget site has this key").field("site_key")
    })?;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.to_ascii_lowercase())
        .ok_or_else(|| ApiError::forbidden("the request has no Origin").field("Origin"))?;
    if !site.origins.contains(&origin) {
        return Err(
            ApiError::forbidden("this page's origin may not post with this key").field("Origin"),
        );
    }
    Ok((site, origin))
}

/// CORS headers for an allowed origin; none at all for any other, so browsers keep the answer
/// from the page.
fn with_cors(mut res: Response, origin: Option<&str>) -> Response {
    let h = res.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(v) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    res
}

/// The browser's preflight for a post from a site's page.
#[utoipa::path(options, path = "/api/v1/intake/widget/{site_key}", tag = "intake",
    params(("site_key" = String, Path, description = "The site's public key")),
    responses((status = 204, description = "Allowed: CORS headers for the origin"),
        (status = 403, body = ErrorBody)))]
pub async fn preflight(
    State(state): State<AppState>,
    _limit: Throttled<Public>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    match allowed(&state, &key, &headers).await {
        Ok((_, origin)) => {
            let mut res = with_cors(StatusCode::NO_CONTENT.into_response(), Some(&origin));
            let h = res.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            res
        }
        Err(e) => with_cors(e.into_response(), None),
    }
}

/// Feedback from a site's page: a ticket (channel `widget`), anonymous unless an address is
/// given, with the screenshot kept as evidence. Answers with the ticket number and the private
/// link to follow it.
#[utoipa::path(post, path = "/api/v1/intake/widget/{site_key}", tag = "intake",
    params(("site_key" = String, Path, description = "The site's public key")),
    request_body = WidgetPost,
    responses((status = 201, body = WidgetAccepted), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn post(
    State(state): State<AppState>,
    _limit: Throttled<Public>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (site, origin) = match allowed(&state, &key, &headers).await {
        Ok(ok) => ok,
        Err(e) => return with_cors(e.into_response(), None),
    };
    let answer = accept(&state, &site, peer, &headers, body).await;
    with_cors(
        match answer {
            Ok(ok) => (StatusCode::CREATED, Json(ok)).into_response(),
            Err(e) => e.into_response(),
        },
        Some(&origin),
    )
}

async fn accept(
    state: &AppState,
    site: &WidgetSite,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<WidgetAccepted, Response> {
    state
        .limits
        .widget_site
        .check(&site.id, Instant::now())
        .map_err(|retry_after| {
            RateLimited {
                retry_after,
                html: false,
            }
            .into_response()
        })?;
    // Room for one screenshot in base64 beside the text.
    let limit = state.config.max_attachment_bytes / 3 * 4 + 64 * 1024;
    let raw = to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "at most {} bytes of screenshot",
                state.config.max_attachment_bytes
            ),
        )
        .field("screenshot")
        .into_response()
    })?;
    let input: WidgetPost = parse(&raw).map_err(IntoResponse::into_response)?;
    let new = ticket(state, site, input, peer, headers).await;
    let (new, email, files) = new.map_err(IntoResponse::into_response)?;
    let (ticket, token) = register(state, new, email, files)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    tracing::info!(ticket = %ticket.number, site = %site.name, "widget ticket");
    Ok(WidgetAccepted {
        ticket: ticket.number.as_str().to_owned(),
        follow_url: format!("/t/{token}"),
    })
}

type Parsed = (NewTicket, Option<String>, Vec<NewAttachment>);

async fn ticket(
    state: &AppState,
    site: &WidgetSite,
    input: WidgetPost,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> ApiResult<Parsed> {
    let description = Description::parse(&input.description)?;
    let category = match input.category.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let known = state.store.list_categories().await?;
            if !known.iter().any(|k| k.code == c) {
                return Err(ApiError::invalid(
                    "category",
                    "unknown_category",
                    "a code from /widget.js's list",
                ));
            }
            Some(Category::parse("category", c)?)
        }
    };
    let email = input.email.filter(|e| !e.trim().is_empty());
    if email.as_deref().is_some_and(|e| !valid_email(e)) {
        return Err(ApiError::invalid(
            "email",
            "invalid_email",
            "must be an email address",
        ));
    }
    let mut evidence = vec![format!("widget: {}", site.name)];
    if let Some(page) = input.page.filter(|p| !p.trim().is_empty()) {
        if page.len() > 2048 || page.contains(['\r', '\n']) {
            return Err(ApiError::invalid(
                "page",
                "invalid_page",
                "at most 2048 characters, one line",
            ));
        }
        evidence.push(format!("page: {page}"));
    }
    let mut files = Vec::new();
    if let Some(shot) = input.screenshot {
        let data = shot
            .data
            .split_once(";base64,")
            .map_or(shot.data.as_str(), |(_, d)| d);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| ApiError::invalid("screenshot", "invalid_base64", "base64 image data"))?;
        if bytes.len() > state.config.max_attachment_bytes {
            return Err(ApiError::invalid(
                "screenshot",
                "too_large",
                "the image is too large",
            ));
        }
        let kind = crate::attachments::sniff(&bytes)
            .filter(|k| k.starts_with("image/"))
            .ok_or_else(|| {
                ApiError::invalid("screenshot", "not_an_image", "PNG, JPEG, GIF or WebP")
            })?;
        let sha256 = crate::attachments::digest(&bytes);
        let dir = state.config.attachments_dir();
        crate::attachments::save(&dir, &sha256, &bytes)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot store a widget screenshot");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "try again later",
                )
            })?;
        files.push(NewAttachment {
            sha256,
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            content_type: kind.to_owned(),
            filename: crate::attachments::sanitise_filename(
                shot.filename.as_deref().unwrap_or("screenshot"),
            ),
        });
    }
    let (requester_ip, requester_user_agent) = anonymous_origin(email.is_none(), peer, headers);
    let new = NewTicket {
        category,
        evidence,
        requester_ip,
        requester_user_agent,
        ..NewTicket::new(Channel::Widget, None, description)
    };
    Ok((new, email, files))
}

/// The script a site embeds, with the categories of this installation in it.
pub async fn script(State(state): State<AppState>, _limit: Throttled<Public>) -> Response {
    let categories: Vec<serde_json::Value> = match state.store.list_categories().await {
        Ok(list) => list
            .into_iter()
            .map(|c| serde_json::json!({"code": c.code, "name": c.name, "name_zh": c.name_zh}))
            .collect(),
        Err(error) => {
            tracing::error!(%error, "cannot list categories for the widget");
            Vec::new()
        }
    };
    // JSON inside a script: `<` escaped so no value can close the script element.
    let list = serde_json::to_string(&categories)
        .unwrap_or_else(|_| "[]".into())
        .replace('<', "\\u003c");
    let js = include_str!("../web/widget.js").replace("/*CATEGORIES*/[]", &list);
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        js,
    )
        .into_response()
}
