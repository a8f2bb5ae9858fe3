//! Every SLA clock of a ticket, derived from its history alone (no stored counters), so a
//! policy change or a corrected event is reflected by simply computing again.
//!
//! # How a clock runs
//!
//! Each [`ClockKind`] has a rule in [`RULES`]: which moments start a cycle and which stop it.
//! A start while a cycle runs replaces it (a reassignment restarts acceptance); only the latest
//! cycle of each kind is reported. Whatever the rules say, a ticket entering `resolved`,
//! `closed` or `duplicate` stops every clock.
//!
//! # Pauses
//!
//! Pausable clocks (all but first response and acceptance, which measure how quickly staff
//! react, not how long the user takes) do not run while the ticket is `waiting_on_user`.
//! Precisely: a cycle's *active time* is `[start, stop or now)` minus the waiting spans, measured
//! in the target's basis (wall time, or working time of the calendar). `due_at` is the instant
//! at which active time reaches the target, assuming the ticket waits no more than it already
//! has; so a finished wait of length `w` that began before the due time moves it later by `w`
//! of the clock's basis (for business clocks: by the working time inside the wait), a wait that
//! began after the due time moves nothing, and while a wait that began before it is still
//! going on there is no due time (`None`, status `Paused`). `warn_at` is the same for
//! `warn_at_percent` of the target. `elapsed` is the active time so far and
//! `remaining = target − elapsed`, negative once late.
//!
//! # Priorities
//!
//! A cycle takes its target from the priority in effect when it started. A manual priority
//! change re-targets every running cycle as if it had started at the new priority; a raise by
//! escalation does not (the late clock stays measured against the target it missed, so one
//! breach does not cascade into a stricter, already-missed target), but cycles started
//! afterwards use the raised priority.

use chrono::{DateTime, Duration, Utc};
use serde::{Serialize, Serializer};

use super::calendar::BusinessCalendar;
use super::policy::{ClockKind, SlaPolicy, Target, TimeBasis};
use crate::{Category, Channel, Priority, Status};

/// What the clocks need to know about a ticket besides its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    pub created_at: DateTime<Utc>,
    pub channel: Channel,
    pub category: Option<Category>,
    /// The ticket has coordinating departments.
    pub multi_department: bool,
}

/// The parts of a ticket's history that move clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockEvent {
    StatusChanged {
        to: Status,
    },
    /// A public reply by staff: the first response, and a progress update.
    StaffPublicReply,
    /// `None` = unassigned.
    Assigned {
        to: Option<i64>,
    },
    PriorityChanged {
        to: Priority,
        by_escalation: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedEvent {
    pub at: DateTime<Utc>,
    pub event: ClockEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ClockStatus {
    Running,
    /// Waiting on the user, with the due time not yet reached.
    Paused,
    /// Stopped at `at`, on or before the due time.
    Met {
        at: DateTime<Utc>,
    },
    /// Due at `at` and stopped later, or still running past it.
    Breached {
        at: DateTime<Utc>,
    },
}

/// The latest cycle of one clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockState {
    pub kind: ClockKind,
    /// The priority whose target applies (see the module documentation).
    pub priority: Priority,
    pub started_at: DateTime<Utc>,
    /// `None` while the clock runs (or is paused).
    pub stopped_at: Option<DateTime<Utc>>,
    pub target: Target,
    /// `None` while paused before reaching it.
    pub due_at: Option<DateTime<Utc>>,
    pub warn_at: Option<DateTime<Utc>>,
    /// Active time, in the target's basis.
    #[serde(rename = "elapsed_seconds", serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Target minus elapsed; negative when late.
    #[serde(rename = "remaining_seconds", serialize_with = "seconds")]
    pub remaining: Duration,
    pub state: ClockStatus,
}

impl ClockState {
    pub fn is_running(&self) -> bool {
        self.stopped_at.is_none()
    }
}

fn seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Warning,
    Breach,
}

/// A moment at which a scheduler should act. A cycle's moments move when it is paused or
/// re-targeted; `(kind, started_at, stage)` identifies the thing to fire once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub kind: ClockKind,
    pub stage: Stage,
    pub at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
}

/// The ticket at one point of the replay: what happened, and the status around it.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// `None` for the creation of the ticket.
    pub event: Option<ClockEvent>,
    pub before: Status,
    pub after: Status,
    /// Whether someone is assigned after the event.
    pub assigned: bool,
}

impl Moment {
    fn created(&self) -> bool {
        self.event.is_none()
    }

    fn changed_to(&self) -> Option<Status> {
        match self.event {
            Some(ClockEvent::StatusChanged { to }) => Some(to),
            _ => None,
        }
    }

    fn entered(&self, status: Status) -> bool {
        self.changed_to() == Some(status)
    }

    fn left(&self, status: Status) -> bool {
        self.before == status && self.changed_to().is_some_and(|to| to != status)
    }

    fn reply(&self) -> bool {
        self.event == Some(ClockEvent::StaffPublicReply)
    }

    fn assigned_someone(&self) -> bool {
        matches!(self.event, Some(ClockEvent::Assigned { to: Some(_) }))
    }

    fn unassigned(&self) -> bool {
        self.event == Some(ClockEvent::Assigned { to: None })
    }

    fn closes(&self) -> bool {
        self.changed_to().is_some_and(|to| !to.is_open())
    }
}

/// Waiting for someone to accept the ticket.
fn awaits_acceptance(s: Status) -> bool {
    matches!(s, Status::Received | Status::Reopened)
}

/// Accepted and not yet finished: the stretch in which progress must be reported.
fn in_work(s: Status) -> bool {
    matches!(
        s,
        Status::Accepted | Status::InProgress | Status::WaitingOnUser | Status::SolutionProposed
    )
}

/// When one kind of clock starts and stops.
pub struct Rule {
    pub kind: ClockKind,
    pub starts: fn(&Moment) -> bool,
    pub stops: fn(&Moment) -> bool,
    /// Drops the running cycle without a verdict.
    pub cancels: fn(&Moment) -> bool,
    pub pausable: bool,
}

fn never(_: &Moment) -> bool {
    false
}

/// The start and stop rules of every clock, in report order.
pub const RULES: &[Rule] = &[
    Rule {
        kind: ClockKind::FirstResponse,
        starts: Moment::created,
        stops: Moment::reply,
        cancels: never,
        pausable: false,
    },
    Rule {
        kind: ClockKind::Assignment,
        starts: Moment::created,
        stops: Moment::assigned_someone,
        cancels: never,
        pausable: true,
    },
    // An assignment while the ticket awaits acceptance starts it, as does reopening a ticket
    // that still has an assignee (who must accept it again); taking the assignee away leaves
    // nobody to measure.
    Rule {
        kind: ClockKind::Acceptance,
        starts: |m| {
            (m.assigned_someone() && awaits_acceptance(m.after))
                || (m.entered(Status::Reopened) && m.assigned)
        },
        stops: |m| m.changed_to().is_some_and(|to| !awaits_acceptance(to)),
        cancels: Moment::unassigned,
        pausable: false,
    },
    Rule {
        kind: ClockKind::Investigation,
        starts: |m| m.entered(Status::Accepted),
        stops: |m| m.entered(Status::SolutionProposed) || m.entered(Status::Resolved),
        cancels: never,
        pausable: true,
    },
    // A reopen, or an appeal revised back into work, is a new attempt at resolving.
    Rule {
        kind: ClockKind::Resolution,
        starts: |m| {
            m.created()
                || m.entered(Status::Reopened)
                || (m.before == Status::Appeal && m.entered(Status::InProgress))
        },
        stops: never,
        cancels: never,
        pausable: true,
    },
    // Each reply meets the running cycle and starts the next one.
    Rule {
        kind: ClockKind::ProgressUpdate,
        starts: |m| (in_work(m.after) && !in_work(m.before)) || (m.reply() && in_work(m.after)),
        stops: |m| m.reply() || m.changed_to().is_some_and(|to| !in_work(to)),
        cancels: never,
        pausable: true,
    },
    Rule {
        kind: ClockKind::AppealResponse,
        starts: |m| m.entered(Status::Appeal),
        stops: |m| m.left(Status::Appeal),
        cancels: never,
        pausable: true,
    },
    // A proposed solution waits for its approval (or, when it needs none, for the agent to
    // tell the user); an approval resolves the ticket.
    Rule {
        kind: ClockKind::Approval,
        starts: |m| m.entered(Status::SolutionProposed),
        stops: |m| m.left(Status::SolutionProposed),
        cancels: never,
        pausable: false,
    },
];

#[derive(Debug, Clone, Copy)]
struct Cycle {
    started_at: DateTime<Utc>,
    stopped_at: Option<DateTime<Utc>>,
    priority: Priority,
}

/// A stretch spent waiting on the user; `end` is `None` while it lasts.
#[derive(Debug, Clone, Copy)]
struct Wait {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// What the replay of a history yields: the latest cycle per rule, and the waits.
struct History {
    cycles: Vec<Option<Cycle>>,
    waits: Vec<Wait>,
}

fn replay(
    created_at: DateTime<Utc>,
    initial_priority: Priority,
    events: &[TimedEvent],
    now: DateTime<Utc>,
) -> History {
    let mut history = History {
        cycles: vec![None; RULES.len()],
        waits: Vec::new(),
    };
    // Events from the future have not happened yet; out-of-order input is tolerated.
    let mut ordered: Vec<&TimedEvent> = events.iter().filter(|e| e.at <= now).collect();
    ordered.sort_by_key(|e| e.at);

    let mut priority = initial_priority;
    let mut moment = Moment {
        event: None,
        before: Status::Received,
        after: Status::Received,
        assigned: false,
    };
    history.apply(&moment, created_at, priority);
    for e in ordered {
        moment.before = moment.after;
        moment.event = Some(e.event);
        match e.event {
            ClockEvent::StatusChanged { to } => moment.after = to,
            ClockEvent::Assigned { to } => moment.assigned = to.is_some(),
            ClockEvent::PriorityChanged { to, by_escalation } => {
                priority = to;
                if !by_escalation {
                    history.retarget(to);
                }
            }
            ClockEvent::StaffPublicReply => {}
        }
        history.track_wait(&moment, e.at);
        history.apply(&moment, e.at, priority);
    }
    history
}

impl History {
    fn apply(&mut self, m: &Moment, at: DateTime<Utc>, priority: Priority) {
        for (rule, slot) in RULES.iter().zip(&mut self.cycles) {
            if let Some(cycle) = slot.as_mut().filter(|c| c.stopped_at.is_none()) {
                if (rule.cancels)(m) {
                    *slot = None;
                } else if (rule.stops)(m) || m.closes() {
                    cycle.stopped_at = Some(at);
                }
            }
            if (rule.starts)(m) {
                *slot = Some(Cycle {
                    started_at: at,
                    stopped_at: None,
                    priority,
                });
            }
        }
    }

    fn retarget(&mut self, priority: Priority) {
        for cycle in self.cycles.iter_mut().flatten() {
            if cycle.stopped_at.is_none() {
                cycle.priority = priority;
            }
        }
    }

    fn track_wait(&mut self, m: &Moment, at: DateTime<Utc>) {
        let waiting = |s| s == Status::WaitingOnUser;
        if waiting(m.after) && !waiting(m.before) {
            self.waits.push(Wait {
                start: at,
                end: None,
            });
        } else if waiting(m.before)
            && !waiting(m.after)
            && let Some(w) = self.waits.last_mut()
        {
            w.end = Some(at);
        }
    }
}

/// Every clock of a ticket as of `now`, in [`RULES`] order. Clocks that never started, and
/// clocks the policy does not use for this ticket, are left out. See the module documentation
/// for the semantics.
pub fn clocks(
    policy: &SlaPolicy,
    calendar: &BusinessCalendar,
    facts: &TicketFacts,
    initial_priority: Priority,
    events: &[TimedEvent],
    now: DateTime<Utc>,
) -> Vec<ClockState> {
    let history = replay(facts.created_at, initial_priority, events, now);
    RULES
        .iter()
        .zip(&history.cycles)
        .filter_map(|(rule, cycle)| {
            let cycle = cycle.as_ref()?;
            let target = policy.target(
                rule.kind,
                cycle.priority,
                facts.channel,
                facts.category.as_ref(),
                facts.multi_department,
            )?;
            let waits = if rule.pausable {
                &history.waits[..]
            } else {
                &[]
            };
            let measure = Measure {
                basis: target.basis(),
                calendar,
                active: Active::of(cycle, waits),
            };
            let work = target.work(calendar);
            let due_at = measure.reach(work);
            let end = cycle.stopped_at.unwrap_or(now);
            let elapsed = measure.elapsed(end);
            Some(ClockState {
                kind: rule.kind,
                priority: cycle.priority,
                started_at: cycle.started_at,
                stopped_at: cycle.stopped_at,
                target,
                due_at,
                warn_at: measure.reach(policy.warning_work(work)),
                elapsed,
                remaining: work - elapsed,
                state: verdict(cycle, due_at, measure.active.paused, now),
            })
        })
        .collect()
}

fn verdict(
    cycle: &Cycle,
    due_at: Option<DateTime<Utc>>,
    paused: bool,
    now: DateTime<Utc>,
) -> ClockStatus {
    match (cycle.stopped_at, due_at) {
        (Some(stop), Some(due)) if stop > due => ClockStatus::Breached { at: due },
        (Some(stop), _) => ClockStatus::Met { at: stop },
        (None, Some(due)) if due <= now => ClockStatus::Breached { at: due },
        (None, _) if paused => ClockStatus::Paused,
        (None, _) => ClockStatus::Running,
    }
}

/// The stretches in which a cycle runs: from its start, between waits, and (unless it is
/// waiting now) open-ended after the last wait, since its due time may lie beyond `now` or
/// beyond its stop.
struct Active {
    stretches: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    paused: bool,
}

impl Active {
    fn of(cycle: &Cycle, waits: &[Wait]) -> Active {
        let mut stretches = Vec::new();
        let mut cursor = cycle.started_at;
        for wait in waits {
            if cycle.stopped_at.is_some_and(|stop| wait.start >= stop) {
                break;
            }
            // A wait still going on when the clock stopped ends, for this clock, at the stop.
            let end = wait.end.or(cycle.stopped_at);
            if end.is_some_and(|e| e <= cursor) {
                continue;
            }
            if wait.start > cursor {
                stretches.push((cursor, Some(wait.start)));
            }
            match end {
                Some(e) => cursor = e,
                None => {
                    return Active {
                        stretches,
                        paused: true,
                    };
                }
            }
        }
        stretches.push((cursor, None));
        Active {
            stretches,
            paused: false,
        }
    }
}

struct Measure<'a> {
    basis: TimeBasis,
    calendar: &'a BusinessCalendar,
    active: Active,
}

impl Measure<'_> {
    /// The instant at which active time reaches `work`; `None` if a wait going on now
    /// comes first.
    fn reach(&self, work: Duration) -> Option<DateTime<Utc>> {
        let mut left = work;
        for &(from, to) in &self.active.stretches {
            let Some(to) = to else {
                return Some(self.basis.add(self.calendar, from, left));
            };
            let available = self.basis.between(self.calendar, from, to);
            if available >= left {
                return Some(self.basis.add(self.calendar, from, left));
            }
            left -= available;
        }
        None
    }

    /// Active time before `end`.
    fn elapsed(&self, end: DateTime<Utc>) -> Duration {
        self.active
            .stretches
            .iter()
            .map(|&(from, to)| {
                let to = to.map_or(end, |t| t.min(end));
                self.basis.between(self.calendar, from, to)
            })
            .sum()
    }
}

/// The warning and breach moments of the running clocks, earliest first, past ones included
/// (a scheduler that was down still has to act on them). Paused clocks have none until they
/// resume.
pub fn deadlines(states: &[ClockState]) -> Vec<Deadline> {
    let mut out: Vec<Deadline> = states
        .iter()
        .filter(|s| s.is_running())
        .flat_map(|s| {
            [(Stage::Warning, s.warn_at), (Stage::Breach, s.due_at)]
                .into_iter()
                .filter_map(move |(stage, at)| {
                    at.map(|at| Deadline {
                        kind: s.kind,
                        stage,
                        at,
                        started_at: s.started_at,
                    })
                })
        })
        .collect();
    out.sort_by_key(|d| d.at);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ClockEvent::*;
    use ClockKind as K;
    use Status as S;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// Monday 23 November 2026, 10:00 UTC.
    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        t0() + Duration::minutes(minutes)
    }

    fn ev(minutes: i64, event: ClockEvent) -> TimedEvent {
        TimedEvent {
            at: at(minutes),
            event,
        }
    }

    fn status(minutes: i64, to: Status) -> TimedEvent {
        ev(minutes, StatusChanged { to })
    }

    fn facts(channel: Channel) -> TicketFacts {
        TicketFacts {
            created_at: t0(),
            channel,
            category: None,
            multi_department: false,
        }
    }

    struct Case {
        policy: SlaPolicy,
        calendar: BusinessCalendar,
        facts: TicketFacts,
        priority: Priority,
        events: Vec<TimedEvent>,
    }

    impl Case {
        fn new(priority: Priority, channel: Channel, events: Vec<TimedEvent>) -> Case {
            Case {
                policy: SlaPolicy::default(),
                calendar: BusinessCalendar::default(),
                facts: facts(channel),
                priority,
                events,
            }
        }

        fn all(&self, now: DateTime<Utc>) -> Vec<ClockState> {
            clocks(
                &self.policy,
                &self.calendar,
                &self.facts,
                self.priority,
                &self.events,
                now,
            )
        }

        fn clock(&self, kind: ClockKind, now: DateTime<Utc>) -> Option<ClockState> {
            self.all(now).into_iter().find(|c| c.kind == kind)
        }

        fn get(&self, kind: ClockKind, now: DateTime<Utc>) -> ClockState {
            self.clock(kind, now).unwrap()
        }
    }

    /// Accepted at +10, in progress at +20.
    fn working() -> Vec<TimedEvent> {
        vec![
            ev(5, Assigned { to: Some(7) }),
            status(10, S::Accepted),
            status(20, S::InProgress),
        ]
    }

    #[test]
    fn first_response_target_follows_channel() {
        let web = Case::new(Priority::P1, Channel::Web, vec![]);
        let c = web.get(K::FirstResponse, at(4));
        assert_eq!(c.due_at, Some(at(10)));
        assert_eq!(c.warn_at, Some(at(7) + Duration::seconds(30)));
        assert_eq!(
            (c.elapsed, c.remaining),
            (Duration::minutes(4), Duration::minutes(6))
        );
        assert_eq!(c.state, ClockStatus::Running);
        let email = Case::new(Priority::P1, Channel::Email, vec![]);
        assert_eq!(email.get(K::FirstResponse, at(4)).due_at, Some(at(30)));
        let chat = Case::new(Priority::P3, Channel::Chat, vec![]);
        assert_eq!(chat.get(K::FirstResponse, at(0)).due_at, Some(at(2)));
    }

    #[test]
    fn first_response_met_or_breached_by_the_first_reply() {
        let on_time = Case::new(Priority::P1, Channel::Web, vec![ev(8, StaffPublicReply)]);
        let c = on_time.get(K::FirstResponse, at(600));
        assert_eq!(c.state, ClockStatus::Met { at: at(8) });
        assert_eq!(c.elapsed, Duration::minutes(8));
        let late = Case::new(
            Priority::P1,
            Channel::Email,
            vec![ev(40, StaffPublicReply), ev(50, StaffPublicReply)],
        );
        let c = late.get(K::FirstResponse, at(600));
        assert_eq!(c.state, ClockStatus::Breached { at: at(30) });
        assert_eq!(c.stopped_at, Some(at(40)));
        assert_eq!(c.remaining, Duration::minutes(-10));
        let silent = Case::new(Priority::P1, Channel::Email, vec![]);
        assert_eq!(
            silent.get(K::FirstResponse, at(30)).state,
            ClockStatus::Breached { at: at(30) }
        );
    }

    #[test]
    fn p2_assignment_within_two_hours() {
        let mut case = Case::new(Priority::P2, Channel::Web, vec![]);
        assert_eq!(case.get(K::Assignment, at(1)).due_at, Some(at(120)));
        case.events.push(ev(60, Assigned { to: Some(3) }));
        assert_eq!(
            case.get(K::Assignment, at(200)).state,
            ClockStatus::Met { at: at(60) }
        );
    }

    #[test]
    fn acceptance_restarts_on_reassignment() {
        let mut case = Case::new(
            Priority::P2,
            Channel::Web,
            vec![ev(20, Assigned { to: Some(1) })],
        );
        assert_eq!(case.get(K::Acceptance, at(21)).due_at, Some(at(35)));
        case.events.push(ev(30, Assigned { to: Some(2) }));
        let c = case.get(K::Acceptance, at(31));
        assert_eq!((c.started_at, c.due_at), (at(30), Some(at(45))));
        case.events.push(status(40, S::Accepted));
        assert_eq!(
            case.get(K::Acceptance, at(100)).state,
            ClockStatus::Met { at: at(40) }
        );
        // Assigning an accepted ticket to someone else asks nobody to accept it again.
        case.events.push(ev(50, Assigned { to: Some(4) }));
        assert_eq!(case.get(K::Acceptance, at(100)).started_at, at(30));
    }

    #[test]
    fn acceptance_without_an_assignee_is_dropped() {
        let case = Case::new(
            Priority::P2,
            Channel::Web,
            vec![
                ev(20, Assigned { to: Some(1) }),
                ev(25, Assigned { to: None }),
            ],
        );
        assert_eq!(case.clock(K::Acceptance, at(100)), None);
        let none = Case::new(Priority::P2, Channel::Web, vec![]);
        assert_eq!(none.clock(K::Acceptance, at(100)), None);
    }

    #[test]
    fn waiting_on_user_pauses_and_moves_the_due_time() {
        let mut events = working();
        events.push(status(60, S::WaitingOnUser));
        let mut case = Case::new(Priority::P2, Channel::Web, events);
        let paused = case.get(K::Resolution, at(90));
        assert_eq!(paused.state, ClockStatus::Paused);
        assert_eq!(paused.due_at, None);
        assert_eq!(paused.elapsed, Duration::minutes(60));
        // First response is not paused: staff still owe a reply.
        assert_eq!(
            case.get(K::FirstResponse, at(90)).state,
            ClockStatus::Breached { at: at(10) }
        );
        case.events.push(status(180, S::InProgress));
        let resumed = case.get(K::Resolution, at(200));
        assert_eq!(resumed.due_at, Some(at(72 * 60 + 120)));
        assert_eq!(resumed.elapsed, Duration::minutes(80));
        assert_eq!(resumed.state, ClockStatus::Running);
        let inv = case.get(K::Investigation, at(200));
        assert_eq!(inv.due_at, Some(at(10 + 48 * 60 + 120)));
    }

    #[test]
    fn business_hours_resolution_crosses_the_weekend() {
        // Friday 20 November 2026, 16:00 UTC; the default calendar is UTC 09:00-18:00.
        let friday = Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap();
        let mut case = Case::new(Priority::P2, Channel::Web, vec![]);
        case.facts.created_at = friday;
        case.policy
            .targets
            .p2
            .insert(K::Resolution, Target::business_minutes(600));
        let c = case.get(K::Resolution, friday + Duration::days(1));
        let monday = |h| Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap();
        assert_eq!(c.due_at, Some(monday(17)));
        assert_eq!(c.elapsed, Duration::hours(2));
        assert_eq!(c.warn_at, Some(monday(14) + Duration::minutes(30)));
        // Two working hours waiting on the user on Monday push it to Tuesday 10:00.
        let at_ = |t| TimedEvent {
            at: t,
            event: StatusChanged { to: S::InProgress },
        };
        case.events = vec![
            TimedEvent {
                at: friday,
                event: StatusChanged { to: S::Accepted },
            },
            at_(friday),
            TimedEvent {
                at: monday(10),
                event: StatusChanged {
                    to: S::WaitingOnUser,
                },
            },
            at_(monday(12)),
        ];
        let c = case.get(K::Resolution, monday(13));
        assert_eq!(
            c.due_at,
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap())
        );
        assert_eq!(c.elapsed, Duration::hours(4));
        assert_eq!(c.elapsed + c.remaining, Duration::hours(10));
    }

    #[test]
    fn reopen_starts_a_new_resolution_cycle() {
        let mut events = working();
        events.extend([status(60, S::SolutionProposed), status(100, S::Resolved)]);
        let mut case = Case::new(Priority::P1, Channel::Web, events);
        let done = case.get(K::Resolution, at(150));
        assert_eq!(done.state, ClockStatus::Met { at: at(100) });
        assert!(case.all(at(150)).iter().all(|c| !c.is_running()));
        assert!(deadlines(&case.all(at(150))).is_empty());
        case.events.push(status(200, S::Reopened));
        let again = case.get(K::Resolution, at(210));
        assert_eq!(
            (again.started_at, again.due_at),
            (at(200), Some(at(200 + 24 * 60)))
        );
        assert_eq!(again.state, ClockStatus::Running);
        // The assignee has to accept the reopened ticket again.
        assert_eq!(case.get(K::Acceptance, at(210)).due_at, Some(at(215)));
    }

    #[test]
    fn appeal_is_answered_and_a_revision_restarts_resolution() {
        let mut events = working();
        events.extend([
            status(60, S::SolutionProposed),
            status(100, S::Resolved),
            status(120, S::Closed),
            status(1000, S::Appeal),
        ]);
        let mut case = Case::new(Priority::P3, Channel::Web, events);
        let appeal = case.get(K::AppealResponse, at(1010));
        assert_eq!(appeal.due_at, Some(at(1120)));
        assert_eq!(
            case.get(K::Resolution, at(1010)).state,
            ClockStatus::Met { at: at(100) }
        );
        case.events.push(status(1060, S::InProgress));
        assert_eq!(
            case.get(K::AppealResponse, at(1070)).state,
            ClockStatus::Met { at: at(1060) }
        );
        let res = case.get(K::Resolution, at(1070));
        assert_eq!((res.started_at, res.stopped_at), (at(1060), None));
        assert_eq!(res.due_at, Some(at(1060 + 168 * 60)));
        // Back in work: progress is owed again.
        assert_eq!(case.get(K::ProgressUpdate, at(1070)).started_at, at(1060));
    }

    #[test]
    fn manual_priority_change_retargets_but_escalation_does_not() {
        let manual = Case::new(
            Priority::P3,
            Channel::Web,
            vec![ev(
                60,
                PriorityChanged {
                    to: Priority::P1,
                    by_escalation: false,
                },
            )],
        );
        let c = manual.get(K::Resolution, at(61));
        assert_eq!((c.priority, c.due_at), (Priority::P1, Some(at(24 * 60))));
        let escalated = Case::new(
            Priority::P3,
            Channel::Web,
            vec![
                ev(
                    60,
                    PriorityChanged {
                        to: Priority::P2,
                        by_escalation: true,
                    },
                ),
                ev(70, Assigned { to: Some(9) }),
            ],
        );
        let c = escalated.get(K::Resolution, at(61));
        assert_eq!((c.priority, c.due_at), (Priority::P3, Some(at(168 * 60))));
        // Clocks started after the raise use the raised priority.
        assert_eq!(escalated.get(K::Acceptance, at(71)).priority, Priority::P2);
        // Stopped clocks keep the priority they ran under.
        let later = Case::new(
            Priority::P3,
            Channel::Web,
            vec![
                ev(5, Assigned { to: Some(1) }),
                ev(
                    60,
                    PriorityChanged {
                        to: Priority::P1,
                        by_escalation: false,
                    },
                ),
            ],
        );
        assert_eq!(later.get(K::Assignment, at(61)).priority, Priority::P3);
        assert_eq!(later.get(K::Acceptance, at(61)).priority, Priority::P1);
    }

    #[test]
    fn duplicate_stops_every_clock() {
        let case = Case::new(
            Priority::P2,
            Channel::Email,
            vec![ev(1, Assigned { to: Some(1) }), status(3, S::Duplicate)],
        );
        let all = case.all(at(1000));
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|c| !c.is_running()), "{all:?}");
        let stopped_by_duplicate = all.iter().filter(|c| c.stopped_at == Some(at(3))).count();
        assert_eq!(stopped_by_duplicate, 3);
    }

    #[test]
    fn progress_is_owed_every_three_working_days_until_resolved() {
        let mut case = Case::new(Priority::P2, Channel::Web, working());
        let c = case.get(K::ProgressUpdate, at(30));
        // Accepted Monday 10:10; 27 working hours later is Thursday 10:10.
        assert_eq!(c.started_at, at(10));
        assert_eq!(c.due_at, Some(at(3 * 24 * 60 + 10)));
        assert_eq!(c.target, Target::working_days(3));
        case.events.push(ev(100, StaffPublicReply));
        let c = case.get(K::ProgressUpdate, at(110));
        assert_eq!((c.started_at, c.state), (at(100), ClockStatus::Running));
        case.events
            .extend([status(200, S::SolutionProposed), status(300, S::Resolved)]);
        let c = case.get(K::ProgressUpdate, at(400));
        assert_eq!(c.state, ClockStatus::Met { at: at(300) });
    }

    #[test]
    fn several_departments_get_three_working_days_to_investigate() {
        let mut case = Case::new(Priority::P2, Channel::Web, working());
        case.facts.multi_department = true;
        let c = case.get(K::Investigation, at(30));
        assert_eq!(c.target, Target::working_days(3));
        assert_eq!(c.due_at, Some(at(3 * 24 * 60 + 10)));
        case.events.push(status(60, S::SolutionProposed));
        assert_eq!(
            case.get(K::Investigation, at(70)).state,
            ClockStatus::Met { at: at(60) }
        );
    }

    #[test]
    fn deadlines_list_warnings_and_breaches_of_running_clocks() {
        let case = Case::new(Priority::P1, Channel::Web, vec![ev(8, StaffPublicReply)]);
        let d = deadlines(&case.all(at(9)));
        let listed: Vec<_> = d.iter().map(|d| (d.kind, d.stage, d.at)).collect();
        assert_eq!(
            listed,
            [
                (
                    K::Assignment,
                    Stage::Warning,
                    at(22) + Duration::seconds(30)
                ),
                (K::Assignment, Stage::Breach, at(30)),
                (K::Resolution, Stage::Warning, at(18 * 60)),
                (K::Resolution, Stage::Breach, at(24 * 60)),
            ]
        );
    }

    #[test]
    fn future_events_have_not_happened_yet() {
        let case = Case::new(Priority::P1, Channel::Web, vec![ev(50, StaffPublicReply)]);
        assert_eq!(
            case.get(K::FirstResponse, at(20)).state,
            ClockStatus::Breached { at: at(10) }
        );
        assert_eq!(case.get(K::FirstResponse, at(20)).stopped_at, None);
    }

    #[test]
    fn states_serialise_with_rfc3339_times() {
        let case = Case::new(Priority::P1, Channel::Web, vec![ev(8, StaffPublicReply)]);
        let json = serde_json::to_value(case.all(at(9))).unwrap();
        let first = &json[0];
        assert_eq!(first["kind"], "first_response");
        assert_eq!(first["started_at"], "2026-11-23T10:00:00Z");
        assert_eq!(first["state"]["status"], "met");
        assert_eq!(first["state"]["at"], "2026-11-23T10:08:00Z");
        assert_eq!(first["target"]["minutes"], 10);
        assert_eq!(first["elapsed_seconds"], 480);
        assert_eq!(json[1]["state"]["status"], "running");
    }

    fn any_event() -> impl Strategy<Value = ClockEvent> {
        prop_oneof![
            prop::sample::select(Status::ALL).prop_map(|to| StatusChanged { to }),
            Just(StaffPublicReply),
            prop::option::of(1i64..4).prop_map(|to| Assigned { to }),
            (prop::sample::select(Priority::ALL), any::<bool>())
                .prop_map(|(to, by_escalation)| PriorityChanged { to, by_escalation }),
        ]
    }

    /// Arbitrary histories over two weeks, including ones the state machine would refuse:
    /// the derivation must stay consistent whatever it is given.
    fn history() -> impl Strategy<Value = Vec<TimedEvent>> {
        prop::collection::vec((1i64..600, any_event()), 0..25).prop_map(|steps| {
            let mut t = 0;
            steps
                .into_iter()
                .map(|(gap, event)| {
                    t += gap;
                    ev(t, event)
                })
                .collect()
        })
    }

    fn business_case(events: Vec<TimedEvent>, priority: Priority, channel: Channel) -> Case {
        let mut case = Case::new(priority, channel, events);
        case.policy
            .targets
            .p2
            .insert(K::Resolution, Target::business_minutes(900));
        case
    }

    proptest! {
        #[test]
        fn elapsed_plus_remaining_is_the_target(
            events in history(),
            priority in prop::sample::select(Priority::ALL),
            channel in prop::sample::select(Channel::ALL),
            now in 0i64..20_000,
        ) {
            let case = business_case(events, priority, channel);
            for c in case.all(at(now)) {
                prop_assert_eq!(c.elapsed + c.remaining, c.target.work(&case.calendar), "{:?}", c);
                if let (Some(due), Some(warn)) = (c.due_at, c.warn_at) {
                    prop_assert!(c.started_at <= warn && warn <= due, "{:?}", c);
                }
                match c.state {
                    ClockStatus::Paused | ClockStatus::Running => {
                        prop_assert!(c.is_running() && c.remaining > Duration::zero(), "{:?}", c);
                    }
                    ClockStatus::Breached { at } => prop_assert_eq!(Some(at), c.due_at),
                    ClockStatus::Met { at } => prop_assert_eq!(Some(at), c.stopped_at),
                }
            }
        }

        #[test]
        fn closed_tickets_have_no_running_clocks(events in history(), now in 0i64..20_000) {
            let case = business_case(events, Priority::P2, Channel::Web);
            let last = case.events.iter().rev().filter(|e| e.at <= at(now)).find_map(|e| match e.event {
                StatusChanged { to } => Some(to),
                _ => None,
            });
            if last.is_some_and(|s| !s.is_open()) {
                prop_assert!(case.all(at(now)).iter().all(|c| !c.is_running()));
            }
        }

        #[test]
        fn a_stop_before_the_due_time_is_met(
            channel in prop::sample::select(Channel::ALL),
            priority in prop::sample::select(Priority::ALL),
            permille in 0i64..=1000,
            later in 0i64..10_000,
        ) {
            let due = Case::new(priority, channel, vec![]).get(K::FirstResponse, at(0)).due_at.unwrap();
            let reply = t0() + (due - t0()) * permille as i32 / 1000;
            let case = Case::new(priority, channel, vec![TimedEvent { at: reply, event: StaffPublicReply }]);
            let c = case.get(K::FirstResponse, reply + Duration::minutes(later));
            prop_assert_eq!(c.state, ClockStatus::Met { at: reply });
        }

        #[test]
        fn a_finished_wait_moves_a_wall_clock_by_its_length(
            wait_at in 20i64..24 * 60,
            wait_len in 0i64..5_000,
            extra in 0i64..1_000,
        ) {
            let plain = Case::new(Priority::P1, Channel::Web, working());
            let mut waited = Case::new(Priority::P1, Channel::Web, working());
            waited.events.extend([
                status(wait_at, S::WaitingOnUser),
                status(wait_at + wait_len, S::InProgress),
            ]);
            let now = at(wait_at + wait_len + extra);
            let before = plain.get(K::Resolution, now).due_at.unwrap();
            let after = waited.get(K::Resolution, now).due_at.unwrap();
            prop_assert_eq!(after - before, Duration::minutes(wait_len));
        }
    }
}
