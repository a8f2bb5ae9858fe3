//! Inbound mail as the store sees it: already parsed and checked at the edge.

use closedloop_domain::TicketNumber;

use crate::NewTicket;

/// One inbound message.
#[derive(Debug, Clone)]
pub struct InboundMail {
    /// Its Message-ID, or `sha256:<digest of the raw bytes>` when it has none.
    pub message_id: String,
    /// How it arrived: `pipe`, `http` or `imap`.
    pub path: &'static str,
    /// The sender's address, lower case.
    pub from: String,
    /// Copied addresses (lower case): they become participants of a ticket the mail opens.
    pub cc: Vec<String>,
    /// `In-Reply-To` then `References`, without angle brackets.
    pub references: Vec<String>,
    /// Ticket numbers named in the subject.
    pub ticket_numbers: Vec<TicketNumber>,
    /// The new text of a reply (quoted history removed), for threading onto a ticket.
    pub reply: String,
    /// The rule that marked it auto-generated (an out-of-office reply, a bounce, ...).
    pub auto: Option<String>,
    /// Acknowledge the ticket it opens (not sent for automatic mail, replies, or when the
    /// sender's address has had its share this hour).
    pub acknowledge: Option<AckRequest>,
    /// Its files, already on disk: kept on whichever ticket the message goes to.
    pub attachments: Vec<crate::NewAttachment>,
    /// The ticket it opens when it threads onto none (triage already applied).
    pub ticket: NewTicket,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    Created(TicketNumber),
    Threaded(TicketNumber),
    Ignored { rule: String },
}

/// One line of the intake log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MailLogEntry {
    /// The Message-ID, or `sha256:<digest>` for a message without one (and for every
    /// quarantined message: the digest names its kept copy).
    pub message_id: String,
    /// `in` or `out`.
    pub direction: String,
    /// The sender of an inbound message, the recipient of an outbound one.
    pub address: String,
    /// The ticket it went to.
    pub ticket: Option<String>,
    /// `created`, `threaded`, `ignored`, `quarantined` or `sent`.
    pub outcome: String,
    /// The rule that marked it automatic, or why it was quarantined.
    pub reason: Option<String>,
    /// `pipe`, `http`, `retry`, ...
    pub path: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Which log lines to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct MailLogFilter {
    pub outcome: Option<String>,
    pub path: Option<String>,
    /// Lines strictly older than this.
    pub before: Option<chrono::DateTime<chrono::Utc>>,
    pub limit: u32,
}

/// Messages counted by how they came and what became of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailCount {
    pub direction: String,
    pub path: String,
    pub outcome: String,
    /// The rule of an ignored message; empty otherwise (quarantine reasons are free text).
    pub rule: String,
    pub count: i64,
}

/// An acknowledgement to queue with the ticket a message opens.
#[derive(Debug, Clone)]
pub struct AckRequest {
    /// Our Message-ID for it (without angle brackets), fixed now so a resend carries it too.
    pub message_id: String,
    /// At most this many acknowledgements to one address in any hour: two automatic systems
    /// answering each other can never exchange more.
    pub per_hour: u32,
}
