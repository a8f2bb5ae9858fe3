//! The triage engine as the service uses it: one shared engine, replaceable while running, and
//! what a verdict changes on a new ticket.
//!
//! Triage runs in the request, before the ticket is written, so its verdict is stored in the same
//! transaction as the ticket (a `triaged` timeline entry) and routing already uses its category:
//! there is never a committed ticket that has not been triaged, and no queue to lose. It costs
//! ~0.05-0.1 ms of CPU a ticket (BENCHMARKS.md).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{OnceLock, RwLock};

use base64::Engine as _;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

use closedloop_domain::{Category, Channel, Description, Priority, Title};
use closedloop_store::{NewTicket, Store, StoreError, TriageHints};
use closedloop_triage::{Models, TicketText, Triage, TriageConfig, TriageError, Verdict};
use serde_json::json;

/// The engine in use; `refresh` swaps in a retrained one without a restart.
pub struct Engine {
    current: RwLock<Triage>,
    /// Version of the stored model in use (0: the built-in seed models).
    version: AtomicI64,
}

impl Engine {
    /// The engine trained on the built-in seed examples. Building it takes a few hundred
    /// milliseconds, so one is built per process and shared (it is immutable).
    pub fn seed() -> Result<Engine, TriageError> {
        static SEED: OnceLock<Triage> = OnceLock::new();
        let t = match SEED.get() {
            Some(t) => t.clone(),
            None => {
                let t = Triage::new()?;
                SEED.get_or_init(|| t).clone()
            }
        };
        Ok(Engine {
            current: RwLock::new(t),
            version: AtomicI64::new(0),
        })
    }

    /// The seed engine with the administrators' settings from `triage_config` (a TOML file of
    /// thresholds and keyword rules), if configured. Rule lists given there replace the
    /// built-in ones; `closedloop triage config` prints those to start from.
    pub fn configured(config: &crate::Config) -> Result<Engine, String> {
        let engine = Self::seed().map_err(|e| format!("triage: {e}"))?;
        let Some(path) = &config.triage_config else {
            return Ok(engine);
        };
        if !path.is_file() {
            return Err(format!("triage_config {}: no such file", path.display()));
        }
        let settings: TriageConfig = Figment::from(Serialized::defaults(TriageConfig::default()))
            .merge(Toml::file_exact(path))
            .extract()
            .map_err(|e| format!("triage_config {}: {e}", path.display()))?;
        let seed = engine.current();
        let custom = seed
            .with(settings, seed.models().clone())
            .map_err(|e| format!("triage_config {}: {e}", path.display()))?;
        Ok(Engine {
            current: RwLock::new(custom),
            version: AtomicI64::new(0),
        })
    }

    pub fn current(&self) -> Triage {
        match self.current.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn version(&self) -> i64 {
        self.version.load(Ordering::Acquire)
    }

    /// Switches to the newest stored model if there is a newer one than in use. A model that
    /// does not load is skipped (logged) and the engine keeps what it has.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let Some((version, encoded)) = store.newer_triage_model(self.version()).await? else {
            return Ok(false);
        };
        let loaded = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|bytes| Models::from_bytes(&bytes).map_err(|e| e.to_string()))
            .and_then(|models| {
                let now = self.current();
                now.with(now.config().clone(), models)
                    .map_err(|e| e.to_string())
            });
        match loaded {
            Ok(next) => {
                match self.current.write() {
                    Ok(mut t) => *t = next,
                    Err(poisoned) => *poisoned.into_inner() = next,
                }
                self.version.store(version, Ordering::Release);
                tracing::info!(version, "switched to a retrained triage model");
                Ok(true)
            }
            Err(error) => {
                // Remember it so a broken model is not decoded again every few seconds.
                self.version.store(version, Ordering::Release);
                tracing::error!(version, %error, "stored triage model does not load; keeping the current one");
                Ok(false)
            }
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
    new.triage = Some(record(&verdict, &applied));
    verdict
}

/// The same reading for a ticket opened outside the ticket API (a webhook's first message).
pub fn hints(
    engine: &Triage,
    title: Option<&Title>,
    description: &Description,
    has_category: bool,
) -> TriageHints {
    let mut scratch = NewTicket {
        // Only whether one was given matters here.
        category: has_category
            .then(|| Category::parse("category", "given"))
            .and_then(Result::ok),
        ..NewTicket::new(Channel::Chat, title.cloned(), description.clone())
    };
    apply(engine, &mut scratch);
    TriageHints {
        suggested_category: scratch.suggested_category,
        priority: scratch.priority,
        impact_scope: scratch.impact_scope,
        record: scratch.triage,
    }
}

/// The verdict as the timeline keeps it, with what it changed on the ticket.
pub fn record(verdict: &Verdict, applied: &[&str]) -> String {
    // Serialised straight from borrowed fields: building a `serde_json::Value` first cost a
    // fifth of the triage time per ticket.
    #[derive(serde::Serialize)]
    struct Record<'a> {
        applied: &'a [&'a str],
        category: &'a closedloop_triage::CategoryVerdict,
        nature: &'a closedloop_triage::NatureVerdict,
        needs_review: bool,
        priority: Priority,
        urgent: &'a [closedloop_triage::UrgentFlag],
        sentiment: &'a closedloop_triage::SentimentVerdict,
        impact: &'a closedloop_triage::ImpactHint,
        language: &'a closedloop_triage::Language,
        keywords: &'a [closedloop_triage::Keyword],
        reasons: &'a [closedloop_triage::Reason],
    }
    serde_json::to_string(&Record {
        applied,
        category: &verdict.category,
        nature: &verdict.nature,
        needs_review: verdict.needs_review,
        priority: verdict.priority,
        urgent: &verdict.urgent,
        sentiment: &verdict.sentiment,
        impact: &verdict.impact,
        language: &verdict.language,
        keywords: &verdict.keywords,
        reasons: &verdict.reasons,
    })
    .unwrap_or_default()
}

/// Adds the duplicate finding to the verdict the timeline keeps.
pub fn note_duplicate(new: &mut NewTicket, m: &crate::duplicates::Match) {
    let mut record: serde_json::Value = new
        .triage
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_else(|| json!({}));
    record["duplicate_of"] = json!({"ticket": m.number, "score": m.score});
    new.triage = Some(record.to_string());
}
