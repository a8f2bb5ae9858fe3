//! Closing the loop with the user (MISSION §4-5): solutions and approvals, notices on every
//! channel, appeals and satisfaction surveys.

use chrono::{DateTime, Duration, Utc};
use closedloop_domain::TicketNumber;
use closedloop_domain::notice::{Event, Lang, NoticeChannel};
use closedloop_domain::solution::{Approval, ApprovalPolicy, Compensation, SolutionKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The rules of the loop that the store applies inside its transactions.
#[derive(Debug, Clone)]
pub struct LoopPolicy {
    pub approval: ApprovalPolicy,
    /// How long after the result the user may appeal.
    pub appeal_window: Duration,
    /// A survey answer with fewer stars reopens handling; `None`: never.
    pub reopen_below_stars: Option<u8>,
    /// Queue notices for users at all.
    pub notify: bool,
    /// E-mail can be sent (an SMTP server is configured).
    pub email: bool,
    /// SMS can be sent; only to users who consented and gave a number.
    pub sms: bool,
}

impl Default for LoopPolicy {
    fn default() -> Self {
        Self {
            approval: ApprovalPolicy::default(),
            appeal_window: Duration::days(closedloop_domain::lifecycle::DEFAULT_APPEAL_WINDOW_DAYS),
            reopen_below_stars: Some(3),
            notify: true,
            email: true,
            sms: false,
        }
    }
}

/// A solution as an agent proposes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSolution {
    pub kind: SolutionKind,
    /// What the user is told: the result.
    pub summary: String,
    pub compensation: Option<Compensation>,
    /// How the user uses what they get (a coupon code's use, a link).
    pub instructions: Option<String>,
    /// The cause, when it is told.
    pub cause: Option<String>,
    /// What will change so it does not happen again.
    pub improvement: Option<String>,
    /// Say sorry in the result message.
    #[serde(default)]
    pub apology: bool,
    /// Codes of other departments this solution involves (it then needs approval).
    #[serde(default)]
    pub departments: Vec<String>,
    /// When what was promised will be done.
    pub expected_by: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Solution {
    pub id: i64,
    #[schema(value_type = String)]
    pub ticket_number: TicketNumber,
    pub kind: SolutionKind,
    pub summary: String,
    pub compensation: Option<Compensation>,
    pub instructions: Option<String>,
    pub cause: Option<String>,
    pub improvement: Option<String>,
    pub apology: bool,
    pub departments: Vec<String>,
    pub expected_by: Option<DateTime<Utc>>,
    pub proposed_by: i64,
    pub proposed_at: DateTime<Utc>,
    pub approval: Approval,
    /// Why it needs approval.
    pub approval_reasons: Vec<String>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

/// How an appeal's review ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppealOutcome {
    /// The result stands; the ticket closes.
    Upheld,
    /// The result changes; the ticket goes back to work.
    Revised,
    /// Handed to an administrator for review at a higher level.
    Escalated,
}

impl AppealOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealOutcome::Upheld => "upheld",
            AppealOutcome::Revised => "revised",
            AppealOutcome::Escalated => "escalated",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Appeal {
    pub id: i64,
    pub reason: String,
    pub opened_at: DateTime<Utc>,
    pub reviewer_id: Option<i64>,
    pub reviewer_name: Option<String>,
    pub outcome: Option<AppealOutcome>,
    pub note: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// What the holder of a ticket's signed link does with it.
#[derive(Debug, Clone)]
pub enum LinkAction {
    /// The result solves it: the ticket closes.
    Confirm,
    /// It does not: the ticket reopens.
    Reject {
        reason: String,
    },
    Appeal {
        reason: String,
    },
    Survey {
        stars: u8,
        comment: Option<String>,
    },
}

/// Makes a fresh Message-ID (without brackets) for a ticket's outgoing mail.
pub type MessageIds = std::sync::Arc<dyn Fn(&TicketNumber) -> String + Send + Sync>;

/// A queued notice claimed for delivery, with what its template needs.
#[derive(Debug, Clone)]
pub struct NoticeItem {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_number: TicketNumber,
    pub ticket_title: String,
    pub event: Event,
    pub channel: NoticeChannel,
    pub address: String,
    pub lang: Lang,
    /// The recipient's name.
    pub name: String,
    /// Values captured when it was queued (JSON object).
    pub params: serde_json::Value,
    /// Our Message-ID without brackets (e-mail).
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// When the ticket was resolved (the appeal window runs from it).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// A message in the customer portal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerMessage {
    pub id: i64,
    #[schema(value_type = String)]
    pub ticket_number: TicketNumber,
    pub event: Event,
    pub subject: String,
    pub body: String,
    pub sent_at: DateTime<Utc>,
    pub read: bool,
}

/// A message as it was delivered (or last failed), for staff on the ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoticeRecord {
    pub id: i64,
    pub event: Event,
    pub channel: NoticeChannel,
    pub address: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub sent_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub subject: Option<String>,
}

/// An administrator's version of a built-in template.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateOverride {
    pub event: Event,
    pub lang: Lang,
    pub channel: NoticeChannel,
    pub subject: String,
    pub body: String,
    pub updated_at: DateTime<Utc>,
}

/// How a user wants to hear from us.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    pub email: bool,
    /// Consent to SMS; needs `phone`.
    pub sms: bool,
    pub phone: Option<String>,
    /// `zh` or `en`; unset: the language the user writes in.
    pub lang: Option<Lang>,
    /// IANA name (`Asia/Shanghai`) pages show dates in; unset: the installation's default.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A satisfaction answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SurveyAnswer {
    pub stars: u8,
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
}

/// What the page behind a signed link shows.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub ticket: crate::Ticket,
    /// The result as told: the newest solution, or what was said on resolving.
    pub result: String,
    pub survey_answered: bool,
}

/// Net Promoter results over a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NpsReport {
    pub asked: i64,
    pub answered: i64,
    /// 9-10.
    pub promoters: i64,
    /// 7-8.
    pub passives: i64,
    /// 0-6.
    pub detractors: i64,
    /// % promoters - % detractors, -100 to 100; `None` with no answers.
    pub nps: Option<i64>,
}
