//! Types of the keywords-and-sentiment pass (see migration 0013).

/// A ticket whose keywords have not been read yet.
#[derive(Debug, Clone)]
pub struct PendingTerms {
    pub id: i64,
    pub title: String,
    pub description: String,
}

/// What triage read of a ticket.
#[derive(Debug, Clone)]
pub struct Terms {
    pub id: i64,
    /// Folded, best first; a keyword never holds a space.
    pub keywords: Vec<String>,
    /// Sentiment in thousandths (−1000 … 1000).
    pub sentiment_milli: i64,
    /// The text they were read from: they are kept only while the ticket still says it, so
    /// words of a text an erasure rewrote meanwhile do not come back.
    pub title: String,
    pub description: String,
}
