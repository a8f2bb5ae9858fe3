//! The customer portal: a signed-in customer's tickets and messages, each ticket's public
//! timeline, replying with files as evidence, confirming or appealing the result and answering
//! the survey. The store's scoping makes every page the customer's own; forms carry the
//! session's CSRF token.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::{Action, Status, TextField, TicketNumber};
use closedloop_store::{NewAttachment, Principal, TicketFilter, TransitionRequest};
use serde::Deserialize;

use super::i18n::Tr;
use super::staff::{customer, session_csrf_ok};
use super::{forbidden, not_found, page, refused, visible_ticket};
use crate::AppState;
use crate::attachments::{self, MAX_FILES};
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
    tr: Tr,
    here: String,
    name: String,
    csrf: String,
    /// Number, title, status, updated.
    tickets: Vec<(String, String, String, String)>,
    messages: Vec<MessageView>,
}

pub async fn home(State(state): State<AppState>, jar: CookieJar, tr: Tr) -> Response {
    let (who, csrf) = match customer(&state, &jar, "/portal").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
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
        tr,
        here: "/portal".into(),
        name: who.name,
        csrf,
        tickets: tickets
            .items
            .into_iter()
            .map(|t| {
                (
                    t.number.as_str().to_owned(),
                    t.title,
                    tr.of("status", t.status.as_str()),
                    tr.when(t.updated_at),
                )
            })
            .collect(),
        messages: messages
            .into_iter()
            .map(|m| MessageView {
                id: m.id,
                at: tr.when(m.sent_at),
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
    tr: Tr,
    here: String,
    name: String,
    csrf: String,
    number: String,
    title: String,
    status: String,
    status_label: String,
    /// Names of the ticket's files.
    files: Vec<String>,
    /// When, what, text.
    entries: Vec<(String, String, Option<String>)>,
    can_confirm: bool,
    can_appeal: bool,
    can_survey: bool,
    can_reply: bool,
    flash: Option<String>,
    error: Option<String>,
}

#[allow(
    clippy::too_many_arguments,
    reason = "the page's parts, each from the handler"
)]
async fn ticket_page(
    state: &AppState,
    who: Principal,
    tr: Tr,
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
    let (timeline, survey, files) = match (
        state.store.timeline(&who, n).await,
        state.store.survey(&who, n).await,
        state.store.attachments(t.id).await,
    ) {
        (Ok(tl), Ok(s), Ok(f)) => (tl, s, f),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return refused(e),
    };
    let window = chrono::Duration::days(state.config.closing.appeal_days);
    let in_window = t
        .resolved_at
        .is_some_and(|r| state.clock.now() <= r + window);
    let p = TicketPage {
        tr,
        here: format!("/portal/tickets/{n}"),
        name: who.name,
        csrf,
        files: files.into_iter().map(|f| f.filename).collect(),
        status_label: tr.of("status", t.status.as_str()),
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
                        format!(
                            "{} → {}",
                            tr.of("entry", e.kind.as_str()),
                            tr.of("status", v)
                        )
                    }
                    _ => tr.of("entry", e.kind.as_str()),
                };
                (tr.when(e.created_at), what, e.body)
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

/// What a change's `done` key says; unknown keys say nothing.
const DONE: &[&str] = &["reply", "closed", "appeal", "survey"];

pub async fn ticket(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
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
    let tr = tr.for_user(&who);
    let flash = q
        .done
        .filter(|d| DONE.contains(&d.as_str()))
        .map(|d| tr.of("portal", &format!("done_{d}")));
    ticket_page(&state, who, tr, csrf, &n, flash, None, StatusCode::OK).await
}

/// A portal form as sent (multipart, so that a reply can bring files).
#[derive(Default)]
struct ActForm {
    csrf: String,
    action: String,
    text: String,
    stars: Option<u8>,
    /// File name and bytes; `None` bytes: larger than allowed.
    files: Vec<(String, Option<Vec<u8>>)>,
}

async fn read_form(mut multipart: Multipart, max: usize) -> Option<ActForm> {
    let mut form = ActForm::default();
    while let Some(field) = multipart.next_field().await.ok()? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let mut field = field;
            let mut bytes = Some(Vec::new());
            while let Some(chunk) = field.chunk().await.ok()? {
                if let Some(b) = &mut bytes {
                    if b.len() + chunk.len() > max {
                        bytes = None;
                    } else {
                        b.extend_from_slice(&chunk);
                    }
                }
            }
            // A browser sends an empty part when no file was chosen.
            if !(filename.is_empty() && bytes.as_ref().is_some_and(Vec::is_empty)) {
                form.files.push((filename, bytes));
            }
            continue;
        }
        let text = field.text().await.ok()?;
        match name.as_str() {
            "csrf" => form.csrf = text,
            "action" => form.action = text,
            "text" => form.text = text,
            "stars" => form.stars = text.trim().parse().ok(),
            _ => {}
        }
    }
    Some(form)
}

/// A file that passed the checks, waiting to be saved.
struct Checked<'a> {
    name: String,
    kind: &'static str,
    bytes: &'a [u8],
}

/// Checks every file (count, size, type by content) before any is kept; the reason for the
/// first one refused.
fn check_files<'a>(
    state: &AppState,
    files: &'a [(String, Option<Vec<u8>>)],
) -> Result<Vec<Checked<'a>>, ApiError> {
    if files.len() > MAX_FILES {
        return Err(ApiError::invalid(
            "files",
            "too_many",
            format!("at most {MAX_FILES} files"),
        ));
    }
    files
        .iter()
        .map(|(name, bytes)| {
            let shown = attachments::sanitise_filename(name);
            let Some(bytes) = bytes else {
                return Err(ApiError::invalid(
                    "files",
                    "too_large",
                    format!(
                        "{shown}: at most {} bytes per file",
                        state.config.max_attachment_bytes
                    ),
                ));
            };
            let Some(kind) = attachments::sniff(bytes) else {
                return Err(ApiError::invalid(
                    "files",
                    "unsupported_type",
                    format!("{shown}: PNG, JPEG, GIF, WebP, PDF or plain text only"),
                ));
            };
            Ok(Checked {
                name: shown,
                kind,
                bytes,
            })
        })
        .collect()
}

/// Saves checked files (by content hash: a file saved twice is one file).
async fn save_files(
    state: &AppState,
    files: Vec<Checked<'_>>,
) -> Result<Vec<NewAttachment>, ApiError> {
    let dir = state.config.attachments_dir();
    let mut stored = Vec::with_capacity(files.len());
    for f in files {
        let sha256 = attachments::digest(f.bytes);
        if let Err(error) = attachments::save(&dir, &sha256, f.bytes).await {
            tracing::error!(%error, "cannot store an attachment");
            return Err(ApiError::internal());
        }
        stored.push(NewAttachment {
            sha256,
            size: i64::try_from(f.bytes.len()).unwrap_or(i64::MAX),
            content_type: f.kind.to_owned(),
            filename: f.name,
        });
    }
    Ok(stored)
}

/// A reply with its files: everything is checked — the text, the files, that the ticket is the
/// customer's and still takes replies — before a file is written.
async fn reply_with_files(
    state: &AppState,
    who: &Principal,
    n: &TicketNumber,
    text: &str,
    files: &[(String, Option<Vec<u8>>)],
) -> Result<(), ApiError> {
    let body = TextField::parse("text", text, 5_000)?;
    let checked = check_files(state, files)?;
    if !checked.is_empty() {
        let t = state.store.get_ticket(who, n).await?;
        if matches!(t.status, Status::Closed | Status::Duplicate) {
            return Err(ApiError::invalid(
                "text",
                "ticket_closed",
                "this ticket is closed; appeal or open a new one",
            ));
        }
    }
    let saved = save_files(state, checked).await?;
    state
        .store
        .add_entry(who, n, true, body.as_str(), &saved)
        .await?;
    Ok(())
}

pub async fn act(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(number): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let (Ok(n), Ok(multipart)) = (number.parse::<TicketNumber>(), multipart) else {
        return forbidden();
    };
    let (who, csrf) = match customer(&state, &jar, &format!("/portal/tickets/{n}")).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let Some(form) = read_form(multipart, state.config.max_attachment_bytes).await else {
        return forbidden();
    };
    if !session_csrf_ok(&csrf, &form.csrf) {
        return forbidden();
    }
    let tr = tr.for_user(&who);
    let text = Some(form.text.trim().to_owned()).filter(|t| !t.is_empty());
    let move_with = |action| TransitionRequest {
        action,
        reason: text.clone(),
        duplicate_of: None,
        checklist: Vec::new(),
    };
    let result: Result<&str, ApiError> = match form.action.as_str() {
        "reply" => reply_with_files(&state, &who, &n, &form.text, &form.files)
            .await
            .map(|()| "reply"),
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
            .map(|_| "appeal")
            .map_err(Into::into),
        "survey" => state
            .store
            .answer_survey(&who, &n, form.stars.unwrap_or(0), text.clone())
            .await
            .map(|_| "survey")
            .map_err(Into::into),
        _ => return forbidden(),
    };
    match result {
        Ok(done) => Redirect::to(&format!("/portal/tickets/{n}?done={done}")).into_response(),
        Err(e) => ticket_page(&state, who, tr, csrf, &n, None, Some(e.message), e.status).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_done_key_has_a_message() {
        let tr = Tr::new(
            closedloop_domain::notice::Lang::Zh,
            chrono_tz::Asia::Shanghai,
        );
        for d in DONE {
            let key = format!("done_{d}");
            assert_ne!(tr.of("portal", &key), key);
        }
    }
}
