//! The canned responses page: every agent reads the ones they may use; supervisors add and
//! remove those of their departments, admins all of them (the store decides).

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::Role;
use closedloop_store::{CannedResponse, NewCannedResponse, Principal};
use serde::Deserialize;

use super::i18n::Tr;
use super::staff::staff;
use super::{page, refused, session_form};
use crate::AppState;
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "agent_canned.html")]
struct CannedPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    may_edit: bool,
    items: Vec<CannedResponse>,
    departments: Vec<String>,
    error: Option<String>,
    /// What was typed, shown again after a refusal.
    title: String,
    body: String,
}

async fn render(
    state: &AppState,
    who: Principal,
    tr: Tr,
    csrf: String,
    refusal: Option<(ApiError, String, String)>,
) -> Response {
    let (items, departments) = match (
        state.store.canned_responses(&who).await,
        state.store.list_departments().await,
    ) {
        (Ok(i), Ok(d)) => (i, d),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let (status, error, title, body) = match refusal {
        Some((e, t, b)) => (e.status, Some(e.message), t, b),
        None => (StatusCode::OK, None, String::new(), String::new()),
    };
    let p = CannedPage {
        tr,
        here: "/agent/canned".into(),
        admin: who.role == Role::Admin,
        may_edit: who.role >= Role::Supervisor,
        name: who.name,
        csrf,
        items,
        departments: departments.into_iter().map(|d| d.code).collect(),
        error,
        title,
        body,
    };
    page(status, &p)
}

pub async fn list(State(state): State<AppState>, jar: CookieJar, tr: Tr) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/canned").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    render(&state, who, tr, csrf, None).await
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    department: String,
}

pub async fn add(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<AddForm>, FormRejection>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/canned").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let form = match session_form(&csrf, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let result = match form.lang.parse() {
        Ok(lang) => state
            .store
            .add_canned_response(
                &who,
                NewCannedResponse {
                    title: form.title.clone(),
                    lang,
                    body: form.body.clone(),
                    department: Some(form.department.clone()).filter(|d| !d.is_empty()),
                },
            )
            .await
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    match result {
        Ok(_) => Redirect::to("/agent/canned").into_response(),
        Err(e) => render(&state, who, tr, csrf, Some((e, form.title, form.body))).await,
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
}

pub async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(id): Path<i64>,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/canned").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if let Err(res) = session_form(&csrf, form) {
        return res;
    }
    let tr = tr.for_user(&who);
    match state.store.delete_canned_response(&who, id).await {
        Ok(()) => Redirect::to("/agent/canned").into_response(),
        Err(e) => {
            render(
                &state,
                who,
                tr,
                csrf,
                Some((e.into(), String::new(), String::new())),
            )
            .await
        }
    }
}

super::session_forms!(AddForm, DeleteForm);
