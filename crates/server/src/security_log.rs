//! The security log: every request refused for a security reason — a failed or locked sign-in,
//! a missing CSRF token, a read-only token used to write, a record asked for outside the
//! caller's scope (403, or the 404 that scoping answers so as not to confirm it exists) — is
//! written to `security_events`, which administrators read and nobody can change.
//!
//! A middleware sees every response; the authentication extractor tells it who the caller was
//! through a slot in the request's extensions, and [`ApiError`](crate::error::ApiError) leaves
//! its code in the response's.

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use closedloop_store::SecurityEvent;

use crate::AppState;

/// Who the caller turned out to be, filled in by the authentication extractor.
#[derive(Clone, Default)]
pub struct Caller(Arc<OnceLock<i64>>);

impl Caller {
    pub fn set(&self, user_id: i64) {
        let _ = self.0.set(user_id);
    }
}

/// The error code a response answered with.
#[derive(Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Where people sign in (the API and the console's form).
const SIGN_IN: [&str; 2] = ["/api/v1/auth/login", "/login"];

pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let caller = Caller::default();
    req.extensions_mut().insert(caller.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let status = res.status();
    let actor_id = caller.0.get().copied();
    let refused = match status {
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => actor_id.is_some(),
        StatusCode::UNAUTHORIZED | StatusCode::LOCKED => {
            method == Method::POST && SIGN_IN.contains(&path.as_str())
        }
        _ => false,
    };
    if !refused {
        return res;
    }
    let code = res
        .extensions()
        .get::<ErrorCode>()
        .map_or_else(|| status.as_str().to_owned(), |c| c.0.to_owned());
    tracing::warn!(actor = actor_id, %code, %method, %path, "request refused");
    let event = SecurityEvent {
        id: 0,
        at: state.clock.now(),
        actor_id,
        code,
        status: i64::from(status.as_u16()),
        method: method.to_string(),
        path,
    };
    // Written before answering: a refusal is rare, and the log must not miss one.
    if let Err(error) = state.store.record_security_event(&event).await {
        tracing::error!(%error, "cannot write the security log");
    }
    res
}
