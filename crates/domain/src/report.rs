//! Service reports (MISSION §6): what happened to the tickets registered in a period, computed
//! from one row per ticket. Pure: the store reads the rows, this turns them into numbers, and
//! the tests check those numbers against hand-built data whose answers are known.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Status;

/// One ticket as the reports read it.
#[derive(Debug, Clone)]
pub struct Row {
    pub channel: String,
    pub category: Option<String>,
    pub region: Option<String>,
    pub department: Option<String>,
    /// The assignee's name.
    pub agent: Option<String>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    /// The SLA scheduler recorded a missed first-response target.
    pub first_response_breached: bool,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_breached: bool,
    pub stars: Option<u8>,
    /// Appeals opened, and how those decided ended.
    pub appeals: u32,
    pub appeals_upheld: u32,
    pub appeals_revised: u32,
    /// Public replies by the requester after the first message.
    pub customer_replies: u32,
    pub reopened: bool,
    /// Milestones for the overdue analysis: first assignment to a person, acceptance, first
    /// solution proposed, the supervisor's decision on it, and when the resolution was due.
    pub assigned_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub proposed_at: Option<DateTime<Utc>>,
    /// A solution needed a supervisor's approval.
    pub needs_approval: bool,
    pub decided_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
}

/// A time to reach a milestone, against its target.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Timing {
    /// Tickets that reached it.
    pub count: usize,
    pub p50_minutes: Option<f64>,
    pub p90_minutes: Option<f64>,
    /// Tickets whose clock for it ended or ran out: reached, or past the target without it.
    pub with_target: usize,
    /// Reached with no breach recorded.
    pub within_target: usize,
    /// `within_target / with_target` in percent; None when nothing was measured.
    pub compliance_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Satisfaction {
    pub answered: usize,
    pub average_stars: Option<f64>,
    /// Share of answers with 4 or 5 stars, in percent.
    pub csat_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Appeals {
    pub appealed_tickets: usize,
    /// Appealed tickets of the resolved ones, in percent.
    pub rate_pct: Option<f64>,
    pub upheld: u32,
    pub revised: u32,
}

/// One department's or agent's figures, ranked within their table.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Kpi {
    pub name: String,
    pub received: usize,
    pub resolved: usize,
    pub first_response_compliance_pct: Option<f64>,
    pub resolution_compliance_pct: Option<f64>,
    pub resolution_p50_minutes: Option<f64>,
    pub satisfaction: Satisfaction,
    /// 1 = best: resolution compliance, then satisfaction, then tickets resolved.
    pub rank: usize,
}

/// A label and how many tickets carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Count {
    pub key: String,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Tickets registered in the period.
    pub total: usize,
    pub by_channel: Vec<Count>,
    pub by_category: Vec<Count>,
    pub by_region: Vec<Count>,
    /// Per calendar day (UTC) of the period, days without tickets included.
    pub by_day: Vec<Count>,
    pub first_response: Timing,
    pub resolution: Timing,
    /// Resolved without the user having to write again and never reopened, of the resolved.
    pub first_contact_resolution_pct: Option<f64>,
    /// Tickets of the period still open now, by age.
    pub backlog: Vec<Count>,
    pub appeals: Appeals,
    pub satisfaction: Satisfaction,
    pub departments: Vec<Kpi>,
    pub agents: Vec<Kpi>,
    /// The same figures by category: where satisfaction and timeliness differ by subject.
    pub categories: Vec<Kpi>,
    pub overdue: Overdue,
}

/// The stages a ticket's time is spent in, in order (MISSION §6: "for late tickets, where the
/// time went").
pub const STAGES: [&str; 5] = [
    "assignment",
    "acceptance",
    "investigation",
    "approval",
    "resolution",
];

/// Where the time of late tickets went: tickets resolved after their target, or open past it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Overdue {
    pub tickets: usize,
    /// One entry per stage of [`STAGES`], in that order.
    pub stages: Vec<StageTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StageTime {
    pub stage: String,
    /// Hours all late tickets spent in it.
    pub total_hours: f64,
    /// Of all their hours, in percent.
    pub share_pct: Option<f64>,
    /// Median hours among the late tickets that went through it.
    pub p50_hours: Option<f64>,
    /// Late tickets for which it was the longest stage.
    pub longest_in: usize,
}

/// `part` of `whole` in percent to one decimal; None of nothing.
pub fn pct(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| round1(part as f64 * 100.0 / whole as f64))
}

pub(crate) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(round1(sorted[rank.min(sorted.len()) - 1]))
}

/// A milestone's time and compliance. Compliance is what the SLA scheduler recorded: a
/// milestone reached without a breach is in time; a breach counts as missed whether or not the
/// milestone was reached since.
fn timing<'a>(
    rows: impl Iterator<Item = &'a Row>,
    at: fn(&Row) -> (Option<DateTime<Utc>>, bool),
) -> Timing {
    let mut minutes = Vec::new();
    let (mut with_target, mut within) = (0, 0);
    for r in rows {
        let (reached, breached) = at(r);
        if reached.is_some() || breached {
            with_target += 1;
        }
        let Some(reached) = reached else { continue };
        minutes.push((reached - r.created_at).num_seconds().max(0) as f64 / 60.0);
        if !breached {
            within += 1;
        }
    }
    minutes.sort_by(f64::total_cmp);
    Timing {
        count: minutes.len(),
        p50_minutes: percentile(&minutes, 50.0),
        p90_minutes: percentile(&minutes, 90.0),
        with_target,
        within_target: within,
        compliance_pct: pct(within, with_target),
    }
}

fn first_response(r: &Row) -> (Option<DateTime<Utc>>, bool) {
    (r.first_response_at, r.first_response_breached)
}

fn resolution(r: &Row) -> (Option<DateTime<Utc>>, bool) {
    (r.resolved_at, r.resolution_breached)
}

fn satisfaction<'a>(rows: impl Iterator<Item = &'a Row>) -> Satisfaction {
    let stars: Vec<u8> = rows.filter_map(|r| r.stars).collect();
    let happy = stars.iter().filter(|s| **s >= 4).count();
    Satisfaction {
        answered: stars.len(),
        average_stars: (!stars.is_empty())
            .then(|| round1(stars.iter().map(|s| f64::from(*s)).sum::<f64>() / stars.len() as f64)),
        csat_pct: pct(happy, stars.len()),
    }
}

fn counts<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<Count> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_default() += 1;
    }
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(k, c)| Count {
            key: k.to_owned(),
            count: c,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v
}

fn is_resolved(r: &Row) -> bool {
    r.resolved_at.is_some()
}

fn kpis(rows: &[Row], key: fn(&Row) -> Option<&str>) -> Vec<Kpi> {
    let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        if let Some(k) = key(r) {
            groups.entry(k).or_default().push(r);
        }
    }
    let mut out: Vec<Kpi> = groups
        .into_iter()
        .map(|(name, rs)| {
            let fr = timing(rs.iter().copied(), first_response);
            let res = timing(rs.iter().copied(), resolution);
            Kpi {
                name: name.to_owned(),
                received: rs.len(),
                resolved: rs.iter().filter(|r| is_resolved(r)).count(),
                first_response_compliance_pct: fr.compliance_pct,
                resolution_compliance_pct: res.compliance_pct,
                resolution_p50_minutes: res.p50_minutes,
                satisfaction: satisfaction(rs.iter().copied()),
                rank: 0,
            }
        })
        .collect();
    let score = |k: &Kpi| {
        (
            k.resolution_compliance_pct.unwrap_or(-1.0),
            k.satisfaction.csat_pct.unwrap_or(-1.0),
            k.resolved as f64,
        )
    };
    out.sort_by(|a, b| {
        let (a3, b3) = (score(a), score(b));
        b3.0.total_cmp(&a3.0)
            .then(b3.1.total_cmp(&a3.1))
            .then(b3.2.total_cmp(&a3.2))
            .then_with(|| a.name.cmp(&b.name))
    });
    for (i, k) in out.iter_mut().enumerate() {
        k.rank = i + 1;
    }
    out
}

/// Milliseconds a ticket spent in each stage, as of `now`. A stage whose end was never
/// recorded while a later one was (accepted without an assignment, no approval needed) took no
/// time; the first stage without an end and with nothing after it is the one the ticket is in,
/// and it has been there since the previous milestone.
fn stage_times(r: &Row, now: DateTime<Utc>) -> [i64; 5] {
    let ends = [
        r.assigned_at,
        r.accepted_at,
        r.proposed_at,
        r.decided_at,
        r.resolved_at,
    ];
    let mut out = [0i64; 5];
    let mut since = r.created_at;
    for (i, end) in ends.iter().enumerate() {
        if i == 3 && !r.needs_approval {
            continue;
        }
        match end {
            Some(end) => {
                out[i] = (*end - since).num_milliseconds().max(0);
                since = since.max(*end);
            }
            None if ends[i + 1..].iter().any(Option::is_some) => {}
            None => {
                out[i] = (now - since).num_milliseconds().max(0);
                break;
            }
        }
    }
    out
}

fn is_late(r: &Row, now: DateTime<Utc>) -> bool {
    r.resolution_breached
        || match (r.resolved_at, r.resolution_due_at) {
            (Some(done), Some(due)) => done > due,
            (None, Some(due)) => r.status.is_open() && now > due,
            _ => false,
        }
}

fn overdue(rows: &[Row], now: DateTime<Utc>) -> Overdue {
    let late: Vec<[i64; 5]> = rows
        .iter()
        .filter(|r| is_late(r, now))
        .map(|r| stage_times(r, now))
        .collect();
    let hours = |ms: i64| ms as f64 / 3_600_000.0;
    let all: i64 = late.iter().flatten().sum();
    let stages = STAGES
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let mut spent: Vec<f64> = late
                .iter()
                .filter(|t| t[i] > 0)
                .map(|t| hours(t[i]))
                .collect();
            spent.sort_by(f64::total_cmp);
            let total: i64 = late.iter().map(|t| t[i]).sum();
            StageTime {
                stage: (*stage).to_owned(),
                total_hours: round1(hours(total)),
                share_pct: (all > 0).then(|| round1(total as f64 * 100.0 / all as f64)),
                p50_hours: percentile(&spent, 50.0),
                longest_in: late
                    .iter()
                    .filter(|t| {
                        t[i] > 0
                            && t.iter()
                                .enumerate()
                                .all(|(j, v)| *v < t[i] || (*v == t[i] && j >= i))
                    })
                    .count(),
            }
        })
        .collect();
    Overdue {
        tickets: late.len(),
        stages,
    }
}

/// Age buckets of the open backlog.
const AGES: [(&str, i64); 5] = [
    ("<1d", 1),
    ("1-3d", 3),
    ("3-7d", 7),
    ("7-30d", 30),
    (">30d", i64::MAX),
];

/// The report over `rows` (the tickets registered in `[from, to)`), as of `now`.
pub fn compute(rows: &[Row], from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Report {
    let mut by_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let (first, last) = (
        from.date_naive(),
        (to - chrono::Duration::milliseconds(1)).date_naive(),
    );
    let mut d = first;
    // At most ~3 years of empty days are listed; a longer period shows its tickets' days.
    while d <= last && by_day.len() < 1_100 {
        by_day.insert(d, 0);
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    for r in rows {
        *by_day.entry(r.created_at.date_naive()).or_default() += 1;
    }
    let resolved: Vec<&Row> = rows.iter().filter(|r| is_resolved(r)).collect();
    let fcr = resolved
        .iter()
        .filter(|r| r.customer_replies == 0 && !r.reopened)
        .count();
    let mut backlog = vec![0usize; AGES.len()];
    for r in rows.iter().filter(|r| r.status.is_open()) {
        let days = (now - r.created_at).num_days();
        let i = AGES
            .iter()
            .position(|(_, max)| days < *max)
            .unwrap_or(AGES.len() - 1);
        backlog[i] += 1;
    }
    let appealed = rows.iter().filter(|r| r.appeals > 0).count();
    Report {
        from,
        to,
        total: rows.len(),
        by_channel: counts(rows.iter().map(|r| r.channel.as_str())),
        by_category: counts(rows.iter().map(|r| r.category.as_deref().unwrap_or("-"))),
        by_region: counts(rows.iter().map(|r| r.region.as_deref().unwrap_or("-"))),
        by_day: by_day
            .into_iter()
            .map(|(d, c)| Count {
                key: d.to_string(),
                count: c,
            })
            .collect(),
        first_response: timing(rows.iter(), first_response),
        resolution: timing(rows.iter(), resolution),
        first_contact_resolution_pct: pct(fcr, resolved.len()),
        backlog: AGES
            .iter()
            .zip(backlog)
            .map(|((k, _), c)| Count {
                key: (*k).to_owned(),
                count: c,
            })
            .collect(),
        appeals: Appeals {
            appealed_tickets: appealed,
            rate_pct: pct(appealed, resolved.len()),
            upheld: rows.iter().map(|r| r.appeals_upheld).sum(),
            revised: rows.iter().map(|r| r.appeals_revised).sum(),
        },
        satisfaction: satisfaction(rows.iter()),
        departments: kpis(rows, |r| r.department.as_deref()),
        agents: kpis(rows, |r| r.agent.as_deref()),
        categories: kpis(rows, |r| r.category.as_deref()),
        overdue: overdue(rows, now),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, min, 0)
            .single()
            .unwrap_or_default()
    }

    fn row(day: u32, channel: &str, dept: &str, agent: &str) -> Row {
        Row {
            channel: channel.into(),
            category: Some("payment".into()),
            region: None,
            department: Some(dept.into()),
            agent: Some(agent.into()),
            status: Status::Received,
            created_at: at(day, 8, 0),
            first_response_at: None,
            first_response_breached: false,
            resolved_at: None,
            resolution_breached: false,
            stars: None,
            appeals: 0,
            appeals_upheld: 0,
            appeals_revised: 0,
            customer_replies: 0,
            reopened: false,
            assigned_at: None,
            accepted_at: None,
            proposed_at: None,
            needs_approval: false,
            decided_at: None,
            resolution_due_at: None,
        }
    }

    /// Five tickets whose report was worked out by hand.
    fn data() -> Vec<Row> {
        // A: answered in 30 min, resolved in 2 h, both in time, 5 stars, first contact.
        let mut a = row(2, "web", "payment", "Li");
        a.first_response_at = Some(at(2, 8, 30));
        a.resolved_at = Some(at(2, 10, 0));
        a.status = Status::Closed;
        a.stars = Some(5);
        // B: answered in 90 min and resolved in 10 h, both late, 2 stars, the user wrote
        // again, appealed and upheld.
        let mut b = row(2, "email", "payment", "Li");
        b.first_response_at = Some(at(2, 9, 30));
        b.first_response_breached = true;
        b.resolved_at = Some(at(2, 18, 0));
        b.resolution_breached = true;
        b.status = Status::Resolved;
        b.stars = Some(2);
        b.customer_replies = 1;
        b.appeals = 1;
        b.appeals_upheld = 1;
        // Its ten hours: assigned after 1 h, accepted 30 min later, a refund proposed after
        // 5 h 30 min more, approved 2 h later, resolved 1 h after that.
        b.assigned_at = Some(at(2, 9, 0));
        b.accepted_at = Some(at(2, 9, 30));
        b.proposed_at = Some(at(2, 15, 0));
        b.needs_approval = true;
        b.decided_at = Some(at(2, 17, 0));
        // C: answered in 10 min, resolved in 1 h, in time, reopened; 4 stars.
        let mut c = row(3, "web", "logistics", "Wang");
        c.first_response_at = Some(at(3, 8, 10));
        c.resolved_at = Some(at(3, 9, 0));
        c.status = Status::Closed;
        c.reopened = true;
        c.stars = Some(4);
        // D: open, registered 5 days before "now", its first answer already late; E: open,
        // registered that day.
        let mut d = row(4, "phone", "logistics", "Wang");
        d.first_response_breached = true;
        // Assigned after 2 h, due a day after it came in, never accepted: by "now" (9th,
        // 12:00) it has waited 122 h for acceptance.
        d.assigned_at = Some(at(4, 10, 0));
        d.resolution_due_at = Some(at(5, 8, 0));
        let e = row(9, "web", "logistics", "Wang");
        vec![a, b, c, d, e]
    }

    fn report() -> Report {
        compute(&data(), at(1, 0, 0), at(10, 0, 0), at(9, 12, 0))
    }

    #[test]
    fn volume_by_channel_category_and_day() {
        let r = report();
        assert_eq!(r.total, 5);
        let ch: Vec<(&str, usize)> = r
            .by_channel
            .iter()
            .map(|c| (c.key.as_str(), c.count))
            .collect();
        assert_eq!(ch, [("web", 3), ("email", 1), ("phone", 1)]);
        assert_eq!(r.by_day.len(), 9, "1 to 9 November, empty days included");
        assert_eq!(
            r.by_day[1],
            Count {
                key: "2026-11-02".into(),
                count: 2
            }
        );
        assert_eq!(r.by_day[0].count, 0);
        assert_eq!(r.by_day.iter().map(|d| d.count).sum::<usize>(), 5);
    }

    #[test]
    fn times_against_targets() {
        let r = report();
        // First responses: 30, 90, 10 minutes; measured: those three and D, missed by B and D.
        assert_eq!(r.first_response.count, 3);
        assert_eq!(r.first_response.p50_minutes, Some(30.0));
        assert_eq!(r.first_response.p90_minutes, Some(90.0));
        assert_eq!(
            (r.first_response.with_target, r.first_response.within_target),
            (4, 2)
        );
        assert_eq!(r.first_response.compliance_pct, Some(50.0));
        // Resolutions: 120, 600, 60 minutes; B late.
        assert_eq!(r.resolution.p50_minutes, Some(120.0));
        assert_eq!(r.resolution.compliance_pct, Some(66.7));
    }

    #[test]
    fn first_contact_backlog_appeals_and_satisfaction() {
        let r = report();
        // Of three resolved, only A needed no second contact and was not reopened.
        assert_eq!(r.first_contact_resolution_pct, Some(33.3));
        let backlog: Vec<usize> = r.backlog.iter().map(|b| b.count).collect();
        assert_eq!(backlog, [1, 0, 1, 0, 0], "E is hours old, D five days");
        assert_eq!(r.appeals.appealed_tickets, 1);
        assert_eq!(r.appeals.rate_pct, Some(33.3));
        assert_eq!(r.appeals.upheld, 1);
        assert_eq!(r.satisfaction.answered, 3);
        assert_eq!(r.satisfaction.average_stars, Some(3.7));
        assert_eq!(r.satisfaction.csat_pct, Some(66.7));
    }

    #[test]
    fn departments_and_agents_are_ranked() {
        let r = report();
        // logistics: one resolution, in time (100 %); payment: one of two (50 %).
        let names: Vec<(&str, usize)> = r
            .departments
            .iter()
            .map(|k| (k.name.as_str(), k.rank))
            .collect();
        assert_eq!(names, [("logistics", 1), ("payment", 2)]);
        let payment = &r.departments[1];
        assert_eq!((payment.received, payment.resolved), (2, 2));
        assert_eq!(payment.resolution_compliance_pct, Some(50.0));
        assert_eq!(payment.satisfaction.csat_pct, Some(50.0));
        assert_eq!(r.agents[0].name, "Wang");
        assert_eq!(r.agents[0].received, 3);
        // Every ticket here is about payment: one category row with all five.
        assert_eq!(r.categories.len(), 1);
        assert_eq!((r.categories[0].received, r.categories[0].resolved), (5, 3));
        assert_eq!(r.categories[0].satisfaction.average_stars, Some(3.7));
    }

    #[test]
    fn overdue_time_is_split_by_stage() {
        let o = report().overdue;
        // B (resolved late) and D (open past its due time); A and C were in time.
        assert_eq!(o.tickets, 2);
        type Line<'a> = (&'a str, f64, Option<f64>, Option<f64>, usize);
        let got: Vec<Line<'_>> = o
            .stages
            .iter()
            .map(|s| {
                (
                    s.stage.as_str(),
                    s.total_hours,
                    s.share_pct,
                    s.p50_hours,
                    s.longest_in,
                )
            })
            .collect();
        // 134 h in all: assignment 1 + 2, acceptance 0.5 + 122, investigation 5.5,
        // approval 2, resolution 1.
        assert_eq!(
            got,
            [
                ("assignment", 3.0, Some(2.2), Some(1.0), 0),
                ("acceptance", 122.5, Some(91.4), Some(0.5), 1),
                ("investigation", 5.5, Some(4.1), Some(5.5), 1),
                ("approval", 2.0, Some(1.5), Some(2.0), 0),
                ("resolution", 1.0, Some(0.7), Some(1.0), 0),
            ]
        );
    }

    #[test]
    fn a_stage_skipped_takes_no_time_and_the_current_one_runs_until_now() {
        // Accepted after 1 h with no assignment recorded, resolved 2 h later, no approval.
        let mut r = row(2, "web", "payment", "Li");
        r.accepted_at = Some(at(2, 9, 0));
        r.resolved_at = Some(at(2, 11, 0));
        let h = 3_600_000;
        assert_eq!(stage_times(&r, at(9, 0, 0)), [0, h, 0, 0, 2 * h]);
        // Proposed, waiting for a supervisor since: approval is the current stage.
        let mut w = row(2, "web", "payment", "Li");
        w.accepted_at = Some(at(2, 9, 0));
        w.proposed_at = Some(at(2, 10, 0));
        w.needs_approval = true;
        assert_eq!(stage_times(&w, at(2, 13, 0)), [0, h, h, 3 * h, 0]);
        // Without approval needed, the same wait is the user's confirmation: resolution.
        w.needs_approval = false;
        assert_eq!(stage_times(&w, at(2, 13, 0)), [0, h, h, 0, 3 * h]);
    }

    #[test]
    fn an_empty_period_has_no_rates() {
        let r = compute(&[], at(1, 0, 0), at(2, 0, 0), at(3, 0, 0));
        assert_eq!(r.total, 0);
        assert_eq!(r.first_response.compliance_pct, None);
        assert_eq!(r.satisfaction.average_stars, None);
        assert_eq!(r.by_day.len(), 1);
    }
}
