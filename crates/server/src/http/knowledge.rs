//! The knowledge base over the API: articles, drafts from resolved tickets, and how often the
//! help centre answered a question before it became a ticket.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use closedloop_domain::notice::Lang;
use closedloop_store::{Article, ArticleFilter, ArticleInput, ArticleStatus, DeflectionReport};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiJson;
use super::tickets::parse_number;
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    /// `zh` or `en`.
    lang: Option<String>,
    /// `draft` or `published` (staff).
    status: Option<String>,
    category: Option<String>,
    /// 1-500, default 100.
    limit: Option<u32>,
}

fn query<T: serde::de::DeserializeOwned>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<T> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
}

/// Articles the caller may read, newest change first: staff every one, customers published FAQs.
#[utoipa::path(get, path = "/api/v1/articles", tag = "knowledge", params(ArticleQuery),
    responses((status = 200, body = Vec<Article>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    q: Result<Query<ArticleQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<Article>>> {
    let q = query(q)?;
    let filter = ArticleFilter {
        lang: q
            .lang
            .filter(|l| !l.is_empty())
            .map(|l| l.parse::<Lang>())
            .transpose()?,
        status: match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(ArticleStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "invalid_value",
                    "must be one of: draft, published",
                )
            })?),
        },
        category: q.category.filter(|c| !c.is_empty()),
        limit: match q.limit {
            None => 100,
            Some(n @ 1..=500) => n,
            Some(_) => {
                return Err(ApiError::invalid(
                    "limit",
                    "out_of_range",
                    "must be between 1 and 500",
                ));
            }
        },
    };
    Ok(Json(state.store.articles(Some(&actor.0), &filter).await?))
}

/// Writes an article: any staff member a draft, supervisors and administrators a published one.
#[utoipa::path(post, path = "/api/v1/articles", tag = "knowledge", request_body = ArticleInput,
    responses((status = 201, body = Article), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<ArticleInput>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    let a = state.store.create_article(&actor.0, &input).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

#[utoipa::path(get, path = "/api/v1/articles/{id}", tag = "knowledge",
    params(("id" = i64, Path)),
    responses((status = 200, body = Article), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Article>> {
    Ok(Json(state.store.article(Some(&actor.0), id).await?))
}

/// Saves a new version (the whole article); publishing and changing a published article are
/// for supervisors and administrators.
#[utoipa::path(put, path = "/api/v1/articles/{id}", tag = "knowledge", request_body = ArticleInput,
    params(("id" = i64, Path)),
    responses((status = 200, body = Article), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ArticleInput>,
) -> ApiResult<Json<Article>> {
    Ok(Json(
        state.store.update_article(&actor.0, id, &input).await?,
    ))
}

/// A draft FAQ from a resolved or closed ticket: its question and what answered it.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/article", tag = "knowledge",
    params(("number" = String, Path)),
    responses((status = 201, body = Article), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn draft_from_ticket(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    let number = parse_number(&number)?;
    let a = state
        .store
        .draft_article_from_ticket(&actor.0, &number)
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SinceQuery {
    /// RFC 3339 time; default 30 days ago.
    since: Option<String>,
}

/// Self-service on the feedback form: visits shown articles, visits an article answered (no
/// ticket needed), visits that sent the form anyway; the rate and the articles that answered.
#[utoipa::path(get, path = "/api/v1/reports/deflection", tag = "reports", params(SinceQuery),
    responses((status = 200, body = DeflectionReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn deflection(
    State(state): State<AppState>,
    actor: Actor,
    q: Result<Query<SinceQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<DeflectionReport>> {
    if !actor.0.role.is_staff() {
        return Err(ApiError::forbidden("reports are for staff"));
    }
    let q = query(q)?;
    let since = match q.since.as_deref() {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .map_err(|_| ApiError::invalid("since", "invalid_time", "use an RFC 3339 time"))?,
        None => closedloop_store::Clock::now(state.clock.as_ref()) - chrono::Duration::days(30),
    };
    Ok(Json(state.store.deflection_report(since).await?))
}
