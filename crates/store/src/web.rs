//! The public web form: tickets registered without an account, their private follow links, and
//! uploaded evidence.

use chrono::{DateTime, Utc};

use crate::NewTicket;

/// The service account that registers anonymous web-form tickets (made by migration 0006).
pub const WEB_FORM_ACCOUNT: &str = "web-form@closedloop.local";

/// A ticket from the public form.
#[derive(Debug, Clone)]
pub struct WebSubmission {
    /// `requester_email` is ignored here: see `contact_email`.
    pub ticket: NewTicket,
    /// When given, the ticket is registered as that customer's (the account is made on first
    /// use), as a mail from that address would be; otherwise anonymously, with the client's
    /// address and user agent from `ticket`.
    pub contact_email: Option<String>,
    /// Hex SHA-256 of the follow link's token.
    pub link_hash: String,
    /// Files already stored by content hash.
    pub attachments: Vec<NewAttachment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// Hex SHA-256 of the content: its name on disk.
    pub sha256: String,
    pub size: i64,
    /// Sniffed from the bytes.
    pub content_type: String,
    /// Sanitised.
    pub filename: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: i64,
    pub ticket_id: i64,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub filename: String,
    pub created_at: DateTime<Utc>,
}
