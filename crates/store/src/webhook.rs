//! What the store takes and hands out for the signed webhook channel.

use chrono::{DateTime, Utc};
use closedloop_domain::{Category, Channel, Description, TicketNumber, Title};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Principal;

/// A system allowed to post messages to `/api/v1/intake/webhook/{name}`. Never carries its
/// secret: that is shown once, when the source is made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookSource {
    pub id: i64,
    /// The slug in the intake address.
    pub name: String,
    /// Channel of the tickets it opens.
    pub channel: Channel,
    /// The service account its tickets and messages are attributed to.
    pub user_id: i64,
    pub user_email: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWebhookSource {
    pub name: String,
    pub channel: Channel,
    pub secret: String,
}

/// A source as the intake endpoint needs it: its HMAC key and the principal it acts as.
#[derive(Clone)]
pub struct WebhookCredentials {
    pub source: WebhookSource,
    pub secret: String,
    pub service: Principal,
}

impl std::fmt::Debug for WebhookCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCredentials")
            .field("source", &self.source)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// One message from a source, validated at the edge.
#[derive(Debug, Clone)]
pub struct WebhookMessage {
    /// The conversation id in the source system; its messages share one ticket.
    pub thread: String,
    /// The source's id of this message (unique within its thread); a redelivery is recognised by it.
    pub message_id: String,
    /// The ticket description (first message) or public timeline entry (later ones).
    pub body: Description,
    pub requester_email: Option<String>,
    pub title: Option<Title>,
    pub category: Option<Category>,
    /// What triage read from the text; used if the message opens a ticket.
    pub triage: crate::TriageHints,
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    pub ticket: TicketNumber,
    /// True when the message was added to an existing ticket of its thread.
    pub threaded: bool,
    /// True when this message id was accepted before; nothing was written now.
    pub replay: bool,
}
