//! Service-level clocks (MISSION §3): how long each stage of a ticket may take, in wall time or
//! business hours, derived from the ticket's history.
//!
//! - [`calendar`]: working time in a time zone, with holidays and make-up days.
//! - [`policy`]: the targets, warnings and escalation chains, as configuration.
//! - [`clock`]: every clock's state and deadlines, computed from a ticket's events.

pub mod calendar;
pub mod clock;
pub mod policy;

pub use calendar::{BusinessCalendar, CalendarSpec, Hours, TimeOfDay};
pub use clock::{
    ClockEvent, ClockState, ClockStatus, Deadline, Stage, TicketFacts, TimedEvent, clocks,
    deadlines,
};
pub use policy::{
    ByPriority, ChannelTarget, ClockKind, ClockTargets, EscalationStep, SlaPolicy, Target,
    TimeBasis, escalation_moments,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, Priority};

/// Everything that decides a ticket's clocks: the policy and the working calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sla {
    pub policy: SlaPolicy,
    pub calendar: BusinessCalendar,
}

/// What a due moment does when it comes: warn, act on the breach (the chain's first step),
/// or take a later step of the escalation chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DueStage {
    Warning,
    Breach,
    /// Step `n` (1-based position after the breach step) of the priority's chain.
    Escalation(usize),
}

impl DueStage {
    pub fn to_text(self) -> String {
        match self {
            DueStage::Warning => "warning".into(),
            DueStage::Breach => "breach".into(),
            DueStage::Escalation(n) => format!("escalation:{n}"),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "warning" => Some(DueStage::Warning),
            "breach" => Some(DueStage::Breach),
            other => other
                .strip_prefix("escalation:")
                .and_then(|n| n.parse().ok())
                .map(DueStage::Escalation),
        }
    }
}

/// One moment the scheduler must act on, once. `(kind, stage, cycle_start)` names it across
/// re-planning: when a pause moves a due time, the moment keeps its name and is not repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub kind: ClockKind,
    pub stage: DueStage,
    pub cycle_start: DateTime<Utc>,
    pub at: DateTime<Utc>,
    /// The priority whose chain applies (the clock's, not the ticket's after a raise).
    pub priority: Priority,
}

impl Sla {
    pub fn validate(&self) -> Result<(), DomainError> {
        self.policy.validate()?;
        for (priority, chain) in [
            ("P1", &self.policy.escalation.p1),
            ("P2", &self.policy.escalation.p2),
            ("P3", &self.policy.escalation.p3),
        ] {
            // The first step is what the breach itself does.
            if chain.first().is_some_and(|s| s.after_minutes != 0) {
                return Err(DomainError::new(
                    "policy.escalation",
                    "first_step_not_at_breach",
                    format!(
                        "{priority}: the first step acts at the breach; give it after_minutes = 0"
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn clocks(
        &self,
        facts: &TicketFacts,
        initial_priority: Priority,
        events: &[TimedEvent],
        now: DateTime<Utc>,
    ) -> Vec<ClockState> {
        clocks(
            &self.policy,
            &self.calendar,
            facts,
            initial_priority,
            events,
            now,
        )
    }

    /// Every moment still to act on for the running clocks: warning and breach, and the later
    /// steps of the escalation chain counted from the breach. Past moments are included (a
    /// scheduler that was down catches up); what already fired is told apart by its name.
    pub fn plan(&self, states: &[ClockState]) -> Vec<Due> {
        let mut out = Vec::new();
        for s in states.iter().filter(|s| s.is_running()) {
            let due = |stage, at| Due {
                kind: s.kind,
                stage,
                cycle_start: s.started_at,
                at,
                priority: s.priority,
            };
            if let Some(at) = s.warn_at {
                out.push(due(DueStage::Warning, at));
            }
            if let Some(at) = s.due_at {
                out.push(due(DueStage::Breach, at));
                for (step, at) in escalation_moments(&self.policy, s.priority, at)
                    .into_iter()
                    .skip(1)
                {
                    out.push(due(DueStage::Escalation(step), at));
                }
            }
        }
        out
    }

    /// The chain step a stage takes, if the policy has one.
    pub fn step(&self, priority: Priority, stage: DueStage) -> Option<&EscalationStep> {
        let chain = self.policy.escalation.get(priority);
        match stage {
            DueStage::Warning => None,
            DueStage::Breach => chain.first(),
            DueStage::Escalation(n) => chain.get(n),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Channel;
    use chrono::TimeZone;

    #[test]
    fn a_new_p1_web_ticket_plans_warning_breach_and_the_chain() {
        let sla = Sla::default();
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let facts = TicketFacts {
            created_at: at,
            channel: Channel::Web,
            category: None,
            multi_department: false,
        };
        let states = sla.clocks(&facts, Priority::P1, &[], at);
        let plan = sla.plan(&states);
        let first: Vec<&Due> = plan
            .iter()
            .filter(|d| d.kind == ClockKind::FirstResponse)
            .collect();
        assert!(
            first
                .iter()
                .any(|d| d.stage == DueStage::Breach && d.at == at + chrono::Duration::minutes(10))
        );
        assert!(
            first.iter().any(
                |d| d.stage == DueStage::Warning && d.at == at + chrono::Duration::seconds(450)
            )
        );
        // The P1 chain has steps after the breach: department head at +30, management at +60.
        let steps: Vec<DueStage> = first.iter().map(|d| d.stage).collect();
        assert!(
            steps.contains(&DueStage::Escalation(1)) && steps.contains(&DueStage::Escalation(2))
        );
        for d in &plan {
            assert_eq!(DueStage::parse(&d.stage.to_text()), Some(d.stage));
        }
    }
}
