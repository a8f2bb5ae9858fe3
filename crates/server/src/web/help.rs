//! The public help centre: published FAQ articles, searched in Chinese or English, and the
//! suggestions the feedback form shows while someone types — with a record of when an article
//! answered the question so no ticket was needed (the deflection rate).

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use closedloop_search::{DocKey, Kind, Scope, SearchQuery};
use closedloop_store::{Article, ArticleFilter, DeflectionEvent};
use serde::{Deserialize, Serialize};

use super::i18n::Tr;
use super::{not_found, page};
use crate::AppState;
use crate::http::search::marked_html;
use crate::rate_limit::{Public, Throttled};

const SUGGESTIONS: usize = 5;

/// A visit to the feedback form: the id the page carries so its events count once.
pub fn new_visit() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A found article: its id, title and the matching passage as escaped HTML with `<mark>`.
#[derive(Debug, Serialize)]
pub struct Suggestion {
    pub id: i64,
    pub title: String,
    pub snippet_html: String,
    pub url: String,
}

/// Published FAQs matching `q`, best first (the reader's language ranks no differently: a
/// traditional-Chinese question finds simplified answers and the other way round).
async fn find(state: &AppState, q: &str, limit: usize) -> Vec<Suggestion> {
    state.search.refresh(state.store.clone()).await;
    let mut query = SearchQuery::new(q, Scope::Public);
    query.kind = Some(Kind::Article);
    query.limit = limit;
    query.lenient = true;
    let search = state.search.clone();
    let hits = match tokio::task::spawn_blocking(move || search.index().search(&query)).await {
        Ok(Ok(hits)) => hits,
        Ok(Err(error)) => {
            tracing::warn!(%error, "help centre search failed");
            return Vec::new();
        }
        Err(error) => {
            tracing::warn!(%error, "help centre search task failed");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for hit in hits.hits {
        let DocKey::Article(id) = hit.key else {
            continue;
        };
        // The index may lag an unpublish by a moment: ask the store.
        let Ok(article) = state.store.article(None, id).await else {
            continue;
        };
        out.push(Suggestion {
            id,
            title: article.title,
            snippet_html: marked_html(&hit.snippet),
            url: format!("/help/articles/{id}"),
        });
    }
    out
}

#[derive(Deserialize)]
pub struct HelpQuery {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    tr: Tr,
    q: String,
    results: Vec<Suggestion>,
    /// Newest articles in the reader's language first, when nothing was asked.
    articles: Vec<Article>,
}

pub async fn home(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    tr: Tr,
    Query(q): Query<HelpQuery>,
) -> Response {
    let asked =
        q.q.unwrap_or_default()
            .trim()
            .chars()
            .take(200)
            .collect::<String>();
    let (results, articles) = if asked.is_empty() {
        let filter = ArticleFilter {
            limit: 100,
            ..ArticleFilter::default()
        };
        let mut all = state
            .store
            .articles(None, &filter)
            .await
            .unwrap_or_default();
        let mine = if tr.is_zh() { "zh" } else { "en" };
        all.sort_by_key(|a| a.lang.as_str() != mine);
        (Vec::new(), all)
    } else {
        (find(&state, &asked, 20).await, Vec::new())
    };
    page(
        StatusCode::OK,
        &HelpPage {
            tr,
            q: asked,
            results,
            articles,
        },
    )
}

#[derive(Template)]
#[template(path = "help_article.html")]
struct ArticlePage {
    tr: Tr,
    article: Article,
    /// The body's paragraphs.
    paragraphs: Vec<String>,
    updated: String,
}

pub async fn article(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    tr: Tr,
    Path(id): Path<i64>,
) -> Response {
    match state.store.article(None, id).await {
        Ok(article) => {
            let paragraphs = article
                .body
                .split("\n\n")
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            page(
                StatusCode::OK,
                &ArticlePage {
                    updated: tr.when(article.updated_at),
                    tr,
                    article,
                    paragraphs,
                },
            )
        }
        Err(_) => not_found(),
    }
}

#[derive(Deserialize)]
pub struct SuggestQuery {
    q: Option<String>,
    visit: Option<String>,
}

/// The feedback form's type-ahead: up to five published articles for what was typed so far.
/// A visit shown any is recorded once.
pub async fn suggest(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    Query(q): Query<SuggestQuery>,
) -> Response {
    let text: String = q.q.unwrap_or_default().trim().chars().take(300).collect();
    if text.chars().count() < 2 {
        return Json(Vec::<Suggestion>::new()).into_response();
    }
    let found = find(&state, &text, SUGGESTIONS).await;
    if !found.is_empty()
        && let Some(visit) = q.visit.as_deref().filter(|v| !v.is_empty())
        && let Err(error) = state
            .store
            .record_deflection(visit, DeflectionEvent::Shown, None)
            .await
    {
        tracing::debug!(%error, "suggestions shown: not recorded");
    }
    Json(found).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answered {
    visit: String,
    article: i64,
}

/// "This answered my question": recorded once per visit. Only JSON is taken, which a page
/// on another site cannot send here without this origin's consent (CORS), so it needs no
/// CSRF token.
pub async fn answered(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return crate::error::ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON",
        )
        .into_response();
    }
    let Ok(a) = serde_json::from_slice::<Answered>(&body) else {
        return crate::error::ApiError::invalid("body", "invalid_json", "{\"visit\", \"article\"}")
            .into_response();
    };
    match state
        .store
        .record_deflection(&a.visit, DeflectionEvent::Answered, Some(a.article))
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("help.js"),
    )
        .into_response()
}
