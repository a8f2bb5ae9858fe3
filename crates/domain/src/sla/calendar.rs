//! Working time: which instants count towards a business-hours target.
//!
//! Working hours are local wall-clock intervals in one IANA time zone, repeated on every working
//! day. Durations are real elapsed time, so an interval that contains a daylight-saving change is
//! an hour shorter or longer than its wall-clock length; intervals that do not (the usual
//! 09:00-18:00 day) are unaffected by it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};

use crate::DomainError;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// A local wall-clock time with minute precision, written `HH:MM`. `24:00` is allowed as the end
/// of an interval so that a calendar can run to midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(MINUTES_PER_DAY);

    /// `None` unless `hour:minute` lies between 00:00 and 24:00.
    pub const fn hm(hour: u16, minute: u16) -> Option<TimeOfDay> {
        let total = hour * 60 + minute;
        if minute < 60 && total <= MINUTES_PER_DAY {
            Some(TimeOfDay(total))
        } else {
            None
        }
    }

    pub fn minutes_since_midnight(self) -> u16 {
        self.0
    }
}

impl FromStr for TimeOfDay {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.split_once(':').and_then(|(h, m)| {
            let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
            if !two_digits(h) || !two_digits(m) {
                return None;
            }
            TimeOfDay::hm(h.parse().ok()?, m.parse().ok()?)
        });
        parsed.ok_or_else(|| {
            DomainError::new(
                "calendar.hours",
                "invalid_time",
                format!("{s:?} is not a time; use HH:MM between 00:00 and 24:00"),
            )
        })
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> Self {
        t.to_string()
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One working interval of a day, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

/// A calendar as configuration writes it. Every field has a default, so `[sla.calendar]` with
/// only `time_zone = "Asia/Shanghai"` is a Monday-to-Friday 09:00-18:00 calendar in Shanghai.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarSpec {
    /// An IANA zone name such as `Asia/Shanghai`.
    pub time_zone: String,
    /// `mon` .. `sun` (chrono's names, any case, short or long).
    pub working_days: Vec<Weekday>,
    /// Non-overlapping intervals, shared by every working day (e.g. a lunch break splits a day
    /// into 09:00-12:00 and 13:00-18:00).
    pub hours: Vec<Hours>,
    /// Dates that are not worked even though their weekday is.
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days on otherwise free weekdays, as Chinese public-holiday calendars have.
    pub extra_working_days: Vec<NaiveDate>,
}

const DEFAULT_HOURS: Hours = Hours {
    start: TimeOfDay(9 * 60),
    end: TimeOfDay(18 * 60),
};

impl Default for CalendarSpec {
    fn default() -> Self {
        Self {
            time_zone: "UTC".to_owned(),
            working_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            hours: vec![DEFAULT_HOURS],
            holidays: Vec::new(),
            extra_working_days: Vec::new(),
        }
    }
}

/// A validated calendar that answers working-time questions.
///
/// Cost: [`add`](Self::add) and [`working_time_between`](Self::working_time_between) step through
/// the calendar one local day at a time, so they are linear in the number of days spanned. Each
/// day costs a weekday test, two set look-ups and, on working days, two zone conversions per
/// interval (binary searches in the zone's transition table); ten years of days take well under
/// a millisecond in a release build. SLA targets are capped (see `policy`), which bounds the
/// walk for every clock; for arbitrary durations the walk ends at the last date chrono can
/// represent, where the result saturates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct BusinessCalendar {
    spec: CalendarSpec,
    zone: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    weekdays: [bool; 7],
    /// Sorted, non-overlapping `(start, end)` minutes since local midnight.
    intervals: Vec<(u16, u16)>,
    holidays: BTreeSet<NaiveDate>,
    extra_days: BTreeSet<NaiveDate>,
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self::from_valid(CalendarSpec::default(), Tz::UTC)
    }
}

impl TryFrom<CalendarSpec> for BusinessCalendar {
    type Error = DomainError;
    fn try_from(spec: CalendarSpec) -> Result<Self, Self::Error> {
        Self::new(spec)
    }
}

impl From<BusinessCalendar> for CalendarSpec {
    fn from(c: BusinessCalendar) -> Self {
        c.spec
    }
}

impl BusinessCalendar {
    pub fn new(spec: CalendarSpec) -> Result<Self, DomainError> {
        let zone: Tz = spec.time_zone.parse().map_err(|_| {
            DomainError::new(
                "calendar.time_zone",
                "unknown_time_zone",
                format!("{:?} is not an IANA time zone name", spec.time_zone),
            )
        })?;
        validate_hours(&spec.hours)?;
        if spec.working_days.is_empty() || spec.hours.is_empty() {
            let field = if spec.hours.is_empty() {
                "calendar.hours"
            } else {
                "calendar.working_days"
            };
            return Err(DomainError::new(
                field,
                "no_working_time",
                "a week must contain some working time",
            ));
        }
        if let Some(both) = spec
            .extra_working_days
            .iter()
            .find(|d| spec.holidays.contains(d))
        {
            return Err(DomainError::new(
                "calendar.extra_working_days",
                "conflicting_dates",
                format!("{both} is listed both as a holiday and as an extra working day"),
            ));
        }
        Ok(Self::from_valid(spec, zone))
    }

    fn from_valid(spec: CalendarSpec, zone: Tz) -> Self {
        let mut weekdays = [false; 7];
        for d in &spec.working_days {
            weekdays[d.num_days_from_monday() as usize] = true;
        }
        let mut intervals: Vec<_> = spec.hours.iter().map(|h| (h.start.0, h.end.0)).collect();
        intervals.sort_unstable();
        Self {
            zone,
            weekdays,
            intervals,
            holidays: spec.holidays.iter().copied().collect(),
            extra_days: spec.extra_working_days.iter().copied().collect(),
            spec,
        }
    }

    pub fn spec(&self) -> &CalendarSpec {
        &self.spec
    }

    pub fn time_zone(&self) -> Tz {
        self.zone
    }

    /// The wall-clock length of one working day (the sum of `hours`).
    pub fn working_day_length(&self) -> Duration {
        Duration::minutes(self.day_minutes())
    }

    fn day_minutes(&self) -> i64 {
        self.intervals.iter().map(|&(s, e)| i64::from(e - s)).sum()
    }

    /// A local date is worked when it is an extra working day, or its weekday is a working day
    /// and it is not a holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.extra_days.contains(&date)
            || (self.weekdays[date.weekday().num_days_from_monday() as usize]
                && !self.holidays.contains(&date))
    }

    /// Whether `t` lies inside a working interval (start inclusive, end exclusive).
    pub fn is_working_time(&self, t: DateTime<Utc>) -> bool {
        self.intervals_from(t)
            .take_while(|&(a, _)| a <= t)
            .any(|(a, b)| a <= t && t < b)
    }

    /// The instant at which `work` of working time has elapsed, counting from `start`.
    ///
    /// Counting begins at `start` if it is inside working hours, otherwise at the next working
    /// interval. A positive result therefore always lies inside an interval or exactly at its
    /// end (it never jumps to the start of the next interval). `work <= 0` returns `start`
    /// unchanged, even outside working hours.
    pub fn add(&self, start: DateTime<Utc>, work: Duration) -> DateTime<Utc> {
        if work <= Duration::zero() {
            return start;
        }
        let mut left = work;
        for (a, b) in self.intervals_from(start) {
            let from = a.max(start);
            let available = b - from;
            if available >= left {
                return from + left;
            }
            left -= available;
        }
        DateTime::<Utc>::MAX_UTC
    }

    /// Working time in `[a, b)`; zero when `b <= a`. The inverse of [`add`](Self::add):
    /// `working_time_between(s, add(s, d)) == d`, and `add(s, working_time_between(s, e)) <= e`
    /// with equality when `e` is inside an interval after its start, or at its end (at an
    /// interval's very start the answer is the previous interval's end).
    pub fn working_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b <= a {
            return Duration::zero();
        }
        self.intervals_from(a)
            .take_while(|&(start, _)| start < b)
            .map(|(start, end)| end.min(b) - start.max(a))
            .sum()
    }

    /// `add(start, n × working_day_length())`.
    ///
    /// "Three working days" is three days' worth of working time, not "the same clock time three
    /// working days later": from Monday 10:00 it is Thursday 10:00, from a Saturday (counting
    /// starts on Monday morning) it is the end of Wednesday. Every working day has the same
    /// `hours`, so one working day is always the same amount of working time; a day shortened
    /// by a daylight-saving change inside an interval is the only exception, and there the
    /// result lands correspondingly later in real time.
    pub fn add_working_days(&self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        self.add(start, Duration::minutes(self.day_minutes() * i64::from(n)))
    }

    /// Working intervals in UTC, in order, from the one containing or following `t` onwards.
    /// Intervals that a daylight-saving gap swallows whole are left out.
    fn intervals_from(
        &self,
        t: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let local_date = t.with_timezone(&self.zone).date_naive();
        // A day earlier too: when a zone sets its clocks back across midnight, the previous
        // local date's last interval can still lie ahead of `t`.
        let first = local_date.pred_opt().unwrap_or(local_date);
        std::iter::successors(Some(first), |d| d.succ_opt())
            .filter(|d| self.is_working_day(*d))
            .flat_map(move |d| {
                self.intervals.iter().filter_map(move |&(s, e)| {
                    let a = self.local_instant(d, s)?;
                    let b = self.local_instant(d, e)?;
                    (a < b).then_some((a, b))
                })
            })
            .skip_while(move |&(_, b)| b <= t)
    }

    fn local_instant(&self, date: NaiveDate, minutes: u16) -> Option<DateTime<Utc>> {
        let local = date
            .and_time(NaiveTime::MIN)
            .checked_add_signed(Duration::minutes(i64::from(minutes)))?;
        Some(self.to_utc(local))
    }

    /// The earliest instant at which the local clock shows `local` or, if the clock skips it
    /// (spring forward), the moment the clock jumps past it. This mapping never decreases, so
    /// local intervals stay ordered and disjoint in UTC.
    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) => t.to_utc(),
            LocalResult::Ambiguous(a, b) => a.min(b).to_utc(),
            LocalResult::None => GapInfo::new(&local, &self.zone)
                .and_then(|gap| gap.end)
                .map(|t| t.to_utc())
                .unwrap_or_else(|| self.fallback_to_utc(local)),
        }
    }

    /// Only reached at the edges of the zone's table; any nearby offset is as good as another.
    fn fallback_to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let offset = self.zone.offset_from_utc_datetime(&local).fix();
        let naive = local.and_utc();
        naive
            .checked_sub_signed(Duration::seconds(i64::from(offset.local_minus_utc())))
            .unwrap_or(naive)
    }
}

fn validate_hours(hours: &[Hours]) -> Result<(), DomainError> {
    if let Some(h) = hours.iter().find(|h| h.end <= h.start) {
        return Err(DomainError::new(
            "calendar.hours",
            "empty_interval",
            format!("{}-{} ends before it starts", h.start, h.end),
        ));
    }
    let mut sorted = hours.to_vec();
    sorted.sort_unstable_by_key(|h| h.start);
    if let Some(w) = sorted.windows(2).find(|w| w[0].end > w[1].start) {
        return Err(DomainError::new(
            "calendar.hours",
            "overlapping_intervals",
            format!(
                "{}-{} overlaps {}-{}",
                w[0].start, w[0].end, w[1].start, w[1].end
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hours(s: &str, e: &str) -> Hours {
        Hours {
            start: s.parse().unwrap(),
            end: e.parse().unwrap(),
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A local wall-clock time in the calendar's zone, as UTC.
    fn local(cal: &BusinessCalendar, s: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        cal.time_zone()
            .from_local_datetime(&naive)
            .earliest()
            .unwrap()
            .to_utc()
    }

    fn show(cal: &BusinessCalendar, t: DateTime<Utc>) -> String {
        t.with_timezone(&cal.time_zone())
            .format("%Y-%m-%d %a %H:%M")
            .to_string()
    }

    fn utc() -> BusinessCalendar {
        BusinessCalendar::default()
    }

    fn shanghai_2026() -> BusinessCalendar {
        BusinessCalendar::new(CalendarSpec {
            time_zone: "Asia/Shanghai".into(),
            hours: vec![hours("09:00", "12:00"), hours("13:00", "18:00")],
            holidays: (1..=7)
                .map(|d| NaiveDate::from_ymd_opt(2026, 10, d).unwrap())
                .collect(),
            extra_working_days: vec![date("2026-09-27"), date("2026-10-10")],
            ..CalendarSpec::default()
        })
        .unwrap()
    }

    fn berlin() -> BusinessCalendar {
        BusinessCalendar::new(CalendarSpec {
            time_zone: "Europe/Berlin".into(),
            holidays: vec![date("2026-04-06"), date("2026-12-25")],
            ..CalendarSpec::default()
        })
        .unwrap()
    }

    const ALL_WEEK: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    fn every_day(zone: &str, from: &str, to: &str) -> BusinessCalendar {
        BusinessCalendar::new(CalendarSpec {
            time_zone: zone.into(),
            working_days: ALL_WEEK.to_vec(),
            hours: vec![hours(from, to)],
            ..CalendarSpec::default()
        })
        .unwrap()
    }

    fn ten_minutes_at_a_time(cal: &BusinessCalendar, from: &str, steps: usize) -> Vec<String> {
        let mut t = local(cal, from);
        (0..steps)
            .map(|_| {
                t = cal.add(t, Duration::minutes(10));
                show(cal, t)
            })
            .collect()
    }

    #[test]
    fn friday_evening_plus_two_hours_is_monday_morning() {
        let cal = utc();
        let t = cal.add(local(&cal, "2026-11-20 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-11-23 Mon 10:00");
    }

    #[test]
    fn holiday_monday_pushes_to_tuesday() {
        let cal = BusinessCalendar::new(CalendarSpec {
            holidays: vec![date("2026-11-23")],
            ..CalendarSpec::default()
        })
        .unwrap();
        let t = cal.add(local(&cal, "2026-11-20 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-11-24 Tue 10:00");
    }

    #[test]
    fn start_outside_hours_counts_from_next_interval() {
        let cal = utc();
        let t = cal.add(local(&cal, "2026-11-24 06:30"), Duration::minutes(30));
        assert_eq!(show(&cal, t), "2026-11-24 Tue 09:30");
        let t = cal.add(local(&cal, "2026-11-24 20:00"), Duration::minutes(30));
        assert_eq!(show(&cal, t), "2026-11-25 Wed 09:30");
    }

    #[test]
    fn zero_work_is_the_start_even_outside_hours() {
        let cal = utc();
        let sunday = local(&cal, "2026-11-22 03:00");
        assert_eq!(cal.add(sunday, Duration::zero()), sunday);
        assert_eq!(cal.add(sunday, Duration::minutes(-5)), sunday);
    }

    #[test]
    fn result_stops_at_interval_end_rather_than_next_start() {
        let cal = utc();
        let t = cal.add(local(&cal, "2026-11-20 17:00"), Duration::hours(1));
        assert_eq!(show(&cal, t), "2026-11-20 Fri 18:00");
    }

    #[test]
    fn lunch_break_is_not_counted() {
        let cal = shanghai_2026();
        let t = cal.add(local(&cal, "2026-09-15 11:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-09-15 Tue 14:00");
        assert_eq!(cal.working_day_length(), Duration::hours(8));
        let day = cal.working_time_between(
            local(&cal, "2026-09-15 00:00"),
            local(&cal, "2026-09-16 00:00"),
        );
        assert_eq!(day, Duration::hours(8));
    }

    #[test]
    fn chinese_national_day_with_make_up_days() {
        let cal = shanghai_2026();
        assert_eq!(date("2026-09-27").weekday(), Weekday::Sun);
        assert_eq!(date("2026-10-10").weekday(), Weekday::Sat);
        // Friday before: the make-up Sunday is worked.
        let t = cal.add(local(&cal, "2026-09-25 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-09-27 Sun 10:00");
        // Eve of the holiday week: nothing until Thursday 8 October.
        let t = cal.add(local(&cal, "2026-09-30 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-10-08 Thu 10:00");
        let gap = cal.working_time_between(
            local(&cal, "2026-09-30 18:00"),
            local(&cal, "2026-10-08 09:00"),
        );
        assert_eq!(gap, Duration::zero());
        // Friday 9 October: the make-up Saturday follows.
        let t = cal.add(local(&cal, "2026-10-09 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-10-10 Sat 10:00");
    }

    #[test]
    fn working_days_are_days_worth_of_work() {
        let cal = utc();
        let t = cal.add_working_days(local(&cal, "2026-11-23 10:00"), 3);
        assert_eq!(show(&cal, t), "2026-11-26 Thu 10:00");
        let t = cal.add_working_days(local(&cal, "2026-11-21 11:00"), 3);
        assert_eq!(show(&cal, t), "2026-11-25 Wed 18:00");
        let t = cal.add_working_days(local(&cal, "2026-11-21 11:00"), 0);
        assert_eq!(show(&cal, t), "2026-11-21 Sat 11:00");
    }

    #[test]
    fn office_hours_keep_their_wall_clock_across_dst() {
        let cal = berlin();
        // Spring forward on Sunday 29 March 2026; Monday still starts at 09:00 local (07:00 UTC).
        let t = cal.add(local(&cal, "2026-03-27 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-03-30 Mon 10:00");
        assert_eq!(t.format("%H:%M").to_string(), "08:00");
        // Fall back on Sunday 25 October 2026.
        let t = cal.add(local(&cal, "2026-10-23 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-10-26 Mon 10:00");
        assert_eq!(t.format("%H:%M").to_string(), "09:00");
        // Easter Monday is a holiday.
        let t = cal.add(local(&cal, "2026-04-03 17:00"), Duration::hours(2));
        assert_eq!(show(&cal, t), "2026-04-07 Tue 10:00");
    }

    #[test]
    fn dst_days_are_shorter_and_longer_around_the_clock() {
        let cal = every_day("America/New_York", "00:00", "24:00");
        let span = |a, b| cal.working_time_between(local(&cal, a), local(&cal, b));
        assert_eq!(
            span("2026-03-07 12:00", "2026-03-09 12:00"),
            Duration::hours(47)
        );
        assert_eq!(
            span("2026-10-31 12:00", "2026-11-02 12:00"),
            Duration::hours(49)
        );
        assert_eq!(
            span("2026-06-01 12:00", "2026-06-03 12:00"),
            Duration::hours(48)
        );
        // Office hours on the day of the change are still 09:00-18:00 on the wall clock.
        let office = every_day("America/New_York", "09:00", "18:00");
        let day = office.working_time_between(
            local(&office, "2026-03-08 00:00"),
            local(&office, "2026-03-09 00:00"),
        );
        assert_eq!(day, Duration::hours(9));
        let t = office.add(local(&office, "2026-03-08 08:00"), Duration::hours(1));
        assert_eq!(show(&office, t), "2026-03-08 Sun 10:00");
    }

    #[test]
    fn nonexistent_and_ambiguous_local_times_take_the_earliest_instant() {
        let cal = every_day("Europe/Berlin", "02:30", "04:00");
        let day = |d: &str| {
            let start = date(d).and_time(NaiveTime::MIN).and_utc();
            cal.working_time_between(start, start + Duration::days(1))
        };
        assert_eq!(day("2026-03-20"), Duration::minutes(90));
        // 02:30 does not exist on 29 March: the interval starts when the clock jumps to 03:00.
        assert_eq!(day("2026-03-29"), Duration::minutes(60));
        // 02:30 happens twice on 25 October: the first one counts, so the day runs 02:30 CEST
        // to 04:00 CET.
        assert_eq!(day("2026-10-25"), Duration::minutes(150));
        let ticks = ten_minutes_at_a_time(&cal, "2026-03-28 03:50", 3);
        assert_eq!(
            ticks,
            [
                "2026-03-28 Sat 04:00",
                "2026-03-29 Sun 03:10",
                "2026-03-29 Sun 03:20"
            ]
        );
    }

    #[test]
    fn default_is_utc_weekdays_nine_to_six() {
        let cal = BusinessCalendar::default();
        assert_eq!(cal, BusinessCalendar::new(CalendarSpec::default()).unwrap());
        assert_eq!(cal.time_zone(), Tz::UTC);
        assert_eq!(cal.working_day_length(), Duration::hours(9));
        assert!(cal.is_working_day(date("2026-11-20")));
        assert!(!cal.is_working_day(date("2026-11-21")));
    }

    #[test]
    fn spec_reads_from_toml() {
        let spec: CalendarSpec = toml::from_str(
            r#"
            time_zone = "Asia/Shanghai"
            working_days = ["mon", "Tue", "wednesday", "thu", "fri"]
            hours = [{ start = "09:00", end = "12:00" }, { start = "13:00", end = "18:00" }]
            holidays = ["2026-10-01"]
            extra_working_days = ["2026-09-27"]
            "#,
        )
        .unwrap();
        let cal = BusinessCalendar::new(spec).unwrap();
        assert_eq!(cal.working_day_length(), Duration::hours(8));
        assert!(cal.is_working_day(date("2026-09-27")));
        assert!(!cal.is_working_day(date("2026-10-01")));
        let direct: BusinessCalendar = toml::from_str("time_zone = \"Europe/Berlin\"").unwrap();
        assert_eq!(direct.time_zone(), chrono_tz::Europe::Berlin);
        let bad = toml::from_str::<BusinessCalendar>("time_zone = \"Mars/Olympus\"");
        assert!(bad.is_err_and(|e| e.to_string().contains("calendar.time_zone")));
    }

    #[test]
    fn times_of_day_parse_strictly() {
        assert_eq!("24:00".parse::<TimeOfDay>(), Ok(TimeOfDay::END_OF_DAY));
        assert_eq!("00:00".parse::<TimeOfDay>(), Ok(TimeOfDay::MIDNIGHT));
        assert_eq!(
            "09:05".parse::<TimeOfDay>().map(|t| t.to_string()),
            Ok("09:05".into())
        );
        for bad in ["9:00", "24:01", "12:60", "noon", "12:00:00", ""] {
            let err = bad.parse::<TimeOfDay>().err();
            assert_eq!(err.map(|e| e.field), Some("calendar.hours"), "{bad}");
        }
    }

    #[test]
    fn invalid_specs_name_their_field() {
        let check = |spec: CalendarSpec, field: &str, code: &str| {
            let err = BusinessCalendar::new(spec).err().unwrap();
            assert_eq!((err.field, err.code), (field, code), "{}", err.message);
        };
        let base = CalendarSpec::default;
        check(
            CalendarSpec {
                time_zone: "Nowhere/City".into(),
                ..base()
            },
            "calendar.time_zone",
            "unknown_time_zone",
        );
        check(
            CalendarSpec {
                hours: vec![hours("18:00", "09:00")],
                ..base()
            },
            "calendar.hours",
            "empty_interval",
        );
        check(
            CalendarSpec {
                hours: vec![hours("13:00", "18:00"), hours("09:00", "13:30")],
                ..base()
            },
            "calendar.hours",
            "overlapping_intervals",
        );
        check(
            CalendarSpec {
                hours: vec![],
                ..base()
            },
            "calendar.hours",
            "no_working_time",
        );
        check(
            CalendarSpec {
                working_days: vec![],
                extra_working_days: vec![date("2026-09-27")],
                ..base()
            },
            "calendar.working_days",
            "no_working_time",
        );
        check(
            CalendarSpec {
                holidays: vec![date("2026-10-10")],
                extra_working_days: vec![date("2026-10-10")],
                ..base()
            },
            "calendar.extra_working_days",
            "conflicting_dates",
        );
        // Touching intervals are fine.
        assert!(
            BusinessCalendar::new(CalendarSpec {
                hours: vec![hours("09:00", "13:00"), hours("13:00", "18:00")],
                ..base()
            })
            .is_ok()
        );
    }

    fn calendars() -> Vec<BusinessCalendar> {
        vec![
            utc(),
            shanghai_2026(),
            berlin(),
            every_day("America/New_York", "00:00", "24:00"),
            every_day("Europe/Berlin", "01:30", "03:30"),
            BusinessCalendar::new(CalendarSpec {
                time_zone: "America/New_York".into(),
                working_days: vec![Weekday::Sat, Weekday::Sun],
                hours: vec![hours("00:00", "02:30"), hours("22:00", "24:00")],
                holidays: vec![date("2026-03-08"), date("2026-11-01")],
                extra_working_days: vec![date("2026-03-10"), date("2026-11-03")],
            })
            .unwrap(),
        ]
    }

    fn any_calendar() -> impl Strategy<Value = BusinessCalendar> {
        prop::sample::select(calendars())
    }

    /// Instants around the interesting dates of 2026 (both DST changes, National Day), to the
    /// second.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let base = date("2026-01-01").and_time(NaiveTime::MIN).and_utc();
        (0i64..365 * 86_400).prop_map(move |s| base + Duration::seconds(s))
    }

    fn work() -> impl Strategy<Value = Duration> {
        (1i64..21 * 86_400).prop_map(Duration::seconds)
    }

    proptest! {
        #[test]
        fn between_inverts_add(cal in any_calendar(), s in instant(), d in work()) {
            prop_assert_eq!(cal.working_time_between(s, cal.add(s, d)), d);
        }

        #[test]
        fn add_inverts_between(cal in any_calendar(), s in instant(), e in instant()) {
            let back = cal.add(s, cal.working_time_between(s, e));
            prop_assert!(back <= e.max(s));
            // Inside means after an interval's start, up to its end: at the very start of an
            // interval the same working time was already reached at the previous one's end.
            let inside = cal.is_working_time(e - Duration::nanoseconds(1));
            if e > s && inside && cal.working_time_between(s, e) > Duration::zero() {
                prop_assert_eq!(back, e);
            }
        }

        #[test]
        fn add_is_monotonic(cal in any_calendar(), s in instant(), a in work(), b in work()) {
            let (small, large) = (a.min(b), a.max(b));
            prop_assert!(cal.add(s, small) <= cal.add(s, large));
        }

        #[test]
        fn add_is_additive(cal in any_calendar(), s in instant(), a in work(), b in work()) {
            prop_assert_eq!(cal.add(cal.add(s, a), b), cal.add(s, a + b));
        }

        #[test]
        fn positive_add_ends_inside_working_hours(cal in any_calendar(), s in instant(), d in work()) {
            let t = cal.add(s, d);
            prop_assert!(cal.is_working_time(t - Duration::nanoseconds(1)), "{}", show(&cal, t));
        }

        /// A local day contributes its full working time exactly when it is a working day
        /// (measured on days without a DST change, where that time is the wall-clock length).
        #[test]
        fn only_working_days_count(cal in any_calendar(), day in 0u32..365) {
            let d = date("2026-01-01") + Duration::days(i64::from(day));
            let start = local(&cal, &format!("{d} 00:00"));
            let end = local(&cal, &format!("{} 00:00", d + Duration::days(1)));
            prop_assume!(end - start == Duration::days(1));
            let expected = if cal.is_working_day(d) { cal.working_day_length() } else { Duration::zero() };
            prop_assert_eq!(cal.working_time_between(start, end), expected);
        }

        /// Pausing a business clock from `p` to `q` (both after its start) gives the same due time
        /// as adding the working time of the pause to the target.
        #[test]
        fn pause_equals_extending_the_target(
            cal in any_calendar(), s in instant(), d in work(),
            permille in 0i32..1000, pause_len in 0i64..7 * 86_400,
        ) {
            // Pausing strictly before the due time, so some work is still left.
            let p = s + (cal.add(s, d) - s) * permille / 1000;
            let q = p + Duration::seconds(pause_len);
            let before = cal.working_time_between(s, p);
            let resumed = cal.add(q, d - before);
            let extended = cal.add(s, d + cal.working_time_between(p, q));
            prop_assert_eq!(resumed, extended);
        }
    }
}
