//! Duplicate detection at intake: the triage engine's MinHash index over the open tickets,
//! kept in memory by each instance (266 bytes a ticket; rebuilt from the database at start),
//! and the pair scorer to confirm a candidate before a ticket is registered as a duplicate.
//! Descriptions are compared, not titles: most titles are made from their description, and a
//! generated title repeated in front of it would make the same text look different.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use closedloop_domain::TicketNumber;
use closedloop_store::{Store, StoreError};
use closedloop_triage::dedup::Signature;
use closedloop_triage::{DuplicateIndex, IndexOptions, PairText, TicketText, Triage};

const CANDIDATES: usize = 4;
const MIN_SIMILARITY: f32 = 0.4;

/// A registered ticket the new one repeats.
#[derive(Debug, Clone)]
pub struct Match {
    pub number: TicketNumber,
    pub score: f32,
}

pub struct Duplicates {
    index: RwLock<DuplicateIndex>,
    ready: AtomicBool,
    threshold: f32,
    enabled: bool,
}

impl Duplicates {
    pub fn new(threshold: f32, enabled: bool) -> Self {
        Self {
            index: RwLock::new(DuplicateIndex::new(IndexOptions::default())),
            ready: AtomicBool::new(false),
            threshold,
            enabled,
        }
    }

    /// Indexes every open ticket. The service answers meanwhile; until this is done, new
    /// tickets are not checked (a million tickets take ~20 s on two cores).
    pub async fn load(&self, engine: &Triage, store: &dyn Store) -> Result<usize, StoreError> {
        if !self.enabled {
            return Ok(0);
        }
        let mut after = 0;
        let mut loaded = 0;
        loop {
            let page = store.open_ticket_texts(after, 5_000).await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            let Ok(mut index) = self.index.write() else {
                break;
            };
            for (id, text) in &page {
                engine.index_ticket(
                    &mut index,
                    *id as u64,
                    TicketText {
                        title: None,
                        description: text,
                    },
                );
            }
            loaded += page.len();
        }
        self.ready.store(true, Ordering::Release);
        Ok(loaded)
    }

    /// The text's signature, computed outside the index lock (folding and hashing are the
    /// expensive part; the lock is held only to read or write the bands).
    pub fn signature(&self, engine: &Triage, ticket: TicketText<'_>) -> Option<Signature> {
        if !self.enabled {
            return None;
        }
        Signature::of(engine.nlp(), &joined(ticket))
    }

    /// The open ticket this text repeats, if the pair scorer is sure enough.
    pub async fn find(
        &self,
        engine: &Triage,
        store: &dyn Store,
        ticket: TicketText<'_>,
        signature: Option<&Signature>,
    ) -> Result<Option<Match>, StoreError> {
        let Some(signature) = signature else {
            return Ok(None);
        };
        if !self.ready.load(Ordering::Acquire) {
            return Ok(None);
        }
        let candidates: Vec<i64> = match self.index.read() {
            // Only candidates whose estimated overlap could reach the threshold are worth a
            // database read and a pair score: the scorer cannot call texts sharing less than
            // about half their character bigrams the same request.
            Ok(index) => index
                .query_signature(signature, CANDIDATES)
                .into_iter()
                .filter(|c| c.similarity >= MIN_SIMILARITY)
                .map(|c| c.id as i64)
                .collect(),
            Err(_) => return Ok(None),
        };
        if candidates.is_empty() {
            return Ok(None);
        }
        let texts = store.open_tickets_by_id(&candidates).await?;
        // The new text is prepared (folded, segmented) once, not once per candidate.
        let me = PairText::new(engine.nlp(), &joined(ticket));
        let scorer = &engine.models().pairs;
        let best = texts
            .into_iter()
            .map(|(_, number, other)| Match {
                score: scorer.score_prepared(&me, &PairText::new(engine.nlp(), &other)),
                number,
            })
            .max_by(|a, b| a.score.total_cmp(&b.score));
        Ok(best.filter(|m| m.score >= self.threshold))
    }

    pub fn add(&self, id: i64, signature: &Signature) {
        if let Ok(mut index) = self.index.write() {
            index.insert_signature(id as u64, signature);
        }
    }
}

fn joined(t: TicketText<'_>) -> String {
    match t.title {
        Some(title) => format!("{title}\n{}", t.description),
        None => t.description.to_owned(),
    }
}
