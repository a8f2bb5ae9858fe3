//! The service report page for supervisors and administrators: charts drawn on the server,
//! KPI tables with rankings, and the same report as CSV.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use closedloop_domain::Role;
use closedloop_domain::report::{Count, Report, StageTime};
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
    overdue_count: String,
    overdue_chart: String,
    overdue_stages: Vec<(String, StageTime)>,
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

/// The signed-in reader of a report page (supervisors and administrators), their CSRF token
/// and their language; anyone else gets the refusal page titled `title`.
pub(super) async fn reader(
    state: &AppState,
    jar: &CookieJar,
    tr: Tr,
    here: &str,
    title: &str,
) -> Result<(closedloop_store::Principal, String, Tr), Response> {
    let (who, csrf) = staff(state, jar, here).await?;
    let tr = tr.for_user(&who);
    if crate::http::reports::may_read(&who).is_err() {
        return Err(super::notice(
            StatusCode::FORBIDDEN,
            tr.t(title),
            tr.t("reports.who"),
        ));
    }
    Ok((who, csrf, tr))
}

pub(super) fn day(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<PeriodForm>,
) -> Response {
    let (who, csrf, tr) = match reader(&state, &jar, tr, "/agent/reports", "reports.title").await {
        Ok(r) => r,
        Err(res) => return res,
    };
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
    let overdue_stages: Vec<(String, StageTime)> = report
        .iter()
        .flat_map(|r| r.overdue.stages.iter())
        .map(|s| {
            (
                tr.t(&format!("reports.stage_{}", s.stage)).to_owned(),
                s.clone(),
            )
        })
        .collect();
    let overdue_chart = chart::bars(
        tr.t("reports.overdue"),
        &overdue_stages
            .iter()
            .map(|(label, s)| Count {
                key: label.clone(),
                count: s.total_hours.round() as usize,
            })
            .collect::<Vec<_>>(),
    );
    let overdue_count = tr.fill(
        "reports.overdue_count",
        &[(
            "n",
            &report.as_ref().map_or(0, |r| r.overdue.tickets).to_string(),
        )],
    );
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
            overdue_count,
            overdue_chart,
            overdue_stages,
        },
    )
}

#[derive(Template)]
#[template(path = "agent_hot.html")]
struct HotPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    hot: closedloop_domain::hot::Hot,
    month_chart: String,
    /// Per cause: its label and a chart of its negative keywords.
    negative_charts: Vec<(String, usize, String)>,
    /// Per category: the forecast and its chart.
    forecast_charts: Vec<(closedloop_domain::hot::Forecast, String)>,
}

/// Hot issues as of now: top-10 clusters of the week and the month, emerging clusters,
/// negative keywords by cause, and the volume forecast per category.
pub async fn hot(State(state): State<AppState>, jar: CookieJar, tr: Tr) -> Response {
    let (who, csrf, tr) = match reader(&state, &jar, tr, "/agent/reports/hot", "hot.title").await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let mut hot = match crate::hot::report(&state, &who).await {
        Ok(h) => h,
        Err(e) => return refused_api(e),
    };
    // Categories by their names in the reader's language.
    let names = super::progress::category_names(&state, tr.lang).await;
    let name = |code: &mut String| {
        if let Some(n) = names.get(code.as_str()) {
            *code = n.clone();
        }
    };
    let categories = hot
        .week
        .iter_mut()
        .chain(hot.month.iter_mut())
        .filter_map(|c| c.category.as_mut())
        .chain(hot.emerging.iter_mut().filter_map(|e| e.category.as_mut()));
    for c in categories {
        name(c);
    }
    for c in &mut hot.negative {
        name(&mut c.cause);
    }
    for f in &mut hot.forecast {
        name(&mut f.category);
    }
    let label = |c: &closedloop_domain::hot::Cluster| c.label.join(" · ");
    let month_chart = chart::bars(
        tr.t("hot.month"),
        &hot.month
            .iter()
            .map(|c| Count {
                key: label(c),
                count: c.count,
            })
            .collect::<Vec<_>>(),
    );
    let negative_charts = hot
        .negative
        .iter()
        .map(|c| {
            (
                c.cause.clone(),
                c.negative_docs,
                chart::bars(
                    &c.cause,
                    &c.keywords
                        .iter()
                        .map(|k| Count {
                            key: k.keyword.clone(),
                            count: k.count,
                        })
                        .collect::<Vec<_>>(),
                ),
            )
        })
        .collect();
    let forecast_charts = hot
        .forecast
        .iter()
        .map(|f| (f.clone(), chart::forecast(&f.category, &f.history, &f.next)))
        .collect();
    page(
        StatusCode::OK,
        &HotPage {
            tr,
            here: "/agent/reports/hot".into(),
            admin: who.role == Role::Admin,
            name: who.name,
            csrf,
            month_chart,
            negative_charts,
            forecast_charts,
            hot,
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
