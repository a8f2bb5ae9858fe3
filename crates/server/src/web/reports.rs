//! The service report page for supervisors and administrators: charts drawn on the server,
//! KPI tables with rankings, and the same report as CSV.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use closedloop_domain::Role;
use closedloop_domain::report::Report;
use serde::Deserialize;

use super::chart;
use super::i18n::Tr;
use super::page;
use super::staff::staff;
use crate::AppState;

#[derive(Template)]
#[template(path = "agent_reports.html")]
struct ReportPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    from: String,
    to: String,
    csv: String,
    error: Option<String>,
    report: Option<Report>,
    days_chart: String,
    channel_chart: String,
    category_chart: String,
    backlog_chart: String,
}

#[derive(Deserialize, Default)]
pub struct PeriodForm {
    /// YYYY-MM-DD, inclusive.
    #[serde(default)]
    from: String,
    /// YYYY-MM-DD, inclusive.
    #[serde(default)]
    to: String,
}

fn day(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<PeriodForm>,
) -> Response {
    let (who, csrf) = match staff(&state, &jar, "/agent/reports").await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let tr = tr.for_user(&who);
    if !matches!(who.role, Role::Supervisor | Role::Admin) {
        return super::notice(
            StatusCode::FORBIDDEN,
            tr.t("reports.title"),
            tr.t("reports.who"),
        );
    }
    let today = closedloop_store::Clock::now(state.clock.as_ref()).date_naive();
    let to = day(&q.to).unwrap_or(today);
    let from = day(&q.from).unwrap_or(to - chrono::Duration::days(29));
    let rfc = |d: chrono::NaiveDate| format!("{d}T00:00:00Z");
    let end = to.succ_opt().unwrap_or(to);
    let (report, error) =
        match crate::http::reports::build(&state, &who, Some(&rfc(from)), Some(&rfc(end))).await {
            Ok(r) => (Some(r), None),
            Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e.message)),
            Err(e) => return refused_api(e),
        };
    let charts = report.as_ref().map(|r| {
        (
            chart::columns(tr.t("reports.by_day"), &r.by_day),
            chart::bars(tr.t("reports.by_channel"), &r.by_channel),
            chart::bars(tr.t("reports.by_category"), &r.by_category),
            chart::bars(tr.t("reports.backlog"), &r.backlog),
        )
    });
    let (days_chart, channel_chart, category_chart, backlog_chart) = charts.unwrap_or_default();
    page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ReportPage {
            tr,
            here: "/agent/reports".into(),
            admin: who.role == Role::Admin,
            name: who.name,
            csrf,
            csv: format!(
                "/api/v1/reports/service?format=csv&from={}&to={}",
                rfc(from),
                rfc(end)
            ),
            from: from.to_string(),
            to: to.to_string(),
            error,
            report,
            days_chart,
            channel_chart,
            category_chart,
            backlog_chart,
        },
    )
}

fn refused_api(e: crate::error::ApiError) -> Response {
    use axum::response::IntoResponse;
    (e.status, e.message).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_read_as_calendar_dates() {
        assert_eq!(
            super::day("2026-11-02").map(|d| d.to_string()).as_deref(),
            Some("2026-11-02")
        );
        assert!(super::day("02/11/2026").is_none());
    }
}
