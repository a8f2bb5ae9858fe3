//! `/settings`: a signed-in user's language, time zone and, for customers, how they hear from
//! us — the same preferences as `PUT /api/v1/me/preferences`.

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
}

async fn signed_in(state: &AppState, jar: &CookieJar) -> Result<(Principal, String), Response> {
    session(state, jar)
        .await
        .ok_or_else(|| Redirect::to("/login?next=/settings").into_response())
}

fn render(
    who: &Principal,
    tr: Tr,
    csrf: String,
    p: &Preferences,
    saved: bool,
    error: Option<ApiError>,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
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
    };
    page(status, &page_)
}

#[derive(Deserialize)]
pub struct SavedQuery {
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
        Ok(p) => render(&who, tr, csrf, &p, q.saved.is_some(), None),
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
    let (who, csrf) = match signed_in(&state, &jar).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let form = match session_form(&csrf, form) {
        Ok(f) => f,
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
            render(&who, tr, csrf, &wanted, false, Some(e.into()))
        }
    }
}

super::session_forms!(SettingsForm);
