use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    status: &'static str,
    database: &'static str,
    /// Version of the retrained triage model in use; 0 for the built-in one.
    triage_model: i64,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database: "ok",
                triage_model: state.triage.version(),
            }),
        ),
        Err(e) => {
            tracing::warn!(error = ?e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    database: "unreachable",
                    triage_model: state.triage.version(),
                }),
            )
        }
    }
}

/// Where a person who opens the address in a browser lands until the web console exists.
pub async fn index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Closedloop</title>",
        "<h1>Closedloop</h1><p>The API is at <code>/api/v1</code>; its description is ",
        "<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>. ",
        "Log in with <code>POST /api/v1/auth/login</code> or use a token from ",
        "<code>closedloop token create --email …</code>.</p></html>"
    ))
}
