//! The knowledge base: FAQ articles (public once published) and SOPs (staff only), in Chinese
//! or English, and the self-service record of the feedback form.

use chrono::{DateTime, Utc};
use closedloop_domain::notice::Lang;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArticleKind {
    /// A question users ask, answered; public once published.
    Faq,
    /// A standard operating procedure for staff; never public.
    Sop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    Draft,
    Published,
}

impl ArticleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleKind::Faq => "faq",
            ArticleKind::Sop => "sop",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "faq" => Some(ArticleKind::Faq),
            "sop" => Some(ArticleKind::Sop),
            _ => None,
        }
    }
}

impl ArticleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(ArticleStatus::Draft),
            "published" => Some(ArticleStatus::Published),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Article {
    pub id: i64,
    pub lang: Lang,
    pub kind: ArticleKind,
    pub status: ArticleStatus,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    /// The resolved ticket it was drafted from (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ticket: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl Article {
    /// Seen by anyone, signed in or not.
    pub fn is_public(&self) -> bool {
        self.kind == ArticleKind::Faq && self.status == ArticleStatus::Published
    }
}

/// An article to write, or the fields of one to change (every field is set: the form or the
/// API sends the article whole).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    pub lang: Lang,
    pub kind: ArticleKind,
    pub status: ArticleStatus,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub lang: Option<Lang>,
    pub status: Option<ArticleStatus>,
    pub category: Option<String>,
    pub limit: u32,
}

/// What happened on one visit to the feedback form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeflectionEvent {
    /// Articles were suggested while the user typed.
    Shown,
    /// One of them answered the question: no ticket needed.
    Answered,
    /// The form was sent after suggestions were shown.
    Submitted,
}

impl DeflectionEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            DeflectionEvent::Shown => "shown",
            DeflectionEvent::Answered => "answered",
            DeflectionEvent::Submitted => "submitted",
        }
    }
}

/// Self-service over a period: of the visits shown articles, how many an article answered.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeflectionReport {
    pub shown: i64,
    pub answered: i64,
    pub submitted: i64,
    /// `answered / shown`, 0 when nothing was shown.
    pub rate: f64,
    /// Articles by the visits they answered, most first: (id, title, answered).
    pub top_articles: Vec<(i64, String, i64)>,
}
