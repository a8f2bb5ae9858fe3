//! What triage says about a ticket. Everything here is serialisable so the server can store it
//! and show the reasons on the ticket timeline.

use closedloop_domain::{Category, ImpactScope, Nature, Priority};
use serde::{Deserialize, Serialize};

use crate::keywords::Keyword;
use crate::sentiment::Emotions;
use crate::text::Language;
use crate::urgency::UrgencyKind;

/// The text of a ticket as submitted.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketText<'a> {
    pub title: Option<&'a str>,
    pub description: &'a str,
}

/// Which field a piece of evidence was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Description,
}

/// A quoted span of the submitted text: byte offsets into that field, and the text itself as
/// the user wrote it (traditional characters, full-width forms and all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub field: Field,
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// The configured phrase or lexicon word that matched (folded form).
    pub matched: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Model,
    Rule,
    /// A rule matched and the model agreed.
    ModelAndRule,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored<T> {
    pub value: T,
    pub probability: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryVerdict {
    pub category: Category,
    /// Calibrated probability of the chosen category (a rule override reports the model's
    /// probability for that category, floored at the review threshold).
    pub confidence: f32,
    pub source: Source,
    /// The model's top three, best first.
    pub alternatives: Vec<Scored<Category>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatureVerdict {
    pub nature: Nature,
    pub confidence: f32,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrgentFlag {
    pub kind: UrgencyKind,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentVerdict {
    /// −1 … +1.
    pub score: f32,
    pub emotions: Emotions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactHint {
    pub scope: ImpactScope,
    /// The phrase that claims more than one user is affected; `None` for the one-user default.
    pub evidence: Option<Evidence>,
}

/// One line of "why" for the timeline. `code` is a stable snake_case identifier the UI
/// translates; `detail` carries values (a category code, a probability); `evidence` quotes
/// the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub detail: Option<String>,
    pub evidence: Option<Evidence>,
}

impl Reason {
    pub fn new(code: &str, detail: Option<String>, evidence: Option<Evidence>) -> Self {
        Self {
            code: code.to_owned(),
            detail,
            evidence,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The submitter's title, or one made from the description.
    pub title: String,
    pub title_generated: bool,
    pub language: Language,
    pub category: CategoryVerdict,
    pub nature: NatureVerdict,
    /// Low confidence or nothing to go on: put the ticket in the human review queue.
    pub needs_review: bool,
    /// Suggested priority after urgency, anger and impact rules.
    pub priority: Priority,
    pub urgent: Vec<UrgentFlag>,
    pub sentiment: SentimentVerdict,
    pub impact: ImpactHint,
    pub keywords: Vec<Keyword>,
    /// Only the first [`crate::text::MAX_ANALYSED_CHARS`] characters were analysed.
    pub truncated: bool,
    pub reasons: Vec<Reason>,
}

/// A duplicate candidate after the finer check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateMatch {
    pub id: u64,
    /// Estimated Jaccard similarity from the index.
    pub similarity: f32,
    /// Pair-scorer probability that both tickets ask the same thing (when the text was
    /// available), else the similarity.
    pub score: f32,
    pub duplicate: bool,
}
