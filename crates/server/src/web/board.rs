//! The kanban board: open tickets in a column per status, or a lane per department for
//! supervisors; a card dragged to another column makes the move that leads there, if the rules
//! allow it, and a refused move says why. Each card also has a plain form with its moves, so
//! the board works from the keyboard and without script. Live updates of the inbox are here
//! too: a small JSON count of new tickets the inbox polls.

use askama::Template;
use axum::Form;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::lifecycle::action_between;
use closedloop_domain::{Role, Status, TicketNumber};
use closedloop_store::{Principal, Ticket, TicketFilter};
use serde::Deserialize;
use serde_json::json;

use super::agent::{apply_view, move_without_content, moves};
use super::i18n::Tr;
use super::staff::{session_csrf_ok, staff};
use super::{page, refused};
use crate::AppState;
use crate::error::ApiError;

/// The columns, in the order work flows.
const COLUMNS: &[Status] = &[
    Status::Received,
    Status::Accepted,
    Status::InProgress,
    Status::WaitingOnUser,
    Status::SolutionProposed,
    Status::Resolved,
    Status::Reopened,
    Status::Appeal,
    Status::Closed,
];
/// Cards a column shows (newest first); the column says how many more there are.
const PER_COLUMN: u32 = 40;

struct Card {
    number: String,
    title: String,
    priority: String,
    due: String,
    due_class: &'static str,
    moves: Vec<(&'static str, String)>,
}

struct Column {
    status: &'static str,
    label: String,
    cards: Vec<Card>,
    more: bool,
}

struct Lane {
    department: String,
    columns: Vec<Column>,
}

#[derive(Template)]
#[template(path = "agent_board.html")]
struct BoardPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    by_department: bool,
    may_group: bool,
    lanes: Vec<Lane>,
    flash: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct BoardQuery {
    group: Option<String>,
    moved: Option<String>,
    refused: Option<String>,
    reason: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<BoardQuery>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/board").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let may_group = who.role >= Role::Supervisor;
    let by_department = may_group && q.group.as_deref() == Some("department");
    let now = state.clock.now();
    let mut tickets: Vec<(Status, Vec<Ticket>, bool)> = Vec::new();
    for status in COLUMNS {
        let f = TicketFilter {
            status: vec![*status],
            limit: PER_COLUMN,
            ..TicketFilter::default()
        };
        match state.store.list_tickets(&who, &f).await {
            Ok(p) => tickets.push((*status, p.items, p.next_cursor.is_some())),
            Err(e) => return refused(e),
        }
    }
    let card = |t: &Ticket| {
        let due = t.first_response_due_at.or(t.resolution_due_at);
        Card {
            number: t.number.as_str().to_owned(),
            title: t.title.clone(),
            priority: t.priority.as_str().to_owned(),
            due: due.map(|d| tr.when(d)).unwrap_or_default(),
            due_class: if t.status.is_open() {
                super::agent::due_class(due, now)
            } else {
                ""
            },
            moves: moves(t.status, who.role)
                .into_iter()
                .map(|a| (a.as_str(), tr.of("action", a.as_str())))
                .collect(),
        }
    };
    let mut departments: Vec<String> = Vec::new();
    if by_department {
        for (_, list, _) in &tickets {
            for t in list {
                let d = t.department.clone().unwrap_or_default();
                if !departments.contains(&d) {
                    departments.push(d);
                }
            }
        }
        departments.sort();
    } else {
        departments.push(String::new());
    }
    let lanes = departments
        .into_iter()
        .map(|d| Lane {
            columns: tickets
                .iter()
                .map(|(status, list, more)| Column {
                    status: status.as_str(),
                    label: tr.of("status", status.as_str()),
                    cards: list
                        .iter()
                        .filter(|t| !by_department || t.department.clone().unwrap_or_default() == d)
                        .map(card)
                        .collect(),
                    more: *more && !by_department,
                })
                .collect(),
            department: d,
        })
        .collect();
    let flash = q
        .moved
        .map(|n| format!("{n}: {}", tr.t("ticket.done_moved")));
    let error = q.refused.map(|n| {
        format!(
            "{n}: {}",
            tr.fill(
                "board.refused",
                &[("reason", q.reason.as_deref().unwrap_or(""))]
            )
        )
    });
    let p = BoardPage {
        tr,
        here: if by_department {
            "/agent/board?group=department".into()
        } else {
            "/agent/board".into()
        },
        admin: who.role == Role::Admin,
        name: who.name,
        csrf,
        by_department,
        may_group,
        lanes,
        flash,
        error,
    };
    page(StatusCode::OK, &p)
}

#[derive(Deserialize)]
pub struct DropForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    to: String,
}

fn refusal(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"ok": false, "message": message}))).into_response()
}

/// `POST /agent/board/move` (from the board's script): the move from the card's status to the
/// column's, as JSON — `{"ok": true, "status", "label", "message"}`, or the refusal with the
/// reason and the status code the API would give.
pub async fn drop(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<DropForm>, FormRejection>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/board").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let Ok(Form(form)) = form else {
        return refusal(StatusCode::BAD_REQUEST, "number, to".into());
    };
    if !session_csrf_ok(&csrf, &form.csrf) {
        return refusal(StatusCode::FORBIDDEN, "csrf".into());
    }
    let (Ok(n), Ok(to)) = (
        form.number.parse::<TicketNumber>(),
        form.to.parse::<Status>(),
    ) else {
        return refusal(StatusCode::UNPROCESSABLE_ENTITY, "number, to".into());
    };
    match drop_move(&state, &who, &tr, &n, to).await {
        Ok(t) => Json(json!({
            "ok": true,
            "status": t.status.as_str(),
            "label": tr.of("status", t.status.as_str()),
            "message": tr.fill("board.moved", &[("number", n.as_str()), ("status", &tr.of("status", t.status.as_str()))]),
        }))
        .into_response(),
        Err(e) => refusal(e.status, tr.fill("board.refused", &[("reason", &e.message)])),
    }
}

async fn drop_move(
    state: &AppState,
    who: &Principal,
    tr: &Tr,
    n: &TicketNumber,
    to: Status,
) -> Result<Ticket, ApiError> {
    let t = state.store.get_ticket(who, n).await?;
    let Some(action) = action_between(t.status, to) else {
        let (from, to) = (
            tr.of("status", t.status.as_str()),
            tr.of("status", to.as_str()),
        );
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "illegal_transition",
            tr.fill("board.no_move", &[("from", &from), ("to", &to)]),
        ));
    };
    move_without_content(state, who, n, action, None).await
}

#[derive(Deserialize)]
pub struct LiveQuery {
    view: Option<String>,
    q: Option<String>,
    priority: Option<String>,
    /// Newest creation time the page shows (ms since the epoch).
    since: Option<i64>,
}

/// `GET /agent/live`: how many tickets of a view (with its search and priority filter) arrived
/// after the page was drawn.
pub async fn live(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<LiveQuery>,
) -> Response {
    let (who, _) = match staff(&state, &jar, "/agent").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let Some(since) = q.since.and_then(chrono::DateTime::from_timestamp_millis) else {
        return refusal(StatusCode::UNPROCESSABLE_ENTITY, "since".into());
    };
    let mut f = TicketFilter {
        limit: 100,
        q: q.q.filter(|q| !q.trim().is_empty()),
        priority: q.priority.as_deref().and_then(|p| p.parse().ok()),
        created_from: Some(since + chrono::Duration::milliseconds(1)),
        ..TicketFilter::default()
    };
    apply_view(
        q.view.as_deref().unwrap_or("department"),
        &who,
        state.clock.now(),
        &mut f,
    );
    match state.store.list_tickets(&who, &f).await {
        Ok(p) => {
            Json(json!({"count": p.items.len(), "more": p.next_cursor.is_some()})).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            refusal(e.status, e.message)
        }
    }
}
