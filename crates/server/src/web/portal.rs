//! The customer portal: a signed-in customer's tickets and messages, each ticket's public
//! timeline, replying, confirming or appealing the result and answering the survey. The
//! store's scoping makes every page the customer's own; forms carry the session's CSRF token.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::{Action, Status, TextField, TicketNumber};
use closedloop_store::{Principal, TicketFilter, TransitionRequest};
use serde::Deserialize;

use super::staff::{customer, session_csrf_ok, urlencode};
use super::{forbidden, not_found, page, refused, visible_ticket, when};
use crate::AppState;
use crate::error::ApiError;

struct MessageView {
    id: i64,
    at: String,
    number: String,
    subject: String,
    body: String,
    read: bool,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    name: String,
    csrf: String,
    /// Number, title, status, updated.
    tickets: Vec<(String, String, String, String)>,
    messages: Vec<MessageView>,
}

pub async fn home(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (who, csrf) = match customer(&state, &jar, "/portal").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let filter = TicketFilter {
        limit: 100,
        ..TicketFilter::default()
    };
    let (tickets, messages) = match (
        state.store.list_tickets(&who, &filter).await,
        state.store.customer_messages(who.user_id, 50).await,
    ) {
        (Ok(t), Ok(m)) => (t, m),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let p = PortalPage {
        name: who.name,
        csrf,
        tickets: tickets
            .items
            .into_iter()
            .map(|t| {
                (
                    t.number.as_str().to_owned(),
                    t.title,
                    t.status.as_str().to_owned(),
                    when(t.updated_at),
                )
            })
            .collect(),
        messages: messages
            .into_iter()
            .map(|m| MessageView {
                id: m.id,
                at: when(m.sent_at),
                number: m.ticket_number.as_str().to_owned(),
                subject: m.subject,
                body: m.body,
                read: m.read,
            })
            .collect(),
    };
    page(StatusCode::OK, &p)
}

#[derive(Template)]
#[template(path = "portal_ticket.html")]
struct TicketPage {
    name: String,
    csrf: String,
    number: String,
    title: String,
    status: String,
    /// When, what, text.
    entries: Vec<(String, String, Option<String>)>,
    can_confirm: bool,
    can_appeal: bool,
    can_survey: bool,
    can_reply: bool,
    flash: Option<String>,
    error: Option<String>,
}

async fn ticket_page(
    state: &AppState,
    who: Principal,
    csrf: String,
    n: &TicketNumber,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let t = match visible_ticket(state, &who, n).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    let (timeline, survey) = match (
        state.store.timeline(&who, n).await,
        state.store.survey(&who, n).await,
    ) {
        (Ok(tl), Ok(s)) => (tl, s),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let window = chrono::Duration::days(state.config.closing.appeal_days);
    let in_window = t
        .resolved_at
        .is_some_and(|r| state.clock.now() <= r + window);
    let p = TicketPage {
        name: who.name,
        csrf,
        number: t.number.as_str().to_owned(),
        can_confirm: t.status == Status::Resolved,
        can_appeal: matches!(t.status, Status::Resolved | Status::Closed) && in_window,
        can_survey: survey.is_none() && t.resolved_at.or(t.closed_at).is_some(),
        can_reply: !matches!(t.status, Status::Closed | Status::Duplicate),
        title: t.title,
        status: t.status.as_str().to_owned(),
        entries: timeline
            .into_iter()
            .map(|e| {
                let what = match &e.new_value {
                    Some(v) if e.field.as_deref() == Some("status") => {
                        format!("{} → {v}", e.kind.as_str())
                    }
                    _ => e.kind.as_str().to_owned(),
                };
                (when(e.created_at), what, e.body)
            })
            .collect(),
        flash,
        error,
    };
    page(status, &p)
}

#[derive(Deserialize)]
pub struct TicketQuery {
    done: Option<String>,
}

pub async fn ticket(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(number): Path<String>,
    Query(q): Query<TicketQuery>,
) -> Response {
    let Ok(n) = number.parse::<TicketNumber>() else {
        return not_found();
    };
    let (who, csrf) = match customer(&state, &jar, &format!("/portal/tickets/{n}")).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    ticket_page(&state, who, csrf, &n, q.done, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    text: String,
    stars: Option<u8>,
}

pub async fn act(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(number): Path<String>,
    form: Result<Form<ActForm>, FormRejection>,
) -> Response {
    let (Ok(n), Ok(Form(form))) = (number.parse::<TicketNumber>(), form) else {
        return forbidden();
    };
    let (who, csrf) = match customer(&state, &jar, &format!("/portal/tickets/{n}")).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if !session_csrf_ok(&csrf, &form.csrf) {
        return forbidden();
    }
    let text = Some(form.text.trim().to_owned()).filter(|t| !t.is_empty());
    let move_with = |action| TransitionRequest {
        action,
        reason: text.clone(),
        duplicate_of: None,
        checklist: Vec::new(),
    };
    let result: Result<&str, ApiError> = match form.action.as_str() {
        "reply" => match TextField::parse("text", &form.text, 5_000) {
            Ok(body) => state
                .store
                .add_entry(&who, &n, true, body.as_str())
                .await
                .map(|_| "sent")
                .map_err(Into::into),
            Err(e) => Err(e.into()),
        },
        "close" => state
            .store
            .transition(&who, &n, move_with(Action::Close))
            .await
            .map(|_| "closed")
            .map_err(Into::into),
        "appeal" => state
            .store
            .transition(&who, &n, move_with(Action::Appeal))
            .await
            .map(|_| "appeal opened")
            .map_err(Into::into),
        "survey" => state
            .store
            .answer_survey(&who, &n, form.stars.unwrap_or(0), text.clone())
            .await
            .map(|_| "thank you for your answer")
            .map_err(Into::into),
        _ => return forbidden(),
    };
    match result {
        Ok(done) => {
            Redirect::to(&format!("/portal/tickets/{n}?done={}", urlencode(done))).into_response()
        }
        Err(e) => ticket_page(&state, who, csrf, &n, None, Some(e.message), e.status).await,
    }
}
