//! JSON request bodies with errors that name the field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but a wrong type or unknown value answers 422 naming the field (its path,
/// such as `evidence[2]`), malformed JSON 400, a wrong content type 415, an oversized body 413.
pub struct ApiJson<T>(pub T);

/// [`ApiJson`] that also keeps the bytes it was parsed from (for idempotency digests).
pub struct RawJson<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(req, state).await.map(|(value, _)| ApiJson(value))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for RawJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(req, state)
            .await
            .map(|(value, raw)| RawJson { value, raw })
    }
}

async fn read<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
) -> Result<(T, Bytes), ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
        ));
    }
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(body_rejection)?;
    let value = parse(&bytes)?;
    Ok((value, bytes))
}

/// A body that could not be read, as an API error (413 when too large).
pub(super) fn body_rejection(e: BytesRejection) -> ApiError {
    match e {
        BytesRejection::FailedToBufferBody(_) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than allowed",
            )
        }
        other => ApiError::new(other.status(), "unreadable_body", other.body_text()),
    }
}

/// Bytes already read (and, say, authenticated) as JSON, with errors as [`ApiJson`] gives them.
pub(super) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let field = if path == "." { None } else { Some(path) };
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                inner.to_string(),
            );
            err.field = field.or_else(|| missing_field(&inner.to_string()));
            err
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {inner}"),
            )
        }
    })?;
    Ok(value)
}

/// serde reports a missing field at the parent path; the field's name is in the message.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}
