//! The triage engine as the service uses it: one shared engine, replaceable while running, and
//! what a verdict changes on a new ticket.
//!
//! Triage runs in the request, before the ticket is written, so its verdict is stored in the same
//! transaction as the ticket (a `triaged` timeline entry) and routing already uses its category:
//! there is never a committed ticket that has not been triaged, and no queue to lose. It costs
//! ~0.05-0.1 ms of CPU a ticket (BENCHMARKS.md).

use std::sync::{OnceLock, RwLock};

use closedloop_domain::Priority;
use closedloop_store::NewTicket;
use closedloop_triage::{TicketText, Triage, TriageError, Verdict};
use serde_json::json;

/// The engine in use; `replace` swaps in a retrained one without a restart.
pub struct Engine(RwLock<Triage>);

impl Engine {
    /// The engine trained on the built-in seed examples. Building it takes a few hundred
    /// milliseconds, so one is built per process and shared (it is immutable).
    pub fn seed() -> Result<Engine, TriageError> {
        static SEED: OnceLock<Triage> = OnceLock::new();
        if let Some(t) = SEED.get() {
            return Ok(Engine(RwLock::new(t.clone())));
        }
        let t = Triage::new()?;
        Ok(Engine(RwLock::new(SEED.get_or_init(|| t).clone())))
    }

    pub fn current(&self) -> Triage {
        match self.0.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, next: Triage) {
        match self.0.write() {
            Ok(mut t) => *t = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }
}

/// Reads the ticket and fills in what the submitter left open. What people set always wins;
/// a category the engine is unsure of is left for manual review (the fallback department).
pub fn apply(engine: &Triage, new: &mut NewTicket) -> Verdict {
    let verdict = engine.analyse(TicketText {
        title: new.title.as_ref().map(|t| t.as_str()),
        description: new.description.as_str(),
    });
    let mut applied = Vec::new();
    if new.category.is_none() && new.department.is_none() && !verdict.needs_review {
        new.suggested_category = Some(verdict.category.category.clone());
        applied.push("category");
    }
    // The engine's base level follows its reading of the nature (a complaint is P2); only
    // evidence in the text — urgency, anger, everyone affected — moves a ticket off the
    // organisation's default, so a guess about the nature alone never does.
    let evidence = !verdict.urgent.is_empty()
        || verdict
            .reasons
            .iter()
            .any(|r| matches!(r.code.as_str(), "anger_high" | "impact_all_users"));
    if new.priority.is_none() && evidence && verdict.priority != Priority::P3 {
        new.priority = Some(verdict.priority);
        applied.push("priority");
    }
    if new.impact_scope.is_none() && verdict.impact.evidence.is_some() {
        new.impact_scope = Some(verdict.impact.scope);
        applied.push("impact_scope");
    }
    new.triage = Some(
        json!({
            "applied": applied,
            "category": verdict.category,
            "nature": verdict.nature,
            "needs_review": verdict.needs_review,
            "priority": verdict.priority,
            "urgent": verdict.urgent,
            "sentiment": verdict.sentiment,
            "impact": verdict.impact,
            "language": verdict.language,
            "keywords": verdict.keywords,
            "reasons": verdict.reasons,
        })
        .to_string(),
    );
    verdict
}
