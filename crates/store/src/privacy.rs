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
    /// `title`, `description` or `expected_resolution`.
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
