//! The console's search page: the full-text index over tickets and knowledge-base articles,
//! with the scope, filters and highlights of `GET /api/v1/search` (one code path, so a page
//! never shows what the API would not).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use closedloop_domain::{Role, Status};

use super::i18n::Tr;
use super::page;
use super::staff::{staff, urlencode};
use crate::AppState;
use crate::http::search::{SearchParams, run};
use crate::search::Search;

struct Item {
    href: String,
    kind: String,
    /// Escaped text with `<mark>` around the matched words.
    title_html: String,
    snippet_html: String,
    in_notes: bool,
    status: String,
    department: String,
    when: String,
}

#[derive(Template)]
#[template(path = "agent_search.html")]
struct SearchPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    q: String,
    kind: String,
    status: String,
    statuses: Vec<(&'static str, String)>,
    searched: bool,
    total_line: String,
    items: Vec<Item>,
    error: Option<String>,
    previous: Option<String>,
    next: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/search").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let (params, mut error) = match query {
        Ok(Query(p)) => (p, None),
        Err(e) => (SearchParams::default(), Some(e.body_text())),
    };
    let q = params.q.clone().unwrap_or_default();
    let kind = params.kind.clone().unwrap_or_default();
    let status = params.status.clone().unwrap_or_default();
    let offset = params.offset.unwrap_or(0);
    let searched = !q.trim().is_empty() && error.is_none();
    let mut total = 0;
    let mut items = Vec::new();
    if searched {
        let found = match params.into_query(Search::scope_of(&who)) {
            Ok(query) => run(&state, &who, query).await,
            Err(e) => Err(e),
        };
        match found {
            Ok(found) => {
                total = found.total;
                items = found
                    .items
                    .into_iter()
                    .map(|hit| Item {
                        href: match (&hit.number, hit.article_id) {
                            (Some(n), _) => format!("/agent/tickets/{n}"),
                            (None, Some(id)) => format!("/agent/articles/{id}"),
                            (None, None) => String::new(),
                        },
                        kind: tr.t(&format!("search.{}", hit.kind)).to_owned(),
                        title_html: hit.title.html,
                        snippet_html: hit.snippet.html,
                        in_notes: hit.in_notes,
                        status: hit
                            .status
                            .map(|s| tr.of("status", s.as_str()))
                            .unwrap_or_default(),
                        department: hit.department.unwrap_or_default(),
                        when: hit.created_at.map(|t| tr.when(t)).unwrap_or_default(),
                    })
                    .collect();
            }
            Err(e) => error = Some(e.message),
        }
    }
    let at = |offset: usize| {
        format!(
            "/agent/search?q={}&kind={}&status={}&offset={offset}",
            urlencode(&q),
            urlencode(&kind),
            urlencode(&status)
        )
    };
    let shown = offset + items.len();
    let p = SearchPage {
        here: at(offset),
        previous: (offset > 0).then(|| at(offset.saturating_sub(PAGE))),
        next: (!items.is_empty() && shown < total && shown < MAX_SHOWN).then(|| at(shown)),
        tr,
        admin: who.role == Role::Admin,
        name: who.name,
        csrf,
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str(), tr.of("status", s.as_str())))
            .collect(),
        q,
        kind,
        status,
        searched,
        total_line: tr.fill("search.total", &[("total", &total.to_string())]),
        items,
        error,
    };
    let code = if p.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(code, &p)
}

/// Hits per page: the API's default `limit`.
const PAGE: usize = 20;
/// The API's deepest `offset` plus one page.
const MAX_SHOWN: usize = 1_000;
