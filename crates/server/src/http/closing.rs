//! Closing the loop through the API: solutions and approvals, appeals, satisfaction, what the
//! user was sent, the customer's portal messages and preferences, templates, and the signed
//! links in users' messages.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use closedloop_domain::notice::{Event, Lang, NoticeChannel, TemplateText, default_template};
use closedloop_store::{
    Appeal, CustomerMessage, LinkAction, NewSolution, NoticeRecord, Preferences, Solution,
    SurveyAnswer, TemplateOverride, Ticket,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tickets::parse_number;
use super::{ApiJson, require_admin};
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::notify::links::{LinkError, Purpose};
use crate::notify::templates;

#[derive(Serialize, ToSchema)]
pub struct SolutionAnswer {
    ticket: Ticket,
    solution: Solution,
}

/// Proposes a solution (fix, account recovery, content correction, compensation with kind
/// and amount, explanation, suggestion adopted). The ticket moves to `solution_proposed`;
/// when the approval rules match (refunds, compensation, other departments) it waits for a
/// supervisor, otherwise the agent resolves it (the user is told) with `resolve`.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/solutions", tag = "loop", request_body = NewSolution,
    params(("number" = String, Path)),
    responses((status = 201, body = SolutionAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn propose(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<NewSolution>,
) -> ApiResult<(StatusCode, Json<SolutionAnswer>)> {
    let number = parse_number(&number)?;
    let (ticket, solution) = state
        .store
        .propose_solution(&actor.0, &number, body)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SolutionAnswer { ticket, solution }),
    ))
}

/// The ticket's solutions, oldest first, with their approval (staff).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/solutions", tag = "loop",
    params(("number" = String, Path)),
    responses((status = 200, body = [Solution]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn solutions(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<Solution>>> {
    let number = parse_number(&number)?;
    Ok(Json(state.store.solutions(&actor.0, &number).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `approve` (the ticket is resolved and the user told) or `reject` (back to work).
    decision: DecisionKind,
    /// Required to reject: why.
    note: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Approve,
    Reject,
}

/// A supervisor's decision on a solution waiting for approval. Nobody decides on their own
/// proposal (403 `own_proposal`).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/solutions/{id}/decision", tag = "loop", request_body = Decision,
    params(("number" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = SolutionAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn decide(
    State(state): State<AppState>,
    actor: Actor,
    Path((number, id)): Path<(String, i64)>,
    ApiJson(body): ApiJson<Decision>,
) -> ApiResult<Json<SolutionAnswer>> {
    let number = parse_number(&number)?;
    let (ticket, solution) = state
        .store
        .decide_solution(
            &actor.0,
            &number,
            id,
            body.decision == DecisionKind::Approve,
            body.note,
        )
        .await?;
    Ok(Json(SolutionAnswer { ticket, solution }))
}

/// Solutions waiting for approval in the caller's scope, oldest first (the approval queue).
#[utoipa::path(get, path = "/api/v1/approvals", tag = "loop",
    responses((status = 200, body = [Solution])),
    security(("bearer" = []), ("session" = [])))]
pub async fn approvals(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<Solution>>> {
    if !actor.0.role.is_staff() {
        return Err(ApiError::forbidden("approvals are for staff"));
    }
    Ok(Json(state.store.pending_approvals(&actor.0).await?))
}

/// The ticket's appeals and their reviews.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/appeals", tag = "loop",
    params(("number" = String, Path)),
    responses((status = 200, body = [Appeal]), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn appeals(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<Appeal>>> {
    let number = parse_number(&number)?;
    Ok(Json(state.store.appeals(&actor.0, &number).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

/// Hands an appeal under review to an administrator who has not handled the ticket (the
/// outcome `escalated`, told to the user). Upholding and revising are the transitions
/// `uphold_appeal` and `revise_appeal`.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/appeals/escalate", tag = "loop", request_body = Reason,
    params(("number" = String, Path)),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn escalate(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> ApiResult<Json<Ticket>> {
    let number = parse_number(&number)?;
    Ok(Json(
        state
            .store
            .escalate_appeal(&actor.0, &number, &body.reason)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyBody {
    /// 1 to 5.
    stars: u8,
    comment: Option<String>,
}

/// The requester's satisfaction answer, once per ticket (409 `already_answered` after).
#[utoipa::path(post, path = "/api/v1/tickets/{number}/survey", tag = "loop", request_body = SurveyBody,
    params(("number" = String, Path)),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn answer_survey(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<SurveyBody>,
) -> ApiResult<Json<Ticket>> {
    let number = parse_number(&number)?;
    Ok(Json(
        state
            .store
            .answer_survey(&actor.0, &number, body.stars, body.comment)
            .await?,
    ))
}

/// The ticket's satisfaction answer, if given.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/survey", tag = "loop",
    params(("number" = String, Path)),
    responses((status = 200, body = Option<SurveyAnswer>), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn survey(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Option<SurveyAnswer>>> {
    let number = parse_number(&number)?;
    Ok(Json(state.store.survey(&actor.0, &number).await?))
}

/// Everything the requester was sent about the ticket, by channel, and how delivery went
/// (staff).
#[utoipa::path(get, path = "/api/v1/tickets/{number}/notices", tag = "loop",
    params(("number" = String, Path)),
    responses((status = 200, body = [NoticeRecord]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn notices(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<NoticeRecord>>> {
    let number = parse_number(&number)?;
    Ok(Json(state.store.ticket_notices(&actor.0, &number).await?))
}

/// The caller's messages in the portal (what we told them), newest first.
#[utoipa::path(get, path = "/api/v1/messages", tag = "loop",
    responses((status = 200, body = [CustomerMessage])),
    security(("bearer" = []), ("session" = [])))]
pub async fn messages(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<CustomerMessage>>> {
    Ok(Json(
        state.store.customer_messages(actor.0.user_id, 100).await?,
    ))
}

/// Marks one of the caller's messages read.
#[utoipa::path(post, path = "/api/v1/messages/{id}/read", tag = "loop",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn read_message(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.store.mark_message_read(actor.0.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How the caller wants to hear from us: e-mail, SMS (consent, with a number), language.
#[utoipa::path(get, path = "/api/v1/me/preferences", tag = "loop",
    responses((status = 200, body = Preferences)),
    security(("bearer" = []), ("session" = [])))]
pub async fn preferences(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Preferences>> {
    Ok(Json(state.store.preferences(actor.0.user_id).await?))
}

#[utoipa::path(put, path = "/api/v1/me/preferences", tag = "loop", request_body = Preferences,
    responses((status = 200, body = Preferences), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn set_preferences(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<Preferences>,
) -> ApiResult<Json<Preferences>> {
    state.store.set_preferences(actor.0.user_id, &body).await?;
    Ok(Json(state.store.preferences(actor.0.user_id).await?))
}

#[derive(Serialize, ToSchema)]
pub struct TemplateView {
    pub(crate) event: Event,
    pub(crate) lang: Lang,
    pub(crate) channel: NoticeChannel,
    pub(crate) subject: String,
    pub(crate) body: String,
    /// Changed by an administrator (otherwise built in).
    pub(crate) custom: bool,
    /// Variables it must use, and may use.
    pub(crate) required: Vec<&'static str>,
    pub(crate) offered: Vec<&'static str>,
}

/// Every template in force (e-mail and in-app share the e-mail one), built-in or changed.
#[utoipa::path(get, path = "/api/v1/templates", tag = "loop",
    responses((status = 200, body = [TemplateView]), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<TemplateView>>> {
    require_admin(&actor)?;
    let out = templates_in_force(&state).await?;
    Ok(Json(out))
}

/// Every template in force: the administrators' versions where there are, else built in.
pub(crate) async fn templates_in_force(state: &AppState) -> ApiResult<Vec<TemplateView>> {
    let custom = state.store.templates().await?;
    let mut out = Vec::new();
    for &event in Event::ALL {
        for &lang in Lang::ALL {
            for channel in [NoticeChannel::Email, NoticeChannel::Sms] {
                let mine = custom
                    .iter()
                    .find(|t| t.event == event && t.lang == lang && t.channel == channel);
                let t = match mine {
                    Some(t) => TemplateText {
                        subject: t.subject.clone(),
                        body: t.body.clone(),
                    },
                    None => default_template(event, lang, channel),
                };
                let mut offered = closedloop_domain::notice::COMMON_VARIABLES.to_vec();
                offered.extend(event.variables());
                out.push(TemplateView {
                    event,
                    lang,
                    channel,
                    subject: t.subject,
                    body: t.body,
                    custom: mine.is_some(),
                    required: event.required().to_vec(),
                    offered,
                });
            }
        }
    }
    Ok(out)
}

pub(crate) fn template_key(
    event: &str,
    lang: &str,
    channel: &str,
) -> ApiResult<(Event, Lang, NoticeChannel)> {
    let channel: NoticeChannel = channel.parse()?;
    if channel == NoticeChannel::InApp {
        return Err(ApiError::invalid(
            "channel",
            "invalid_value",
            "in-app messages use the email template",
        ));
    }
    Ok((event.parse()?, lang.parse()?, channel))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// E-mail only; must carry `{{ number }}`.
    #[serde(default)]
    subject: String,
    body: String,
}

/// Checks a template (length, syntax, variables, required elements) and saves it.
pub(crate) async fn store_template(
    state: &AppState,
    actor_id: i64,
    (event, lang, channel): (Event, Lang, NoticeChannel),
    subject: String,
    body: String,
) -> ApiResult<()> {
    let text = TemplateText { subject, body };
    for (field, value, max) in [
        ("subject", &text.subject, 500),
        ("body", &text.body, 20_000),
    ] {
        if value.chars().count() > max {
            return Err(ApiError::invalid(
                field,
                "too_long",
                format!("at most {max} characters"),
            ));
        }
    }
    templates::validate(event, channel, &text)
        .map_err(|e| ApiError::invalid(e.field, "invalid_template", e.message))?;
    state
        .store
        .save_template(
            actor_id,
            &TemplateOverride {
                event,
                lang,
                channel,
                subject: text.subject,
                body: text.body,
                updated_at: state.clock.now(),
            },
        )
        .await?;
    Ok(())
}

/// Replaces a built-in template. Refused (422 naming `subject` or `body`) when it does not
/// parse, uses a variable its event does not offer, or lacks an element its event requires.
#[utoipa::path(put, path = "/api/v1/templates/{event}/{lang}/{channel}", tag = "loop", request_body = TemplateBody,
    params(("event" = String, Path), ("lang" = String, Path), ("channel" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn save_template(
    State(state): State<AppState>,
    actor: Actor,
    Path((event, lang, channel)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> ApiResult<StatusCode> {
    require_admin(&actor)?;
    let key = template_key(&event, &lang, &channel)?;
    store_template(&state, actor.0.user_id, key, body.subject, body.body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Back to the built-in template.
#[utoipa::path(delete, path = "/api/v1/templates/{event}/{lang}/{channel}", tag = "loop",
    params(("event" = String, Path), ("lang" = String, Path), ("channel" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn reset_template(
    State(state): State<AppState>,
    actor: Actor,
    Path((event, lang, channel)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    require_admin(&actor)?;
    let (event, lang, channel) = template_key(&event, &lang, &channel)?;
    state.store.delete_template(event, lang, channel).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> Self {
        let status = match e {
            LinkError::Expired(_) => StatusCode::GONE,
            LinkError::Malformed | LinkError::BadSignature => StatusCode::FORBIDDEN,
        };
        let code = match e {
            LinkError::Expired(_) => "link_expired",
            LinkError::Malformed => "link_malformed",
            LinkError::BadSignature => "link_invalid",
        };
        ApiError::new(status, code, e.to_string()).field("token")
    }
}

/// What the holder of a signed link sends.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, tag = "action", rename_all = "snake_case")]
pub enum LinkBody {
    /// The result solves it: the ticket closes.
    Confirm,
    /// It does not: the ticket reopens.
    Reject {
        reason: String,
    },
    /// Within the appeal window: a supervisor not involved reviews it.
    Appeal {
        reason: String,
    },
    Survey {
        stars: u8,
        comment: Option<String>,
    },
    /// The NPS question: 0-10.
    Nps {
        score: u8,
        comment: Option<String>,
    },
}

/// What acting on a link changed.
pub enum LinkOutcome {
    Ticket(Box<Ticket>),
    /// An NPS answer, recorded.
    Nps,
}

/// Checks a link and acts on it for the ticket's requester.
pub async fn act_on_link(state: &AppState, token: &str, body: LinkBody) -> ApiResult<LinkOutcome> {
    let (id, purpose) = state.links.verify(token, state.clock.now())?;
    let action = match (body, purpose) {
        (LinkBody::Nps { score, comment }, Purpose::Nps) => {
            state.store.answer_nps(id, score, comment).await?;
            return Ok(LinkOutcome::Nps);
        }
        (_, Purpose::Nps) | (LinkBody::Nps { .. }, _) => {
            return Err(ApiError::forbidden("this link does not take that answer").field("action"));
        }
        (LinkBody::Survey { stars, comment }, _) => LinkAction::Survey { stars, comment },
        (_, Purpose::Survey) => {
            return Err(ApiError::forbidden("this link answers the survey only").field("action"));
        }
        (LinkBody::Confirm, Purpose::Result) => LinkAction::Confirm,
        (LinkBody::Reject { reason }, Purpose::Result) => LinkAction::Reject { reason },
        (LinkBody::Appeal { reason }, Purpose::Result) => LinkAction::Appeal { reason },
    };
    Ok(LinkOutcome::Ticket(Box::new(
        state.store.link_action(id, action).await?,
    )))
}

/// Acts on a ticket with the signed link from a message: confirm or reject the result,
/// appeal it (within the window), or answer the survey. A bad signature answers 403, an
/// expired link 410.
#[utoipa::path(post, path = "/api/v1/links/{token}", tag = "loop", request_body = LinkBody,
    params(("token" = String, Path)),
    responses((status = 200, body = Ticket, description = "the ticket as it is now"), (status = 204, description = "an NPS answer recorded"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<LinkBody>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    Ok(match act_on_link(&state, &token, body).await? {
        LinkOutcome::Ticket(t) => Json(*t).into_response(),
        LinkOutcome::Nps => StatusCode::NO_CONTENT.into_response(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NpsRound {
    /// Share of the eligible users to ask, in percent (default `loop.nps_sample_percent`).
    percent: Option<u8>,
}

#[derive(Serialize, ToSchema)]
pub struct NpsRoundAnswer {
    asked: usize,
}

/// Asks the NPS question now (admin), of a sample of the users with a ticket closed in the
/// period who were not asked in it; the periodic round (`loop.nps_every_days`) does the same.
#[utoipa::path(post, path = "/api/v1/surveys/nps", tag = "loop", request_body = NpsRound,
    responses((status = 200, body = NpsRoundAnswer), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn nps_round(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<NpsRound>,
) -> ApiResult<Json<NpsRoundAnswer>> {
    require_admin(&actor)?;
    let percent = body
        .percent
        .unwrap_or(state.config.closing.nps_sample_percent);
    if percent > 100 {
        return Err(ApiError::invalid("percent", "out_of_range", "0 to 100"));
    }
    let asked = crate::notify::worker::nps_round(&state, percent).await?;
    Ok(Json(NpsRoundAnswer { asked }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct NpsQuery {
    /// Questions asked in this many past days (default 90).
    days: Option<u32>,
}

/// NPS over a period: asked, answered, promoters (9-10), passives (7-8), detractors (0-6) and
/// the score (% promoters − % detractors). Staff.
#[utoipa::path(get, path = "/api/v1/reports/nps", tag = "loop", params(NpsQuery),
    responses((status = 200, body = closedloop_store::NpsReport), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn nps_report(
    State(state): State<AppState>,
    actor: Actor,
    axum::extract::Query(q): axum::extract::Query<NpsQuery>,
) -> ApiResult<Json<closedloop_store::NpsReport>> {
    if !actor.0.role.is_staff() {
        return Err(ApiError::forbidden("reports are for staff"));
    }
    let since =
        state.clock.now() - chrono::Duration::days(i64::from(q.days.unwrap_or(90).min(3650)));
    Ok(Json(state.store.nps_report(since).await?))
}
