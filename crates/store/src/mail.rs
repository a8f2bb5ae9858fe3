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
    /// The ticket it opens when it threads onto none (triage already applied).
    pub ticket: NewTicket,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    Created(TicketNumber),
    Threaded(TicketNumber),
    Ignored { rule: String },
}
