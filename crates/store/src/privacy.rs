//! Personal data in tickets from public channels, and the log of who looked at what.

use chrono::{DateTime, Utc};
use closedloop_domain::Channel;
use serde::Serialize;
use utoipa::ToSchema;

/// Which intake channels have personal data masked in their text (MISSION §7: public ones,
/// where the text was already seen by strangers and is read by many).
#[derive(Debug, Clone)]
pub struct PrivacyPolicy {
    pub mask_channels: Vec<Channel>,
}

impl Default for PrivacyPolicy {
    fn default() -> Self {
        Self {
            mask_channels: vec![Channel::Social, Channel::Review],
        }
    }
}

/// One masked field's original text, as a reveal shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevealedField {
    /// `title`, `description`, `expected_resolution`, or `reply:<entry id>` for a reply from
    /// the requester's side.
    pub field: String,
    pub original: String,
    /// What was masked in it: `cn_mobile`, `cn_landline`, `cn_id`, `bank_card`, `email`,
    /// `hk_id`, `tw_id`, `intl_phone`, `address`.
    pub kinds: Vec<String>,
}

/// One access-log entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: i64,
    pub actor_name: String,
    pub ticket: String,
    /// `view` (the ticket was opened) or `reveal` (masked personal data was shown).
    pub action: String,
    pub kinds: Vec<String>,
}

/// Which entries to list: by ticket, by actor, older than a cursor.
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    pub ticket: Option<closedloop_domain::TicketNumber>,
    pub actor_id: Option<i64>,
    /// Entries with an id below this (the `next` of the previous page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// A person's request to have their data erased, and how it went.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasureRequest {
    pub id: i64,
    pub user_id: i64,
    /// The user themselves, or the administrator who asked on their behalf.
    pub requested_by: i64,
    pub requested_at: DateTime<Utc>,
    /// By when it must be done (`privacy.erasure_hours` after the request).
    pub due_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// When administrators were told it was overdue.
    pub alerted_at: Option<DateTime<Utc>>,
    /// What was erased, once done.
    pub summary: Option<ErasureSummary>,
}

/// What an erasure changed, counted.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, ToSchema)]
pub struct ErasureSummary {
    /// The person's tickets: kept for the statistics, their personal fields emptied.
    pub tickets: i64,
    /// Texts rewritten without personal data (ticket fields, messages, notes, examples, …).
    pub texts: i64,
    pub attachments: i64,
    /// Outgoing notices and mails emptied (the unsent ones not sent).
    pub outbox: i64,
    /// Sessions, tokens, masked originals and in-app notifications deleted.
    pub deleted: i64,
}

/// Files an erasure leaves to the caller to delete: attachments (by digest) no ticket holds any
/// more, and quarantined mail from the person (by digest: `<quarantine>/<digest>.eml`).
#[derive(Debug, Clone, Default)]
pub struct ErasedFiles {
    pub attachments: Vec<String>,
    pub quarantined_mail: Vec<String>,
}

/// An erasure claimed by a worker: the files it must remove before it is completed (attachments
/// no other person's ticket holds).
#[derive(Debug, Clone)]
pub struct ErasureWork {
    pub request: ErasureRequest,
    pub files: Vec<String>,
}

/// A request refused for a security reason: who (when known), what was answered, and where.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecurityEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    /// The error code answered (`forbidden`, `not_found`, `token_scope`, `invalid_credentials`,
    /// `account_locked`, ...).
    pub code: String,
    pub status: i64,
    pub method: String,
    pub path: String,
}

/// A user's second factor: the confirmed secret (base32) and one being set up.
#[derive(Debug, Clone, Default)]
pub struct TotpState {
    pub secret: Option<String>,
    pub pending: Option<String>,
}

/// A change to a user's second factor.
#[derive(Debug, Clone)]
pub enum TotpChange {
    /// A new secret waiting for its first code.
    Pending(String),
    /// The secret confirmed: codes are asked for from now on.
    Enable(String),
    /// Turned off (by the user with a code, or by an administrator).
    Disable,
}

/// A machine translation of a ticket's field, kept beside the original.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Translation {
    /// `title` or `description`.
    pub field: String,
    /// The language translated into (`zh`, `en`, ...).
    pub lang: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}
