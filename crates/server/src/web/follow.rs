//! `/t/{token}`: one ticket as its requester sees it (public entries only), a reply form, and
//! that ticket's attachments. The token is the only credential, and reaches nothing else.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::TextField;
use closedloop_store::{StoreError, Ticket, TimelineEntry};
use serde::Deserialize;

use super::i18n::Tr;
use super::{
    csrf_ok, csrf_token, forbidden, not_found, page, server_error, token_hash, well_formed,
};
use crate::AppState;
use crate::rate_limit::{Public, Throttled};

struct EntryView {
    at: String,
    kind: String,
    actor: Option<String>,
    body: Option<String>,
    change: Option<String>,
}

struct AttachmentView {
    id: i64,
    filename: String,
    size: i64,
}

#[derive(Template)]
#[template(path = "follow.html")]
struct FollowPage {
    tr: Tr,
    here: String,
    csrf: String,
    token: String,
    number: String,
    status: String,
    status_label: String,
    title: String,
    entries: Vec<EntryView>,
    attachments: Vec<AttachmentView>,
    error: Option<String>,
    reply: String,
}

fn view(tr: &Tr, e: TimelineEntry) -> EntryView {
    let change = e.field.as_ref().map(|f| {
        let label = |v: Option<&str>| match v {
            Some(v) if f == "status" => tr.of("status", v),
            Some(v) => v.to_owned(),
            None => "—".to_owned(),
        };
        format!(
            "{f}: {} → {}",
            label(e.old_value.as_deref()),
            label(e.new_value.as_deref())
        )
    });
    EntryView {
        at: tr.when(e.created_at),
        kind: tr.of("follow", e.kind.as_str()),
        actor: e.actor_name,
        body: e.body,
        change,
    }
}

/// The ticket behind a token; `None` for a malformed or unknown one.
async fn lookup(state: &AppState, token: &str) -> Result<Option<Ticket>, Response> {
    if !well_formed(token) {
        return Ok(None);
    }
    state
        .store
        .ticket_by_link(&token_hash(token))
        .await
        .map_err(|error| {
            tracing::error!(error = ?error, "cannot look up a follow link");
            server_error()
        })
}

#[allow(
    clippy::too_many_arguments,
    reason = "the page's parts, each from the handler"
)]
async fn follow_page(
    state: &AppState,
    tr: Tr,
    status: StatusCode,
    csrf: String,
    token: String,
    ticket: Ticket,
    error: Option<String>,
    reply: String,
) -> Response {
    let (entries, files) = match (
        state.store.public_timeline(ticket.id).await,
        state.store.attachments(ticket.id).await,
    ) {
        (Ok(e), Ok(f)) => (e, f),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(error = ?error, "cannot read a followed ticket");
            return server_error();
        }
    };
    let p = FollowPage {
        tr,
        here: format!("/t/{token}"),
        csrf,
        token,
        number: ticket.number.as_str().to_owned(),
        status_label: tr.of("status", ticket.status.as_str()),
        status: ticket.status.as_str().to_owned(),
        title: ticket.title,
        entries: entries.into_iter().map(|e| view(&tr, e)).collect(),
        attachments: files
            .into_iter()
            .map(|a| AttachmentView {
                id: a.id,
                filename: a.filename,
                size: a.size,
            })
            .collect(),
        error,
        reply,
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
    let ticket = match lookup(&state, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(res) => return res,
    };
    let (jar, csrf) = csrf_token(jar);
    let res = follow_page(
        &state,
        tr,
        StatusCode::OK,
        csrf,
        token,
        ticket,
        None,
        String::new(),
    )
    .await;
    (jar, res).into_response()
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

pub async fn reply(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<ReplyForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if !csrf_ok(&jar, &form.csrf) {
        return forbidden();
    }
    let ticket = match lookup(&state, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(res) => return res,
    };
    let body = match TextField::parse("body", &form.body, 5000) {
        Ok(b) => b,
        Err(e) => {
            let msg = tr.fill("follow.reply_invalid", &[("reason", &e.message)]);
            return follow_page(
                &state,
                tr,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.csrf,
                token,
                ticket,
                Some(msg),
                form.body,
            )
            .await;
        }
    };
    match state.store.reply_by_link(ticket.id, body.as_str()).await {
        Ok(_) => Redirect::to(&format!("/t/{token}")).into_response(),
        Err(StoreError::Invalid(e)) => {
            let msg = tr.fill("follow.cannot_reply", &[("reason", &e.message)]);
            follow_page(
                &state,
                tr,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.csrf,
                token,
                ticket,
                Some(msg),
                form.body,
            )
            .await
        }
        Err(error) => {
            tracing::error!(error = ?error, "cannot add a reply through a follow link");
            server_error()
        }
    }
}

/// An attachment of the followed ticket only.
pub async fn attachment(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    Path((token, id)): Path<(String, i64)>,
) -> Response {
    let ticket = match lookup(&state, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(res) => return res,
    };
    match state.store.attachments(ticket.id).await {
        Ok(list) => match list.into_iter().find(|a| a.id == id) {
            Some(a) => crate::attachments::serve(&state.config.attachments_dir(), &a).await,
            None => not_found(),
        },
        Err(error) => {
            tracing::error!(error = ?error, "cannot read attachments");
            server_error()
        }
    }
}
