//! The progress report (a period against the one before it, in sentences and charts, as a
//! page and as a document to download, in Chinese or English) and the public transparency
//! report (frequent problems of the last 90 days and the answers published for them).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use closedloop_domain::Role;
use closedloop_domain::notice::Lang;
use closedloop_domain::progress::summary;
use closedloop_domain::report::{Count, Kpi, Report};
use closedloop_store::{Article, ArticleFilter, ArticleStatus, Principal};
use serde::Deserialize;

use super::chart;
use super::i18n::Tr;
use super::page;
use crate::AppState;
use crate::rate_limit::{Public, Throttled};

/// What the progress report shows, on the page and in the document alike.
struct Body {
    /// The document's language (the page around it keeps the reader's).
    doc: Tr,
    heading: String,
    lines: Vec<String>,
    category_chart: String,
    days_chart: String,
    departments: Vec<Kpi>,
    generated: String,
}

#[derive(Template)]
#[template(path = "agent_period.html")]
struct PeriodPage {
    tr: Tr,
    here: String,
    name: String,
    admin: bool,
    csrf: String,
    from: String,
    to: String,
    download: String,
    error: Option<String>,
    body: Option<Body>,
}

#[derive(Template)]
#[template(path = "period_doc.html")]
struct PeriodDoc {
    body: Body,
}

#[derive(Deserialize, Default)]
pub struct PeriodForm {
    /// YYYY-MM-DD, inclusive; default the first day of the current quarter.
    #[serde(default)]
    from: String,
    /// YYYY-MM-DD, inclusive; default today.
    #[serde(default)]
    to: String,
    /// `zh` or `en`; default the reader's language.
    #[serde(default)]
    lang: String,
    /// Any value: the document as a file to keep or send.
    #[serde(default)]
    download: String,
}

fn quarter_start(d: NaiveDate) -> NaiveDate {
    let month = (d.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(d.year(), month, 1).unwrap_or(d)
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Category codes → names in `lang`, from the routing matrix in force.
pub(super) async fn category_names(state: &AppState, lang: Lang) -> HashMap<String, String> {
    match state.store.list_categories().await {
        Ok(list) => list
            .into_iter()
            .map(|c| {
                let name = match lang {
                    Lang::Zh if !c.name_zh.is_empty() => c.name_zh,
                    _ => c.name,
                };
                (c.code, name)
            })
            .collect(),
        Err(error) => {
            tracing::error!(%error, "cannot list categories for a report");
            HashMap::new()
        }
    }
}

fn named(names: &HashMap<String, String>, counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .map(|c| Count {
            key: names.get(&c.key).cloned().unwrap_or_else(|| c.key.clone()),
            count: c.count,
        })
        .collect()
}

async fn body(
    state: &AppState,
    who: &Principal,
    from: NaiveDate,
    to: NaiveDate,
    doc: Tr,
) -> Result<Body, crate::error::ApiError> {
    let (start, end) = (midnight(from), midnight(to.succ_opt().unwrap_or(to)));
    let rfc = |t: DateTime<Utc>| t.to_rfc3339();
    let [before, start, end] = [start - (end - start), start, end].map(rfc);
    // The two periods are independent reads: side by side, on two connections.
    let (current, previous) = tokio::try_join!(
        crate::http::reports::build(state, who, Some(&start), Some(&end)),
        crate::http::reports::build(state, who, Some(&before), Some(&start)),
    )?;
    let names = category_names(state, doc.lang).await;
    let lines = summary(&current, &previous, doc.lang, &|code| {
        names.get(code).cloned().unwrap_or_else(|| code.to_owned())
    });
    let now = closedloop_store::Clock::now(state.clock.as_ref());
    Ok(Body {
        heading: doc.fill(
            "period.heading",
            &[("from", &from.to_string()), ("to", &to.to_string())],
        ),
        lines,
        category_chart: chart::bars(
            doc.t("reports.by_category"),
            &named(&names, &current.by_category),
        ),
        days_chart: chart::columns(doc.t("reports.by_day"), &current.by_day),
        departments: current.departments,
        generated: doc.fill("period.generated", &[("when", &doc.when(now))]),
        doc,
    })
}

/// `/agent/reports/period`: the page, or with `download` the document alone.
pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    tr: Tr,
    Query(q): Query<PeriodForm>,
) -> Response {
    let (who, csrf, tr) =
        match super::reports::reader(&state, &jar, tr, "/agent/reports/period", "reports.period")
            .await
        {
            Ok(r) => r,
            Err(res) => return res,
        };
    let today = closedloop_store::Clock::now(state.clock.as_ref()).date_naive();
    let to = super::reports::day(&q.to).unwrap_or(today);
    let from = super::reports::day(&q.from).unwrap_or_else(|| quarter_start(to));
    let lang = match q.lang.as_str() {
        "zh" => Lang::Zh,
        "en" => Lang::En,
        _ => tr.lang,
    };
    let doc = tr.in_lang(lang);
    let (body, error) = if from > to {
        (None, Some(tr.t("period.from_after_to").to_owned()))
    } else {
        match body(&state, &who, from, to, doc).await {
            Ok(b) => (Some(b), None),
            Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e.message)),
            Err(e) => {
                use axum::response::IntoResponse;
                return (e.status, e.message).into_response();
            }
        }
    };
    let body = match (body, q.download.is_empty()) {
        (Some(body), false) => {
            let file = format!(
                "closedloop-progress-{from}-{to}-{}.html",
                if body.doc.is_zh() { "zh" } else { "en" }
            );
            let mut res = page(StatusCode::OK, &PeriodDoc { body });
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            return res;
        }
        (body, _) => body,
    };
    let download = format!(
        "/agent/reports/period?from={from}&to={to}&lang={}&download=1",
        if lang == Lang::Zh { "zh" } else { "en" }
    );
    page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &PeriodPage {
            tr,
            here: "/agent/reports/period".into(),
            admin: who.role == Role::Admin,
            name: who.name,
            csrf,
            from: from.to_string(),
            to: to.to_string(),
            download,
            error,
            body,
        },
    )
}

/// The window the transparency report covers.
const PUBLIC_DAYS: i64 = 90;
/// How long one computation of it is shown: it is public, so it must not cost a report per
/// request.
const PUBLIC_FOR: chrono::Duration = chrono::Duration::minutes(10);
/// Categories with fewer tickets are counted together as "other": a rare complaint could
/// point to the person who made it.
const PUBLIC_MIN_COUNT: usize = 5;
const PUBLIC_CATEGORIES: usize = 8;

/// The transparency report's figures, computed at most once per [`PUBLIC_FOR`]; the lock also
/// makes simultaneous first visitors wait for one computation instead of starting one each.
#[derive(Default)]
pub struct Published(tokio::sync::Mutex<Option<(DateTime<Utc>, Arc<Report>)>>);

impl Published {
    async fn report(&self, state: &AppState) -> Result<Arc<Report>, crate::error::ApiError> {
        let now = closedloop_store::Clock::now(state.clock.as_ref());
        let mut cached = self.0.lock().await;
        if let Some((at, r)) = cached.as_ref()
            && now - *at < PUBLIC_FOR
            && *at <= now
        {
            return Ok(r.clone());
        }
        // Everything, but only as counts: nothing of any ticket's text or people is shown.
        let everyone = Principal {
            user_id: 0,
            email: String::new(),
            name: "transparency report".into(),
            role: Role::Admin,
            departments: Vec::new(),
            lang: None,
            time_zone: None,
        };
        let from = now - chrono::Duration::days(PUBLIC_DAYS);
        let rows = state.store.report_rows(&everyone, from, now).await?;
        let report = Arc::new(closedloop_domain::report::compute(&rows, from, now, now));
        *cached = Some((now, report.clone()));
        Ok(report)
    }
}

/// One line of the transparency report: a frequent problem, how it was handled, and the
/// published answers about it.
struct Problem {
    name: String,
    received: usize,
    resolved_pct: Option<f64>,
    in_time_pct: Option<f64>,
    median_hours: Option<f64>,
    answers: Vec<Article>,
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct TransparencyPage {
    tr: Tr,
    headline: String,
    problems: Vec<Problem>,
    other: Option<String>,
    chart: String,
    generated: String,
}

/// `/transparency`: public, no sign-in.
pub async fn transparency(
    _limit: Throttled<Public>,
    State(state): State<AppState>,
    tr: Tr,
) -> Response {
    let report = match state.published.report(&state).await {
        Ok(r) => r,
        Err(e) => {
            use axum::response::IntoResponse;
            return (e.status, e.message).into_response();
        }
    };
    let names = category_names(&state, tr.lang).await;
    let articles = state
        .store
        .articles(
            None,
            &ArticleFilter {
                status: Some(ArticleStatus::Published),
                limit: 500,
                ..ArticleFilter::default()
            },
        )
        .await
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut other = 0;
    for k in &report.categories {
        if k.received < PUBLIC_MIN_COUNT || problems.len() == PUBLIC_CATEGORIES {
            other += k.received;
            continue;
        }
        let mut answers: Vec<Article> = articles
            .iter()
            .filter(|a| a.category.as_deref() == Some(k.name.as_str()))
            .cloned()
            .collect();
        answers.sort_by_key(|a| a.lang != tr.lang);
        answers.truncate(3);
        problems.push(Problem {
            name: names
                .get(&k.name)
                .cloned()
                .unwrap_or_else(|| k.name.clone()),
            received: k.received,
            resolved_pct: closedloop_domain::report::pct(k.resolved, k.received),
            in_time_pct: k.resolution_compliance_pct,
            median_hours: k.resolution_p50_minutes.map(|m| (m / 6.0).round() / 10.0),
            answers,
        });
    }
    problems.sort_by(|a, b| b.received.cmp(&a.received).then(a.name.cmp(&b.name)));
    let uncategorised: usize = report
        .by_category
        .iter()
        .filter(|c| c.key == "-")
        .map(|c| c.count)
        .sum();
    let mut headline = tr.fill(
        "transparency.headline",
        &[
            ("days", &PUBLIC_DAYS.to_string()),
            (
                "total",
                &closedloop_domain::progress::thousands(report.total),
            ),
        ],
    );
    if let Some(pct) = closedloop_domain::report::pct(report.resolution.count, report.total) {
        headline.push(' ');
        headline.push_str(&tr.fill("transparency.resolved", &[("pct", &pct.to_string())]));
    }
    if let Some(pct) = report.satisfaction.csat_pct {
        headline.push(' ');
        headline.push_str(&tr.fill("transparency.csat", &[("pct", &pct.to_string())]));
    }
    let chart = chart::bars(
        tr.t("transparency.title"),
        &problems
            .iter()
            .map(|p| Count {
                key: p.name.clone(),
                count: p.received,
            })
            .collect::<Vec<_>>(),
    );
    page(
        StatusCode::OK,
        &TransparencyPage {
            headline,
            problems,
            other: (other + uncategorised > 0).then(|| {
                tr.fill(
                    "transparency.other",
                    &[("n", &(other + uncategorised).to_string())],
                )
            }),
            chart,
            generated: tr.fill("period.generated", &[("when", &tr.when(report.to))]),
            tr,
        },
    )
}
