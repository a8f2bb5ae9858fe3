//! `POST /api/v1/intake/webhook/{source}`: signed messages from chat bots, social-monitoring
//! tools and hotline/CRM systems. No session or token: the signature is the credential.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use closedloop_domain::{Category, Description, TextField, Title};
use closedloop_store::{StoreError, WebhookMessage};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use utoipa::ToSchema;

use super::json::{body_rejection, parse};
use super::valid_email;
use super::webhooks::valid_source_name;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{Public, RateLimited, Throttled};
use crate::signature::{self, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER};

/// The message a source posts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeMessage {
    /// The conversation's id in the source system; its messages go to one ticket.
    thread: String,
    /// The message's id in the source system (unique at least within the thread); a
    /// redelivery with the same thread and id changes nothing.
    message_id: String,
    from: Option<Sender>,
    /// What the user wrote.
    text: String,
    /// A category code from `/api/v1/categories` (first message of a thread only).
    category: Option<String>,
    /// At most 60 characters; made from the text when absent (first message only).
    title: Option<String>,
}

/// Who wrote it, as the source knows them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    name: Option<String>,
    /// Account name in the source system (WeChat id, Weibo handle, caller number, ...).
    handle: Option<String>,
    /// When known, the ticket's requester is the customer with this address.
    email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// The ticket the message went to.
    #[schema(example = "FB-20261122-000042")]
    ticket: String,
    /// True when it was added to the thread's existing ticket.
    threaded: bool,
}

/// Why a message was refused: an API error, or a rate limit (with `Retry-After`).
pub enum Refused {
    Api(ApiError),
    Limited(RateLimited),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Api(e)
    }
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Api(e.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Api(e) => e.into_response(),
            Refused::Limited(l) => l.into_response(),
        }
    }
}

fn unauthorized(e: SignatureError) -> ApiError {
    let code = match e {
        SignatureError::BadTimestamp => "invalid_timestamp",
        SignatureError::Stale(_) => "stale_timestamp",
        SignatureError::Malformed | SignatureError::Mismatch => "invalid_signature",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string()).field(e.header())
}

/// Key for sources that do not exist, so they cost the same to refuse as a wrong signature.
const NO_SOURCE_KEY: &[u8] = b"closedloop: no such webhook source";

/// Accepts a signed message from a webhook source.
///
/// Sign each request with the source's secret (as printed when the source was added, its ASCII
/// bytes are the key): `X-Closedloop-Timestamp: <unix seconds>` and
/// `X-Closedloop-Signature: sha256=<lowercase hex HMAC-SHA256 of "<timestamp>.<raw body>">`.
/// The timestamp may be at most `webhook_max_skew_seconds` (300) away from the server's time.
/// A wrong or missing signature, a stale timestamp, and an unknown or inactive source all answer
/// 401, the same for every source, so the answer does not tell which sources exist.
///
/// Messages with the same `thread` go to one ticket: the first opens it (the source's channel;
/// the requester is the customer with `from.email`, or anonymous with the sender in the text),
/// later ones are added as public entries. After the ticket is closed the next message opens a
/// new ticket that names the old one. A `message_id` seen before is answered 200 as the first
/// time, and nothing is written again. Rate limited per client address and per source (429).
#[utoipa::path(post, path = "/api/v1/intake/webhook/{source}", tag = "intake",
    request_body = IntakeMessage,
    params(
        ("source" = String, Path, description = "The source's name"),
        ("X-Closedloop-Timestamp" = String, Header, description = "Unix seconds when signed"),
        ("X-Closedloop-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of \"{timestamp}.{raw body}\">"),
    ),
    responses(
        (status = 201, body = Accepted, description = "Accepted: a new ticket, or added to the thread's ticket"),
        (status = 200, body = Accepted, description = "This message id was accepted before; nothing changed"),
        (status = 401, body = ErrorBody, description = "Bad or missing signature or timestamp, or no such active source"),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "Too many requests; see Retry-After")))]
pub async fn webhook(
    State(state): State<AppState>,
    _limit: Throttled<Public>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), Refused> {
    let body = body.map_err(body_rejection)?;
    let credentials = if valid_source_name(&source) {
        state.store.webhook_credentials(&source).await?
    } else {
        None
    };
    let key = credentials
        .as_ref()
        .map_or(NO_SOURCE_KEY, |c| c.secret.as_bytes());
    signature::verify(
        key,
        headers.get(TIMESTAMP_HEADER).map(|v| v.as_bytes()),
        headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes()),
        &body,
        state.clock.now().timestamp(),
        state.config.webhook_max_skew_seconds,
    )
    .map_err(unauthorized)?;
    let credentials = credentials.ok_or_else(|| unauthorized(SignatureError::Mismatch))?;
    // Counted only once signed, so nobody can use up a source's allowance with forgeries.
    state
        .limits
        .webhook_source
        .check(&credentials.source.id, Instant::now())
        .map_err(|retry_after| {
            Refused::Limited(RateLimited {
                retry_after,
                html: false,
            })
        })?;

    let mut message = to_message(parse::<IntakeMessage>(&body)?)?;
    message.triage = crate::triage::hints(
        &state.triage.current(),
        message.title.as_ref(),
        &message.body,
        message.category.is_some(),
    );
    let outcome = state.store.webhook_intake(&credentials, message).await?;
    tracing::info!(source = %credentials.source.name, ticket = %outcome.ticket,
        threaded = outcome.threaded, replay = outcome.replay, "webhook message");
    let status = if outcome.replay {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Accepted {
            ticket: outcome.ticket.as_str().to_owned(),
            threaded: outcome.threaded,
        }),
    ))
}

fn to_message(m: IntakeMessage) -> Result<WebhookMessage, ApiError> {
    let thread = TextField::parse("thread", &m.thread, 200)?.into_string();
    let message_id = TextField::parse("message_id", &m.message_id, 200)?.into_string();
    Description::parse(&m.text).map_err(|mut e| {
        e.field = "text";
        e
    })?;
    let from = m.from.unwrap_or(Sender {
        name: None,
        handle: None,
        email: None,
    });
    let name = TextField::parse_optional("from.name", from.name.as_deref(), 100)?
        .map(TextField::into_string);
    let handle = TextField::parse_optional("from.handle", from.handle.as_deref(), 100)?
        .map(TextField::into_string);
    let email = from.email.filter(|e| !e.trim().is_empty());
    if let Some(e) = &email
        && !valid_email(e)
    {
        return Err(ApiError::invalid(
            "from.email",
            "invalid_email",
            "must be an email address",
        ));
    }
    // The sender stays with the words: in a group chat several people write in one thread, and
    // an anonymous requester is known only by this line.
    let signed = match (name, handle) {
        (Some(n), Some(h)) => format!("{}\n\n— {n} ({h})", m.text.trim()),
        (Some(x), None) | (None, Some(x)) => format!("{}\n\n— {x}", m.text.trim()),
        (None, None) => m.text,
    };
    let body = Description::parse(&signed).map_err(|mut e| {
        e.field = "text";
        e
    })?;
    Ok(WebhookMessage {
        thread,
        message_id,
        body,
        requester_email: email,
        title: m
            .title
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(Title::parse)
            .transpose()?,
        category: m
            .category
            .as_deref()
            .map(|c| Category::parse("category", c))
            .transpose()?,
        triage: Default::default(),
    })
}
