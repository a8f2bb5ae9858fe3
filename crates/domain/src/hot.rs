//! Hot issues (MISSION §6): what users complain about most this week and this month, what is
//! suddenly growing, which words carry the anger for each cause, and how many tickets each
//! category will bring in the coming weeks. Pure: the store reads the tickets and the weekly
//! counts, this turns them into lists, and the tests check those lists against hand-built data.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::report::round1;

/// Clusters listed per window: a page of things to act on, not a census.
pub const TOP: usize = 10;
/// Weeks before the current one that an emerging cluster is compared with.
pub const HISTORY_WEEKS: usize = 8;
/// Tickets this week below which a cluster is never called emerging, however new.
pub const MIN_EMERGING: usize = 5;
/// Standard deviations above its weekly mean that make a cluster emerging.
pub const EMERGING_Z: f64 = 3.0;
/// A ticket is negative when triage's sentiment is below this: slightly below neutral, so a
/// flat factual question does not count as a complaint.
pub const NEGATIVE_BELOW: f32 = -0.2;
/// Keywords listed per cause.
pub const KEYWORDS_PER_CAUSE: usize = 8;
/// Weeks forecast ahead.
pub const FORECAST_WEEKS: usize = 4;
/// Most recent weeks each forecast is checked against.
pub const BACKTEST_WEEKS: usize = 8;
/// Keywords of a ticket that are read: triage ranks them best first and the tail is noise.
const HEAD: usize = 5;
/// Examples shown per cluster.
const EXAMPLES: usize = 3;

/// One ticket as hot-issue analysis reads it: its keywords were extracted by triage (folded:
/// simplified Chinese, lowercase English), best first.
#[derive(Debug, Clone)]
pub struct Doc {
    pub number: String,
    pub created_at: DateTime<Utc>,
    pub category: Option<String>,
    /// Triage's sentiment score, −1 … +1.
    pub sentiment: f32,
    pub keywords: Vec<String>,
}

/// Tickets per category and week, for the forecast: `weeks[i]` is the count of week i, oldest
/// first, the last entry = the last complete week.
#[derive(Debug, Clone)]
pub struct Series {
    pub category: String,
    pub weeks: Vec<u32>,
}

/// Similar complaints: tickets of one category whose most shared keywords are the same.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Cluster {
    pub category: Option<String>,
    pub label: Vec<String>,
    /// Tickets in the window.
    pub count: usize,
    /// Tickets in the window of the same length right before it.
    pub previous: usize,
    /// `(count − previous) / previous` in percent; None when there was none before.
    pub growth_pct: Option<f64>,
    /// Share of its tickets that are negative, in percent.
    pub negative_pct: f64,
    /// Numbers of its newest tickets in the window, newest first.
    pub examples: Vec<String>,
}

/// A cluster growing abnormally fast against its own history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Emerging {
    pub category: Option<String>,
    pub label: Vec<String>,
    /// Tickets in the last 7 days.
    pub count: usize,
    /// Tickets in each of the [`HISTORY_WEEKS`] weeks before, oldest first.
    pub weekly_history: Vec<usize>,
    /// Mean of the history.
    pub baseline: f64,
    pub z: f64,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct KeywordCount {
    pub keyword: String,
    /// Negative tickets carrying it.
    pub count: usize,
    /// Of all the cause's tickets carrying it, the negative ones, in percent.
    pub negative_pct: f64,
}

/// The words of one cause's negative tickets: frequent and mostly said in anger.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CauseKeywords {
    /// The category, "-" for tickets without one.
    pub cause: String,
    pub negative_docs: usize,
    pub keywords: Vec<KeywordCount>,
}

/// One category's tickets in the coming weeks, with how well the same method did on its past.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Forecast {
    pub category: String,
    pub history: Vec<u32>,
    /// The next [`FORECAST_WEEKS`] weeks.
    pub next: Vec<f64>,
    pub alpha: f64,
    pub beta: f64,
    /// Past weeks each forecast one step ahead from the weeks before it only.
    pub backtest_weeks: usize,
    /// Mean absolute error of those forecasts, in tickets.
    pub mae: Option<f64>,
    /// Mean absolute percentage error over the back-tested weeks that had tickets.
    pub mape_pct: Option<f64>,
    /// The same MAE for "next week = this week": a method worse than this is no use.
    pub naive_mae: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Hot {
    /// Top clusters of the last 7 days.
    pub week: Vec<Cluster>,
    /// Top clusters of the last 28 days.
    pub month: Vec<Cluster>,
    pub emerging: Vec<Emerging>,
    pub negative: Vec<CauseKeywords>,
    pub forecast: Vec<Forecast>,
}

fn pct(part: usize, whole: usize) -> f64 {
    crate::report::pct(part, whole).unwrap_or(0.0)
}

/// A ticket's first [`HEAD`] distinct keywords.
fn head(d: &Doc) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(HEAD);
    for k in &d.keywords {
        if out.len() == HEAD {
            break;
        }
        if !out.contains(&k.as_str()) {
            out.push(k);
        }
    }
    out
}

fn is_negative(d: &Doc) -> bool {
    d.sentiment < NEGATIVE_BELOW
}

fn within(d: &Doc, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    from <= d.created_at && d.created_at < to
}

/// Numbers of the newest tickets, newest first.
fn examples(docs: &[&Doc]) -> Vec<String> {
    let mut ds = docs.to_vec();
    ds.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.number.cmp(&a.number))
    });
    ds.iter().take(EXAMPLES).map(|d| d.number.clone()).collect()
}

/// A cluster: the category and the label.
type Key = (Option<String>, Vec<String>);

/// Per keyword of a cause: (negative tickets, all tickets) carrying it.
type KeywordTally<'a> = BTreeMap<&'a str, (usize, usize)>;

/// Each ticket's cluster, if any. The most shared words of a ticket name its subject (a word
/// only it uses says nothing about what others complain of), and two words tell "退款 到账"
/// from "退款 运费". Document frequency is counted over every ticket passed, whatever its week,
/// so a ticket gets the same key in every window and the history is comparable.
fn keyed(docs: &[Doc]) -> Vec<(Key, &Doc)> {
    let df = frequencies(docs);
    docs.iter()
        .filter_map(|d| label(&df, d).map(|l| ((d.category.clone(), l), d)))
        .collect()
}

/// In how many tickets each keyword occurs.
fn frequencies(docs: &[Doc]) -> HashMap<&str, usize> {
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in docs {
        let distinct: BTreeSet<&str> = d.keywords.iter().map(String::as_str).collect();
        for k in distinct {
            *df.entry(k).or_default() += 1;
        }
    }
    df
}

fn label(df: &HashMap<&str, usize>, d: &Doc) -> Option<Vec<String>> {
    let mut ks: Vec<(usize, &str)> = head(d)
        .into_iter()
        .map(|k| (df.get(k).copied().unwrap_or(0), k))
        .filter(|(n, _)| *n >= 2)
        .collect();
    // Stable: equally shared words keep the ticket's order.
    ks.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let label: Vec<String> = ks.into_iter().take(2).map(|(_, k)| k.to_owned()).collect();
    (!label.is_empty()).then_some(label)
}

/// Each ticket's cluster label (its two most shared words, see [`analyse`]), in order; `None`
/// for a ticket that shares no word. For evaluating the grouping on labelled data.
pub fn labels(docs: &[Doc]) -> Vec<Option<Vec<String>>> {
    let df = frequencies(docs);
    docs.iter().map(|d| label(&df, d)).collect()
}

/// The top clusters of `[now − days, now)`, with the window before for growth.
fn clusters(keyed: &[(Key, &Doc)], now: DateTime<Utc>, days: i64) -> Vec<Cluster> {
    let from = now - Duration::days(days);
    let before = from - Duration::days(days);
    let mut groups: BTreeMap<&Key, (Vec<&Doc>, usize)> = BTreeMap::new();
    for (k, d) in keyed {
        if within(d, from, now) {
            groups.entry(k).or_default().0.push(d);
        } else if within(d, before, from) {
            groups.entry(k).or_default().1 += 1;
        }
    }
    let mut out: Vec<Cluster> = groups
        .into_iter()
        .filter(|(_, (ds, _))| ds.len() >= 2)
        .map(|((category, label), (ds, previous))| {
            let count = ds.len();
            Cluster {
                category: category.clone(),
                label: label.clone(),
                count,
                previous,
                growth_pct: (previous > 0)
                    .then(|| round1((count as f64 - previous as f64) * 100.0 / previous as f64)),
                negative_pct: pct(ds.iter().filter(|d| is_negative(d)).count(), count),
                examples: examples(&ds),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.negative_pct.total_cmp(&a.negative_pct))
            .then_with(|| a.label.cmp(&b.label))
            .then_with(|| a.category.cmp(&b.category))
    });
    out.truncate(TOP);
    out
}

/// Clusters growing abnormally fast. Counts of rare events are Poisson-like: their spread grows
/// as the square root of their mean, so a cluster that usually gets 1 a week reaching 6 is news
/// while one that gets 100 reaching 110 is not. Hence z = (c − μ) / √μ, with μ floored at 1 so
/// a quiet history does not turn every extra ticket into a huge z; growth must also at least
/// double the usual. A new cluster has no history at all, so it needs [`MIN_EMERGING`] tickets
/// this week: otherwise every pair of similar tickets would be flagged.
fn emerging(keyed: &[(Key, &Doc)], now: DateTime<Utc>) -> Vec<Emerging> {
    // Week i back (0 = the current one) is [now − 7(i+1) d, now − 7i d).
    let week_of = |d: &Doc| {
        (0..=HISTORY_WEEKS).find(|i| {
            let start = now - Duration::days(7 * (*i as i64 + 1));
            start <= d.created_at && d.created_at < now
        })
    };
    let mut groups: BTreeMap<&Key, (Vec<&Doc>, Vec<usize>)> = BTreeMap::new();
    for (k, d) in keyed {
        let Some(back) = week_of(d) else { continue };
        let g = groups
            .entry(k)
            .or_insert_with(|| (Vec::new(), vec![0; HISTORY_WEEKS]));
        if back == 0 {
            g.0.push(d);
        } else if let Some(slot) = g.1.get_mut(HISTORY_WEEKS - back) {
            *slot += 1;
        }
    }
    let mut out: Vec<Emerging> = groups
        .into_iter()
        .filter_map(|((category, label), (ds, history))| {
            let c = ds.len() as f64;
            let mu = history.iter().sum::<usize>() as f64 / HISTORY_WEEKS as f64;
            let z = (c - mu) / mu.max(1.0).sqrt();
            (ds.len() >= MIN_EMERGING && z >= EMERGING_Z && c >= 2.0 * mu).then(|| Emerging {
                category: category.clone(),
                label: label.clone(),
                count: ds.len(),
                weekly_history: history,
                baseline: round1(mu),
                z: round1(z),
                examples: examples(&ds),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.z.total_cmp(&a.z)
            .then(b.count.cmp(&a.count))
            .then_with(|| a.label.cmp(&b.label))
            .then_with(|| a.category.cmp(&b.category))
    });
    out
}

/// Negative keywords of the last 28 days by cause. A keyword scores n_neg × (n_neg / n_all):
/// frequent in negative tickets and rarely said otherwise, so "退款" in every refund ticket ranks
/// below "骗子" said only in anger unless it is much more frequent.
fn negative(docs: &[Doc], now: DateTime<Utc>) -> Vec<CauseKeywords> {
    let from = now - Duration::days(28);
    // Per cause: its negative tickets and its keywords.
    let mut causes: BTreeMap<&str, (usize, KeywordTally)> = BTreeMap::new();
    for d in docs.iter().filter(|d| within(d, from, now)) {
        let cause = causes
            .entry(d.category.as_deref().unwrap_or("-"))
            .or_default();
        let neg = is_negative(d);
        if neg {
            cause.0 += 1;
        }
        for k in head(d) {
            let e = cause.1.entry(k).or_default();
            e.1 += 1;
            if neg {
                e.0 += 1;
            }
        }
    }
    let mut out: Vec<CauseKeywords> = causes
        .into_iter()
        .filter_map(|(cause, (negative_docs, kws))| {
            let mut scored: Vec<(f64, KeywordCount)> = kws
                .into_iter()
                .filter(|(_, (n_neg, _))| *n_neg >= 2)
                .map(|(k, (n_neg, n_all))| {
                    let score = n_neg as f64 * n_neg as f64 / n_all as f64;
                    let kc = KeywordCount {
                        keyword: k.to_owned(),
                        count: n_neg,
                        negative_pct: pct(n_neg, n_all),
                    };
                    (score, kc)
                })
                .collect();
            scored.sort_by(|a, b| {
                b.0.total_cmp(&a.0)
                    .then_with(|| a.1.keyword.cmp(&b.1.keyword))
            });
            scored.truncate(KEYWORDS_PER_CAUSE);
            (!scored.is_empty()).then(|| CauseKeywords {
                cause: cause.to_owned(),
                negative_docs,
                keywords: scored.into_iter().map(|(_, k)| k).collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.negative_docs
            .cmp(&a.negative_docs)
            .then_with(|| a.cause.cmp(&b.cause))
    });
    out
}

/// Holt's linear smoothing over `y` with initial level = first value and initial trend =
/// second − first: the final level and trend, and the sum of squared one-step-ahead errors.
fn holt_run(y: &[f64], alpha: f64, beta: f64) -> (f64, f64, f64) {
    let mut level = y.first().copied().unwrap_or(0.0);
    let mut trend = match y {
        [a, b, ..] => b - a,
        _ => 0.0,
    };
    let mut sse = 0.0;
    for &v in y.iter().skip(1) {
        let forecast = level + trend;
        sse += (v - forecast).powi(2);
        let previous = level;
        level = alpha * v + (1.0 - alpha) * forecast;
        trend = beta * (level - previous) + (1.0 - beta) * trend;
    }
    (level, trend, sse)
}

/// Holt's linear exponential smoothing (a level and a trend, each following the data at its own
/// pace): α ∈ {0.1 … 0.9} and β ∈ {0.0 … 0.5} chosen to minimise the squared one-step-ahead
/// errors over `weeks`, then `horizon` weeks forecast, never below zero (a count cannot be).
/// Returns the forecast (unrounded), α and β. Near-ties keep the first pair, the smoothest.
pub fn holt_forecast(weeks: &[f64], horizon: usize) -> (Vec<f64>, f64, f64) {
    let (mut best, mut alpha, mut beta) = (f64::INFINITY, 0.1, 0.0);
    let (mut level, mut trend) = (0.0, 0.0);
    for i in 1..=9 {
        for j in 0..=5 {
            let (a, b) = (f64::from(i) / 10.0, f64::from(j) / 10.0);
            let (l, t, sse) = holt_run(weeks, a, b);
            if sse < best - 1e-9 {
                (best, alpha, beta, level, trend) = (sse, a, b, l, t);
            }
        }
    }
    let next = (1..=horizon)
        .map(|h| (level + h as f64 * trend).max(0.0))
        .collect();
    (next, alpha, beta)
}

/// Rolling-origin back-test: for each of the last min([`BACKTEST_WEEKS`], len − 3) weeks t,
/// (actual, Holt refitted on the weeks before t, naive = week t − 1). Honest: no forecast sees
/// its own week or any after it.
fn backtest(y: &[f64]) -> Vec<(f64, f64, f64)> {
    let n = y.len();
    let k = BACKTEST_WEEKS.min(n.saturating_sub(3));
    (n - k..n)
        .map(|t| {
            let (f, _, _) = holt_forecast(&y[..t], 1);
            let naive = y[t - 1];
            (y[t], f.first().copied().unwrap_or(naive), naive)
        })
        .collect()
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for x in v {
        sum += x;
        n += 1;
    }
    (n > 0).then(|| round1(sum / n as f64))
}

fn forecast(series: &[Series]) -> Vec<Forecast> {
    let mut out: Vec<(u64, Forecast)> = series
        .iter()
        .filter(|s| s.weeks.len() >= 4)
        .map(|s| {
            let y: Vec<f64> = s.weeks.iter().map(|w| f64::from(*w)).collect();
            let (next, alpha, beta) = holt_forecast(&y, FORECAST_WEEKS);
            let bt = backtest(&y);
            let recent = s.weeks.iter().rev().take(4).map(|w| u64::from(*w)).sum();
            let f = Forecast {
                category: s.category.clone(),
                history: s.weeks.clone(),
                next: next.into_iter().map(round1).collect(),
                alpha,
                beta,
                backtest_weeks: bt.len(),
                mae: mean(bt.iter().map(|(a, h, _)| (a - h).abs())),
                mape_pct: mean(
                    bt.iter()
                        .filter(|(a, _, _)| *a > 0.0)
                        .map(|(a, h, _)| (a - h).abs() / a * 100.0),
                ),
                naive_mae: mean(bt.iter().map(|(a, _, n)| (a - n).abs())),
            };
            (recent, f)
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.category.cmp(&b.1.category)));
    out.into_iter().map(|(_, f)| f).collect()
}

/// Hot issues as of `now`. `docs` are the tickets of the last [`HISTORY_WEEKS`] + 1 weeks
/// (older ones are ignored by every window but still count towards the keywords' frequency);
/// `series` the weekly counts per category.
pub fn analyse(docs: &[Doc], series: &[Series], now: DateTime<Utc>) -> Hot {
    let keyed = keyed(docs);
    Hot {
        week: clusters(&keyed, now, 7),
        month: clusters(&keyed, now, 28),
        emerging: emerging(&keyed, now),
        negative: negative(docs, now),
        forecast: forecast(series),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// A ticket registered `days` days and one hour before now: day 0 is this week, day 7 the
    /// week before.
    fn doc(number: &str, days: i64, category: Option<&str>, sentiment: f32, kws: &[&str]) -> Doc {
        Doc {
            number: number.into(),
            created_at: now() - Duration::days(days) - Duration::hours(1),
            category: category.map(Into::into),
            sentiment,
            keywords: kws.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    fn labels(cs: &[Cluster]) -> Vec<(Option<&str>, String, usize)> {
        cs.iter()
            .map(|c| (c.category.as_deref(), c.label.join(" "), c.count))
            .collect()
    }

    /// Refund tickets. "退款 到賬" written in traditional script reached us already folded to
    /// "退款 到账" by triage, so A2 (typed in traditional) shares A1's words.
    fn refunds() -> Vec<Doc> {
        let p = Some("payment");
        vec![
            doc("A1", 1, p, -0.5, &["退款", "到账", "银行"]),
            doc("A2", 2, p, 0.0, &["到账", "退款", "慢"]),
            doc("A3", 3, p, -0.6, &["退款", "到账"]),
            doc("D", 6, p, 0.1, &["罕见", "退款", "到账"]),
            doc("A4", 10, p, 0.0, &["退款", "到账", "银行"]),
            doc("B1", 1, p, 0.0, &["退款", "运费"]),
            doc("B2", 5, p, 0.0, &["运费", "退款"]),
            doc("C1", 2, Some("logistics"), -0.3, &["退款", "到账"]),
            doc("C2", 20, Some("logistics"), 0.0, &["退款", "到账"]),
            doc("U", 1, p, -0.9, &["独特", "词语"]),
        ]
    }

    #[test]
    fn cluster_keys_are_the_most_shared_words() {
        let ds = refunds();
        let keyed = keyed(&ds);
        // df: 退款 9, 到账 7, 银行 2, 运费 2, 罕见 慢 独特 词语 1. A1's 银行 (2) loses to 到账
        // (7); D's first word 罕见 is its own; U shares nothing and has no cluster.
        let of = |n: &str| {
            keyed
                .iter()
                .find(|(_, d)| d.number == n)
                .map(|(k, _)| k.1.join(" "))
        };
        assert_eq!(of("A1").as_deref(), Some("退款 到账"));
        assert_eq!(
            of("A2").as_deref(),
            Some("退款 到账"),
            "sorted by df, not typed order"
        );
        assert_eq!(of("D").as_deref(), Some("退款 到账"));
        assert_eq!(of("B2").as_deref(), Some("退款 运费"));
        assert_eq!(of("U"), None);
        assert_eq!(keyed.len(), 9);
        // Equally shared words keep the ticket's order.
        let tie = [
            doc("X1", 1, None, 0.0, &["b", "a"]),
            doc("X2", 1, None, 0.0, &["a", "b"]),
        ];
        let k = super::keyed(&tie);
        assert_eq!(
            (k[0].0.1.join(" "), k[1].0.1.join(" ")),
            ("b a".into(), "a b".into())
        );
    }

    #[test]
    fn week_and_month_windows_with_growth() {
        let hot = analyse(&refunds(), &[], now());
        // Week [now − 7 d, now): payment 退款 到账 = A1 A2 A3 D (4), the week before A4 (1):
        // growth (4 − 1) / 1 = 300 %; negative A1 A3 = 50 %. 退款 运费 = B1 B2 (2), nothing
        // before. Logistics has only C1 this week: a count of 1 is not listed.
        assert_eq!(
            labels(&hot.week),
            [
                (Some("payment"), "退款 到账".into(), 4),
                (Some("payment"), "退款 运费".into(), 2)
            ]
        );
        let top = &hot.week[0];
        assert_eq!((top.previous, top.growth_pct), (1, Some(300.0)));
        assert_eq!(top.negative_pct, 50.0);
        assert_eq!(
            top.examples,
            ["A1", "A2", "A3"],
            "newest first, three at most"
        );
        assert_eq!((hot.week[1].previous, hot.week[1].growth_pct), (0, None));
        // Month [now − 28 d, now): payment 退款 到账 adds A4 (5); the same label in logistics is
        // its own cluster, C1 C2 (2), half negative, so it ranks above 退款 运费 (2, none).
        assert_eq!(
            labels(&hot.month),
            [
                (Some("payment"), "退款 到账".into(), 5),
                (Some("logistics"), "退款 到账".into(), 2),
                (Some("payment"), "退款 运费".into(), 2)
            ]
        );
        assert_eq!(hot.month[0].previous, 0);
        assert_eq!(hot.month[1].negative_pct, 50.0);
    }

    #[test]
    fn emerging_against_own_history() {
        let app = Some("app");
        let mut ds = Vec::new();
        let mut n = 0;
        let mut add = |ds: &mut Vec<Doc>, days: i64, kws: &[&str], count: usize| {
            for _ in 0..count {
                n += 1;
                ds.push(doc(&format!("T{n:04}"), days, app, 0.0, kws));
            }
        };
        // History week i (oldest first) is 7·(8 − i) + 3 days back, mid-week.
        for (i, c) in [1, 0, 1, 1, 0, 1, 1, 0].into_iter().enumerate() {
            add(&mut ds, 7 * (8 - i as i64) + 3, &["闪退", "登录"], c);
            add(&mut ds, 7 * (8 - i as i64) + 3, &["卡顿", "发热"], 100);
        }
        for day in 0..6 {
            add(&mut ds, day, &["闪退", "登录"], 1);
        }
        add(&mut ds, 1, &["卡顿", "发热"], 110);
        add(&mut ds, 1, &["白屏", "支付"], 4);
        add(&mut ds, 1, &["黑屏", "更新"], 5);
        let hot = analyse(&ds, &[], now());
        // 闪退: μ = 5/8 = 0.625, floored to 1 under the root: z = (6 − 0.625) / 1 = 5.4.
        // 黑屏: new, μ = 0: z = 5 / 1 = 5.0 and 5 ≥ MIN_EMERGING. 卡顿: z = 10 / √100 = 1.0.
        // 白屏: new but only 4 (z = 4.0, yet under MIN_EMERGING).
        let got: Vec<(String, usize, f64, f64)> = hot
            .emerging
            .iter()
            .map(|e| (e.label.join(" "), e.count, e.baseline, e.z))
            .collect();
        assert_eq!(
            got,
            [
                ("闪退 登录".into(), 6, 0.6, 5.4),
                ("黑屏 更新".into(), 5, 0.0, 5.0)
            ]
        );
        assert_eq!(hot.emerging[0].weekly_history, [1, 0, 1, 1, 0, 1, 1, 0]);
        // 5 + 800 history tickets come first; this week's six are T0806 (0 days old) … T0811.
        assert_eq!(hot.emerging[0].examples, ["T0806", "T0807", "T0808"]);
    }

    #[test]
    fn negative_keywords_by_cause() {
        let p = Some("payment");
        let ds = [
            doc("N1", 1, p, -0.5, &["退款", "慢", "客服"]),
            doc("N2", 3, p, -0.8, &["退款", "慢"]),
            doc("N3", 9, p, -0.3, &["退款", "客服"]),
            doc("N4", 2, p, -0.9, &["扣款", "重复"]),
            doc("P1", 4, p, 0.5, &["退款", "到账"]),
            doc("P2", 5, p, 0.0, &["客服", "态度"]),
            doc("P3", 6, p, -0.2, &["慢"]),
            doc("OLD", 40, p, -0.9, &["退款", "慢"]),
            doc("L1", 1, Some("logistics"), -0.5, &["丢件", "快递"]),
            doc("L2", 2, Some("logistics"), -0.5, &["丢件"]),
            doc("Z1", 2, None, -0.5, &["投诉"]),
        ];
        let hot = analyse(&ds, &[], now());
        // payment, last 28 days: negative N1 … N4 (P3 at −0.2 is not below −0.2; OLD is out).
        // 退款: 3 negative of 4 → 3 × 3/4 = 2.25; 慢: 2 of 3 (P3) → 1.33; 客服: 2 of 3 (P2)
        // → 1.33, before 慢 by name; 扣款, 重复: one negative ticket each, dropped.
        // logistics: 丢件 2 of 2 → 2.0, 快递 dropped. No category: 投诉 once, cause omitted.
        type Row<'a> = (&'a str, usize, Vec<(&'a str, usize, f64)>);
        let got: Vec<Row> = hot
            .negative
            .iter()
            .map(|c| {
                let ks = c
                    .keywords
                    .iter()
                    .map(|k| (k.keyword.as_str(), k.count, k.negative_pct))
                    .collect();
                (c.cause.as_str(), c.negative_docs, ks)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "payment",
                    4,
                    vec![("退款", 3, 75.0), ("客服", 2, 66.7), ("慢", 2, 66.7)]
                ),
                ("logistics", 2, vec![("丢件", 2, 100.0)]),
            ]
        );
    }

    fn series(category: &str, weeks: &[u32]) -> Series {
        Series {
            category: category.into(),
            weeks: weeks.to_vec(),
        }
    }

    #[test]
    fn forecast_follows_trend_and_beats_naive() {
        let hot = analyse(
            &[],
            &[
                series("linear", &[10, 12, 14, 16, 18, 20, 22, 24]),
                series("flat", &[7, 7, 7, 7, 7]),
                series("short", &[50, 60, 70]),
            ],
            now(),
        );
        // Sorted by the last four weeks: linear 84, flat 28; "short" has under 4 weeks.
        let names: Vec<&str> = hot.forecast.iter().map(|f| f.category.as_str()).collect();
        assert_eq!(names, ["linear", "flat"]);
        let lin = &hot.forecast[0];
        for (got, want) in lin.next.iter().zip([26.0, 28.0, 30.0, 32.0]) {
            assert!((got - want).abs() <= 0.5, "{got} vs {want}");
        }
        // Back-tested on min(8, 8 − 3) = 5 weeks: Holt is exact, naive is 2 behind each time.
        assert_eq!(lin.backtest_weeks, 5);
        assert_eq!(lin.mae, Some(0.0));
        assert_eq!(lin.naive_mae, Some(2.0));
        assert_eq!(lin.mape_pct, Some(0.0));
        let flat = &hot.forecast[1];
        assert_eq!(flat.next, [7.0, 7.0, 7.0, 7.0]);
        assert_eq!((flat.backtest_weeks, flat.mae), (2, Some(0.0)));
    }

    #[test]
    fn holt_directly_and_never_negative() {
        let (next, alpha, beta) = holt_forecast(&[10.0, 12.0, 14.0, 16.0], 2);
        assert!((next[0] - 18.0).abs() < 1e-6 && (next[1] - 20.0).abs() < 1e-6);
        assert!((0.1..=0.9).contains(&alpha) && (0.0..=0.5).contains(&beta));
        let (down, _, _) = holt_forecast(&[9.0, 6.0, 3.0, 0.0], 3);
        assert_eq!(down, [0.0, 0.0, 0.0], "a falling count stops at zero");
        let (empty, _, _) = holt_forecast(&[], 2);
        assert_eq!(empty, [0.0, 0.0]);
    }

    #[test]
    fn backtest_uses_only_the_past() {
        let y = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 30.0];
        let bt = backtest(&y);
        // Weeks 3 … 7; the forecast for week 7 saw only tens, so it misses the jump by 20.
        assert_eq!(bt.len(), 5);
        assert!(bt[..4].iter().all(|(a, h, _)| (a - h).abs() < 1e-9));
        let (actual, holt, naive) = bt[4];
        assert_eq!((actual, naive), (30.0, 10.0));
        assert!((holt - 10.0).abs() < 1e-9);
        let hot = analyse(
            &[],
            &[series("jump", &[10, 10, 10, 10, 10, 10, 10, 30])],
            now(),
        );
        // MAE 20 / 5 = 4.0; MAPE (20 / 30 = 66.7 %) / 5 = 13.3 %; the forecast itself now rises.
        let f = &hot.forecast[0];
        assert_eq!(
            (f.mae, f.mape_pct, f.naive_mae),
            (Some(4.0), Some(13.3), Some(4.0))
        );
        assert!(f.next[0] > 10.0);
    }
}
