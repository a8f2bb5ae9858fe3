//! The agent's console: the inbox with its saved views, filters and bulk actions, and the
//! ticket workspace (fields, SLA deadlines, triage verdict, timeline with internal notes set
//! apart, replies with canned responses, moves, solutions and their approval, duplicate
//! candidates with one-click merge, the requester's history, similar resolved tickets).
//! Server-rendered and usable without script (`console.js` only adds live updates, countdowns
//! and the canned-response picker); every form carries the session's CSRF token and every read
//! goes through the store's scoping, so a page shows only what its viewer may see.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::lifecycle::{Allowed, RULES};
use closedloop_domain::solution::{Approval, Compensation, CompensationKind, SolutionKind};
use closedloop_domain::{Action, Priority, Role, Status, TicketNumber};
use closedloop_store::{
    Cursor, EntryKind, NewSolution, Principal, TicketFilter, TicketPatch, TimelineEntry,
    TransitionRequest,
};
use serde::Deserialize;

use super::i18n::Tr;
use super::staff::{session_csrf_ok, staff, urlencode};
use super::{SessionForm, forbidden, not_found, page, refused, session_form, visible_ticket};
use crate::AppState;
use crate::error::ApiError;

struct Row {
    number: String,
    title: String,
    status: String,
    status_label: String,
    priority: String,
    department: String,
    assignee: String,
    due: String,
    due_iso: String,
    due_class: &'static str,
}

#[derive(Template)]
#[template(path = "agent_inbox.html")]
struct InboxPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    heading: String,
    view: String,
    q: String,
    priority: String,
    sort: String,
    /// The same words in the full-text search, which also reads replies and notes.
    full_search: Option<String>,
    priorities: Vec<(&'static str, String)>,
    assignees: Vec<(String, String)>,
    rows: Vec<Row>,
    /// This page's address, for the "more" link and coming back after a bulk action.
    more: String,
    back: String,
    next: Option<String>,
    /// Newest ticket time shown (ms), for the live check.
    since: i64,
    flash: Option<String>,
    failures: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    view: Option<String>,
    q: Option<String>,
    priority: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
    /// Set by a bulk action: tickets it changed, of how many.
    changed: Option<usize>,
    of: Option<usize>,
    /// Set by a bulk action: "number: reason" lines, newline-separated.
    failed: Option<String>,
}

/// The saved views: what each filters on, and its heading's catalogue key.
pub(super) fn apply_view(
    view: &str,
    who: &Principal,
    now: chrono::DateTime<chrono::Utc>,
    filter: &mut TicketFilter,
) -> &'static str {
    match view {
        "mine" => {
            filter.assignee_id = Some(Some(who.user_id));
            filter.open = true;
            "inbox.mine"
        }
        "unassigned" => {
            filter.assignee_id = Some(None);
            filter.open = true;
            "inbox.unassigned"
        }
        "waiting" => {
            filter.status = vec![Status::WaitingOnUser];
            "inbox.waiting"
        }
        "approvals" => {
            filter.status = vec![Status::SolutionProposed];
            "inbox.approvals"
        }
        "overdue" => {
            filter.open = true;
            filter.due_before = Some(now);
            "inbox.overdue"
        }
        "due_soon" => {
            filter.open = true;
            filter.due_before = Some(now + chrono::Duration::hours(DUE_SOON_HOURS));
            "inbox.due_soon"
        }
        "all" => "inbox.all",
        _ => {
            filter.open = true;
            "inbox.department"
        }
    }
}

/// "Due soon" and the amber colour: a deadline within this many hours.
const DUE_SOON_HOURS: i64 = 4;

pub async fn inbox(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(query): Query<InboxQuery>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let view = query.view.clone().unwrap_or_else(|| "department".into());
    let now = state.clock.now();
    let priority = query
        .priority
        .as_deref()
        .and_then(|p| p.parse::<Priority>().ok());
    let by_due = query.sort.as_deref() == Some("due");
    let mut filter = TicketFilter {
        limit: 50,
        q: query.q.clone().filter(|q| !q.trim().is_empty()),
        priority,
        by_due,
        cursor: query.cursor.as_deref().and_then(Cursor::decode),
        ..TicketFilter::default()
    };
    let heading = apply_view(&view, &who, now, &mut filter);
    let (page_of, users) = match (
        state.store.list_tickets(&who, &filter).await,
        state.store.list_staff().await,
    ) {
        (Ok(p), Ok(u)) => (p, u),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    // "New" means created after this page was drawn, whatever its sort or page.
    let since = now.timestamp_millis();
    let rows = page_of
        .items
        .into_iter()
        .map(|t| {
            let due = t.first_response_due_at.or(t.resolution_due_at);
            Row {
                number: t.number.as_str().to_owned(),
                title: t.title,
                status_label: tr.of("status", t.status.as_str()),
                status: t.status.as_str().to_owned(),
                priority: tr.of("priority", t.priority.as_str()),
                department: t.department.unwrap_or_default(),
                assignee: t.assignee_name.unwrap_or_default(),
                due: due.map(|d| tr.when(d)).unwrap_or_default(),
                due_iso: due.map(|d| d.to_rfc3339()).unwrap_or_default(),
                due_class: due_class(due, now),
            }
        })
        .collect();
    let q = query.q.clone().unwrap_or_default();
    let priority = priority.map(|p| p.as_str().to_owned()).unwrap_or_default();
    let sort = if by_due { "due" } else { "newest" }.to_owned();
    let more = format!(
        "/agent?view={}&q={}&priority={priority}&sort={sort}",
        urlencode(&view),
        urlencode(&q)
    );
    let mut failures: Vec<String> = query
        .failed
        .as_deref()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(50)
        .map(str::to_owned)
        .collect();
    let flash = match (query.changed, query.of) {
        (Some(done), Some(total)) => Some(tr.fill(
            "inbox.bulk_done",
            &[("done", &done.to_string()), ("total", &total.to_string())],
        )),
        _ => None,
    };
    if query.done.as_deref() == Some("none_selected") {
        failures.push(tr.t("inbox.bulk_none").to_owned());
    }
    let p = InboxPage {
        tr,
        here: more.clone(),
        admin: who.role == Role::Admin,
        assignees: colleagues(&who, users),
        name: who.name,
        csrf,
        heading: tr.t(heading).to_owned(),
        priorities: Priority::ALL
            .iter()
            .map(|p| (p.as_str(), tr.of("priority", p.as_str())))
            .collect(),
        priority,
        sort,
        full_search: (!q.trim().is_empty()).then(|| format!("/agent/search?q={}", urlencode(&q))),
        back: more.clone(),
        more,
        q,
        view,
        rows,
        since,
        next: page_of.next_cursor,
        flash,
        failures,
    };
    page(StatusCode::OK, &p)
}

/// The colour of a deadline: past, within the "due soon" hours, or comfortable.
pub(super) fn due_class(
    due: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> &'static str {
    match due {
        Some(d) if d < now => "overdue",
        Some(d) if d < now + chrono::Duration::hours(DUE_SOON_HOURS) => "soon",
        Some(_) => "ok",
        None => "",
    }
}

/// Staff a ticket of the viewer's departments can be assigned to: active agents, supervisors
/// and admins sharing a department with the viewer (admins: every staff member).
fn colleagues(who: &Principal, users: Vec<closedloop_store::User>) -> Vec<(String, String)> {
    let mine: Vec<String> = users
        .iter()
        .find(|u| u.id == who.user_id)
        .map(|u| u.departments.clone())
        .unwrap_or_default();
    users
        .into_iter()
        .filter(|u| u.active && u.role.is_staff() && u.id != who.user_id)
        .filter(|u| who.role == Role::Admin || u.departments.iter().any(|d| mine.contains(d)))
        .map(|u| (u.email.clone(), format!("{} <{}>", u.name, u.email)))
        .collect()
}

struct EntryView {
    at: String,
    kind: String,
    public: bool,
    actor: Option<String>,
    body: Option<String>,
    change: Option<String>,
}

fn entry_view(tr: &Tr, e: TimelineEntry) -> EntryView {
    let change = e.field.as_ref().map(|f| {
        let (old, new) = (e.old_value.as_deref(), e.new_value.as_deref());
        let label = |v: Option<&str>| match v {
            Some(v) if f == "status" => tr.of("status", v),
            Some(v) => v.to_owned(),
            None => "—".to_owned(),
        };
        format!("{f}: {} → {}", label(old), label(new))
    });
    // The triage verdict is JSON for machines; the workspace shows it in its own panel.
    let body = if e.kind == EntryKind::Triaged {
        None
    } else {
        e.body
    };
    EntryView {
        at: tr.when(e.created_at),
        kind: tr.of("entry", e.kind.as_str()),
        public: e.public,
        actor: e.actor_name,
        body,
        change,
    }
}

/// The triage verdict recorded on the timeline, as the workspace shows it: what was decided,
/// with which confidence, and why.
struct Verdict {
    lines: Vec<String>,
    reasons: Vec<String>,
}

fn verdict(tr: &Tr, entries: &[TimelineEntry]) -> Option<Verdict> {
    let raw = entries
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::Triaged)?
        .body
        .as_deref()?;
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    let mut lines = Vec::new();
    for field in ["category", "nature", "priority", "sentiment"] {
        let Some(x) = v.get(field) else { continue };
        // Category and nature are `{"category": ..., "confidence": ...}`, sentiment has a
        // score from -1 to 1, priority is plain.
        let (value, confidence) = match x {
            serde_json::Value::Object(o) => (
                o.get(field).or_else(|| o.get("score")).map(plain),
                o.get("confidence").and_then(serde_json::Value::as_f64),
            ),
            other => (Some(plain(other)), None),
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        let mut line = format!("{field}: {value}");
        if let Some(c) = confidence {
            line.push_str(&format!(
                " ({})",
                tr.fill(
                    "ticket.triage_confidence",
                    &[("value", &format!("{:.0}%", c * 100.0))]
                )
            ));
        }
        lines.push(line);
    }
    if v.get("needs_review").and_then(serde_json::Value::as_bool) == Some(true) {
        lines.push(tr.t("ticket.triage_review").to_owned());
    }
    // Each reason: its code, its detail and the words of the text it rests on.
    let reasons = v
        .get("reasons")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .take(12)
                .map(|r| {
                    let mut line = r.get("code").map(plain).unwrap_or_default();
                    if let Some(d) = r.get("detail").filter(|d| !d.is_null()) {
                        line.push_str(&format!(": {}", plain(d)));
                    }
                    if let Some(t) = r
                        .pointer("/evidence/text")
                        .and_then(serde_json::Value::as_str)
                    {
                        line.push_str(&format!(" «{t}»"));
                    }
                    line
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Verdict { lines, reasons })
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct PendingView {
    id: i64,
    summary: String,
    reasons: String,
}

/// Another ticket shown beside this one (history, duplicates, similar): number, title, status.
struct Related {
    number: String,
    title: String,
    status: String,
}

fn related(tr: &Tr, t: closedloop_store::Ticket) -> Related {
    Related {
        number: t.number.as_str().to_owned(),
        title: t.title,
        status: tr.of("status", t.status.as_str()),
    }
}

struct CannedView {
    title: String,
    body: String,
}

#[derive(Template)]
#[template(path = "agent_ticket.html")]
struct TicketPage {
    /// The kinds of personal data masked in the text, for the reader.
    personal: String,
    can_reveal: bool,
    /// (field label, original text) after a reveal.
    revealed: Vec<(String, String)>,
    /// Machine translations: (field, language, text).
    translations: Vec<(String, String, String)>,
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    number: String,
    title: String,
    status: String,
    status_label: String,
    priority: String,
    category: String,
    department: String,
    coordinating: String,
    assignee: String,
    requester: String,
    channel: String,
    created: String,
    first_due: String,
    first_due_class: &'static str,
    resolution_due: String,
    resolution_due_class: &'static str,
    description: String,
    actions: Vec<(&'static str, String)>,
    pending: Vec<PendingView>,
    can_approve: bool,
    can_propose: bool,
    can_merge: bool,
    kinds: Vec<(&'static str, String)>,
    compensations: Vec<(&'static str, String)>,
    entries: Vec<EntryView>,
    verdict: Option<Verdict>,
    history: Vec<Related>,
    duplicates: Vec<Related>,
    similar: Vec<Related>,
    /// Knowledge-base articles that may answer it: (id, title).
    articles: Vec<(i64, String)>,
    can_draft_article: bool,
    canned: Vec<CannedView>,
    flash: Option<String>,
    error: Option<String>,
}

/// Moves the viewer's role allows from this status (the rules decide again on submit).
pub(super) fn moves(status: Status, role: Role) -> Vec<Action> {
    let allowed = |a: Allowed| a.min_staff <= role && role != Role::Customer;
    let mut out: Vec<Action> = RULES
        .iter()
        .filter(|r| r.from.contains(&status) && allowed(r.allowed))
        // Duplicates name their master, solutions their content: both have their own forms.
        .filter(|r| {
            !matches!(
                r.action,
                Action::MarkDuplicate | Action::ProposeSolution | Action::Appeal
            )
        })
        .map(|r| r.action)
        .collect();
    out.dedup();
    out
}

#[derive(Deserialize)]
pub struct TicketQuery {
    done: Option<String>,
}

/// What a change's `done` key says on the page; unknown keys say nothing.
const DONE: &[&str] = &[
    "reply", "note", "moved", "proposed", "waits", "approved", "rejected", "merged",
];

async fn ticket_page(
    state: &AppState,
    (number, who, tr, csrf): Ctx,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    ticket_page_revealed(
        state,
        (number, who, tr, csrf),
        flash,
        error,
        status,
        Vec::new(),
    )
    .await
}

/// The workspace; with `revealed`, the originals of its masked fields below the description.
async fn ticket_page_revealed(
    state: &AppState,
    (number, who, tr, csrf): Ctx,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
    revealed: Vec<closedloop_store::RevealedField>,
) -> Response {
    let number = &number;
    let t = match visible_ticket(state, &who, number).await {
        Ok(t) => t,
        Err(res) => return res,
    };
    let personal = match (
        state.store.log_view(&who, t.id).await,
        state.store.personal_kinds(t.id).await,
    ) {
        (Ok(()), Ok(kinds)) => kinds,
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let translations = match state.store.translations(&who, number).await {
        Ok(list) => list
            .into_iter()
            .map(|t| (t.field, t.lang, t.text))
            .collect(),
        Err(e) => return refused(e),
    };
    let (timeline, solutions, canned) = match (
        state.store.timeline(&who, number).await,
        state.store.solutions(&who, number).await,
        state.store.canned_responses(&who).await,
    ) {
        (Ok(tl), Ok(s), Ok(c)) => (tl, s, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return refused(e),
    };
    let context = match neighbours(state, &who, &t).await {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let now = state.clock.now();
    let fmt = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map(|d| tr.when(d)).unwrap_or_else(|| "—".into())
    };
    let open = t.status.is_open();
    let text_lang = closedloop_domain::notice::Lang::of_text(&t.description);
    // The ones in the ticket's language first (a stable sort keeps their titles' order).
    let mut canned = canned;
    canned.sort_by_key(|c| c.lang != text_lang);
    let mut canned: Vec<CannedView> = canned
        .into_iter()
        .map(|c| CannedView {
            title: c.title,
            body: c.body,
        })
        .collect();
    canned.truncate(100);
    let p = TicketPage {
        translations,
        tr,
        here: format!("/agent/tickets/{}", t.number),
        admin: who.role == Role::Admin,
        name: who.name.clone(),
        csrf,
        number: t.number.as_str().to_owned(),
        actions: moves(t.status, who.role)
            .into_iter()
            .map(|a| (a.as_str(), tr.of("action", a.as_str())))
            .collect(),
        can_approve: who.role >= Role::Supervisor,
        can_propose: t.status == Status::InProgress,
        can_merge: open,
        pending: solutions
            .into_iter()
            .filter(|s| s.approval == Approval::Pending)
            .map(|s| PendingView {
                id: s.id,
                summary: s.summary,
                reasons: s.approval_reasons.join("; "),
            })
            .collect(),
        kinds: SolutionKind::ALL
            .iter()
            .map(|k| (k.as_str(), tr.of("kind", k.as_str())))
            .collect(),
        compensations: CompensationKind::ALL
            .iter()
            .map(|k| (k.as_str(), tr.of("compensation", k.as_str())))
            .collect(),
        verdict: verdict(&tr, &timeline),
        title: t.title,
        status_label: tr.of("status", t.status.as_str()),
        status: t.status.as_str().to_owned(),
        priority: tr.of("priority", t.priority.as_str()),
        category: t
            .category
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        department: t.department.unwrap_or_default(),
        coordinating: t.coordinating_departments.join(", "),
        assignee: t.assignee_name.unwrap_or_default(),
        requester: t
            .requester_name
            .unwrap_or_else(|| tr.t("app.anonymous").to_owned()),
        channel: tr.of("channel", t.channel.as_str()),
        created: tr.when(t.created_at),
        first_due_class: if t.first_response_at.is_none() && open {
            due_class(t.first_response_due_at, now)
        } else {
            ""
        },
        first_due: fmt(t.first_response_due_at),
        resolution_due_class: if open {
            due_class(t.resolution_due_at, now)
        } else {
            ""
        },
        resolution_due: fmt(t.resolution_due_at),
        description: t.description,
        entries: timeline.into_iter().map(|e| entry_view(&tr, e)).collect(),
        history: context
            .history
            .into_iter()
            .map(|x| related(&tr, x))
            .collect(),
        duplicates: context
            .duplicates
            .into_iter()
            .map(|x| related(&tr, x))
            .collect(),
        similar: context
            .similar
            .into_iter()
            .map(|x| related(&tr, x))
            .collect(),
        articles: context.articles,
        can_draft_article: matches!(t.status, Status::Resolved | Status::Closed),
        can_reveal: crate::http::privacy::may_reveal(state, &who).is_ok(),
        personal: personal
            .iter()
            .map(|k| tr.of("pii", k))
            .collect::<Vec<_>>()
            .join(tr.t("privacy.separator")),
        revealed: revealed
            .into_iter()
            .map(|r| (tr.of("field", &r.field), r.original))
            .collect(),
        canned,
        flash,
        error,
    };
    page(status, &p)
}

/// Tickets beside this one.
struct Neighbours {
    /// The requester's other tickets, newest first.
    history: Vec<closedloop_store::Ticket>,
    /// Open tickets whose text the duplicate index finds alike, and those already merged
    /// into this one.
    duplicates: Vec<closedloop_store::Ticket>,
    /// Resolved or closed tickets the search index finds alike, best first.
    similar: Vec<closedloop_store::Ticket>,
    articles: Vec<(i64, String)>,
}

async fn neighbours(
    state: &AppState,
    who: &Principal,
    t: &closedloop_store::Ticket,
) -> closedloop_store::Result<Neighbours> {
    let mut history = Vec::new();
    if let Some(requester) = t.requester_id {
        let f = TicketFilter {
            requester_id: Some(requester),
            limit: 11,
            from_primary: true,
            ..TicketFilter::default()
        };
        history = state.store.list_tickets(who, &f).await?.items;
        history.retain(|x| x.id != t.id);
        history.truncate(10);
    }
    let engine = state.triage.current();
    let ids: Vec<i64> = state
        .duplicates
        .similar_open(&engine, &t.description, 6)
        .into_iter()
        .filter(|id| *id != t.id)
        .collect();
    let mut duplicates: Vec<closedloop_store::Ticket> = Vec::new();
    for (_, n, _) in state.store.open_tickets_by_id(&ids).await? {
        // Scoped: a candidate in a department the viewer cannot see is not shown.
        if let Ok(x) = state.store.get_ticket(who, &n).await {
            duplicates.push(x);
        }
    }
    let merged = TicketFilter {
        duplicate_of: Some(t.number.clone()),
        limit: 20,
        from_primary: true,
        ..TicketFilter::default()
    };
    duplicates.extend(state.store.list_tickets(who, &merged).await?.items);
    let similar = crate::search::similar_resolved(state, who, t, 5).await;
    let articles = crate::search::suggested_articles(state, who, t, 5).await;
    Ok(Neighbours {
        history,
        duplicates,
        similar,
        articles,
    })
}

fn parse(number: &str) -> Option<TicketNumber> {
    number.parse().ok()
}

pub async fn ticket(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
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
    let tr = tr.for_user(&who);
    let flash = q
        .done
        .filter(|d| DONE.contains(&d.as_str()))
        .map(|d| tr.of("ticket", &format!("done_{d}")));
    ticket_page(&state, (n, who, tr, csrf), flash, None, StatusCode::OK).await
}

/// After a change: back to the ticket (a reload does not repeat it), or the page with the
/// reason it was refused.
async fn finish(state: &AppState, ctx: Ctx, result: Result<&str, ApiError>) -> Response {
    match result {
        Ok(done) => Redirect::to(&format!("/agent/tickets/{}?done={done}", ctx.0)).into_response(),
        Err(e) => {
            let status = e.status;
            ticket_page(state, ctx, None, Some(e.message), status).await
        }
    }
}

/// What a workspace form's handler works with: the ticket, the staff member and their reader
/// settings and session token.
type Ctx = (TicketNumber, Principal, Tr, String);

/// The ticket, the form and the signed-in staff member (with the session's token, checked
/// against the form's); otherwise the refusal.
async fn accept<F: SessionForm>(
    state: &AppState,
    jar: &CookieJar,
    tr: Tr,
    number: &str,
    form: Result<Form<F>, FormRejection>,
) -> Result<(F, Ctx), Response> {
    let Some(n) = parse(number) else {
        return Err(forbidden());
    };
    let (who, csrf) = staff(state, jar, &format!("/agent/tickets/{n}")).await?;
    let form = session_form(&csrf, form)?;
    let tr = tr.for_user(&who);
    Ok((form, (n, who, tr, csrf)))
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

pub async fn add_entry(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(number): Path<String>,
    form: Result<Form<EntryForm>, FormRejection>,
) -> Response {
    let (form, ctx) = match accept(&state, &jar, tr, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let public = form.kind != "note";
    let result = match closedloop_domain::TextField::parse("body", &form.body, 20_000) {
        Ok(text) => state
            .store
            .add_entry(&ctx.1, &ctx.0, public, text.as_str(), &[])
            .await
            .map(|_| if public { "reply" } else { "note" })
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    finish(&state, ctx, result).await
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
    /// Where to go afterwards (the board), else the ticket.
    #[serde(default)]
    back: String,
}

/// A move without content of its own (accept, start, resolve, ...).
pub(super) async fn move_without_content(
    state: &AppState,
    who: &Principal,
    n: &TicketNumber,
    action: Action,
    reason: Option<String>,
) -> Result<closedloop_store::Ticket, ApiError> {
    let request = TransitionRequest {
        action,
        reason: reason.filter(|r| !r.trim().is_empty()),
        duplicate_of: None,
        checklist: Vec::new(),
    };
    let t = state.store.transition(who, n, request).await?;
    state.duplicates.forget(t.id);
    Ok(t)
}

pub async fn move_ticket(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(number): Path<String>,
    form: Result<Form<MoveForm>, FormRejection>,
) -> Response {
    let (form, ctx) = match accept(&state, &jar, tr, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let result = match form.action.parse::<Action>() {
        Ok(action) => move_without_content(&state, &ctx.1, &ctx.0, action, Some(form.reason))
            .await
            .map(|_| "moved"),
        Err(e) => Err(ApiError::from(e)),
    };
    if form.back == "/agent/board" {
        let done = match &result {
            Ok(_) => format!("moved={}", ctx.0),
            Err(e) => format!("refused={}&reason={}", ctx.0, urlencode(&e.message)),
        };
        return Redirect::to(&format!("/agent/board?{done}")).into_response();
    }
    finish(&state, ctx, result).await
}

#[derive(Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    /// The ticket that repeats this one.
    #[serde(default)]
    duplicate: String,
}

/// One-click merge from the workspace: the candidate becomes a duplicate of this ticket.
pub async fn merge(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(number): Path<String>,
    form: Result<Form<MergeForm>, FormRejection>,
) -> Response {
    let (form, ctx) = match accept(&state, &jar, tr, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let result = match parse(&form.duplicate) {
        Some(dup) => merge_into(&state, &ctx.1, &dup, &ctx.0)
            .await
            .map(|()| "merged"),
        None => Err(ApiError::invalid(
            "duplicate",
            "invalid_number",
            "use a ticket number like FB-20261122-000042",
        )),
    };
    finish(&state, ctx, result).await
}

/// Marks `duplicate` as a duplicate of `master` (its clocks stop; the master carries on).
async fn merge_into(
    state: &AppState,
    who: &Principal,
    duplicate: &TicketNumber,
    master: &TicketNumber,
) -> Result<(), ApiError> {
    if duplicate == master {
        return Err(ApiError::invalid(
            "duplicate",
            "same_ticket",
            "a ticket cannot be a duplicate of itself",
        ));
    }
    let request = TransitionRequest {
        action: Action::MarkDuplicate,
        reason: None,
        duplicate_of: Some(master.clone()),
        checklist: Vec::new(),
    };
    let t = state.store.transition(who, duplicate, request).await?;
    state.duplicates.forget(t.id);
    Ok(())
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

pub async fn propose(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(number): Path<String>,
    form: Result<Form<SolutionForm>, FormRejection>,
) -> Response {
    let (form, ctx) = match accept(&state, &jar, tr, &number, form).await {
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
            .propose_solution(&ctx.1, &ctx.0, s)
            .await
            .map(|(_, s)| {
                if s.approval == Approval::Pending {
                    "waits"
                } else {
                    "proposed"
                }
            })
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    finish(&state, ctx, result).await
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

pub async fn decide(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path((number, id)): Path<(String, i64)>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    let (form, ctx) = match accept(&state, &jar, tr, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let approve = form.decision == "approve";
    let note = Some(form.note).filter(|n| !n.trim().is_empty());
    let result = state
        .store
        .decide_solution(&ctx.1, &ctx.0, id, approve, note)
        .await
        .map(|_| if approve { "approved" } else { "rejected" })
        .map_err(ApiError::from);
    finish(&state, ctx, result).await
}

/// Most tickets one bulk action changes.
const BULK_MAX: usize = 200;

/// `POST /agent/bulk`: assign, set the priority of, or merge the tickets ticked in the inbox.
/// Each ticket is changed in its own transaction and the rules apply to each; the inbox then
/// says how many changed and why the others did not.
pub async fn bulk(
    State(state): State<AppState>,
    jar: CookieJar,
    body: axum::body::Bytes,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let mut numbers = Vec::new();
    let (mut sent_csrf, mut back, mut assignee, mut priority, mut merge) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "n" => numbers.push(v.into_owned()),
            "csrf" => sent_csrf = v.into_owned(),
            "back" => back = v.into_owned(),
            "assignee" => assignee = v.trim().to_owned(),
            "priority" => priority = v.trim().to_owned(),
            "merge_into" => merge = v.trim().to_owned(),
            _ => {}
        }
    }
    if !session_csrf_ok(&csrf, &sent_csrf) {
        return forbidden();
    }
    let back = super::staff::local_path(&back);
    let back = if back.starts_with("/agent") {
        back
    } else {
        "/agent"
    };
    let sep = if back.contains('?') { '&' } else { '?' };
    if numbers.is_empty() || numbers.len() > BULK_MAX {
        return Redirect::to(&format!("{back}{sep}done=none_selected")).into_response();
    }
    let patch = || -> Result<Option<TicketPatch>, ApiError> {
        let mut p = TicketPatch::default();
        if !assignee.is_empty() {
            let email = if assignee == "me" {
                who.email.clone()
            } else {
                assignee.clone()
            };
            p.assignee_email = Some(Some(email));
        }
        if !priority.is_empty() {
            p.priority = Some(priority.parse::<Priority>()?);
        }
        Ok((!p.is_empty()).then_some(p))
    };
    let master = if merge.is_empty() {
        None
    } else {
        match parse(&merge) {
            Some(m) => Some(m),
            None => {
                let reason = format!("{merge}: not a ticket number");
                return Redirect::to(&format!("{back}{sep}failed={}", urlencode(&reason)))
                    .into_response();
            }
        }
    };
    let (mut changed, mut failed) = (0usize, Vec::new());
    for raw in &numbers {
        let outcome = async {
            let n = parse(raw)
                .ok_or_else(|| ApiError::invalid("n", "invalid_number", "not a ticket number"))?;
            if let Some(p) = patch()? {
                state.store.update_ticket(&who, &n, p).await?;
            }
            if let Some(m) = &master
                && m != &n
            {
                merge_into(&state, &who, &n, m).await?;
            }
            Ok::<(), ApiError>(())
        }
        .await;
        match outcome {
            Ok(()) => changed += 1,
            Err(e) => failed.push(format!("{raw}: {}", e.message)),
        }
    }
    failed.truncate(10);
    let to = format!(
        "{back}{sep}changed={changed}&of={}&failed={}",
        numbers.len(),
        urlencode(&failed.join("\n"))
    );
    Redirect::to(&to).into_response()
}

#[derive(Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    csrf: String,
}

/// Shows the originals of the masked fields on the workspace (logged like the API's reveal).
pub async fn reveal(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(number): Path<String>,
    form: Result<Form<RevealForm>, FormRejection>,
) -> Response {
    let (_, ctx) = match accept(&state, &jar, tr, &number, form).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let shown = match crate::http::privacy::may_reveal(&state, &ctx.1) {
        Ok(()) => state
            .store
            .reveal_personal_data(&ctx.1, &ctx.0)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match shown {
        Ok(fields) => ticket_page_revealed(&state, ctx, None, None, StatusCode::OK, fields).await,
        Err(e) => {
            let status = e.status;
            ticket_page(&state, ctx, None, Some(e.message), status).await
        }
    }
}

super::session_forms!(
    EntryForm,
    MoveForm,
    MergeForm,
    SolutionForm,
    DecisionForm,
    RevealForm
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_done_key_has_a_message() {
        let tr = Tr::new(
            closedloop_domain::notice::Lang::En,
            chrono_tz::Asia::Shanghai,
        );
        for d in DONE {
            let key = format!("done_{d}");
            assert_ne!(tr.of("ticket", &key), key);
        }
    }

    #[test]
    fn agents_are_offered_only_the_moves_their_role_allows() {
        let agent: Vec<&str> = moves(Status::Received, Role::Agent)
            .iter()
            .map(|m| m.as_str())
            .collect();
        assert_eq!(agent, vec!["accept"]);
        let appeal: Vec<&str> = moves(Status::Appeal, Role::Agent)
            .iter()
            .map(|m| m.as_str())
            .collect();
        assert!(appeal.is_empty(), "{appeal:?}");
        let sup: Vec<&str> = moves(Status::Appeal, Role::Supervisor)
            .iter()
            .map(|m| m.as_str())
            .collect();
        assert_eq!(sup, vec!["uphold_appeal", "revise_appeal"]);
    }
}
