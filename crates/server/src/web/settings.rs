//! `/settings`: a signed-in user's language, time zone and, for customers, how they hear from
//! us — the same preferences as `PUT /api/v1/me/preferences`; their password; and, for
//! customers, their data: the download of all of it and the request to erase it.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use closedloop_domain::Role;
use closedloop_store::{Preferences, Principal};
use serde::Deserialize;

use super::i18n::{LANG_COOKIE, Tr};
use super::staff::session;
use super::{page, refused, session_form};
use crate::AppState;
use crate::error::ApiError;

/// Zones offered in the list; any other IANA name may be typed.
const ZONES: &[&str] = &[
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Macau",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
];

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    staff: bool,
    csrf: String,
    lang: String,
    time_zone: String,
    zones: &'static [&'static str],
    email: bool,
    sms: bool,
    phone: String,
    saved: bool,
    error: Option<String>,
    user_id: i64,
    /// Which form the flash or the error is about: `settings`, `password` or `erase`.
    about: &'static str,
    /// For customers with an open erasure request: when it will be done by.
    erasure_due: Option<String>,
}

async fn signed_in(state: &AppState, jar: &CookieJar) -> Result<(Principal, String), Response> {
    session(state, jar)
        .await
        .ok_or_else(|| Redirect::to("/login?next=/settings").into_response())
}

/// What the page says above its forms.
struct Outcome {
    about: &'static str,
    saved: bool,
    error: Option<ApiError>,
}

impl Outcome {
    fn none() -> Self {
        Outcome {
            about: "settings",
            saved: false,
            error: None,
        }
    }
}

/// The signed-in user, their session's CSRF token and the form, if it carries that token;
/// otherwise the sign-in redirect or the refusal page.
async fn signed_form<F: super::SessionForm>(
    state: &AppState,
    jar: &CookieJar,
    form: Result<Form<F>, FormRejection>,
) -> Result<(Principal, String, F), Response> {
    let (who, csrf) = signed_in(state, jar).await?;
    let form = session_form(&csrf, form)?;
    Ok((who, csrf, form))
}

/// The page again, with why the `about` form was refused.
async fn form_refused(
    state: &AppState,
    who: &Principal,
    tr: Tr,
    csrf: String,
    about: &'static str,
    error: ApiError,
) -> Response {
    match state.store.preferences(who.user_id).await {
        Ok(p) => {
            let outcome = Outcome {
                about,
                saved: false,
                error: Some(error),
            };
            render(state, who, tr.for_user(who), csrf, &p, outcome).await
        }
        Err(e) => refused(e),
    }
}

async fn render(
    state: &AppState,
    who: &Principal,
    tr: Tr,
    csrf: String,
    p: &Preferences,
    outcome: Outcome,
) -> Response {
    let Outcome {
        about,
        saved,
        error,
    } = outcome;
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    let erasure_due = if who.role == Role::Customer {
        match state.store.erasure_requests(Some(who.user_id), 1).await {
            Ok(list) => list
                .into_iter()
                .find(|r| r.completed_at.is_none())
                .map(|r| tr.when(r.due_at)),
            Err(e) => return refused(e),
        }
    } else {
        None
    };
    let page_ = SettingsPage {
        tr,
        here: "/settings".into(),
        name: who.name.clone(),
        admin: who.role == Role::Admin,
        staff: who.role.is_staff(),
        csrf,
        lang: p.lang.map(|l| l.as_str().to_owned()).unwrap_or_default(),
        time_zone: p.time_zone.clone().unwrap_or_default(),
        zones: ZONES,
        email: p.email,
        sms: p.sms,
        phone: p.phone.clone().unwrap_or_default(),
        saved,
        error: error.map(|e| match e.field {
            Some(f) => format!("{f}: {}", e.message),
            None => e.message,
        }),
        user_id: who.user_id,
        about,
        erasure_due,
    };
    page(status, &page_)
}

#[derive(Deserialize)]
pub struct SavedQuery {
    /// `1` (the settings), `password` or `erase`: what was just done.
    saved: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> Response {
    let (who, csrf) = match signed_in(&state, &jar).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    match state.store.preferences(who.user_id).await {
        Ok(p) => {
            let about = match q.saved.as_deref() {
                Some("password") => "password",
                Some("erase") => "erase",
                _ => "settings",
            };
            let outcome = Outcome {
                about,
                saved: q.saved.is_some(),
                error: None,
            };
            render(&state, &who, tr, csrf, &p, outcome).await
        }
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    sms: Option<String>,
    #[serde(default)]
    phone: String,
}

pub async fn save(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<SettingsForm>, FormRejection>,
) -> Response {
    let (who, csrf, form) = match signed_form(&state, &jar, form).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let current = match state.store.preferences(who.user_id).await {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    let staff = who.role.is_staff();
    let wanted = Preferences {
        lang: form.lang.parse().ok(),
        time_zone: Some(form.time_zone.trim().to_owned()).filter(|z| !z.is_empty()),
        // Staff are not sent customer notices; their page does not show these.
        email: if staff {
            current.email
        } else {
            form.email.is_some()
        },
        sms: if staff {
            current.sms
        } else {
            form.sms.is_some()
        },
        phone: if staff {
            current.phone.clone()
        } else {
            Some(form.phone.trim().to_owned()).filter(|p| !p.is_empty())
        },
    };
    match state.store.set_preferences(who.user_id, &wanted).await {
        Ok(()) => {
            // The cookie follows the saved choice, so the sign-in page speaks it too.
            let jar = match wanted.lang {
                Some(l) => jar.add(
                    Cookie::build((LANG_COOKIE, l.as_str().to_owned()))
                        .path("/")
                        .http_only(true)
                        .max_age(time::Duration::days(365))
                        .build(),
                ),
                None => jar.remove(Cookie::build(LANG_COOKIE).path("/")),
            };
            (jar, Redirect::to("/settings?saved=1")).into_response()
        }
        Err(e) => {
            let tr = tr.for_user(&who);
            let outcome = Outcome {
                error: Some(e.into()),
                ..Outcome::none()
            };
            render(&state, &who, tr, csrf, &wanted, outcome).await
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn password(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let (who, csrf, form) = match signed_form(&state, &jar, form).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let outcome = crate::http::session::set_password(
        &state,
        &who,
        form.current_password,
        &form.new_password,
        &jar,
    )
    .await;
    match outcome {
        Ok(()) => Redirect::to("/settings?saved=password").into_response(),
        Err(error) => form_refused(&state, &who, tr, csrf, "password", error).await,
    }
}

#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// A customer asks for their data to be erased (the same request as
/// `POST /api/v1/users/{id}/erasure`); they stay signed in until the worker does it.
pub async fn erase(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<EraseForm>, FormRejection>,
) -> Response {
    let (who, csrf, form) = match signed_form(&state, &jar, form).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let result = if form.confirm.is_none() {
        Err(ApiError::invalid(
            "confirm",
            "not_confirmed",
            tr.for_user(&who).t("settings.erase_unconfirmed"),
        ))
    } else {
        let within = chrono::Duration::hours(i64::from(state.config.privacy.erasure_hours));
        state
            .store
            .request_erasure(who.user_id, who.user_id, within)
            .await
            .map_err(ApiError::from)
    };
    match result {
        Ok((request, _)) => {
            tracing::info!(
                user = who.user_id,
                request = request.id,
                "erasure requested"
            );
            Redirect::to("/settings?saved=erase").into_response()
        }
        Err(error) => form_refused(&state, &who, tr, csrf, "erase", error).await,
    }
}

super::session_forms!(SettingsForm, PasswordForm, EraseForm);
