//! What each clock's target is, and what happens when one is missed (MISSION §3).
//!
//! Configuration overlays the defaults: a clock written under `[targets.P1]` replaces that one
//! default and leaves the others; `disabled_clocks` switches clocks off entirely. An escalation
//! chain written for a priority replaces that priority's chain; the channel groups, written at
//! all, replace the default groups as a whole.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::calendar::BusinessCalendar;
use crate::ticket::text_enum;
use crate::{Category, Channel, DomainError, Priority};

text_enum!(
    /// The stages of a ticket that have a deadline.
    ClockKind, "clock_kind" {
        FirstResponse => "first_response",
        Assignment => "assignment",
        Acceptance => "acceptance",
        Investigation => "investigation",
        Resolution => "resolution",
        ProgressUpdate => "progress_update",
        AppealResponse => "appeal_response",
        Approval => "approval",
    }
);

// Ordered as listed (roughly the order in which a ticket meets them), so that configuration
// and reports list clocks in a stable order.
impl Ord for ClockKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

impl PartialOrd for ClockKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

text_enum!(
    /// Whether a target counts every minute or only working time in the business calendar.
    TimeBasis, "basis" {
        Wall => "wall",
        Business => "business",
    }
);

impl TimeBasis {
    /// The instant at which `work` of this kind of time has passed since `start`.
    pub fn add(
        self,
        calendar: &BusinessCalendar,
        start: DateTime<Utc>,
        work: Duration,
    ) -> DateTime<Utc> {
        match self {
            TimeBasis::Wall => wall_add(start, work),
            TimeBasis::Business => calendar.add(start, work),
        }
    }

    /// This kind of time in `[a, b)`; zero when `b <= a`.
    pub fn between(
        self,
        calendar: &BusinessCalendar,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Duration {
        match self {
            TimeBasis::Wall => (b - a).max(Duration::zero()),
            TimeBasis::Business => calendar.working_time_between(a, b),
        }
    }
}

/// `start + d`, saturating instead of overflowing at the end of representable time.
fn wall_add(start: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    start
        .checked_add_signed(d)
        .unwrap_or(if d < Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// The longest target accepted: a year. It keeps every calendar walk short and catches typos
/// such as minutes written as seconds.
pub const MAX_TARGET_MINUTES: u32 = 366 * 24 * 60;
pub const MAX_TARGET_WORKING_DAYS: u32 = 366;

/// How long a clock may run. In configuration `{ minutes = 30 }` (wall time),
/// `{ minutes = 480, basis = "business" }` or `{ working_days = 3 }` (always business time;
/// see [`BusinessCalendar::add_working_days`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "TargetSpec", into = "TargetSpec")]
pub enum Target {
    Minutes { minutes: u32, basis: TimeBasis },
    WorkingDays { days: u32 },
}

impl Target {
    pub const fn wall_minutes(minutes: u32) -> Target {
        Target::Minutes {
            minutes,
            basis: TimeBasis::Wall,
        }
    }

    pub const fn business_minutes(minutes: u32) -> Target {
        Target::Minutes {
            minutes,
            basis: TimeBasis::Business,
        }
    }

    pub const fn working_days(days: u32) -> Target {
        Target::WorkingDays { days }
    }

    pub fn basis(self) -> TimeBasis {
        match self {
            Target::Minutes { basis, .. } => basis,
            Target::WorkingDays { .. } => TimeBasis::Business,
        }
    }

    /// The amount of time (in [`basis`](Self::basis)) the clock may run.
    pub fn work(self, calendar: &BusinessCalendar) -> Duration {
        match self {
            Target::Minutes { minutes, .. } => Duration::minutes(i64::from(minutes)),
            Target::WorkingDays { days } => {
                Duration::minutes(calendar.working_day_length().num_minutes() * i64::from(days))
            }
        }
    }

    /// A calendar-free length for choosing the stricter of two targets: working days count
    /// as whole days. Only the first-response rule compares targets, and there the two normally
    /// share a basis.
    pub fn nominal(self) -> Duration {
        match self {
            Target::Minutes { minutes, .. } => Duration::minutes(i64::from(minutes)),
            Target::WorkingDays { days } => Duration::days(i64::from(days)),
        }
    }

    pub fn validate(self, field: &'static str) -> Result<(), DomainError> {
        let (amount, max, unit) = match self {
            Target::Minutes { minutes, .. } => (minutes, MAX_TARGET_MINUTES, "minutes"),
            Target::WorkingDays { days } => (days, MAX_TARGET_WORKING_DAYS, "working days"),
        };
        if amount == 0 {
            return Err(DomainError::new(
                field,
                "zero_target",
                "a target must be positive",
            ));
        }
        if amount > max {
            return Err(DomainError::new(
                field,
                "target_too_long",
                format!("at most {max} {unit}"),
            ));
        }
        Ok(())
    }
}

/// The configuration shape of a [`Target`]: exactly one of `minutes` and `working_days`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    working_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    basis: Option<TimeBasis>,
}

impl TryFrom<TargetSpec> for Target {
    type Error = DomainError;
    fn try_from(s: TargetSpec) -> Result<Self, Self::Error> {
        let target = match (s.minutes, s.working_days, s.basis) {
            (Some(minutes), None, basis) => Target::Minutes {
                minutes,
                basis: basis.unwrap_or(TimeBasis::Wall),
            },
            (None, Some(days), None | Some(TimeBasis::Business)) => Target::WorkingDays { days },
            (None, Some(_), Some(TimeBasis::Wall)) => {
                return Err(DomainError::new(
                    "sla.target",
                    "invalid_basis",
                    "working_days are business time; use minutes for wall time",
                ));
            }
            _ => {
                return Err(DomainError::new(
                    "sla.target",
                    "invalid_target",
                    "give exactly one of minutes and working_days",
                ));
            }
        };
        target.validate("sla.target")?;
        Ok(target)
    }
}

impl From<Target> for TargetSpec {
    fn from(t: Target) -> Self {
        match t {
            Target::Minutes { minutes, basis } => TargetSpec {
                minutes: Some(minutes),
                working_days: None,
                basis: Some(basis),
            },
            Target::WorkingDays { days } => TargetSpec {
                minutes: None,
                working_days: Some(days),
                basis: None,
            },
        }
    }
}

/// One value per priority; in configuration the keys are `P1`, `P2`, `P3`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByPriority<T> {
    #[serde(rename = "P1", default)]
    pub p1: T,
    #[serde(rename = "P2", default)]
    pub p2: T,
    #[serde(rename = "P3", default)]
    pub p3: T,
}

impl<T> ByPriority<T> {
    pub fn get(&self, p: Priority) -> &T {
        match p {
            Priority::P1 => &self.p1,
            Priority::P2 => &self.p2,
            Priority::P3 => &self.p3,
        }
    }

    pub fn get_mut(&mut self, p: Priority) -> &mut T {
        match p {
            Priority::P1 => &mut self.p1,
            Priority::P2 => &mut self.p2,
            Priority::P3 => &mut self.p3,
        }
    }

    fn iter(&self) -> impl Iterator<Item = (Priority, &T)> {
        Priority::ALL.iter().map(|&p| (p, self.get(p)))
    }
}

/// The targets of one priority; a clock without an entry does not run at that priority.
pub type ClockTargets = BTreeMap<ClockKind, Target>;

/// The first-response target for a group of channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelTarget {
    pub channels: Vec<Channel>,
    pub target: Target,
}

/// One link of an escalation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// Measured from the breach, not from the previous step.
    pub after_minutes: u32,
    /// A role to notify, e.g. `team_lead`, `department_head`, `management`; the department's
    /// own holder of that role is meant.
    pub notify: String,
    #[serde(default)]
    pub raise_priority: bool,
    #[serde(default)]
    pub reassign: bool,
}

/// All SLA settings. Every field is optional in configuration (see the module documentation
/// for how a partial configuration combines with the defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaPolicy {
    #[serde(deserialize_with = "overlay_default_targets")]
    pub targets: ByPriority<ClockTargets>,
    /// First response must also meet its channel's target; the stricter of the two applies.
    pub first_response_by_channel: Vec<ChannelTarget>,
    /// Per category and priority, clock targets that take precedence over `targets`.
    pub category_overrides: BTreeMap<Category, ByPriority<ClockTargets>>,
    /// Replaces the investigation target when the ticket has coordinating departments.
    pub multi_department_investigation: Option<Target>,
    /// How often progress must be reported between acceptance and resolution, unless a priority
    /// or category sets `progress_update` itself.
    pub progress_every: Option<Target>,
    /// A warning is due when this share of a target has run.
    pub warn_at_percent: u8,
    #[serde(deserialize_with = "overlay_default_escalation")]
    pub escalation: ByPriority<Vec<EscalationStep>>,
    /// Clocks that never run, whatever the tables say.
    pub disabled_clocks: Vec<ClockKind>,
}

fn default_targets(p: Priority) -> ClockTargets {
    use ClockKind::*;
    let hours = |h: u32| Target::wall_minutes(h * 60);
    // P1 "respond within 30 minutes"; P2 "assigned within 2 hours"; P3 "handled within 48
    // hours", read as assigned within 48 hours. Lower priorities have no first-response target
    // of their own: the channel's applies.
    let (first_response, assignment, resolution) = match p {
        Priority::P1 => (
            Some(Target::wall_minutes(30)),
            Target::wall_minutes(30),
            hours(24),
        ),
        Priority::P2 => (None, hours(2), hours(72)),
        Priority::P3 => (None, hours(48), hours(168)),
    };
    let mut t = ClockTargets::from([
        (Assignment, assignment),
        (Acceptance, Target::wall_minutes(15)),
        (Investigation, hours(48)),
        (Resolution, resolution),
        (AppealResponse, hours(2)),
        (Approval, hours(8)),
    ]);
    if let Some(first) = first_response {
        t.insert(FirstResponse, first);
    }
    t
}

fn default_escalation(p: Priority) -> Vec<EscalationStep> {
    let step = |after_minutes, notify: &str, raise_priority| EscalationStep {
        after_minutes,
        notify: notify.to_owned(),
        raise_priority,
        reassign: false,
    };
    match p {
        Priority::P1 => vec![
            step(0, "team_lead", true),
            step(30, "department_head", false),
            step(60, "management", false),
        ],
        Priority::P2 => vec![
            step(0, "team_lead", true),
            step(120, "department_head", false),
        ],
        Priority::P3 => vec![step(0, "team_lead", true)],
    }
}

fn by_priority<T>(f: impl Fn(Priority) -> T) -> ByPriority<T> {
    ByPriority {
        p1: f(Priority::P1),
        p2: f(Priority::P2),
        p3: f(Priority::P3),
    }
}

/// Reads a per-priority table in which priorities left out keep their defaults; `merge`
/// combines a written value with the default one.
fn overlay<'de, D, T>(
    d: D,
    defaults: ByPriority<T>,
    merge: fn(&mut T, T),
) -> Result<ByPriority<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let ByPriority { p1, p2, p3 } = ByPriority::<Option<T>>::deserialize(d)?;
    let mut merged = defaults;
    for (p, written) in Priority::ALL.iter().zip([p1, p2, p3]) {
        if let Some(w) = written {
            merge(merged.get_mut(*p), w);
        }
    }
    Ok(merged)
}

/// Clocks written for a priority replace the same clocks' defaults, one by one.
fn overlay_default_targets<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<ByPriority<ClockTargets>, D::Error> {
    overlay(d, by_priority(default_targets), |base, written| {
        base.extend(written)
    })
}

/// A chain written for a priority replaces that priority's chain (`P3 = []` ends escalation).
fn overlay_default_escalation<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<ByPriority<Vec<EscalationStep>>, D::Error> {
    overlay(d, by_priority(default_escalation), |base, written| {
        *base = written
    })
}

impl Default for SlaPolicy {
    fn default() -> Self {
        use Channel::*;
        let group = |channels: &[Channel], minutes| ChannelTarget {
            channels: channels.to_vec(),
            target: Target::wall_minutes(minutes),
        };
        Self {
            targets: by_priority(default_targets),
            first_response_by_channel: vec![
                group(&[Chat], 2),
                group(&[Web, Widget, Social, Api], 10),
                group(&[Email, Offline, Phone, Survey, Review], 30),
            ],
            category_overrides: BTreeMap::new(),
            multi_department_investigation: Some(Target::working_days(3)),
            progress_every: Some(Target::working_days(3)),
            warn_at_percent: 75,
            escalation: by_priority(default_escalation),
            disabled_clocks: Vec::new(),
        }
    }
}

impl SlaPolicy {
    pub fn validate(&self) -> Result<(), DomainError> {
        let tables = std::iter::once(&self.targets).chain(self.category_overrides.values());
        for table in tables {
            for (_, targets) in table.iter() {
                targets
                    .values()
                    .try_for_each(|t| t.validate("sla.targets"))?;
            }
        }
        for group in &self.first_response_by_channel {
            group.target.validate("sla.first_response_by_channel")?;
        }
        let mut seen = Vec::new();
        for c in self
            .first_response_by_channel
            .iter()
            .flat_map(|g| &g.channels)
        {
            if seen.contains(c) {
                return Err(DomainError::new(
                    "sla.first_response_by_channel",
                    "duplicate_channel",
                    format!("{c} appears in more than one group"),
                ));
            }
            seen.push(*c);
        }
        let singles = [
            (
                "sla.multi_department_investigation",
                self.multi_department_investigation,
            ),
            ("sla.progress_every", self.progress_every),
        ];
        for (field, target) in singles {
            target.map_or(Ok(()), |t| t.validate(field))?;
        }
        if !(1..=99).contains(&self.warn_at_percent) {
            return Err(DomainError::new(
                "sla.warn_at_percent",
                "out_of_range",
                "must be between 1 and 99",
            ));
        }
        self.escalation
            .iter()
            .try_for_each(|(p, steps)| validate_chain(p, steps))
    }

    /// The target of a clock for a ticket, or `None` when that clock does not run for it.
    ///
    /// Precedence: a disabled clock never runs; otherwise the category override for the
    /// priority, then the priority's table. Investigation uses
    /// `multi_department_investigation` instead when several departments are involved;
    /// progress updates fall back to `progress_every`; first response is the stricter (by
    /// [`Target::nominal`]) of the table's and the channel's targets, the table's on a tie.
    pub fn target(
        &self,
        kind: ClockKind,
        priority: Priority,
        channel: Channel,
        category: Option<&Category>,
        multi_department: bool,
    ) -> Option<Target> {
        if self.disabled_clocks.contains(&kind) {
            return None;
        }
        let table = category
            .and_then(|c| self.category_overrides.get(c))
            .and_then(|o| o.get(priority).get(&kind))
            .or_else(|| self.targets.get(priority).get(&kind))
            .copied();
        match kind {
            ClockKind::FirstResponse => {
                let by_channel = self.channel_target(channel);
                match (table, by_channel) {
                    (Some(t), Some(c)) => Some(if c.nominal() < t.nominal() { c } else { t }),
                    (t, c) => t.or(c),
                }
            }
            ClockKind::Investigation if multi_department => {
                self.multi_department_investigation.or(table)
            }
            ClockKind::ProgressUpdate => table.or(self.progress_every),
            _ => table,
        }
    }

    fn channel_target(&self, channel: Channel) -> Option<Target> {
        self.first_response_by_channel
            .iter()
            .find(|g| g.channels.contains(&channel))
            .map(|g| g.target)
    }

    /// When the warning for a target falls: `warn_at_percent` of its work.
    pub fn warning_work(&self, work: Duration) -> Duration {
        work * i32::from(self.warn_at_percent) / 100
    }
}

fn validate_chain(p: Priority, steps: &[EscalationStep]) -> Result<(), DomainError> {
    const FIELD: &str = "sla.escalation";
    if let Some(s) = steps.iter().find(|s| s.notify.trim().is_empty()) {
        return Err(DomainError::new(
            FIELD,
            "missing_role",
            format!(
                "{p}: the step after {} minutes notifies nobody",
                s.after_minutes
            ),
        ));
    }
    if steps
        .windows(2)
        .any(|w| w[1].after_minutes <= w[0].after_minutes)
    {
        return Err(DomainError::new(
            FIELD,
            "not_ascending",
            format!("{p}: steps must come strictly later one after another"),
        ));
    }
    Ok(())
}

/// When each step of the escalation chain for `priority` falls, for a clock that breached at
/// `breached_at`: `(step index, moment)`. Steps are wall time, since a breach of a P1 at night
/// still goes up the chain at night.
pub fn escalation_moments(
    policy: &SlaPolicy,
    priority: Priority,
    breached_at: DateTime<Utc>,
) -> Vec<(usize, DateTime<Utc>)> {
    policy
        .escalation
        .get(priority)
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let after = Duration::minutes(i64::from(s.after_minutes));
            (i, wall_add(breached_at, after))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn target(
        policy: &SlaPolicy,
        kind: ClockKind,
        p: Priority,
        channel: Channel,
    ) -> Option<Target> {
        policy.target(kind, p, channel, None, false)
    }

    #[test]
    fn defaults_are_valid_and_follow_the_mission() {
        let p = SlaPolicy::default();
        assert_eq!(p.validate(), Ok(()));
        use ClockKind::*;
        use Priority::*;
        let wall = Target::wall_minutes;
        assert_eq!(
            target(&p, FirstResponse, P1, Channel::Email),
            Some(wall(30))
        );
        assert_eq!(target(&p, FirstResponse, P1, Channel::Web), Some(wall(10)));
        assert_eq!(target(&p, FirstResponse, P1, Channel::Chat), Some(wall(2)));
        assert_eq!(
            target(&p, FirstResponse, P3, Channel::Survey),
            Some(wall(30))
        );
        assert_eq!(target(&p, Assignment, P2, Channel::Web), Some(wall(120)));
        assert_eq!(target(&p, Acceptance, P3, Channel::Web), Some(wall(15)));
        assert_eq!(
            target(&p, Investigation, P2, Channel::Web),
            Some(wall(48 * 60))
        );
        assert_eq!(
            p.target(Investigation, P2, Channel::Web, None, true),
            Some(Target::working_days(3))
        );
        assert_eq!(
            target(&p, ProgressUpdate, P1, Channel::Web),
            Some(Target::working_days(3))
        );
        for (prio, hours) in [(P1, 24), (P2, 72), (P3, 168)] {
            assert_eq!(
                target(&p, Resolution, prio, Channel::Web),
                Some(wall(hours * 60))
            );
        }
        assert_eq!(
            target(&p, AppealResponse, P3, Channel::Web),
            Some(wall(120))
        );
        for c in Channel::ALL {
            assert!(
                p.channel_target(*c).is_some(),
                "{c} has a first-response target"
            );
        }
    }

    #[test]
    fn category_overrides_and_disabled_clocks() {
        let payment = Category::parse("category", "payment").unwrap();
        let mut p = SlaPolicy::default();
        p.category_overrides.insert(
            payment.clone(),
            ByPriority {
                p2: ClockTargets::from([(ClockKind::Resolution, Target::business_minutes(600))]),
                ..ByPriority::default()
            },
        );
        let res = |p: &SlaPolicy, cat, prio| {
            p.target(ClockKind::Resolution, prio, Channel::Web, cat, false)
        };
        let six_hundred = Some(Target::business_minutes(600));
        assert_eq!(res(&p, Some(&payment), Priority::P2), six_hundred);
        assert_eq!(
            res(&p, Some(&payment), Priority::P1),
            Some(Target::wall_minutes(24 * 60))
        );
        assert_eq!(
            res(&p, None, Priority::P2),
            Some(Target::wall_minutes(72 * 60))
        );
        p.disabled_clocks.push(ClockKind::Resolution);
        assert_eq!(res(&p, Some(&payment), Priority::P2), None);
    }

    #[test]
    fn toml_overlays_the_defaults() {
        let p: SlaPolicy = toml::from_str(
            r#"
            warn_at_percent = 80
            disabled_clocks = ["appeal_response"]
            [targets.P1]
            resolution = { minutes = 720 }
            investigation = { working_days = 2 }
            [targets.P3]
            resolution = { minutes = 2400, basis = "business" }
            [category_overrides.payment.P2]
            assignment = { minutes = 60 }
            [escalation]
            P3 = [{ after_minutes = 0, notify = "team_lead" }, { after_minutes = 240, notify = "department_head" }]
            "#,
        )
        .unwrap();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.warn_at_percent, 80);
        let p1 = p.targets.get(Priority::P1);
        assert_eq!(
            p1.get(&ClockKind::Resolution),
            Some(&Target::wall_minutes(720))
        );
        assert_eq!(
            p1.get(&ClockKind::Investigation),
            Some(&Target::working_days(2))
        );
        assert_eq!(
            p1.get(&ClockKind::Acceptance),
            Some(&Target::wall_minutes(15))
        );
        assert_eq!(
            p.targets.get(Priority::P3).get(&ClockKind::Resolution),
            Some(&Target::business_minutes(2400))
        );
        assert_eq!(p.escalation.p3.len(), 2);
        assert_eq!(p.escalation.p1, SlaPolicy::default().escalation.p1);
        assert_eq!(
            p.first_response_by_channel,
            SlaPolicy::default().first_response_by_channel
        );
        let payment = Category::parse("category", "payment").unwrap();
        assert_eq!(
            p.target(
                ClockKind::Assignment,
                Priority::P2,
                Channel::Web,
                Some(&payment),
                false
            ),
            Some(Target::wall_minutes(60))
        );
        assert_eq!(
            target(&p, ClockKind::AppealResponse, Priority::P1, Channel::Web),
            None
        );
    }

    #[test]
    fn policy_round_trips_through_json() {
        let p = SlaPolicy::default();
        let json = serde_json::to_string(&p).unwrap();
        assert!(
            json.contains(r#""progress_every":{"working_days":3}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<SlaPolicy>(&json).unwrap(), p);
        assert_eq!(serde_json::from_str::<SlaPolicy>("{}").unwrap(), p);
    }

    #[test]
    fn targets_need_exactly_one_positive_amount() {
        let parse =
            |s: &str| toml::from_str::<BTreeMap<String, Target>>(s).map_err(|e| e.to_string());
        assert!(parse("t = { minutes = 30 }").is_ok());
        assert!(parse("t = { working_days = 3, basis = \"business\" }").is_ok());
        for bad in [
            "t = { minutes = 30, working_days = 1 }",
            "t = {}",
            "t = { minutes = 0 }",
            "t = { working_days = 0 }",
            "t = { working_days = 2, basis = \"wall\" }",
            "t = { minutes = 600000 }",
            "t = { hours = 3 }",
        ] {
            assert!(
                parse(bad).is_err_and(|e| e.contains("sla.target") || e.contains("unknown field")),
                "{bad}"
            );
        }
    }

    #[test]
    fn validation_names_the_field() {
        let check = |edit: &dyn Fn(&mut SlaPolicy), field: &str, code: &str| {
            let mut p = SlaPolicy::default();
            edit(&mut p);
            let err = p.validate().err().unwrap();
            assert_eq!((err.field, err.code), (field, code), "{}", err.message);
        };
        check(
            &|p| p.warn_at_percent = 0,
            "sla.warn_at_percent",
            "out_of_range",
        );
        check(
            &|p| p.warn_at_percent = 100,
            "sla.warn_at_percent",
            "out_of_range",
        );
        check(
            &|p| {
                p.targets
                    .p2
                    .insert(ClockKind::Resolution, Target::wall_minutes(0));
            },
            "sla.targets",
            "zero_target",
        );
        check(
            &|p| p.progress_every = Some(Target::working_days(0)),
            "sla.progress_every",
            "zero_target",
        );
        check(
            &|p| p.first_response_by_channel[0].channels.push(Channel::Web),
            "sla.first_response_by_channel",
            "duplicate_channel",
        );
        check(
            &|p| p.escalation.p1[2].after_minutes = 30,
            "sla.escalation",
            "not_ascending",
        );
        check(
            &|p| p.escalation.p2[1].notify.clear(),
            "sla.escalation",
            "missing_role",
        );
    }

    #[test]
    fn escalation_chain_counts_from_the_breach() {
        let p = SlaPolicy::default();
        let breach = Utc.with_ymd_and_hms(2026, 11, 21, 23, 50, 0).unwrap();
        let moments = escalation_moments(&p, Priority::P1, breach);
        let offsets: Vec<_> = moments
            .iter()
            .map(|(i, t)| (*i, (*t - breach).num_minutes()))
            .collect();
        assert_eq!(offsets, [(0, 0), (1, 30), (2, 60)]);
        assert_eq!(escalation_moments(&p, Priority::P3, breach).len(), 1);
        assert!(p.escalation.p1[0].raise_priority);
        assert_eq!(p.escalation.p1[2].notify, "management");
    }

    #[test]
    fn business_targets_use_the_calendar() {
        let cal = BusinessCalendar::default();
        let friday = Utc.with_ymd_and_hms(2026, 11, 20, 17, 0, 0).unwrap();
        let t = Target::business_minutes(120);
        assert_eq!(
            t.basis().add(&cal, friday, t.work(&cal)),
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
        );
        assert_eq!(Target::working_days(3).work(&cal), Duration::hours(27));
        assert_eq!(
            TimeBasis::Wall.between(&cal, friday, friday - Duration::hours(1)),
            Duration::zero()
        );
        assert_eq!(p_warning(), Duration::minutes(45));
    }

    fn p_warning() -> Duration {
        SlaPolicy::default().warning_work(Duration::hours(1))
    }
}
