//! Prometheus metrics at `/metrics`: request latency measured by this instance, and the
//! installation's tickets, queues, SLA breaches, pending notices and mail read from the
//! database (every instance reports the same; aggregate those with `max`, not `sum`).

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, HistogramOpts, HistogramVec, Registry, TextEncoder};

use crate::AppState;

pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "closedloop_http_request_duration_seconds",
                "Time to answer an HTTP request, by route and status class.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route", "status"],
        );
        let requests = match requests {
            Ok(h) => h,
            // The options above are constant and valid.
            Err(e) => unreachable!("request histogram: {e}"),
        };
        if let Err(e) = registry.register(Box::new(requests.clone())) {
            tracing::error!(error = %e, "cannot register the request histogram");
        }
        Self { registry, requests }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .with_label_values(&[method, route, class])
            .observe(seconds);
    }
}

/// Times every routed request under its route template (`/api/v1/tickets/{number}`), never
/// the raw path, so ticket numbers do not become labels.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, rows: &[closedloop_store::Count]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for row in rows {
        let labels: Vec<String> = row
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {}", labels.join(","), row.value);
    }
}

async fn database_text(state: &AppState) -> Result<String, closedloop_store::StoreError> {
    let s = state.store.metrics().await?;
    let mut out = String::new();
    family(
        &mut out,
        "closedloop_tickets",
        "gauge",
        "Tickets by status.",
        &s.tickets,
    );
    family(
        &mut out,
        "closedloop_queue_open_tickets",
        "gauge",
        "Open tickets by handling department and priority.",
        &s.open,
    );
    family(
        &mut out,
        "closedloop_queue_overdue_tickets",
        "gauge",
        "Open tickets past their first-response or resolution deadline, by department.",
        &s.overdue,
    );
    family(
        &mut out,
        "closedloop_sla_breaches_total",
        "counter",
        "SLA targets missed, by clock.",
        &s.breaches,
    );
    family(
        &mut out,
        "closedloop_notices_pending",
        "gauge",
        "Notices (e-mail, in-app, SMS) waiting to be delivered, by channel.",
        &s.notices_pending,
    );
    let _ = writeln!(
        out,
        "# HELP closedloop_mail_messages Mail messages on record by direction, path, outcome and the rule that marked them automatic (a gauge: a retried quarantined message moves to its new outcome).\n\
         # TYPE closedloop_mail_messages gauge"
    );
    for c in state.store.mail_counts().await? {
        let _ = writeln!(
            out,
            "closedloop_mail_messages{{direction=\"{}\",path=\"{}\",outcome=\"{}\",rule=\"{}\"}} {}",
            escape_label(&c.direction),
            escape_label(&c.path),
            escape_label(&c.outcome),
            escape_label(&c.rule),
            c.count
        );
    }
    Ok(out)
}

/// Whether the request carries the configured scrape token.
fn scrape_token(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let Some(token) = &state.config.metrics_token else {
        return false;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = token.expose();
    // Compared in constant time: the token is a password.
    !given.is_empty()
        && given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Prometheus text format (0.0.4): tickets by status, open and overdue queues, SLA breaches,
/// pending notices, mail by direction/path/outcome/rule, the triage model, this instance's
/// search index and request latency by route. Scrape with an administrator's API token, or
/// with `metrics_token` when one is configured, as Bearer.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", description = "Prometheus exposition format"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn serve(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    actor: Result<crate::auth::Actor, crate::error::ApiError>,
) -> Response {
    if !scrape_token(&state, &headers) {
        match actor {
            Ok(actor) if actor.0.role == closedloop_domain::Role::Admin => {}
            Ok(_) => {
                return crate::error::ApiError::forbidden(
                    "this needs the admin role or the scrape token",
                )
                .into_response();
            }
            Err(e) => return e.into_response(),
        }
    }
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&state.metrics.registry.gather(), &mut body) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    let mut text = String::from_utf8(body).unwrap_or_default();
    match database_text(&state).await {
        Ok(db) => text.push_str(&db),
        Err(error) => {
            tracing::warn!(%error, "metrics: cannot read the database counts");
        }
    }
    let _ = writeln!(
        text,
        "# HELP closedloop_triage_model_info The triage model in use.\n\
         # TYPE closedloop_triage_model_info gauge\nclosedloop_triage_model_info{{version=\"{}\"}} 1",
        state.triage.version()
    );
    let index = state.search.index();
    let _ = writeln!(
        text,
        "# HELP closedloop_search_documents Documents in this instance's search index.\n\
         # TYPE closedloop_search_documents gauge\nclosedloop_search_documents {}",
        index.len()
    );
    let _ = writeln!(
        text,
        "# HELP closedloop_search_watermark Change-feed position this instance's search index covers.\n\
         # TYPE closedloop_search_watermark gauge\nclosedloop_search_watermark {}",
        index.watermarks().tickets
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}
