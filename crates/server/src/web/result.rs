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

use super::{csrf_ok, csrf_token, forbidden, notice, page, server_error};
use crate::AppState;
use crate::http::closing::{LinkBody, LinkOutcome, act_on_link};
use crate::notify::links::{LinkError, Purpose};
use crate::rate_limit::{Public, Throttled};

#[derive(Template)]
#[template(path = "result.html")]
struct ResultPage {
    csrf: String,
    token: String,
    number: String,
    title: String,
    status: String,
    result: String,
    error: Option<String>,
    can_confirm: bool,
    can_appeal: bool,
    can_survey: bool,
    appeal_until: String,
}

#[derive(Template)]
#[template(path = "nps.html")]
struct NpsPage {
    csrf: String,
    token: String,
    answered: bool,
    error: Option<String>,
}

/// The NPS question's page (its token names the question, not a ticket).
async fn nps_page(
    state: &AppState,
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

fn link_refused(e: LinkError) -> Response {
    match e {
        LinkError::Expired(_) => notice(
            StatusCode::GONE,
            "链接已过期 / This link has expired",
            "申诉期或问卷已结束；如仍需帮助，请提交新的反馈。/ The appeal period or the survey is over; send new feedback if you still need help.",
        ),
        LinkError::Malformed | LinkError::BadSignature => notice(
            StatusCode::FORBIDDEN,
            "链接无效 / This link is not valid",
            "请使用邮件中的完整链接。/ Use the whole link from your message.",
        ),
    }
}

fn render(
    state: &AppState,
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
        csrf,
        token,
        number: ticket.number.as_str().to_owned(),
        status: ticket.status.as_str().to_owned(),
        title: ticket.title,
        result,
        error,
        can_confirm: purpose == Purpose::Result && ticket.status == Status::Resolved,
        can_appeal: purpose == Purpose::Result
            && matches!(ticket.status, Status::Resolved | Status::Closed)
            && appeal_until.is_some_and(|u| now <= u),
        can_survey: !survey && ticket.resolved_at.or(ticket.closed_at).is_some(),
        appeal_until: appeal_until.map(super::when).unwrap_or_default(),
    };
    page(status, &p)
}

pub async fn show(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> Response {
    let (ticket_id, purpose) = match state.links.verify(&token, state.clock.now()) {
        Ok(v) => v,
        Err(e) => return link_refused(e),
    };
    if purpose == Purpose::Nps {
        let (jar, csrf) = csrf_token(jar);
        let res = nps_page(&state, StatusCode::OK, csrf, token, ticket_id, None).await;
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
    let res = render(&state, StatusCode::OK, csrf, token, purpose, view, None);
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
        Err(e) => return link_refused(e),
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
            "谢谢 / Thank you",
            "已收到您的回答。/ We have your answer.",
        ),
        Ok(LinkOutcome::Ticket(t)) => notice(
            StatusCode::OK,
            "谢谢 / Thank you",
            &format!(
                "{} 现在的状态 / is now: {}",
                t.number.as_str(),
                t.status.as_str()
            ),
        ),
        Err(e) if purpose == Purpose::Nps => {
            nps_page(
                &state,
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
