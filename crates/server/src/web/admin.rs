//! The administrators' pages: people (accounts, roles, departments, deactivation),
//! organisation (departments and the category routing matrix), notice templates (edited and
//! checked as the API checks them), and channels (widget sites, webhook sources, the mailbox).
//! Every form goes through the same validation as the API and shows its message, naming the
//! field, above the form with what was typed kept.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use closedloop_domain::{Channel, Role};
use closedloop_store::Principal;
use serde::Deserialize;

use super::i18n::Tr;
use super::staff::{staff, urlencode};
use super::{notice, page, refused, session_form};
use crate::AppState;
use crate::error::ApiError;
use crate::http::closing::{TemplateView, store_template, template_key, templates_in_force};

/// The signed-in administrator with the page's reader settings; anyone else is refused.
async fn admin(
    state: &AppState,
    jar: &CookieJar,
    tr: Tr,
    here: &str,
) -> Result<(Principal, Tr, String), Response> {
    let (who, csrf) = staff(state, jar, here).await?;
    let tr = tr.for_user(&who);
    if who.role != Role::Admin {
        return Err(notice(
            StatusCode::FORBIDDEN,
            tr.t("app.admins_only"),
            tr.t("app.admins_only_text"),
        ));
    }
    Ok((who, tr, csrf))
}

/// A refusal as the pages show it: the field it concerns, then the reason.
fn message(e: &ApiError) -> String {
    match &e.field {
        Some(f) => format!("{f}: {}", e.message),
        None => e.message.clone(),
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

// --- people ---

struct UserRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    departments: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    me: i64,
    users: Vec<UserRow>,
    departments: Vec<String>,
    roles: &'static [&'static str],
    flash: Option<String>,
    error: Option<String>,
    form: NewUserForm,
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    password: String,
}

async fn users_page(
    state: &AppState,
    (who, tr, csrf): (Principal, Tr, String),
    flash: Option<String>,
    refusal: Option<(ApiError, NewUserForm)>,
) -> Response {
    // Staff only: customers can number in the millions (they are found through their tickets).
    let (users, departments) = match (
        state.store.list_staff().await,
        state.store.list_departments().await,
    ) {
        (Ok(u), Ok(d)) => (u, d),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let (status, error, mut form) = match refusal {
        Some((e, f)) => (e.status, Some(message(&e)), f),
        None => (StatusCode::OK, None, NewUserForm::default()),
    };
    // Never sent back into the page.
    form.password.clear();
    let p = UsersPage {
        tr,
        here: "/admin/users".into(),
        name: who.name,
        admin: true,
        csrf,
        me: who.user_id,
        users: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id,
                email: u.email,
                name: u.name,
                role: u.role.as_str().to_owned(),
                departments: u.departments.join(", "),
                active: u.active,
            })
            .collect(),
        departments: departments.into_iter().map(|d| d.code).collect(),
        roles: &["customer", "agent", "supervisor", "admin"],
        flash,
        error,
        form,
    };
    page(status, &p)
}

pub async fn users(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<DoneQuery>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/users").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let flash = q
        .done
        .map(|d| ctx.1.fill("admin.user_done", &[("what", &d)]));
    users_page(&state, ctx, flash, None).await
}

pub async fn add_user(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<NewUserForm>, FormRejection>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/users").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let form = match session_form(&ctx.2, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let made = async {
        let role: Role = form.role.parse()?;
        let departments: Vec<String> = Some(form.department.trim().to_owned())
            .filter(|d| !d.is_empty())
            .into_iter()
            .collect();
        let password = Some(form.password.clone()).filter(|p| !p.is_empty());
        let new = crate::http::directory::new_user(
            form.email.trim().to_owned(),
            form.name.clone(),
            role,
            password,
            departments,
        )
        .await?;
        Ok::<_, ApiError>(state.store.create_user(new).await?)
    }
    .await;
    match made {
        Ok(u) => {
            Redirect::to(&format!("/admin/users?done={}", urlencode(&u.email))).into_response()
        }
        Err(e) => users_page(&state, ctx, None, Some((e, form))).await,
    }
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    active: String,
}

/// Deactivating signs the user out everywhere at once (sessions and tokens resolve only for
/// active users) and keeps everything they did.
pub async fn set_active(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path(id): Path<i64>,
    form: Result<Form<ActiveForm>, FormRejection>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/users").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let form = match session_form(&ctx.2, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let active = form.active == "1";
    if id == ctx.0.user_id && !active {
        let e = ApiError::invalid("active", "own_account", "you cannot deactivate yourself");
        return users_page(&state, ctx, None, Some((e, NewUserForm::default()))).await;
    }
    match state.store.set_user_active(id, active).await {
        Ok(u) => {
            state.tokens.forget();
            Redirect::to(&format!("/admin/users?done={}", urlencode(&u.email))).into_response()
        }
        Err(e) => users_page(&state, ctx, None, Some((e.into(), NewUserForm::default()))).await,
    }
}

// --- organisation ---

#[derive(Template)]
#[template(path = "admin_organisation.html")]
struct OrganisationPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    departments: Vec<closedloop_store::Department>,
    matrix: Vec<closedloop_store::CategoryRoute>,
    flash: Option<String>,
    error: Option<String>,
    form: DepartmentForm,
}

#[derive(Deserialize, Default)]
pub struct DepartmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    name_zh: String,
}

async fn organisation_page(
    state: &AppState,
    (who, tr, csrf): (Principal, Tr, String),
    flash: Option<String>,
    refusal: Option<(ApiError, DepartmentForm)>,
) -> Response {
    let (departments, matrix) = match (
        state.store.list_departments().await,
        state.store.list_categories().await,
    ) {
        (Ok(d), Ok(m)) => (d, m),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let (status, error, form) = match refusal {
        Some((e, f)) => (e.status, Some(message(&e)), f),
        None => (StatusCode::OK, None, DepartmentForm::default()),
    };
    let p = OrganisationPage {
        tr,
        here: "/admin/organisation".into(),
        name: who.name,
        admin: true,
        csrf,
        departments,
        matrix,
        flash,
        error,
        form,
    };
    page(status, &p)
}

pub async fn organisation(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<DoneQuery>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/organisation").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let flash = q
        .done
        .map(|d| ctx.1.fill("admin.department_done", &[("code", &d)]));
    organisation_page(&state, ctx, flash, None).await
}

pub async fn add_department(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<DepartmentForm>, FormRejection>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/organisation").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let form = match session_form(&ctx.2, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let made = async {
        let code = closedloop_domain::Category::parse("code", form.code.trim())?;
        let name = closedloop_domain::TextField::parse("name_en", &form.name_en, 100)?;
        let name_zh = closedloop_domain::TextField::parse("name_zh", &form.name_zh, 100)?;
        Ok::<_, ApiError>(
            state
                .store
                .create_department(code.as_str(), name.as_str(), name_zh.as_str())
                .await?,
        )
    }
    .await;
    match made {
        Ok(d) => Redirect::to(&format!("/admin/organisation?done={}", urlencode(&d.code)))
            .into_response(),
        Err(e) => organisation_page(&state, ctx, None, Some((e, form))).await,
    }
}

// --- templates ---

#[derive(Template)]
#[template(path = "admin_templates.html")]
struct TemplatesPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    templates: Vec<TemplateView>,
    flash: Option<String>,
    /// The template the refusal is about (`event/lang/channel`) and why.
    error: Option<(String, String)>,
}

async fn templates_page(
    state: &AppState,
    (who, tr, csrf): (Principal, Tr, String),
    flash: Option<String>,
    refusal: Option<(String, ApiError, String, String)>,
) -> Response {
    let mut templates = match templates_in_force(state).await {
        Ok(t) => t,
        Err(e) => return (e.status, e.message).into_response(),
    };
    let mut status = StatusCode::OK;
    let mut error = None;
    if let Some((key, e, subject, body)) = refusal {
        // Show what was typed, not the template in force, so nothing is lost.
        if let Some(t) = templates.iter_mut().find(|t| template_id(t) == key) {
            t.subject = subject;
            t.body = body;
        }
        status = e.status;
        error = Some((key, message(&e)));
    }
    let p = TemplatesPage {
        tr,
        here: "/admin/templates".into(),
        name: who.name,
        admin: true,
        csrf,
        templates,
        flash,
        error,
    };
    page(status, &p)
}

/// `event/lang/channel`: a template's address on the page.
fn template_id(t: &TemplateView) -> String {
    format!(
        "{}/{}/{}",
        t.event.as_str(),
        t.lang.as_str(),
        t.channel.as_str()
    )
}

pub async fn templates(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<DoneQuery>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/templates").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let flash = q
        .done
        .map(|d| ctx.1.fill("admin.template_done", &[("template", &d)]));
    templates_page(&state, ctx, flash, None).await
}

#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    /// `save` or `reset`.
    #[serde(default)]
    op: String,
}

pub async fn save_template(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Path((event, lang, channel)): Path<(String, String, String)>,
    form: Result<Form<TemplateForm>, FormRejection>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/templates").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let form = match session_form(&ctx.2, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let id = format!("{event}/{lang}/{channel}");
    let done = async {
        let key = template_key(&event, &lang, &channel)?;
        if form.op == "reset" {
            state.store.delete_template(key.0, key.1, key.2).await?;
        } else {
            store_template(
                &state,
                ctx.0.user_id,
                key,
                form.subject.clone(),
                form.body.clone(),
            )
            .await?;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    match done {
        Ok(()) => {
            Redirect::to(&format!("/admin/templates?done={}", urlencode(&id))).into_response()
        }
        Err(e) => templates_page(&state, ctx, None, Some((id, e, form.subject, form.body))).await,
    }
}

// --- channels ---

#[derive(Template)]
#[template(path = "admin_channels.html")]
struct ChannelsPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    sites: Vec<closedloop_store::WidgetSite>,
    sources: Vec<closedloop_store::WebhookSource>,
    channels: Vec<(&'static str, String)>,
    mailbox: Option<String>,
    smtp: bool,
    base: String,
    /// Shown once, right after a webhook source is made: its name and signing secret.
    secret: Option<(String, String)>,
    flash: Option<String>,
    error: Option<String>,
}

async fn channels_page(
    state: &AppState,
    (who, tr, csrf): (Principal, Tr, String),
    flash: Option<String>,
    secret: Option<(String, String)>,
    refusal: Option<ApiError>,
) -> Response {
    let (sites, sources) = match (
        state.store.list_widget_sites().await,
        state.store.list_webhook_sources().await,
    ) {
        (Ok(s), Ok(w)) => (s, w),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let c = &state.config;
    let p = ChannelsPage {
        channels: Channel::ALL
            .iter()
            .map(|ch| (ch.as_str(), tr.of("channel", ch.as_str())))
            .collect(),
        tr,
        here: "/admin/channels".into(),
        name: who.name,
        admin: true,
        csrf,
        sites,
        sources,
        mailbox: c
            .imap
            .server
            .as_ref()
            .map(|s| format!("{} · {} · {}", s, c.imap.user, c.imap.mailbox)),
        smtp: c.smtp.url.is_some(),
        base: c
            .closing
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", c.listen)),
        secret,
        flash,
        error: refusal.as_ref().map(message),
    };
    let status = refusal.map_or(StatusCode::OK, |e| e.status);
    page(status, &p)
}

pub async fn channels(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<DoneQuery>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/channels").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let flash = q
        .done
        .map(|d| ctx.1.fill("admin.channel_done", &[("name", &d)]));
    channels_page(&state, ctx, flash, None, None).await
}

#[derive(Deserialize)]
pub struct SiteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// One origin per line.
    #[serde(default)]
    origins: String,
}

pub async fn add_site(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<SiteForm>, FormRejection>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/channels").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let form = match session_form(&ctx.2, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let origins: Vec<String> = form
        .origins
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    match crate::http::widget::add_site(&state, &form.name, &origins).await {
        Ok(site) => {
            Redirect::to(&format!("/admin/channels?done={}", urlencode(&site.name))).into_response()
        }
        Err(e) => channels_page(&state, ctx, None, None, Some(e)).await,
    }
}

#[derive(Deserialize)]
pub struct SourceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    channel: String,
}

/// A new webhook source: its secret is shown on this one response and never again.
pub async fn add_source(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    form: Result<Form<SourceForm>, FormRejection>,
) -> Response {
    let ctx = match admin(&state, &jar, tr, "/admin/channels").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let form = match session_form(&ctx.2, form) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let made = async {
        let channel: Channel = form.channel.parse()?;
        crate::http::webhooks::add_source(state.store.as_ref(), form.name.trim(), channel).await
    }
    .await;
    match made {
        Ok((source, secret)) => {
            let flash = Some(ctx.1.fill("admin.channel_done", &[("name", &source.name)]));
            channels_page(&state, ctx, flash, Some((source.name, secret)), None).await
        }
        Err(e) => channels_page(&state, ctx, None, None, Some(e)).await,
    }
}

// --- service levels and triage rules ---

#[derive(Template)]
#[template(path = "admin_rules.html")]
struct RulesPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    /// The SLA policy and working calendar in force, as the configuration file writes them.
    sla: String,
    sla_file: String,
    triage_file: String,
    review_threshold: f32,
    anger_threshold: f32,
    categories: Vec<(String, String)>,
    natures: Vec<(String, String)>,
}

/// What decides clocks and triage: read from files given at start (`sla_config`,
/// `triage_config`) and checked by `closedloop config check`, so every instance of a
/// deployment runs the same rules; this page shows what is in force.
pub async fn rules(State(state): State<AppState>, jar: CookieJar, tr: Tr) -> Response {
    let (who, tr, csrf) = match admin(&state, &jar, tr, "/admin/rules").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let engine = state.triage.current();
    let config = engine.config();
    let default_file = tr.t("admin.built_in").to_owned();
    let p = RulesPage {
        tr,
        here: "/admin/rules".into(),
        name: who.name,
        admin: true,
        csrf,
        // Checked at start; read again here so the page shows the file as it is.
        sla: match state.config.sla() {
            Ok(sla) => toml::to_string_pretty(&sla).unwrap_or_default(),
            Err(e) => e.to_string(),
        },
        sla_file: state
            .config
            .sla_config
            .as_ref()
            .map_or_else(|| default_file.clone(), |p| p.display().to_string()),
        triage_file: state
            .config
            .triage_config
            .as_ref()
            .map_or(default_file, |p| p.display().to_string()),
        review_threshold: config.review_threshold,
        anger_threshold: config.anger_threshold,
        categories: config
            .category_rules
            .iter()
            .map(|r| (r.category.as_str().to_owned(), r.keywords.join("、")))
            .collect(),
        natures: config
            .nature_rules
            .iter()
            .map(|r| (r.nature.as_str().to_owned(), r.keywords.join("、")))
            .collect(),
    };
    page(StatusCode::OK, &p)
}

super::session_forms!(
    NewUserForm,
    ActiveForm,
    DepartmentForm,
    TemplateForm,
    SiteForm,
    SourceForm
);
