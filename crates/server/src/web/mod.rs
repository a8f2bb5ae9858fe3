//! The web pages, server-rendered and working without JavaScript. Public: the feedback form
//! (`/feedback`), the private follow page of one ticket (`/t/{token}`) and the page behind the
//! signed link in result and survey messages (`/r/{token}`). Signed in: the customer portal
//! (`/portal`), the agents' console (`/agent`: inbox, board, ticket workspace, canned
//! responses), settings (`/settings`) and the mail intake log with its quarantine
//! (`/admin/mail`). Console and portal speak Chinese or English from the catalogue (`i18n`).
//!
//! Script: only `/static/console.js`, from our origin; every page's Content-Security-Policy
//! allows no inline script.
//!
//! CSRF: a double-submit cookie. The form pages set a random `cl_csrf` cookie (HttpOnly,
//! SameSite=Strict) and put the same value in a hidden field; a POST is accepted only when the
//! two match. Nothing is kept on the server, so any instance sharing the database accepts a
//! form another instance rendered.

mod admin;
mod agent;
mod articles;
mod board;
mod canned;
mod chart;
mod find;
mod follow;
mod form;
mod help;
pub mod i18n;
mod portal;
pub mod progress;
mod reports;
mod result;
mod settings;
mod staff;

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::AppState;

const CSRF_COOKIE: &str = "cl_csrf";

/// Pages of the web channel. Uploads may be larger than `max_body_bytes`, so these routes have
/// their own body limit: every file at its largest, plus room for the text fields.
pub fn routes(state: &AppState) -> Router<AppState> {
    let limit = crate::attachments::MAX_FILES
        .saturating_mul(state.config.max_attachment_bytes)
        .saturating_add(1024 * 1024);
    Router::new()
        .route("/feedback", get(form::show).post(form::submit))
        .route("/help", get(help::home))
        .route("/transparency", get(progress::transparency))
        .route("/help/articles/{id}", get(help::article))
        .route("/help/suggest", get(help::suggest))
        .route("/help/answered", axum::routing::post(help::answered))
        .route("/static/help.js", get(help::script))
        .route("/t/{token}", get(follow::show).post(follow::reply))
        .route("/t/{token}/attachments/{id}", get(follow::attachment))
        .route("/r/{token}", get(result::show).post(result::act))
        .route("/login", get(staff::login_page).post(staff::login))
        .route("/lang", axum::routing::post(i18n::switch))
        .route("/settings", get(settings::show).post(settings::save))
        .route(
            "/settings/password",
            axum::routing::post(settings::password),
        )
        .route("/settings/erase", axum::routing::post(settings::erase))
        .route("/static/console.js", get(console_js))
        .route("/agent/board", get(board::show))
        .route("/agent/board/move", axum::routing::post(board::drop))
        .route("/agent/live", get(board::live))
        .route("/agent/bulk", axum::routing::post(agent::bulk))
        .route("/agent/canned", get(canned::list).post(canned::add))
        .route("/agent/search", get(find::show))
        .route("/agent/reports", get(reports::show))
        .route("/agent/reports/hot", get(reports::hot))
        .route("/agent/reports/period", get(progress::show))
        .route(
            "/agent/articles",
            get(articles::list).post(articles::create),
        )
        .route(
            "/agent/articles/new",
            get(articles::new).post(articles::create),
        )
        .route(
            "/agent/articles/{id}",
            get(articles::show).post(articles::update),
        )
        .route(
            "/agent/tickets/{number}/article",
            axum::routing::post(articles::draft_from_ticket),
        )
        .route(
            "/agent/canned/{id}/delete",
            axum::routing::post(canned::delete),
        )
        .route(
            "/agent/tickets/{number}/merge",
            axum::routing::post(agent::merge),
        )
        .route("/logout", axum::routing::post(staff::logout))
        .route("/admin/mail", get(staff::mail_log))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route(
            "/admin/users/{id}/active",
            axum::routing::post(admin::set_active),
        )
        .route(
            "/admin/organisation",
            get(admin::organisation).post(admin::add_department),
        )
        .route("/admin/templates", get(admin::templates))
        .route(
            "/admin/templates/{event}/{lang}/{channel}",
            axum::routing::post(admin::save_template),
        )
        .route("/admin/channels", get(admin::channels))
        .route("/admin/rules", get(admin::rules))
        .route(
            "/admin/channels/sites",
            axum::routing::post(admin::add_site),
        )
        .route(
            "/admin/channels/webhooks",
            axum::routing::post(admin::add_source),
        )
        .route("/portal", get(portal::home))
        .route(
            "/portal/tickets/{number}",
            get(portal::ticket).post(portal::act),
        )
        .route("/agent", get(agent::inbox))
        .route("/agent/tickets/{number}", get(agent::ticket))
        .route(
            "/agent/tickets/{number}/reveal",
            axum::routing::post(agent::reveal),
        )
        .route(
            "/agent/tickets/{number}/entries",
            axum::routing::post(agent::add_entry),
        )
        .route(
            "/agent/tickets/{number}/move",
            axum::routing::post(agent::move_ticket),
        )
        .route(
            "/agent/tickets/{number}/solutions",
            axum::routing::post(agent::propose),
        )
        .route(
            "/agent/tickets/{number}/solutions/{id}",
            axum::routing::post(agent::decide),
        )
        .route("/admin/mail/quarantine/{id}", get(staff::quarantined))
        .route(
            "/admin/mail/quarantine/{id}/retry",
            axum::routing::post(staff::retry),
        )
        .layer(DefaultBodyLimit::max(limit))
}

/// What the request tells about an anonymous submitter (address, user agent), to record with
/// the ticket; nothing for one who gave an e-mail address.
pub(crate) fn anonymous_origin(
    anonymous: bool,
    peer: std::net::SocketAddr,
    headers: &axum::http::HeaderMap,
) -> (Option<String>, Option<String>) {
    if !anonymous {
        return (None, None);
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    (Some(peer.ip().to_string()), agent)
}

/// Registers a public submission (the form, the widget): triaged, checked against open
/// tickets for duplicates, stored with its files and a private follow link. Returns the ticket
/// and the link's token, which is shown once and never stored.
pub(crate) async fn register(
    state: &AppState,
    mut ticket: closedloop_store::NewTicket,
    contact_email: Option<String>,
    attachments: Vec<closedloop_store::NewAttachment>,
) -> closedloop_store::Result<(closedloop_store::Ticket, String)> {
    let engine = state.triage.current();
    crate::triage::apply(&engine, &mut ticket);
    let probe = match state
        .duplicates
        .check(&engine, state.store.as_ref(), &mut ticket)
        .await
    {
        Ok(probe) => probe,
        Err(error) => {
            tracing::warn!(error = ?error, "duplicate detection failed");
            None
        }
    };
    let token = random_token();
    let stored = state
        .store
        .create_web_ticket(closedloop_store::WebSubmission {
            ticket,
            contact_email,
            link_hash: token_hash(&token),
            attachments,
        })
        .await?;
    state.duplicates.registered(probe, &stored);
    Ok((stored, token))
}

/// A random 32-byte value, base64url without padding (43 characters).
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What the database keeps of a follow link: the hex SHA-256 of its token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The CSRF value of this browser, made and set as a cookie when it has none yet.
fn csrf_token(jar: CookieJar) -> (CookieJar, String) {
    if let Some(c) = jar.get(CSRF_COOKIE)
        && well_formed(c.value())
    {
        let v = c.value().to_owned();
        return (jar, v);
    }
    let v = random_token();
    let cookie = Cookie::build((CSRF_COOKIE, v.clone()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), v)
}

/// A signed-in page's form: it carries the session's CSRF token in its `csrf` field.
pub(super) trait SessionForm {
    fn csrf(&self) -> &str;
}

/// Implements [`SessionForm`] for form structs with a `csrf: String` field.
macro_rules! session_forms {
    ($($form:ty),+ $(,)?) => {
        $(impl super::SessionForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use session_forms;

/// The form, if it could be read and carries the session's token; otherwise the refusal page.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the response, handed straight back to the client"
)]
pub(super) fn session_form<F: SessionForm>(
    session_csrf: &str,
    form: Result<axum::Form<F>, axum::extract::rejection::FormRejection>,
) -> Result<F, Response> {
    match form {
        Ok(axum::Form(f)) if staff::session_csrf_ok(session_csrf, f.csrf()) => Ok(f),
        _ => Err(forbidden()),
    }
}

/// The submitted field equals the cookie (compared in constant time).
fn csrf_ok(jar: &CookieJar, submitted: &str) -> bool {
    let Some(cookie) = jar.get(CSRF_COOKIE) else {
        return false;
    };
    let (a, b) = (cookie.value().as_bytes(), submitted.as_bytes());
    well_formed(cookie.value())
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The console's script (see the module comment).
async fn console_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("console.js"),
    )
        .into_response()
}

/// An HTML page with a strict content security policy: scripts only from our origin (the
/// console's one file), never inline.
fn page(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = (status, html).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; connect-src 'self'; \
                     style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; \
                     frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            res
        }
        Err(error) => {
            tracing::error!(%error, "cannot render page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "notice.html")]
struct Notice<'a> {
    heading: &'a str,
    message: &'a str,
    new_feedback: String,
}

fn notice(status: StatusCode, heading: &str, message: &str) -> Response {
    let new_feedback = i18n::both("notice.new_feedback");
    page(
        status,
        &Notice {
            heading,
            message,
            new_feedback,
        },
    )
}

/// A store error on a page: its status and message, as the API would answer.
fn refused(e: closedloop_store::StoreError) -> Response {
    let e = crate::error::ApiError::from(e);
    (e.status, e.message).into_response()
}

/// A ticket within the viewer's scope; anything else is the "not found" page.
async fn visible_ticket(
    state: &AppState,
    who: &closedloop_store::Principal,
    number: &closedloop_domain::TicketNumber,
) -> Result<closedloop_store::Ticket, Response> {
    match state.store.get_ticket(who, number).await {
        Ok(t) => Ok(t),
        Err(closedloop_store::StoreError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(refused(e)),
    }
}

fn not_found() -> Response {
    notice(
        StatusCode::NOT_FOUND,
        &i18n::both("notice.not_found"),
        &i18n::both("notice.not_found_text"),
    )
}

fn forbidden() -> Response {
    notice(
        StatusCode::FORBIDDEN,
        &i18n::both("notice.expired_form"),
        &i18n::both("notice.expired_form_text"),
    )
}

fn server_error() -> Response {
    notice(
        StatusCode::INTERNAL_SERVER_ERROR,
        &i18n::both("notice.error"),
        &i18n::both("notice.error_text"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_hash_to_hex() {
        let t = random_token();
        assert!(well_formed(&t), "{t}");
        assert_ne!(t, random_token());
        assert_eq!(token_hash(&t).len(), 64);
        assert!(!well_formed("../../etc"));
    }

    #[test]
    fn csrf_needs_the_cookie_and_the_same_value() {
        let (jar, v) = csrf_token(CookieJar::new());
        assert!(csrf_ok(&jar, &v));
        assert!(!csrf_ok(&jar, "x"));
        assert!(!csrf_ok(&CookieJar::new(), &v));
    }
}
