//! Full-text search over what the caller may see: tickets and knowledge-base articles.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use closedloop_domain::{Priority, Status};
use closedloop_search::{DocKey, Highlighted, Kind, SearchQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::search::Search;

const MAX_QUERY_CHARS: usize = 200;
const MAX_OFFSET: usize = 1_000;

#[derive(Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words in Chinese (simplified or traditional) or English, or a ticket number.
    pub(crate) q: Option<String>,
    /// `ticket` or `article`; both when absent.
    pub(crate) kind: Option<String>,
    /// One status or several separated by commas.
    pub(crate) status: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    /// RFC 3339 time, inclusive.
    created_from: Option<String>,
    /// RFC 3339 time, exclusive.
    created_to: Option<String>,
    /// 1-50, default 20.
    limit: Option<usize>,
    /// Hits to skip (at most 1000).
    pub(crate) offset: Option<usize>,
}

/// Text with the parts that matched: `highlights` are [start, end) character offsets, and
/// `html` is the same text escaped with the matches in `<mark>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Marked {
    pub text: String,
    pub highlights: Vec<[usize; 2]>,
    pub html: String,
}

impl Marked {
    pub fn from(h: &Highlighted) -> Marked {
        let char_at = |byte: usize| h.text[..byte.min(h.text.len())].chars().count();
        Marked {
            highlights: h
                .highlights
                .iter()
                .map(|(a, b)| [char_at(*a), char_at(*b)])
                .collect(),
            html: marked_html(h),
            text: h.text.clone(),
        }
    }
}

/// The text escaped, with each highlighted range in `<mark>`.
pub fn marked_html(h: &Highlighted) -> String {
    let mut out = String::with_capacity(h.text.len() + 16);
    let mut at = 0;
    for &(a, b) in &h.highlights {
        if a < at || b > h.text.len() || !h.text.is_char_boundary(a) || !h.text.is_char_boundary(b)
        {
            continue;
        }
        out.push_str(&escape(&h.text[at..a]));
        out.push_str("<mark>");
        out.push_str(&escape(&h.text[a..b]));
        out.push_str("</mark>");
        at = b;
    }
    out.push_str(&escape(&h.text[at..]));
    out
}

/// Text safe inside HTML elements and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// `ticket` or `article`.
    pub kind: &'static str,
    /// Tickets: their number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Articles: their id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_id: Option<i64>,
    pub title: Marked,
    pub snippet: Marked,
    /// The words were found in internal notes (staff only).
    pub in_notes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    /// Matching documents the caller may see, all pages together.
    pub total: usize,
    pub items: Vec<SearchHit>,
}

fn parse_time(
    field: &'static str,
    v: Option<&str>,
) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    v.map(|v| {
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| t.to_utc())
            .map_err(|_| {
                ApiError::invalid(
                    field,
                    "invalid_time",
                    "use an RFC 3339 time such as 2026-11-22T08:00:00Z",
                )
            })
    })
    .transpose()
}

impl SearchParams {
    pub(crate) fn into_query(self, scope: closedloop_search::Scope) -> ApiResult<SearchQuery> {
        let text = self.q.unwrap_or_default();
        let text = text.trim();
        if text.is_empty() {
            return Err(ApiError::invalid("q", "required", "say what to search for"));
        }
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid(
                "q",
                "too_long",
                format!("at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let mut q = SearchQuery::new(text, scope);
        q.kind = match self.kind.as_deref() {
            None | Some("") => None,
            Some("ticket") => Some(Kind::Ticket),
            Some("article") => Some(Kind::Article),
            Some(_) => {
                return Err(ApiError::invalid(
                    "kind",
                    "invalid_value",
                    "must be one of: ticket, article",
                ));
            }
        };
        q.statuses = self
            .status
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Status>().map(|s| s.as_str().to_owned()))
            .collect::<Result<_, _>>()?;
        q.priority = self
            .priority
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<Priority>().map(|p| p.as_str().to_owned()))
            .transpose()?;
        q.category = self.category.filter(|c| !c.is_empty());
        q.created_from = parse_time("created_from", self.created_from.as_deref())?;
        q.created_to = parse_time("created_to", self.created_to.as_deref())?;
        q.limit = match self.limit {
            None => 20,
            Some(n @ 1..=50) => n,
            Some(_) => {
                return Err(ApiError::invalid(
                    "limit",
                    "out_of_range",
                    "must be between 1 and 50",
                ));
            }
        };
        q.offset = match self.offset {
            None => 0,
            Some(n @ 0..=MAX_OFFSET) => n,
            Some(_) => {
                return Err(ApiError::invalid(
                    "offset",
                    "out_of_range",
                    format!("at most {MAX_OFFSET}"),
                ));
            }
        };
        Ok(q)
    }
}

/// Runs a search for `actor` and keeps only what the store, asked again, lets them see: the
/// index is filtered by scope already, and this closes the second it may lag behind a move.
pub async fn run(
    state: &AppState,
    actor: &closedloop_store::Principal,
    query: SearchQuery,
) -> ApiResult<SearchResults> {
    state.search.refresh(state.store.clone()).await;
    let search = state.search.clone();
    let hits = tokio::task::spawn_blocking(move || search.index().search(&query))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "search task failed");
            ApiError::internal()
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "search failed");
            ApiError::internal()
        })?;
    let ticket_ids: Vec<i64> = hits
        .hits
        .iter()
        .filter_map(|h| match h.key {
            DocKey::Ticket(id) => Some(id),
            DocKey::Article(_) => None,
        })
        .collect();
    let tickets: HashMap<i64, closedloop_store::Ticket> = state
        .store
        .tickets_by_id(actor, &ticket_ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut dropped = 0;
    let mut items = Vec::with_capacity(hits.hits.len());
    for hit in hits.hits {
        let item = match hit.key {
            DocKey::Ticket(id) => {
                let Some(t) = tickets.get(&id) else {
                    dropped += 1;
                    continue;
                };
                SearchHit {
                    kind: "ticket",
                    number: Some(t.number.as_str().to_owned()),
                    article_id: None,
                    title: Marked::from(&hit.title),
                    snippet: Marked::from(&hit.snippet),
                    in_notes: hit.in_notes,
                    status: Some(t.status),
                    department: t.department.clone(),
                    created_at: Some(t.created_at),
                }
            }
            DocKey::Article(id) => SearchHit {
                kind: "article",
                number: None,
                article_id: Some(id),
                title: Marked::from(&hit.title),
                snippet: Marked::from(&hit.snippet),
                in_notes: false,
                status: None,
                department: None,
                created_at: None,
            },
        };
        items.push(item);
    }
    Ok(SearchResults {
        total: hits.total.saturating_sub(dropped),
        items,
    })
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchResults), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn search(
    State(state): State<AppState>,
    actor: Actor,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<SearchResults>> {
    let Query(params) = params
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let query = params.into_query(Search::scope_of(&actor.0))?;
    Ok(Json(run(&state, &actor.0, query).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_escaped_and_placed_by_character() {
        let h = Highlighted {
            text: "<b>退款</b> 没到".into(),
            highlights: vec![(3, 9)],
        };
        let m = Marked::from(&h);
        assert_eq!(m.html, "&lt;b&gt;<mark>退款</mark>&lt;/b&gt; 没到");
        assert_eq!(m.highlights, [[3, 5]]);
        let broken = Highlighted {
            text: "退款".into(),
            highlights: vec![(1, 3)],
        };
        assert_eq!(
            marked_html(&broken),
            "退款",
            "a range off a character boundary is ignored"
        );
    }
}
