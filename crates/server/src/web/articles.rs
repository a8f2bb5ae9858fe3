//! The knowledge base in the console: every staff member lists, drafts and edits articles;
//! supervisors and administrators publish (the store decides and says why not).

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::Role;
use closedloop_store::{
    Article, ArticleFilter, ArticleInput, ArticleKind, ArticleStatus, Principal,
};
use serde::Deserialize;

use super::i18n::Tr;
use super::staff::staff;
use super::{page, refused, session_form};
use crate::AppState;
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "agent_articles.html")]
struct ListPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    articles: Vec<Article>,
}

/// The editor: a new article (id None) or an existing one, with what was typed.
#[derive(Template)]
#[template(path = "agent_article.html")]
struct EditPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    id: Option<i64>,
    form: ArticleForm,
    source_ticket: Option<String>,
    may_publish: bool,
    error: Option<String>,
    public: bool,
}

pub async fn list(State(state): State<AppState>, jar: CookieJar, tr: Tr) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/articles").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let filter = ArticleFilter {
        limit: 500,
        ..ArticleFilter::default()
    };
    let articles = match state.store.articles(Some(&who), &filter).await {
        Ok(a) => a,
        Err(e) => return refused(e),
    };
    page(
        StatusCode::OK,
        &ListPage {
            tr,
            here: "/agent/articles".into(),
            admin: who.role == Role::Admin,
            name: who.name,
            csrf,
            articles,
        },
    )
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ArticleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub lang: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub category: String,
}

impl ArticleForm {
    fn of(a: &Article) -> Self {
        Self {
            csrf: String::new(),
            title: a.title.clone(),
            body: a.body.clone(),
            lang: a.lang.as_str().into(),
            kind: a.kind.as_str().into(),
            status: a.status.as_str().into(),
            category: a.category.clone().unwrap_or_default(),
        }
    }

    fn input(&self) -> Result<ArticleInput, ApiError> {
        Ok(ArticleInput {
            lang: self.lang.parse()?,
            kind: ArticleKind::parse(&self.kind)
                .ok_or_else(|| ApiError::invalid("kind", "invalid_value", "faq or sop"))?,
            status: ArticleStatus::parse(&self.status).ok_or_else(|| {
                ApiError::invalid("status", "invalid_value", "draft or published")
            })?,
            title: self.title.clone(),
            body: self.body.clone(),
            category: Some(self.category.clone()).filter(|c| !c.trim().is_empty()),
        })
    }
}

#[expect(clippy::too_many_arguments, reason = "the page shows all of these")]
fn editor(
    who: Principal,
    tr: Tr,
    csrf: String,
    id: Option<i64>,
    form: ArticleForm,
    source_ticket: Option<String>,
    public: bool,
    error: Option<ApiError>,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    page(
        status,
        &EditPage {
            tr,
            here: id.map_or_else(
                || "/agent/articles/new".into(),
                |id| format!("/agent/articles/{id}"),
            ),
            admin: who.role == Role::Admin,
            may_publish: who.role >= Role::Supervisor,
            name: who.name,
            csrf,
            id,
            form,
            source_ticket,
            public,
            error: error.map(|e| e.message),
        },
    )
}

pub async fn new(State(state): State<AppState>, jar: CookieJar, tr: Tr) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/articles/new").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let form = ArticleForm {
        lang: if tr.is_zh() { "zh" } else { "en" }.into(),
        kind: "faq".into(),
        status: "draft".into(),
        ..ArticleForm::default()
    };
    editor(who, tr, csrf, None, form, None, false, None)
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(id): Path<i64>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, &format!("/agent/articles/{id}")).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    match state.store.article(Some(&who), id).await {
        Ok(a) => {
            let form = ArticleForm::of(&a);
            editor(
                who,
                tr,
                csrf,
                Some(id),
                form,
                a.source_ticket.clone(),
                a.is_public(),
                None,
            )
        }
        Err(e) => refused(e),
    }
}

/// Saves a new article (`id` None) or a new version of one.
async fn save(
    state: &AppState,
    jar: &CookieJar,
    tr: Tr,
    id: Option<i64>,
    form: Result<Form<ArticleForm>, FormRejection>,
) -> Response {
    let here = id.map_or_else(
        || "/agent/articles/new".into(),
        |id| format!("/agent/articles/{id}"),
    );
    let (who, csrf) = match staff(state, jar, &here).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let form = match session_form(&csrf, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    let saved = match form.input() {
        Ok(input) => match id {
            Some(id) => state.store.update_article(&who, id, &input).await,
            None => state.store.create_article(&who, &input).await,
        }
        .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match saved {
        Ok(a) => Redirect::to(&format!("/agent/articles/{}", a.id)).into_response(),
        Err(e) => editor(who, tr, csrf, id, form, None, false, Some(e)),
    }
}

pub async fn create(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<ArticleForm>, FormRejection>,
) -> Response {
    save(&state, &jar, tr, None, form).await
}

pub async fn update(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(id): Path<i64>,
    form: Result<Form<ArticleForm>, FormRejection>,
) -> Response {
    save(&state, &jar, tr, Some(id), form).await
}

#[derive(Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    csrf: String,
}

/// "Draft a help article" on a resolved ticket: the draft opens in the editor.
pub async fn draft_from_ticket(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(number): Path<String>,
    form: Result<Form<DraftForm>, FormRejection>,
) -> Response {
    let Ok(n) = number.parse::<closedloop_domain::TicketNumber>() else {
        return super::not_found();
    };
    let (who, csrf) = match staff(&state, &jar, &format!("/agent/tickets/{n}")).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if let Err(res) = session_form(&csrf, form) {
        return res;
    }
    match state.store.draft_article_from_ticket(&who, &n).await {
        Ok(a) => Redirect::to(&format!("/agent/articles/{}", a.id)).into_response(),
        Err(e) => refused(e),
    }
}

super::session_forms!(ArticleForm, DraftForm);
