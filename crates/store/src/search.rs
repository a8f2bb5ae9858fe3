//! What the search index reads from the database: a ticket's searchable text and the fields its
//! access scope is decided on, and the change feed that keeps every instance's index in step.

use chrono::{DateTime, Utc};
use closedloop_domain::TicketNumber;

/// A ticket as the search index holds it. Public text (title, description, public replies) and
/// internal notes are kept apart so a customer's search never matches, or quotes, a note.
#[derive(Debug, Clone)]
pub struct TicketDocument {
    pub id: i64,
    pub number: TicketNumber,
    pub title: String,
    pub description: String,
    /// Public replies, oldest first, one per line.
    pub replies: String,
    /// Internal notes, oldest first, one per line.
    pub notes: String,
    pub status: closedloop_domain::Status,
    pub category: Option<String>,
    pub priority: closedloop_domain::Priority,
    pub channel: closedloop_domain::Channel,
    /// Handling department first, then the coordinating ones (ids).
    pub departments: Vec<i64>,
    pub requester_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// One change of the feed: timeline entry `seq` touched ticket `ticket_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedChange {
    pub seq: i64,
    pub ticket_id: i64,
}

/// A knowledge-base article as the search index holds it.
#[derive(Debug, Clone)]
pub struct ArticleDocument {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub lang: String,
    pub category: Option<String>,
    /// Found by anyone (a published FAQ); otherwise by staff only.
    pub public: bool,
    pub created_at: DateTime<Utc>,
}
