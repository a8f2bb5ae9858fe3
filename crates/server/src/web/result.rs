//! `/r/{token}`: the page behind the signed link in a result or survey message. Its holder
//! confirms or rejects the result, appeals within the window, or answers the survey; the
//! token reaches that one ticket and nothing else (see [`crate::notify::links`]).

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::Status;
use closedloop_store::LinkView;
use serde::Deserialize;

use super::i18n::Tr;
use super::{csrf_ok, csrf_token, forbidden, notice, page, server_error};
use crate::AppState;
use crate::http::closing::{LinkBody, LinkOutcome, act_on_link};
use crate::notify::links::{LinkError, Purpose};
use crate::rate_limit::{Public, Throttled};

#[derive(Template)]
#[template(path = "result.html")]
struct ResultPage {
    tr: Tr,
    csrf: String,
    token: String,
    number: String,
    title: String,
    status: String,
    status_label: String,
    result: String,
    error: Option<String>,
    can_confirm: bool,
    can_appeal: bool,
    can_survey: bool,
    appeal_label: String,
}

#[derive(Template)]
#[template(path = "nps.html")]
struct NpsPage {
    tr: Tr,
    csrf: String,
    token: String,
    answered: bool,
    error: Option<String>,
}

/// The NPS question's page (its token names the question, not a ticket).
async fn nps_page(
    state: &AppState,
    tr: Tr,
    status: StatusCode,
    csrf: String,
    token: String,
    id: i64,
    error: Option<String>,
) -> Response {
    match state.store.nps_answered(id).await {
        Ok(answered) => page(
            status,
            &NpsPage {
                tr,
                csrf,
                token,
                answered,
                error,
            },
        ),
        Err(error) => {
            tracing::error!(error = ?error, "cannot read an NPS question");
            server_error()
        }
    }
}

fn link_refused(tr: &Tr, e: LinkError) -> Response {
    match e {
        LinkError::Expired(_) => notice(
            StatusCode::GONE,
            tr.t("result.expired"),
            tr.t("result.expired_text"),
        ),
        LinkError::Malformed | LinkError::BadSignature => notice(
            StatusCode::FORBIDDEN,
            tr.t("result.invalid"),
            tr.t("result.invalid_text"),
        ),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the page's parts, each from the handler"
)]
fn render(
    state: &AppState,
    tr: Tr,
    status: StatusCode,
    csrf: String,
    token: String,
    purpose: Purpose,
    view: LinkView,
    error: Option<String>,
) -> Response {
    let LinkView {
        ticket,
        result,
        survey_answered: survey,
    } = view;
    let window = chrono::Duration::days(state.config.closing.appeal_days);
    let appeal_until = ticket.resolved_at.map(|r| r + window);
    let now = state.clock.now();
    let p = ResultPage {
        tr,
        csrf,
        token,
        number: ticket.number.as_str().to_owned(),
        status_label: tr.of("status", ticket.status.as_str()),
        status: ticket.status.as_str().to_owned(),
        title: ticket.title,
        result,
        error,
        can_confirm: purpose == Purpose::Result && ticket.status == Status::Resolved,
        can_appeal: purpose == Purpose::Result
            && matches!(ticket.status, Status::Resolved | Status::Closed)
            && appeal_until.is_some_and(|u| now <= u),
        can_survey: !survey && ticket.resolved_at.or(ticket.closed_at).is_some(),
        appeal_label: tr.fill(
            "result.appeal_until",
            &[(
                "until",
                &appeal_until.map(|u| tr.when(u)).unwrap_or_default(),
            )],
        ),
    };
    page(status, &p)
}

pub async fn show(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    tr: Tr,
) -> Response {
    let (ticket_id, purpose) = match state.links.verify(&token, state.clock.now()) {
        Ok(v) => v,
        Err(e) => return link_refused(&tr, e),
    };
    if purpose == Purpose::Nps {
        let (jar, csrf) = csrf_token(jar);
        let res = nps_page(&state, tr, StatusCode::OK, csrf, token, ticket_id, None).await;
        return (jar, res).into_response();
    }
    let view = match state.store.link_view(ticket_id).await {
        Ok(v) => v,
        Err(error) => {
            tracing::error!(error = ?error, "cannot read a linked ticket");
            return server_error();
        }
    };
    let (jar, csrf) = csrf_token(jar);
    let res = render(&state, tr, StatusCode::OK, csrf, token, purpose, view, None);
    (jar, res).into_response()
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    reason: String,
    stars: Option<u8>,
    #[serde(default)]
    comment: String,
}

pub async fn act(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if !csrf_ok(&jar, &form.csrf) {
        return forbidden();
    }
    let (ticket_id, purpose) = match state.links.verify(&token, state.clock.now()) {
        Ok(v) => v,
        Err(e) => return link_refused(&tr, e),
    };
    let body = match form.action.as_str() {
        "confirm" => LinkBody::Confirm,
        "reject" => LinkBody::Reject {
            reason: form.reason,
        },
        "appeal" => LinkBody::Appeal {
            reason: form.reason,
        },
        "survey" => LinkBody::Survey {
            stars: form.stars.unwrap_or(0),
            comment: Some(form.comment).filter(|c| !c.trim().is_empty()),
        },
        "nps" => LinkBody::Nps {
            score: form.stars.unwrap_or(11),
            comment: Some(form.comment).filter(|c| !c.trim().is_empty()),
        },
        _ => return forbidden(),
    };
    match act_on_link(&state, &token, body).await {
        Ok(LinkOutcome::Nps) => notice(
            StatusCode::OK,
            tr.t("result.thanks"),
            tr.t("result.have_answer"),
        ),
        Ok(LinkOutcome::Ticket(t)) => notice(
            StatusCode::OK,
            tr.t("result.thanks"),
            &format!(
                "{}: {} ({})",
                t.number.as_str(),
                tr.of("status", t.status.as_str()),
                t.status.as_str()
            ),
        ),
        Err(e) if purpose == Purpose::Nps => {
            nps_page(
                &state,
                tr,
                e.status,
                form.csrf,
                token,
                ticket_id,
                Some(e.message),
            )
            .await
        }
        Err(e) => {
            let Ok(view) = state.store.link_view(ticket_id).await else {
                return server_error();
            };
            render(
                &state,
                tr,
                e.status,
                form.csrf,
                token,
                purpose,
                view,
                Some(e.message),
            )
        }
    }
}
