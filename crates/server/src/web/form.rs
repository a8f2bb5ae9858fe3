//! `GET /feedback` renders the form; `POST /feedback` (multipart) registers the ticket.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::{Category, Channel, Description, TextField};
use closedloop_store::{NewAttachment, NewTicket};

use super::i18n::Tr;
use super::{
    anonymous_origin, csrf_ok, csrf_token, forbidden, notice, page, register, server_error,
};
use crate::AppState;
use crate::attachments::{self, MAX_FILES};
use crate::http::valid_email;
use crate::rate_limit::{Public, Throttled};
use closedloop_store::DeflectionEvent;

/// What the person typed, kept to show again when something is wrong.
#[derive(Debug, Default, Clone)]
pub struct Answers {
    pub description: String,
    pub occurred: String,
    pub steps: String,
    pub expected: String,
    pub order_number: String,
    pub category: String,
    pub email: String,
    /// This visit's id, for the help centre's suggestions.
    pub visit: String,
}

/// Messages by field, shown next to it.
#[derive(Debug, Default)]
pub struct Errors(Vec<(&'static str, String)>);

impl Errors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
    fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field, message.into()));
        }
    }
}

#[derive(Template)]
#[template(path = "feedback.html")]
struct FeedbackPage {
    tr: Tr,
    here: String,
    csrf: String,
    answers: Answers,
    errors: Errors,
    general: Option<String>,
    /// (code, label)
    categories: Vec<(String, String)>,
    evidence_hint: String,
}

#[derive(Template)]
#[template(path = "thanks.html")]
struct ThanksPage {
    tr: Tr,
    number: String,
    follow: String,
}

struct Upload {
    filename: String,
    bytes: Vec<u8>,
    too_big: bool,
}

fn size_label(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

async fn categories(state: &AppState, tr: &Tr) -> Vec<(String, String)> {
    match state.store.list_categories().await {
        Ok(list) => list
            .into_iter()
            .map(|c| (c.code, if tr.is_zh() { c.name_zh } else { c.name }))
            .collect(),
        Err(error) => {
            tracing::error!(%error, "cannot list categories for the form");
            Vec::new()
        }
    }
}

async fn form_page(
    state: &AppState,
    tr: Tr,
    status: StatusCode,
    csrf: String,
    answers: Answers,
    errors: Errors,
    general: Option<String>,
) -> Response {
    let p = FeedbackPage {
        tr,
        here: "/feedback".into(),
        csrf,
        answers,
        errors,
        general,
        categories: categories(state, &tr).await,
        evidence_hint: tr.fill(
            "form.evidence_hint",
            &[
                ("count", &MAX_FILES.to_string()),
                ("size", &size_label(state.config.max_attachment_bytes)),
            ],
        ),
    };
    page(status, &p)
}

pub async fn show(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
) -> Response {
    let (jar, csrf) = csrf_token(jar);
    let res = form_page(
        &state,
        tr,
        StatusCode::OK,
        csrf,
        Answers {
            visit: super::help::new_visit(),
            ..Answers::default()
        },
        Errors::default(),
        None,
    )
    .await;
    (jar, res).into_response()
}

fn too_large(state: &AppState, tr: &Tr) -> Response {
    notice(
        StatusCode::PAYLOAD_TOO_LARGE,
        tr.t("form.too_large"),
        &tr.fill(
            "form.too_large_text",
            &[
                ("size", &size_label(state.config.max_attachment_bytes)),
                ("count", &MAX_FILES.to_string()),
            ],
        ),
    )
}

#[expect(
    clippy::too_many_lines,
    reason = "reads the form, checks it and registers the ticket in order"
)]
pub async fn submit(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    tr: Tr,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Ok(mut multipart) = multipart else {
        return notice(
            StatusCode::BAD_REQUEST,
            tr.t("form.cannot_read"),
            tr.t("form.cannot_read_text"),
        );
    };
    let max = state.config.max_attachment_bytes;
    let mut answers = Answers::default();
    let mut csrf = String::new();
    let mut uploads: Vec<Upload> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(&state, &tr),
            Err(_) => return forbidden(),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "evidence" {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let mut field = field;
            let mut up = Upload {
                filename,
                bytes: Vec::new(),
                too_big: false,
            };
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if up.too_big {
                            continue;
                        }
                        if up.bytes.len() + chunk.len() > max {
                            up.too_big = true;
                            up.bytes = Vec::new();
                        } else {
                            up.bytes.extend_from_slice(&chunk);
                        }
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return too_large(&state, &tr);
                    }
                    Err(_) => return forbidden(),
                }
            }
            // A browser sends an empty part when no file was chosen.
            if !(up.filename.is_empty() && up.bytes.is_empty() && !up.too_big) {
                uploads.push(up);
            }
            continue;
        }
        let text = match field.text().await {
            Ok(t) => t,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(&state, &tr),
            Err(_) => return forbidden(),
        };
        match name.as_str() {
            "csrf" => csrf = text,
            "description" => answers.description = text,
            "occurred" => answers.occurred = text,
            "steps" => answers.steps = text,
            "expected" => answers.expected = text,
            "order_number" => answers.order_number = text,
            "category" => answers.category = text,
            "email" => answers.email = text.trim().to_owned(),
            "visit" => answers.visit = text.trim().chars().take(64).collect(),
            _ => {}
        }
    }
    if !csrf_ok(&jar, &csrf) {
        return forbidden();
    }

    let mut errors = Errors::default();
    let description = Description::parse(&answers.description);
    if let Err(e) = &description {
        let msg = if answers.description.trim().is_empty() {
            tr.t("form.describe").to_owned()
        } else {
            tr.fill("form.description_invalid", &[("reason", &e.message)])
        };
        errors.add("description", msg);
    }
    let mut optional =
        |field: &'static str, value: &str, max: usize| match TextField::parse_optional(
            field,
            Some(value),
            max,
        ) {
            Ok(v) => v.map(TextField::into_string),
            Err(e) => {
                errors.add(field, tr.fill("form.not_valid", &[("reason", &e.message)]));
                None
            }
        };
    let occurred = optional("occurred", &answers.occurred, 100);
    let steps = optional("steps", &answers.steps, 4000);
    let expected = optional("expected", &answers.expected, 2000);
    let order_number = optional("order_number", &answers.order_number, 64);
    let known = categories(&state, &tr).await;
    let category = if answers.category.is_empty() {
        None
    } else if known.iter().any(|(c, _)| *c == answers.category) {
        Category::parse("category", &answers.category).ok()
    } else {
        errors.add("category", tr.t("form.choose_category"));
        None
    };
    let email = (!answers.email.is_empty()).then(|| answers.email.clone());
    if email.as_deref().is_some_and(|e| !valid_email(e)) {
        errors.add("email", tr.t("form.bad_email"));
    }
    let mut files = Vec::new();
    if uploads.len() > MAX_FILES {
        errors.add(
            "evidence",
            tr.fill("form.too_many_files", &[("count", &MAX_FILES.to_string())]),
        );
    }
    for up in &uploads {
        let shown = attachments::sanitise_filename(&up.filename);
        if up.too_big {
            errors.add(
                "evidence",
                tr.fill(
                    "form.file_too_large",
                    &[("name", &shown), ("size", &size_label(max))],
                ),
            );
        } else if let Some(kind) = attachments::sniff(&up.bytes) {
            files.push((up, kind, shown));
        } else {
            errors.add("evidence", tr.fill("form.file_type", &[("name", &shown)]));
        }
    }
    let combined = description.as_ref().ok().and_then(|d| {
        let mut text = d.as_str().to_owned();
        for (label, value) in [
            ("发生时间 / When it happened", &occurred),
            ("重现步骤 / Steps to reproduce", &steps),
            ("期望结果 / Expected result", &expected),
            ("订单号 / Order number", &order_number),
        ] {
            if let Some(v) = value {
                text.push_str(&format!("\n\n【{label}】\n{v}"));
            }
        }
        Description::parse(&text).ok()
    });
    let Some(description) = combined.filter(|_| errors.0.is_empty()) else {
        if errors.0.is_empty() {
            errors.add("description", tr.t("form.too_long"));
        }
        let general = (!uploads.is_empty()).then(|| tr.t("form.correct").to_owned());
        return form_page(
            &state,
            tr,
            StatusCode::UNPROCESSABLE_ENTITY,
            csrf,
            answers,
            errors,
            general,
        )
        .await;
    };

    let dir = state.config.attachments_dir();
    let mut stored = Vec::new();
    for (up, kind, filename) in files {
        let sha256 = attachments::digest(&up.bytes);
        if let Err(error) = attachments::save(&dir, &sha256, &up.bytes).await {
            tracing::error!(%error, dir = %dir.display(), "cannot store an attachment");
            return server_error();
        }
        stored.push(NewAttachment {
            sha256,
            size: i64::try_from(up.bytes.len()).unwrap_or(i64::MAX),
            content_type: kind.to_owned(),
            filename,
        });
    }
    let anonymous = email.is_none();
    let (requester_ip, requester_user_agent) = anonymous_origin(anonymous, peer, &headers);
    let new = NewTicket {
        order_number,
        expected_resolution: expected,
        category,
        requester_ip,
        requester_user_agent,
        ..NewTicket::new(Channel::Web, None, description)
    };
    let (ticket, token) = match register(&state, new, email, stored).await {
        Ok(t) => t,
        Err(error) => {
            tracing::error!(error = ?error, "cannot register a web-form ticket");
            return server_error();
        }
    };
    tracing::info!(ticket = %ticket.number, anonymous, "web form ticket");
    if !answers.visit.is_empty()
        && let Err(error) = state
            .store
            .record_deflection(&answers.visit, DeflectionEvent::Submitted, None)
            .await
    {
        tracing::debug!(%error, "form sent: not recorded for self-service");
    }
    page(
        StatusCode::OK,
        &ThanksPage {
            tr,
            number: ticket.number.as_str().to_owned(),
            follow: format!("/t/{token}"),
        },
    )
}
