//! Service reports over the API: JSON, or CSV for a spreadsheet.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use closedloop_domain::Role;
use closedloop_domain::report::{Report, compute};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// The longest period one report covers.
const MAX_DAYS: i64 = 3 * 366;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// RFC 3339 time, inclusive; default 30 days before `to`.
    from: Option<String>,
    /// RFC 3339 time, exclusive; default now.
    to: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn time(field: &'static str, v: Option<&str>) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.to_utc())
                .map_err(|_| {
                    ApiError::invalid(
                        field,
                        "invalid_time",
                        "use an RFC 3339 time such as 2026-11-01T00:00:00Z",
                    )
                })
        })
        .transpose()
}

/// Reports are read by supervisors (their departments' tickets) and administrators (all).
pub fn may_read(actor: &closedloop_store::Principal) -> ApiResult<()> {
    if matches!(actor.role, Role::Supervisor | Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "reports are for supervisors and administrators",
        ))
    }
}

/// The report for `actor` (supervisors: their departments' tickets; admins: all).
pub async fn build(
    state: &AppState,
    actor: &closedloop_store::Principal,
    from: Option<&str>,
    to: Option<&str>,
) -> ApiResult<Report> {
    may_read(actor)?;
    let now = closedloop_store::Clock::now(state.clock.as_ref());
    let to = time("to", to)?.unwrap_or(now);
    let from = time("from", from)?.unwrap_or(to - chrono::Duration::days(30));
    if from >= to {
        return Err(ApiError::invalid(
            "from",
            "empty_period",
            "must be before `to`",
        ));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::invalid(
            "from",
            "period_too_long",
            format!("at most {MAX_DAYS} days"),
        ));
    }
    let rows = state.store.report_rows(actor, from, to).await?;
    Ok(compute(&rows, from, to, now))
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as CSV: one table after another, each row led by its table's name.
pub fn csv(r: &Report) -> Result<String, csv::Error> {
    // Two shapes of row (tables of counts, then KPI tables): records of unequal length.
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    w.write_record(["table", "key", "count", "extra"])?;
    let n = |v: usize| v.to_string();
    for (table, rows) in [
        ("by_day", &r.by_day),
        ("by_channel", &r.by_channel),
        ("by_category", &r.by_category),
        ("by_region", &r.by_region),
        ("backlog", &r.backlog),
    ] {
        for c in rows {
            w.write_record([table, &c.key, &n(c.count), ""])?;
        }
    }
    for (name, t) in [
        ("first_response", &r.first_response),
        ("resolution", &r.resolution),
    ] {
        w.write_record([name, "count", &n(t.count), ""])?;
        w.write_record([name, "p50_minutes", &opt(t.p50_minutes), ""])?;
        w.write_record([name, "p90_minutes", &opt(t.p90_minutes), ""])?;
        w.write_record([name, "compliance_pct", &opt(t.compliance_pct), ""])?;
    }
    w.write_record([
        "summary",
        "first_contact_resolution_pct",
        &opt(r.first_contact_resolution_pct),
        "",
    ])?;
    w.write_record(["summary", "appeal_rate_pct", &opt(r.appeals.rate_pct), ""])?;
    w.write_record(["summary", "csat_pct", &opt(r.satisfaction.csat_pct), ""])?;
    w.write_record([
        "summary",
        "average_stars",
        &opt(r.satisfaction.average_stars),
        "",
    ])?;
    w.write_record(["overdue", "tickets", &n(r.overdue.tickets), ""])?;
    w.write_record([
        "overdue_stage",
        "stage",
        "total_hours",
        "share_pct",
        "p50_hours",
        "longest_in",
    ])?;
    for st in &r.overdue.stages {
        w.write_record([
            "overdue_stage",
            &st.stage,
            &st.total_hours.to_string(),
            &opt(st.share_pct),
            &opt(st.p50_hours),
            &n(st.longest_in),
        ])?;
    }
    w.write_record([
        "kpi",
        "name",
        "received",
        "resolved",
        "first_response_compliance_pct",
        "resolution_compliance_pct",
        "resolution_p50_minutes",
        "csat_pct",
        "average_stars",
        "rank",
    ])?;
    for (table, kpis) in [
        ("department", &r.departments),
        ("agent", &r.agents),
        ("category", &r.categories),
    ] {
        for k in kpis {
            w.write_record([
                table,
                &k.name,
                &n(k.received),
                &n(k.resolved),
                &opt(k.first_response_compliance_pct),
                &opt(k.resolution_compliance_pct),
                &opt(k.resolution_p50_minutes),
                &opt(k.satisfaction.csat_pct),
                &opt(k.satisfaction.average_stars),
                &n(k.rank),
            ])?;
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Volume by channel, category, region and day; first-response and resolution times against
/// the SLA (p50/p90, compliance); first-contact resolution; the open backlog by age; appeals;
/// satisfaction; department, agent and category KPI tables with rankings; where late tickets'
/// time went, by stage. Supervisors see their departments' tickets, administrators all.
#[utoipa::path(get, path = "/api/v1/reports/service", tag = "reports", params(PeriodQuery),
    responses((status = 200, body = Report, description = "JSON, or CSV with format=csv"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn service(
    State(state): State<AppState>,
    actor: Actor,
    q: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let report = build(&state, &actor.0, q.from.as_deref(), q.to.as_deref()).await?;
    match q.format.as_deref() {
        None | Some("json") | Some("") => Ok(axum::Json(report).into_response()),
        Some("csv") => {
            let body = csv(&report).map_err(|e| {
                tracing::error!(error = %e, "cannot write the report as CSV");
                ApiError::internal()
            })?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"closedloop-report.csv\"",
                    ),
                ],
                body,
            )
                .into_response())
        }
        Some(_) => Err(ApiError::invalid(
            "format",
            "invalid_value",
            "must be one of: json, csv",
        )),
    }
}

/// Hot issues as of now: the top 10 clusters of similar tickets of the last 7 and 28 days,
/// clusters growing abnormally fast against their own weekly history, the words of negative
/// feedback grouped by cause (category), and next weeks' volume per category with the
/// forecast's error on past weeks. Supervisors see their departments' tickets, administrators
/// all.
#[utoipa::path(get, path = "/api/v1/reports/hot", tag = "reports",
    responses((status = 200, body = closedloop_domain::hot::Hot), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn hot(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<axum::Json<closedloop_domain::hot::Hot>> {
    Ok(axum::Json(crate::hot::report(&state, &actor.0).await?))
}
