//! Registering, finding and editing tickets.

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use closedloop_domain::{
    Category, Channel, Description, ImpactScope, Nature, Priority, Role, Severity, Status,
    TextField, TicketNumber, Title,
};
use closedloop_store::{
    Cursor, IdempotencyKey, NewTicket, Page, Ticket, TicketFilter, TicketPatch,
};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use utoipa::{IntoParams, ToSchema};

use super::json::RawJson;
use super::{ApiJson, valid_email};
use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    channel: Channel,
    /// What happened, in the user's words (required).
    description: String,
    /// At most 60 characters; made from the description's first sentence when absent.
    title: Option<String>,
    /// Links, attachment references, screenshots.
    #[serde(default)]
    evidence: Vec<String>,
    order_number: Option<String>,
    expected_resolution: Option<String>,
    region: Option<String>,
    /// A category code from `/api/v1/categories`; decides the routing.
    category: Option<String>,
    nature: Option<Nature>,
    /// Staff only.
    priority: Option<Priority>,
    /// Staff only.
    severity: Option<Severity>,
    /// Staff only.
    impact_scope: Option<ImpactScope>,
    /// Staff only: a department code that overrides routing.
    department: Option<String>,
    /// Staff only: who the ticket is for (a call logged by an agent, say).
    requester_email: Option<String>,
}

const MAX_EVIDENCE: usize = 20;

fn short(field: &'static str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    Ok(TextField::parse_optional(field, value, max)?.map(TextField::into_string))
}

impl CreateTicket {
    fn into_new(
        self,
        actor: &Actor,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> ApiResult<NewTicket> {
        if actor.0.role == Role::Customer {
            for (field, set) in [
                ("priority", self.priority.is_some()),
                ("severity", self.severity.is_some()),
                ("impact_scope", self.impact_scope.is_some()),
                ("department", self.department.is_some()),
                ("requester_email", self.requester_email.is_some()),
            ] {
                if set {
                    return Err(
                        ApiError::forbidden(format!("{field} is set by staff")).field(field)
                    );
                }
            }
        }
        if self.evidence.len() > MAX_EVIDENCE {
            return Err(ApiError::invalid(
                "evidence",
                "too_many",
                format!("at most {MAX_EVIDENCE} items"),
            ));
        }
        let evidence = self
            .evidence
            .iter()
            .map(|e| TextField::parse("evidence", e, 2048).map(TextField::into_string))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(email) = &self.requester_email
            && !valid_email(email)
        {
            return Err(ApiError::invalid(
                "requester_email",
                "invalid_email",
                "must be an email address",
            ));
        }
        Ok(NewTicket {
            channel: self.channel,
            title: self
                .title
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(Title::parse)
                .transpose()?,
            description: Description::parse(&self.description)?,
            evidence,
            order_number: short("order_number", self.order_number.as_deref(), 64)?,
            expected_resolution: short(
                "expected_resolution",
                self.expected_resolution.as_deref(),
                2000,
            )?,
            region: short("region", self.region.as_deref(), 100)?,
            category: self
                .category
                .as_deref()
                .map(|c| Category::parse("category", c))
                .transpose()?,
            nature: self.nature,
            priority: self.priority,
            severity: self.severity,
            impact_scope: self.impact_scope,
            department: self
                .department
                .as_deref()
                .map(|d| Category::parse("department", d).map(|c| c.as_str().to_owned()))
                .transpose()?,
            requester_email: self.requester_email,
            requester_ip: ip,
            requester_user_agent: user_agent.map(|ua| ua.chars().take(512).collect()),
            suggested_category: None,
            triage: None,
            duplicate_of: None,
            acknowledge: true,
        })
    }
}

/// Registers a ticket; it is numbered and routed at once. Send `Idempotency-Key` to make
/// retries safe: the same key and body return the ticket made the first time (200).
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = CreateTicket,
    params(("Idempotency-Key" = Option<String>, Header, description = "Client-chosen key, at most 200 characters")),
    responses(
        (status = 201, body = Ticket, description = "Created"),
        (status = 200, body = Ticket, description = "A retry: the ticket created earlier with this key"),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_ticket(
    State(state): State<AppState>,
    actor: Actor,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawJson {
        value: input,
        raw: body,
    }: RawJson<CreateTicket>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "Idempotency-Key",
                        "invalid_idempotency_key",
                        "use 1-200 visible ASCII characters",
                    )
                })?;
            Some(IdempotencyKey {
                key: key.to_owned(),
                request_hash: format!("{:x}", Sha256::digest(&body)),
            })
        }
    };
    // Network details identify anonymous submitters only; staff logging a call are not the requester.
    let (ip, user_agent) = if actor.0.role.is_staff() {
        (None, None)
    } else {
        (
            Some(peer.ip().to_string()),
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        )
    };
    let mut new = input.into_new(&actor, ip, user_agent)?;
    let engine = state.triage.current();
    crate::triage::apply(&engine, &mut new);
    let probe = state
        .duplicates
        .check(&engine, state.store.as_ref(), &mut new)
        .await?;
    let (ticket, created) = state
        .store
        .create_ticket(&actor.0, new, idempotency)
        .await?;
    if created {
        state.duplicates.registered(probe, &ticket);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(redact(&actor, ticket))))
}

/// Customers do not see how the organisation records anonymous submitters.
fn redact(actor: &Actor, mut t: Ticket) -> Ticket {
    if !actor.0.role.is_staff() {
        t.requester_ip = None;
        t.requester_user_agent = None;
    }
    t
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// One status or several separated by commas.
    status: Option<String>,
    priority: Option<String>,
    category: Option<String>,
    /// Handling department code.
    department: Option<String>,
    /// A user id, `me`, or `none` for unassigned.
    assignee: Option<String>,
    channel: Option<String>,
    /// RFC 3339 time, inclusive.
    created_from: Option<String>,
    /// RFC 3339 time, exclusive.
    created_to: Option<String>,
    /// Words in the title or description, or a ticket number.
    q: Option<String>,
    /// A ticket number: the duplicates registered against it (its cluster).
    duplicate_of: Option<String>,
    /// From `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1-200, default 50.
    limit: Option<u32>,
}

fn parse_time(field: &'static str, v: &str) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.to_utc())
        .map_err(|_| {
            ApiError::invalid(
                field,
                "invalid_time",
                "use an RFC 3339 time such as 2026-11-22T08:00:00Z",
            )
        })
}

impl ListQuery {
    fn into_filter(self, actor: &Actor) -> ApiResult<TicketFilter> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                "out_of_range",
                "must be between 1 and 200",
            ));
        }
        Ok(TicketFilter {
            status: match self.status.as_deref() {
                Some(s) => s
                    .split(',')
                    .map(|s| s.trim().parse::<Status>())
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            },
            priority: self.priority.as_deref().map(str::parse).transpose()?,
            category: self
                .category
                .as_deref()
                .map(|c| Category::parse("category", c))
                .transpose()?,
            department: self
                .department
                .as_deref()
                .map(|d| Category::parse("department", d).map(|c| c.as_str().to_owned()))
                .transpose()?,
            assignee_id: match self.assignee.as_deref() {
                None => None,
                Some("me") => Some(Some(actor.0.user_id)),
                Some("none") => Some(None),
                Some(id) => Some(Some(id.parse().map_err(|_| {
                    ApiError::invalid("assignee", "invalid_value", "use a user id, me or none")
                })?)),
            },
            channel: self.channel.as_deref().map(str::parse).transpose()?,
            created_from: self
                .created_from
                .as_deref()
                .map(|v| parse_time("created_from", v))
                .transpose()?,
            created_to: self
                .created_to
                .as_deref()
                .map(|v| parse_time("created_to", v))
                .transpose()?,
            q: self.q.map(|q| q.chars().take(200).collect()),
            duplicate_of: self
                .duplicate_of
                .as_deref()
                .map(|n| {
                    n.parse::<TicketNumber>().map_err(|_| {
                        ApiError::invalid(
                            "duplicate_of",
                            "invalid_number",
                            "use a ticket number like FB-20261122-000042",
                        )
                    })
                })
                .transpose()?,
            requester_id: None,
            due_before: None,
            by_due: false,
            from_primary: false,
            open: false,
            cursor: match self.cursor.as_deref() {
                None => None,
                Some(c) => Some(Cursor::decode(c).ok_or_else(|| {
                    ApiError::invalid(
                        "cursor",
                        "invalid_cursor",
                        "use next_cursor from a previous page",
                    )
                })?),
            },
            limit,
        })
    }
}

/// Lists the tickets the caller may see, newest first, with filters and cursor pagination.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(ListQuery),
    responses((status = 200, body = Page<Ticket>), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_tickets(
    State(state): State<AppState>,
    actor: Actor,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<Ticket>>> {
    let Query(query) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let filter = query.into_filter(&actor)?;
    let page = state.store.list_tickets(&actor.0, &filter).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(|t| redact(&actor, t)).collect(),
        next_cursor: page.next_cursor,
    }))
}

pub(super) fn parse_number(raw: &str) -> ApiResult<TicketNumber> {
    raw.parse::<TicketNumber>()
        .map_err(|_| ApiError::not_found("ticket"))
}

/// One ticket, if the caller may see it.
#[utoipa::path(get, path = "/api/v1/tickets/{number}", tag = "tickets",
    params(("number" = String, Path, example = "FB-20261122-000042")),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_ticket(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Ticket>> {
    let number = parse_number(&number)?;
    let ticket = state.store.get_ticket(&actor.0, &number).await?;
    if actor.0.role.is_staff() {
        state.store.log_view(&actor.0, ticket.id).await?;
    }
    Ok(Json(redact(&actor, ticket)))
}

/// Present and null is `Some(None)`; absent is `None`.
fn clearable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    title: Option<String>,
    /// Re-routes the ticket by the matrix unless `department` is given too.
    category: Option<String>,
    nature: Option<Nature>,
    priority: Option<Priority>,
    severity: Option<Severity>,
    impact_scope: Option<ImpactScope>,
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    region: Option<Option<String>>,
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    order_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    expected_resolution: Option<Option<String>>,
    /// Handling department code (manual reassignment).
    department: Option<String>,
    coordinating_departments: Option<Vec<String>>,
    /// Email of a staff member of the handling department; null unassigns.
    #[serde(default, deserialize_with = "clearable")]
    #[schema(value_type = Option<String>)]
    assignee: Option<Option<String>>,
}

fn clear_or(
    field: &'static str,
    v: Option<Option<String>>,
    max: usize,
) -> ApiResult<Option<Option<String>>> {
    v.map(|inner| short(field, inner.as_deref(), max))
        .transpose()
}

impl UpdateTicket {
    fn into_patch(self) -> ApiResult<TicketPatch> {
        let code =
            |field: &'static str, v: &str| Category::parse(field, v).map(|c| c.as_str().to_owned());
        Ok(TicketPatch {
            title: self.title.as_deref().map(Title::parse).transpose()?,
            category: self
                .category
                .as_deref()
                .map(|c| Category::parse("category", c))
                .transpose()?,
            nature: self.nature,
            priority: self.priority,
            severity: self.severity,
            impact_scope: self.impact_scope,
            region: clear_or("region", self.region, 100)?,
            order_number: clear_or("order_number", self.order_number, 64)?,
            expected_resolution: clear_or("expected_resolution", self.expected_resolution, 2000)?,
            department: self
                .department
                .as_deref()
                .map(|d| code("department", d))
                .transpose()?,
            coordinating_departments: self
                .coordinating_departments
                .map(|v| {
                    v.iter()
                        .map(|d| code("coordinating_departments", d))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            assignee_email: self.assignee,
        })
    }
}

/// Edits fields, re-routes or (un)assigns; every change is recorded on the timeline. Staff only.
#[utoipa::path(patch, path = "/api/v1/tickets/{number}", tag = "tickets", request_body = UpdateTicket,
    params(("number" = String, Path)),
    responses((status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_ticket(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<UpdateTicket>,
) -> ApiResult<Json<Ticket>> {
    let number = parse_number(&number)?;
    let patch = body.into_patch()?;
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "empty_patch",
            "name at least one field to change",
        ));
    }
    let ticket = state.store.update_ticket(&actor.0, &number, patch).await?;
    state.duplicates.forget(ticket.id);
    Ok(Json(redact(&actor, ticket)))
}

/// Machine translations of the ticket's title and description (see `translation.*`), beside
/// the original text, which they never replace.
#[utoipa::path(get, path = "/api/v1/tickets/{number}/translations", tag = "tickets",
    params(("number" = String, Path, example = "FB-20261122-000042")),
    responses((status = 200, body = Vec<closedloop_store::Translation>), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn translations(
    State(state): State<AppState>,
    actor: Actor,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<closedloop_store::Translation>>> {
    let number = parse_number(&number)?;
    Ok(Json(state.store.translations(&actor.0, &number).await?))
}
