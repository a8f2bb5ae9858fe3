//! The agent's console: the inbox with its saved views, and the ticket workspace (fields,
//! timeline with internal notes set apart, replies and notes, moves, solutions and their
//! approval). Server-rendered, no script; every form carries the session's CSRF token and every
//! read goes through the store's scoping, so a page shows only what its viewer may see.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::lifecycle::{Allowed, RULES};
use closedloop_domain::solution::{Approval, Compensation, SolutionKind};
use closedloop_domain::{Action, Role, Status, TicketNumber};
use closedloop_store::{
    Cursor, EntryKind, NewSolution, Principal, TicketFilter, TimelineEntry, TransitionRequest,
};
use serde::Deserialize;

use super::staff::{session_csrf_ok, staff, urlencode};
use super::{forbidden, not_found, page, refused, visible_ticket, when};
use crate::AppState;
use crate::error::ApiError;

struct Row {
    number: String,
    title: String,
    status: String,
    priority: String,
    department: String,
    assignee: String,
    due: String,
    due_class: &'static str,
}

#[derive(Template)]
#[template(path = "agent_inbox.html")]
struct InboxPage {
    name: String,
    admin: bool,
    csrf: String,
    heading: &'static str,
    view: String,
    q: String,
    q_url: String,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct InboxQuery {
    view: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
}

pub async fn inbox(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<InboxQuery>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let view = query.view.unwrap_or_else(|| "department".into());
    let mut filter = TicketFilter {
        limit: 50,
        q: query.q.clone().filter(|q| !q.trim().is_empty()),
        cursor: query.cursor.as_deref().and_then(Cursor::decode),
        ..TicketFilter::default()
    };
    let open: Vec<Status> = Status::ALL
        .iter()
        .copied()
        .filter(|s| s.is_open())
        .collect();
    let heading = match view.as_str() {
        "mine" => {
            filter.assignee_id = Some(Some(who.user_id));
            filter.status = open;
            "我的工单 / Mine"
        }
        "unassigned" => {
            filter.assignee_id = Some(None);
            filter.status = open;
            "未分派 / Unassigned"
        }
        "waiting" => {
            filter.status = vec![Status::WaitingOnUser];
            "等待用户 / Waiting on user"
        }
        "approvals" => {
            filter.status = vec![Status::SolutionProposed];
            "待审批与待告知 / Solutions proposed"
        }
        "all" => "全部 / Everything I may see",
        _ => {
            filter.status = open;
            "本部门未结工单 / Open in my departments"
        }
    };
    let page_of = match state.store.list_tickets(&who, &filter).await {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    let now = state.clock.now();
    let rows = page_of
        .items
        .into_iter()
        .map(|t| {
            let due = t.first_response_due_at.or(t.resolution_due_at);
            let due_class = match due {
                Some(d) if d < now => "overdue",
                Some(d) if d < now + chrono::Duration::hours(1) => "soon",
                _ => "",
            };
            Row {
                number: t.number.as_str().to_owned(),
                title: t.title,
                status: t.status.as_str().to_owned(),
                priority: t.priority.as_str().to_owned(),
                department: t.department.unwrap_or_default(),
                assignee: t.assignee_name.unwrap_or_default(),
                due: due.map(when).unwrap_or_default(),
                due_class,
            }
        })
        .collect();
    let q = query.q.unwrap_or_default();
    let p = InboxPage {
        admin: who.role == Role::Admin,
        name: who.name,
        csrf,
        heading,
        q_url: urlencode(&q),
        q,
        view,
        rows,
        next: page_of.next_cursor,
    };
    page(StatusCode::OK, &p)
}

struct EntryView {
    at: String,
    kind: String,
    public: bool,
    actor: Option<String>,
    body: Option<String>,
    change: Option<String>,
}

fn entry_view(e: TimelineEntry) -> EntryView {
    let change = e.field.as_ref().map(|f| {
        format!(
            "{f}: {} → {}",
            e.old_value.as_deref().unwrap_or("—"),
            e.new_value.as_deref().unwrap_or("—")
        )
    });
    // The triage verdict is JSON for machines; staff read its reasons on the API.
    let body = if e.kind == EntryKind::Triaged {
        None
    } else {
        e.body
    };
    EntryView {
        at: when(e.created_at),
        kind: e.kind.as_str().to_owned(),
        public: e.public,
        actor: e.actor_name,
        body,
        change,
    }
}

struct PendingView {
    id: i64,
    summary: String,
    reasons: String,
}

#[derive(Template)]
#[template(path = "agent_ticket.html")]
struct TicketPage {
    name: String,
    admin: bool,
    csrf: String,
    number: String,
    title: String,
    status: String,
    priority: String,
    category: String,
    department: String,
    assignee: String,
    requester: String,
    channel: String,
    first_due: String,
    resolution_due: String,
    description: String,
    actions: Vec<(&'static str, &'static str)>,
    pending: Vec<PendingView>,
    can_approve: bool,
    can_propose: bool,
    kinds: Vec<&'static str>,
    entries: Vec<EntryView>,
    flash: Option<String>,
    error: Option<String>,
}

fn label(a: Action) -> &'static str {
    match a {
        Action::Accept => "受理 / Accept",
        Action::Start => "开始处理 / Start",
        Action::RequestInfo => "请用户补充 / Request information",
        Action::Resume => "继续处理 / Resume",
        Action::ProposeSolution => "提出方案 / Propose solution",
        Action::Rework => "退回重做 / Rework",
        Action::Resolve => "解决并告知用户 / Resolve and tell the user",
        Action::Close => "结案 / Close",
        Action::Reopen => "重新打开 / Reopen",
        Action::MarkDuplicate => "标为重复 / Mark duplicate",
        Action::Appeal => "申诉 / Appeal",
        Action::UpholdAppeal => "维持原结果 / Uphold",
        Action::ReviseAppeal => "改判重办 / Revise",
    }
}

/// Moves the viewer's role allows from this status (the rules decide again on submit).
fn moves(status: Status, role: Role) -> Vec<(&'static str, &'static str)> {
    let allowed = |a: Allowed| a.min_staff <= role && role != Role::Customer;
    let mut out: Vec<(&'static str, &'static str)> = RULES
        .iter()
        .filter(|r| r.from.contains(&status) && allowed(r.allowed))
        // Duplicates name their master, solutions their content: both have their own forms.
        .filter(|r| {
            !matches!(
                r.action,
                Action::MarkDuplicate | Action::ProposeSolution | Action::Appeal
            )
        })
        .map(|r| (r.action.as_str(), label(r.action)))
        .collect();
    out.dedup();
    out
}

#[derive(Deserialize)]
pub struct TicketQuery {
    done: Option<String>,
}

async fn ticket_page(
    state: &AppState,
    who: Principal,
    csrf: String,
    number: &TicketNumber,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let t = match visible_ticket(state, &who, number).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    let (timeline, solutions) = match (
        state.store.timeline(&who, number).await,
        state.store.solutions(&who, number).await,
    ) {
        (Ok(tl), Ok(s)) => (tl, s),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let fmt = |d: Option<chrono::DateTime<chrono::Utc>>| d.map(when).unwrap_or_else(|| "—".into());
    let p = TicketPage {
        admin: who.role == Role::Admin,
        name: who.name.clone(),
        csrf,
        number: t.number.as_str().to_owned(),
        actions: moves(t.status, who.role),
        can_approve: who.role >= Role::Supervisor,
        can_propose: t.status == Status::InProgress,
        pending: solutions
            .into_iter()
            .filter(|s| s.approval == Approval::Pending)
            .map(|s| PendingView {
                id: s.id,
                summary: s.summary,
                reasons: s.approval_reasons.join("; "),
            })
            .collect(),
        kinds: SolutionKind::ALL.iter().map(|k| k.as_str()).collect(),
        title: t.title,
        status: t.status.as_str().to_owned(),
        priority: t.priority.as_str().to_owned(),
        category: t
            .category
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        department: t.department.unwrap_or_default(),
        assignee: t.assignee_name.unwrap_or_default(),
        requester: t
            .requester_name
            .unwrap_or_else(|| "匿名 / anonymous".into()),
        channel: t.channel.as_str().to_owned(),
        first_due: fmt(t.first_response_due_at),
        resolution_due: fmt(t.resolution_due_at),
        description: t.description,
        entries: timeline.into_iter().map(entry_view).collect(),
        flash,
        error,
    };
    page(status, &p)
}

fn parse(number: &str) -> Option<TicketNumber> {
    number.parse().ok()
}

pub async fn ticket(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(number): Path<String>,
    Query(q): Query<TicketQuery>,
) -> Response {
    let Some(n) = parse(&number) else {
        return not_found();
    };
    let (who, csrf) = match staff(&state, &jar, &format!("/agent/tickets/{n}")).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    ticket_page(&state, who, csrf, &n, q.done, None, StatusCode::OK).await
}

/// After a change: back to the ticket (a reload does not repeat it), or the page with the
/// reason it was refused.
async fn finish(
    state: &AppState,
    who: Principal,
    csrf: String,
    n: &TicketNumber,
    result: Result<&str, ApiError>,
) -> Response {
    match result {
        Ok(done) => {
            Redirect::to(&format!("/agent/tickets/{n}?done={}", urlencode(done))).into_response()
        }
        Err(e) => {
            let status = e.status;
            ticket_page(state, who, csrf, n, None, Some(e.message), status).await
        }
    }
}

/// A form of the workspace: it carries the session's CSRF token.
trait TicketForm {
    fn csrf(&self) -> &str;
}

/// The ticket, the form and the signed-in staff member (with the session's token, checked
/// against the form's); otherwise the refusal.
async fn accept<F: TicketForm>(
    state: &AppState,
    jar: &CookieJar,
    number: &str,
    form: Result<Form<F>, FormRejection>,
) -> Result<(TicketNumber, F, Principal, String), Response> {
    let (Some(n), Ok(Form(form))) = (parse(number), form) else {
        return Err(forbidden());
    };
    let (who, csrf) = staff(state, jar, &format!("/agent/tickets/{n}")).await?;
    if !session_csrf_ok(&csrf, form.csrf()) {
        return Err(forbidden());
    }
    Ok((n, form, who, csrf))
}

#[derive(Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    kind: String,
}

impl TicketForm for EntryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn add_entry(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(number): Path<String>,
    form: Result<Form<EntryForm>, FormRejection>,
) -> Response {
    let (n, form, who, csrf) = match accept(&state, &jar, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let public = form.kind != "note";
    let result = match closedloop_domain::TextField::parse("body", &form.body, 20_000) {
        Ok(text) => state
            .store
            .add_entry(&who, &n, public, text.as_str())
            .await
            .map(|_| if public { "reply sent" } else { "note added" })
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    finish(&state, who, csrf, &n, result).await
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    /// Shown to the user with the move.
    #[serde(default)]
    reason: String,
}

impl TicketForm for MoveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn move_ticket(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(number): Path<String>,
    form: Result<Form<MoveForm>, FormRejection>,
) -> Response {
    let (n, form, who, csrf) = match accept(&state, &jar, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let result = match form.action.parse::<Action>() {
        Ok(action) => {
            let request = TransitionRequest {
                action,
                reason: Some(form.reason).filter(|r| !r.trim().is_empty()),
                duplicate_of: None,
                checklist: Vec::new(),
            };
            state
                .store
                .transition(&who, &n, request)
                .await
                .map(|t| {
                    state.duplicates.forget(t.id);
                    "moved"
                })
                .map_err(ApiError::from)
        }
        Err(e) => Err(ApiError::from(e)),
    };
    finish(&state, who, csrf, &n, result).await
}

#[derive(Deserialize)]
pub struct SolutionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    compensation_kind: String,
    #[serde(default)]
    amount: String,
}

impl TicketForm for SolutionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn propose(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(number): Path<String>,
    form: Result<Form<SolutionForm>, FormRejection>,
) -> Response {
    let (n, form, who, csrf) = match accept(&state, &jar, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let solution = (|| -> Result<NewSolution, ApiError> {
        let compensation = if form.compensation_kind.is_empty() {
            None
        } else {
            let amount = form.amount.trim().parse::<i64>().map_err(|_| {
                ApiError::invalid("amount", "invalid_number", "a whole number (cents or days)")
            })?;
            Some(Compensation {
                kind: form.compensation_kind.parse()?,
                amount,
            })
        };
        Ok(NewSolution {
            kind: form.kind.parse()?,
            summary: form.summary.clone(),
            compensation,
            instructions: None,
            cause: None,
            improvement: None,
            apology: false,
            departments: Vec::new(),
            expected_by: None,
        })
    })();
    let result = match solution {
        Ok(s) => state
            .store
            .propose_solution(&who, &n, s)
            .await
            .map(|(_, s)| {
                if s.approval == Approval::Pending {
                    "solution waits for approval"
                } else {
                    "solution proposed"
                }
            })
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    finish(&state, who, csrf, &n, result).await
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

impl TicketForm for DecisionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn decide(
    State(state): State<AppState>,
    jar: CookieJar,
    Path((number, id)): Path<(String, i64)>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    let (n, form, who, csrf) = match accept(&state, &jar, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let approve = form.decision == "approve";
    let note = Some(form.note).filter(|n| !n.trim().is_empty());
    let result = state
        .store
        .decide_solution(&who, &n, id, approve, note)
        .await
        .map(|_| {
            if approve {
                "approved: the user is told"
            } else {
                "rejected"
            }
        })
        .map_err(ApiError::from);
    finish(&state, who, csrf, &n, result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_offered_only_the_moves_their_role_allows() {
        let agent: Vec<&str> = moves(Status::Received, Role::Agent)
            .iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(agent, vec!["accept"]);
        let appeal: Vec<&str> = moves(Status::Appeal, Role::Agent)
            .iter()
            .map(|m| m.0)
            .collect();
        assert!(appeal.is_empty(), "{appeal:?}");
        let sup: Vec<&str> = moves(Status::Appeal, Role::Supervisor)
            .iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(sup, vec!["uphold_appeal", "revise_appeal"]);
    }
}
