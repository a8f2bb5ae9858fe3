//! The HTTP API under `/api/v1`, grouped by resource. Routes are registered through
//! utoipa-axum, so the OpenAPI document is built from the same table that routes requests.

mod attachments;
pub mod closing;
pub(crate) mod directory;
mod health;
mod intake;
mod json;
mod knowledge;
pub(crate) mod mail;
pub(crate) mod privacy;
pub(crate) mod reports;
pub(crate) mod search;
mod second_factor;
pub(crate) mod session;
mod tickets;
mod timeline;
mod tokens;
pub(crate) mod webhooks;
pub(crate) mod widget;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use directory::new_user;
pub use json::ApiJson;
pub use tokens::issue as issue_token;
pub use webhooks::add_source as add_webhook_source;

use crate::AppState;
use crate::error::ApiError;
use crate::rate_limit::{Public, Throttled};

#[derive(OpenApi)]
#[openapi(
    info(title = "Closedloop API", description = "Feedback and complaint handling: tickets through the closed loop."),
    modifiers(&Security),
    tags(
        (name = "tickets", description = "Register, find, change and move tickets"),
        (name = "directory", description = "Users, departments and the routing matrix"),
        (name = "auth", description = "Sessions and API tokens"),
        (name = "intake", description = "Channels that bring feedback in: signed webhooks"),
        (name = "loop", description = "Closing the loop: solutions, approvals, appeals, surveys, notices and templates"),
        (name = "knowledge", description = "Knowledge base: FAQ and SOP articles, drafts from resolved tickets"),
        (name = "search", description = "Full-text search over tickets and knowledge-base articles"),
        (name = "privacy", description = "Revealing masked personal data, and the access log"),
        (name = "system", description = "Health")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The routes and their OpenAPI description, from one table.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::me))
        .routes(routes!(session::change_password))
        .routes(routes!(second_factor::start))
        .routes(routes!(second_factor::confirm))
        .routes(routes!(second_factor::disable))
        .routes(routes!(second_factor::reset))
        .routes(routes!(tickets::create_ticket, tickets::list_tickets))
        .routes(routes!(tickets::get_ticket, tickets::update_ticket))
        .routes(routes!(tickets::translations))
        .routes(routes!(privacy::reveal))
        .routes(routes!(privacy::access_log))
        .routes(routes!(privacy::request_erasure, privacy::erasure_status))
        .routes(routes!(privacy::erasures))
        .routes(routes!(privacy::export))
        .routes(routes!(privacy::security_log))
        .routes(routes!(search::search))
        .routes(routes!(knowledge::list, knowledge::create))
        .routes(routes!(knowledge::get, knowledge::update))
        .routes(routes!(knowledge::draft_from_ticket))
        .routes(routes!(knowledge::deflection))
        .routes(routes!(reports::service))
        .routes(routes!(reports::hot))
        .routes(routes!(timeline::transition))
        .routes(routes!(timeline::reply))
        .routes(routes!(timeline::note))
        .routes(routes!(timeline::timeline))
        .routes(routes!(timeline::sla))
        .routes(routes!(timeline::notifications))
        .routes(routes!(timeline::backlog))
        .routes(routes!(attachments::download))
        .routes(routes!(
            directory::list_departments,
            directory::create_department
        ))
        .routes(routes!(directory::list_users, directory::create_user))
        .routes(routes!(directory::list_categories))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(webhooks::create_source, webhooks::list_sources))
        .routes(routes!(intake::webhook))
        .routes(routes!(mail::email))
        .routes(routes!(mail::log))
        .routes(routes!(mail::quarantined))
        .routes(routes!(mail::retry))
        .routes(routes!(crate::metrics::serve))
        .routes(routes!(widget::create_site, widget::list_sites))
        .routes(routes!(widget::post, widget::preflight))
        .routes(routes!(closing::propose, closing::solutions))
        .routes(routes!(closing::decide))
        .routes(routes!(closing::approvals))
        .routes(routes!(closing::appeals))
        .routes(routes!(closing::escalate))
        .routes(routes!(closing::answer_survey, closing::survey))
        .routes(routes!(closing::notices))
        .routes(routes!(closing::messages))
        .routes(routes!(closing::read_message))
        .routes(routes!(closing::preferences, closing::set_preferences))
        .routes(routes!(closing::list_templates))
        .routes(routes!(closing::save_template, closing::reset_template))
        .routes(routes!(closing::link))
        .routes(routes!(closing::nps_round))
        .routes(routes!(closing::nps_report))
        .split_for_parts()
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = std::sync::Arc::new(doc);
    let max_body = state.config.max_body_bytes;
    api.route(
        "/api/v1/openapi.json",
        get(move |_: Throttled<Public>| async move { Json(doc.as_ref().clone()) }),
    )
    .route("/", get(|_: Throttled<Public>| health::index()))
    .route("/widget.js", get(widget::script))
    .merge(crate::web::routes(&state))
    .route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::metrics::track,
    ))
    .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
    .method_not_allowed_fallback(|| async {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        )
    })
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::security_log::record,
    ))
    .layer(DefaultBodyLimit::max(max_body))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
    .layer(tower_http::trace::TraceLayer::new_for_http())
    .with_state(state)
}

/// Administrators only (API tokens, sessions; any other role gets 403).
pub(crate) fn require_admin(actor: &crate::auth::Actor) -> crate::error::ApiResult<()> {
    if actor.0.role == closedloop_domain::Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("this needs the admin role"))
    }
}

/// Plausible email address: one `@`, something on both sides, no spaces, at most 254 bytes.
pub fn valid_email(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.contains('@')
                && s.len() <= 254
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_check() {
        assert!(valid_email("a@b.cn"));
        assert!(valid_email("张三@例子.中国"));
        for bad in ["", "a", "a@b", "@b.cn", "a b@c.cn", "a@@b.cn", "a@.cn"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
