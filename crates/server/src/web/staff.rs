//! Signing in and out (staff and customers) with the session of the API (same cookie, same CSRF
//! token), and the administrators' view of mail intake — the log with every message's outcome, the
//! quarantine with each message's reason, its raw bytes and a retry.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use closedloop_domain::Role;
use closedloop_store::{MailLogFilter, Principal};
use serde::Deserialize;

use super::i18n::{Tr, both};
use super::{csrf_ok, csrf_token, forbidden, notice, page, server_error, session_form};
use crate::AppState;
use crate::auth::{self, SESSION_COOKIE};
use crate::http::session::{check_credentials, second_factor, start_session};
use crate::mail_intake::{Ingested, quarantined_bytes};
use crate::rate_limit::{LoginAttempts, Throttled};

/// The signed-in staff member and their session's CSRF token; otherwise where to go instead
/// (the sign-in page, coming back here after).
pub(super) async fn staff(
    state: &AppState,
    jar: &CookieJar,
    here: &str,
) -> Result<(Principal, String), Response> {
    signed_in(state, jar, here, true).await
}

/// The signed-in customer, for the portal.
pub(super) async fn customer(
    state: &AppState,
    jar: &CookieJar,
    here: &str,
) -> Result<(Principal, String), Response> {
    signed_in(state, jar, here, false).await
}

async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
    here: &str,
    staff: bool,
) -> Result<(Principal, String), Response> {
    let to_login = || Redirect::to(&format!("/login?next={}", urlencode(here))).into_response();
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Err(to_login());
    };
    match state
        .store
        .principal_by_session(&auth::digest(cookie.value()))
        .await
    {
        Ok(Some((p, csrf))) if p.role.is_staff() == staff => Ok((p, csrf)),
        Ok(Some(_)) if staff => Err(notice(
            StatusCode::FORBIDDEN,
            &both("app.staff_only"),
            &both("app.staff_only_text"),
        )),
        Ok(Some(_)) => Err(notice(
            StatusCode::FORBIDDEN,
            &both("app.customers_only"),
            &both("app.customers_only_text"),
        )),
        Ok(None) => Err(to_login()),
        Err(error) => {
            tracing::error!(error = ?error, "cannot read a session");
            Err(server_error())
        }
    }
}

/// The signed-in user (staff or customer) and their session's token, if any.
pub(super) async fn session(state: &AppState, jar: &CookieJar) -> Option<(Principal, String)> {
    let cookie = jar.get(SESSION_COOKIE)?;
    match state
        .store
        .principal_by_session(&auth::digest(cookie.value()))
        .await
    {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(error = ?error, "cannot read a session");
            None
        }
    }
}

/// The session's token, as a form field (compared in constant time).
pub(super) fn session_csrf_ok(expected: &str, sent: &str) -> bool {
    let (a, b) = (expected.as_bytes(), sent.as_bytes());
    !a.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A path of ours to go back to (never another site, `//evil.example`); else the front page.
pub(super) fn local_path(next: &str) -> &str {
    if is_ours(next) { next } else { "/" }
}

/// A path on this site. Browsers drop tabs and newlines inside a URL (`/\t/evil.example` is
/// `//evil.example`) and read `\` as `/`, so any of those, or any space, makes it not ours.
fn is_ours(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// Where to go after signing in: a path of ours that fits the role — the console for staff,
/// the portal for customers.
fn local(next: &str, staff: bool) -> &str {
    let home = if staff { "/agent" } else { "/portal" };
    if is_ours(next) && next.starts_with("/portal") != staff {
        next
    } else {
        home
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    here: String,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(jar: CookieJar, tr: Tr, Query(q): Query<NextQuery>) -> Response {
    let (jar, csrf) = csrf_token(jar);
    let next = q.next.unwrap_or_default();
    let p = LoginPage {
        tr,
        here: format!("/login?next={}", urlencode(&next)),
        csrf,
        next,
        email: String::new(),
        error: None,
    };
    (jar, page(StatusCode::OK, &p)).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// The authenticator app's code, for users with the second factor on.
    #[serde(default)]
    totp: String,
}

pub async fn login(
    _limit: Throttled<LoginAttempts>,
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if !csrf_ok(&jar, &form.csrf) {
        return forbidden();
    }
    let checked = match check_credentials(&state, &form.email, form.password).await {
        Ok(Some(u)) => second_factor(&state, &u, Some(&form.totp))
            .await
            .map(|()| Some(u)),
        other => other,
    };
    let outcome = match checked {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err((StatusCode::UNAUTHORIZED, tr.t("login.wrong").to_owned())),
        Err(e) if e.code == "totp_required" || e.code == "totp_invalid" => {
            Err((e.status, tr.t(&format!("login.{}", e.code)).to_owned()))
        }
        Err(e) if e.code == "account_locked" => {
            Err((e.status, format!("{} {}", tr.t("login.locked"), e.message)))
        }
        Err(e) => return (e.status, e.message).into_response(),
    };
    let user = match outcome {
        Ok(u) => u,
        Err((status, error)) => {
            let p = LoginPage {
                tr,
                here: format!("/login?next={}", urlencode(&form.next)),
                csrf: form.csrf,
                next: form.next,
                email: form.email,
                error: Some(error),
            };
            return page(status, &p);
        }
    };
    match start_session(&state, user.id, &jar).await {
        Ok((cookie, _)) => {
            let to = local(&form.next, user.role.is_staff());
            (jar.add(cookie), Redirect::to(to)).into_response()
        }
        Err(e) => (e.status, e.message).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    // Staff and customers alike.
    let Some((_, csrf)) = session(&state, &jar).await else {
        return Redirect::to("/login").into_response();
    };
    if let Err(res) = session_form(&csrf, form) {
        return res;
    }
    if let Some(c) = jar.get(SESSION_COOKIE)
        && let Err(error) = state.store.delete_session(&auth::digest(c.value())).await
    {
        tracing::error!(error = ?error, "cannot end a session");
        return server_error();
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    (jar, Redirect::to("/login")).into_response()
}

struct EntryView {
    at: String,
    direction: String,
    address: String,
    outcome: String,
    reason: Option<String>,
    ticket: Option<String>,
    path: String,
    /// Set for a message in quarantine: the digest naming its kept copy.
    quarantine_id: Option<String>,
}

struct CountView {
    direction: String,
    path: String,
    outcome: String,
    rule: String,
    count: i64,
}

#[derive(Template)]
#[template(path = "admin_mail.html")]
struct MailPage {
    tr: Tr,
    here: String,
    admin: bool,
    name: String,
    csrf: String,
    flash: Option<String>,
    outcomes: &'static [&'static str],
    outcome: String,
    counts: Vec<CountView>,
    entries: Vec<EntryView>,
    older: Option<String>,
}

const OUTCOMES: &[&str] = &["created", "threaded", "ignored", "quarantined", "sent"];
const PAGE: u32 = 100;

#[derive(Deserialize)]
pub struct MailQuery {
    outcome: Option<String>,
    before: Option<String>,
    done: Option<String>,
}

fn admin_only(p: &Principal) -> Option<Response> {
    (p.role != Role::Admin).then(|| {
        notice(
            StatusCode::FORBIDDEN,
            &both("app.admins_only"),
            &both("notice.mail_admins_text"),
        )
    })
}

pub async fn mail_log(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<MailQuery>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/admin/mail").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let outcome = q
        .outcome
        .filter(|o| OUTCOMES.contains(&o.as_str()))
        .unwrap_or_default();
    let before = q
        .before
        .as_deref()
        .and_then(|b| chrono::DateTime::parse_from_rfc3339(b).ok())
        .map(|t| t.to_utc());
    let filter = MailLogFilter {
        outcome: Some(outcome.clone()).filter(|o| !o.is_empty()),
        path: None,
        before,
        limit: PAGE,
    };
    let (entries, counts) = match (
        state.store.mail_log(filter).await,
        state.store.mail_counts().await,
    ) {
        (Ok(e), Ok(c)) => (e, c),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(error = ?error, "cannot read the mail log");
            return server_error();
        }
    };
    let older = (entries.len() == PAGE as usize)
        .then(|| entries.last().map(|e| urlencode(&e.at.to_rfc3339())))
        .flatten();
    let tr = tr.for_user(&who);
    let p = MailPage {
        tr,
        here: "/admin/mail".into(),
        admin: true,
        name: who.name,
        csrf,
        flash: q.done,
        outcomes: OUTCOMES,
        outcome,
        counts: counts
            .into_iter()
            .map(|c| CountView {
                direction: c.direction,
                path: c.path,
                outcome: c.outcome,
                rule: c.rule,
                count: c.count,
            })
            .collect(),
        entries: entries
            .into_iter()
            .map(|e| EntryView {
                at: tr.when(e.at),
                quarantine_id: (e.outcome == "quarantined")
                    .then(|| e.message_id.strip_prefix("sha256:").map(str::to_owned))
                    .flatten(),
                direction: e.direction,
                address: e.address,
                outcome: e.outcome,
                reason: e.reason,
                ticket: e.ticket,
                path: e.path,
            })
            .collect(),
        older,
    };
    page(StatusCode::OK, &p)
}

pub async fn quarantined(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Response {
    let (who, _) = match staff(&state, &jar, "/admin/mail").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if let Some(res) = admin_only(&who) {
        return res;
    }
    match quarantined_bytes(&state.config.data_dir, &id) {
        // A download, never rendered: it is untrusted input.
        Some(raw) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{id}.eml\""),
                ),
            ],
            raw,
        )
            .into_response(),
        None => super::not_found(),
    }
}

pub async fn retry(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/admin/mail").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if let Some(res) = admin_only(&who) {
        return res;
    }
    if let Err(res) = session_form(&csrf, form) {
        return res;
    }
    let Some(raw) = quarantined_bytes(&state.config.data_dir, &id) else {
        return super::not_found();
    };
    let done = match state.mail_intake().ingest(&raw, "retry").await {
        Ok(Ingested::Created(n)) => format!("created {n}"),
        Ok(Ingested::Threaded(n)) => format!("threaded onto {n}"),
        Ok(Ingested::Ignored { rule }) => format!("ignored: {rule}"),
        Ok(Ingested::Quarantined { reason, .. }) => format!("still quarantined: {reason}"),
        Err(error) => {
            tracing::error!(%error, "retry of a quarantined message failed");
            return server_error();
        }
    };
    Redirect::to(&format!("/admin/mail?done={}", urlencode(&done))).into_response()
}

super::session_forms!(CsrfForm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_gone_back_to() {
        assert_eq!(local_path("/agent?view=mine"), "/agent?view=mine");
        for evil in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/ /evil.example",
            "",
        ] {
            assert_eq!(local_path(evil), "/", "{evil:?}");
        }
        assert_eq!(local("/portal/tickets/x", false), "/portal/tickets/x");
        assert_eq!(local("/portal", true), "/agent", "staff go to the console");
        assert_eq!(local("/\t/evil.example", true), "/agent");
    }
}
