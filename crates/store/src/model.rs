//! What the store hands out and takes in. Times are UTC.

use chrono::{DateTime, Utc};
use closedloop_domain::{
    Action, Category, Channel, Description, ImpactScope, Nature, Priority, Role, Severity, Status,
    TicketNumber, Title,
};
use serde::Serialize;
use utoipa::ToSchema;

/// Who is acting: resolved from a session or token on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Ids of the departments a staff member belongs to.
    pub departments: Vec<i64>,
    /// The language pages are shown in, when the user chose one.
    pub lang: Option<closedloop_domain::notice::Lang>,
    /// The IANA time zone dates are shown in, when the user chose one.
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
    pub active: bool,
    /// Department codes.
    pub departments: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub departments: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Department {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_zh: String,
}

/// One row of the routing matrix.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryRoute {
    pub code: String,
    pub name: String,
    pub name_zh: String,
    pub nature: Nature,
    pub handling_department: String,
    pub coordinating_departments: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Whatever its user may.
    #[default]
    All,
    /// Reading only: GET requests.
    Read,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::All => "all",
            TokenScope::Read => "read",
        }
    }

    pub(crate) fn from_column(s: &str) -> TokenScope {
        if s == "read" {
            TokenScope::Read
        } else {
            TokenScope::All
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ticket {
    #[serde(skip)]
    pub id: i64,
    #[schema(value_type = String, example = "FB-20261122-000042")]
    pub number: TicketNumber,
    pub channel: Channel,
    pub status: Status,
    pub title: String,
    /// True when the title was made from the description.
    pub title_generated: bool,
    pub description: String,
    pub evidence: Vec<String>,
    pub order_number: Option<String>,
    pub expected_resolution: Option<String>,
    pub region: Option<String>,
    #[schema(value_type = Option<String>, example = "payment")]
    pub category: Option<Category>,
    pub nature: Option<Nature>,
    pub priority: Priority,
    pub severity: Severity,
    pub impact_scope: ImpactScope,
    /// Handling department code.
    pub department: Option<String>,
    pub coordinating_departments: Vec<String>,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub requester_id: Option<i64>,
    pub requester_name: Option<String>,
    /// Only for anonymous submissions; shown to staff.
    pub requester_ip: Option<String>,
    pub requester_user_agent: Option<String>,
    #[schema(value_type = Option<String>)]
    pub duplicate_of: Option<TicketNumber>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// When the first answer is due under the SLA policy (`None` once no clock runs for it,
    /// or while paused). `GET /api/v1/tickets/{number}/sla` shows every clock.
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
}

/// A ticket to register, already validated at the edge.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub channel: Channel,
    pub title: Option<Title>,
    pub description: Description,
    pub evidence: Vec<String>,
    pub order_number: Option<String>,
    pub expected_resolution: Option<String>,
    pub region: Option<String>,
    pub category: Option<Category>,
    pub nature: Option<Nature>,
    pub priority: Option<Priority>,
    pub severity: Option<Severity>,
    pub impact_scope: Option<ImpactScope>,
    /// Overrides routing; staff only.
    pub department: Option<String>,
    /// Set by staff logging a call for someone else; otherwise the actor (or anonymous).
    pub requester_email: Option<String>,
    pub requester_ip: Option<String>,
    pub requester_user_agent: Option<String>,
    /// The category triage read from the text; routes the ticket when `category` is absent
    /// and the category still exists (administrators may have removed it since training).
    pub suggested_category: Option<Category>,
    /// The triage verdict (JSON), written as a staff-only timeline entry with the ticket.
    pub triage: Option<String>,
    /// An open ticket this one repeats (found by duplicate detection): it is registered as its
    /// duplicate rather than as a ticket of its own to handle.
    pub duplicate_of: Option<TicketNumber>,
    /// Tell a customer requester it was received (paths with their own answer, such as mail
    /// with its loop protection, turn it off).
    pub acknowledge: bool,
}

impl NewTicket {
    /// A ticket with only its text; everything else unset, for intake paths to fill in.
    pub fn new(channel: Channel, title: Option<Title>, description: Description) -> Self {
        Self {
            channel,
            title,
            description,
            evidence: Vec::new(),
            order_number: None,
            expected_resolution: None,
            region: None,
            category: None,
            nature: None,
            priority: None,
            severity: None,
            impact_scope: None,
            department: None,
            requester_email: None,
            requester_ip: None,
            requester_user_agent: None,
            suggested_category: None,
            triage: None,
            duplicate_of: None,
            acknowledge: true,
        }
    }
}

/// What triage read from a text, for tickets opened outside the ticket API (webhooks).
#[derive(Debug, Clone, Default)]
pub struct TriageHints {
    pub suggested_category: Option<Category>,
    pub priority: Option<Priority>,
    pub impact_scope: Option<ImpactScope>,
    /// The verdict for the timeline (JSON).
    pub record: Option<String>,
}

/// Field edits: `None` leaves a field as it is, `Some(None)` clears a clearable one.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub title: Option<Title>,
    pub category: Option<Category>,
    pub nature: Option<Nature>,
    pub priority: Option<Priority>,
    pub severity: Option<Severity>,
    pub impact_scope: Option<ImpactScope>,
    pub region: Option<Option<String>>,
    pub order_number: Option<Option<String>>,
    pub expected_resolution: Option<Option<String>>,
    pub department: Option<String>,
    pub coordinating_departments: Option<Vec<String>>,
    /// `Some(None)` unassigns.
    pub assignee_email: Option<Option<String>>,
}

impl TicketPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.category.is_none()
            && self.nature.is_none()
            && self.priority.is_none()
            && self.severity.is_none()
            && self.impact_scope.is_none()
            && self.region.is_none()
            && self.order_number.is_none()
            && self.expected_resolution.is_none()
            && self.department.is_none()
            && self.coordinating_departments.is_none()
            && self.assignee_email.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct TransitionRequest {
    pub action: Action,
    pub reason: Option<String>,
    /// For `mark_duplicate`: the master ticket.
    pub duplicate_of: Option<TicketNumber>,
    /// For `request_info`: what the user is asked for (time, steps, screenshots, expected
    /// result), one item each.
    pub checklist: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Created,
    Reply,
    Note,
    StatusChanged,
    Assigned,
    FieldChanged,
    Routed,
    /// The triage engine's verdict and reasons (JSON in `body`); staff only.
    Triaged,
    /// An SLA warning, breach or escalation step (`field` = clock, `new_value` = stage); staff only.
    Sla,
    /// A solution proposed (`body` = its summary, `new_value` = its approval state); staff only.
    Solution,
    /// A supervisor's decision on a solution (`new_value` = approved/rejected); staff only.
    Approval,
    /// An appeal opened or decided (`new_value` = opened/upheld/revised/escalated).
    Appeal,
    /// The user's satisfaction answer (`new_value` = stars); staff only.
    Survey,
}

impl EntryKind {
    pub const ALL: &'static [EntryKind] = &[
        EntryKind::Created,
        EntryKind::Reply,
        EntryKind::Note,
        EntryKind::StatusChanged,
        EntryKind::Assigned,
        EntryKind::FieldChanged,
        EntryKind::Routed,
        EntryKind::Triaged,
        EntryKind::Sla,
        EntryKind::Solution,
        EntryKind::Approval,
        EntryKind::Appeal,
        EntryKind::Survey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Created => "created",
            EntryKind::Reply => "reply",
            EntryKind::Note => "note",
            EntryKind::StatusChanged => "status_changed",
            EntryKind::Assigned => "assigned",
            EntryKind::FieldChanged => "field_changed",
            EntryKind::Routed => "routed",
            EntryKind::Triaged => "triaged",
            EntryKind::Sla => "sla",
            EntryKind::Solution => "solution",
            EntryKind::Approval => "approval",
            EntryKind::Appeal => "appeal",
            EntryKind::Survey => "survey",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EntryKind::Created,
            EntryKind::Reply,
            EntryKind::Note,
            EntryKind::StatusChanged,
            EntryKind::Assigned,
            EntryKind::FieldChanged,
            EntryKind::Routed,
            EntryKind::Triaged,
            EntryKind::Sla,
            EntryKind::Solution,
            EntryKind::Approval,
            EntryKind::Appeal,
            EntryKind::Survey,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One line of a ticket's append-only history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub id: i64,
    pub kind: EntryKind,
    /// Internal notes and internal changes are never shown to customers.
    pub public: bool,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub body: Option<String>,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Filters for listing; all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Vec<Status>,
    /// Only open tickets (not resolved, closed or duplicate): the console's views. Unlike the
    /// same statuses listed in `status`, this is answered from the open tickets' own indexes.
    pub open: bool,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
    pub department: Option<String>,
    /// `Some(None)` = unassigned.
    pub assignee_id: Option<Option<i64>>,
    pub channel: Option<Channel>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub q: Option<String>,
    /// The cluster of duplicates of this ticket.
    pub duplicate_of: Option<TicketNumber>,
    /// Tickets of one requester (their history).
    pub requester_id: Option<i64>,
    /// Tickets with a response or resolution deadline before this moment (overdue, due soon).
    pub due_before: Option<DateTime<Utc>>,
    /// Earliest deadline first (tickets without one last); one page, the cursor is not used.
    pub by_due: bool,
    /// Read from the primary even where lists come from a replica (`replica_url`): for what
    /// must show every committed ticket and must not depend on the standby (a ticket's own
    /// page, a data export).
    pub from_primary: bool,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

/// Position after the last item of a page: listing is newest first, id breaking ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at_ms: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}.{}", self.created_at_ms, self.id))
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (t, id) = text.split_once('.')?;
        Some(Cursor {
            created_at_ms: t.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Time as the store keeps it.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            created_at_ms: 1_763_800_000_000,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not-a-cursor"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}

/// Something the service told a user (SLA warnings and escalations so far).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    #[schema(value_type = Option<String>)]
    pub ticket: Option<TicketNumber>,
    /// `sla_warning` or `sla_escalation`.
    pub kind: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// One department's open work: how much, how much is late, how much has not moved.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BacklogRow {
    pub department: String,
    pub open: i64,
    /// First answer or resolution past due.
    pub overdue: i64,
    pub overdue_first_response: i64,
    pub overdue_resolution: i64,
    /// Not changed for the given number of days.
    pub stuck: i64,
}
