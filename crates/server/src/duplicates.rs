//! Duplicate detection at intake: the triage engine's MinHash index over the recent open
//! tickets, kept in memory by each instance (about 250 bytes a ticket; rebuilt from the
//! database at start), and the pair scorer to confirm a candidate before a ticket is registered
//! as a duplicate. Descriptions are compared, not titles: most titles are made from their
//! description, and a generated title repeated in front of it would make the same text look
//! different.
//!
//! The index holds the open tickets of the last `duplicate_window_days` (at most
//! `duplicate_index_max`, oldest dropped first): people repeat what is current, and an index
//! over every open ticket ever made grows without bound (351 MiB at a million tickets).

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use closedloop_domain::TicketNumber;
use closedloop_store::{NewTicket, Store, StoreError};
use closedloop_triage::dedup::Signature;
use closedloop_triage::text::Folded;
use closedloop_triage::{DuplicateIndex, IndexOptions, PairText, Triage};

use crate::Config;

/// Ids below the highest seen that every catch-up reads again (see [`Duplicates::catch_up`]).
const FOLLOW_OVERLAP: i64 = 1_000;

const CANDIDATES: usize = 4;
const MIN_SIMILARITY: f32 = 0.4;
/// Prepared texts of recent candidates. Repeats cluster around a few hot issues, so a small
/// cache saves most database reads and most of the text preparation.
const PREPARED: usize = 4096;
/// How long a cached candidate is trusted to be open without asking the database again:
/// another instance may close it meanwhile (this instance forgets it at once).
const PREPARED_TTL: Duration = Duration::from_secs(10);

/// A registered ticket the new one repeats.
#[derive(Debug, Clone)]
pub struct Match {
    pub number: TicketNumber,
    pub score: f32,
}

/// What a new ticket's check computed, kept to index the ticket once it is registered.
pub struct Probe {
    signature: Signature,
    /// Prepared when the text had candidates: a text in a busy neighbourhood is likely to be
    /// the next one's candidate, and the cache then saves a read and a preparation.
    text: Option<Arc<PairText>>,
}

struct Prepared {
    number: TicketNumber,
    text: Arc<PairText>,
    fetched: Instant,
}

struct Window {
    /// Indexed tickets in id order with their creation time, for dropping the oldest.
    order: VecDeque<(i64, DateTime<Utc>)>,
}

pub struct Duplicates {
    index: RwLock<DuplicateIndex>,
    window: Mutex<Window>,
    prepared: Mutex<lru::LruCache<i64, Prepared>>,
    ready: AtomicBool,
    /// The highest ticket id read from the database: catching up reads from a little below it.
    followed: AtomicI64,
    threshold: f32,
    enabled: bool,
    window_days: u32,
    max_indexed: usize,
}

impl Duplicates {
    pub fn new(config: &Config) -> Self {
        Self {
            index: RwLock::new(DuplicateIndex::new(IndexOptions::default())),
            window: Mutex::new(Window {
                order: VecDeque::new(),
            }),
            prepared: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(PREPARED).unwrap_or(NonZeroUsize::MIN),
            )),
            ready: AtomicBool::new(false),
            followed: AtomicI64::new(0),
            threshold: config.duplicate_threshold,
            enabled: config.duplicate_detection,
            window_days: config.duplicate_window_days,
            max_indexed: config.duplicate_index_max,
        }
    }

    fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::days(i64::from(self.window_days))
    }

    /// Indexes the open tickets of the window not indexed yet: all of them the first time,
    /// then those registered since, on this instance or on another one sharing the database.
    /// The service answers meanwhile; until the first pass is done, new tickets are not checked.
    /// Returns how many tickets it added.
    pub async fn catch_up(
        &self,
        engine: &Triage,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        if !self.enabled {
            return Ok(0);
        }
        let since = self.cutoff(now);
        // On PostgreSQL a ticket can commit after others with higher ids (another instance's
        // batch was slower): each pass reads again a stretch of ids below the highest seen.
        let mut after = (self.followed.load(Ordering::Acquire) - FOLLOW_OVERLAP).max(0);
        let mut added = 0;
        loop {
            let page = store.open_ticket_texts(after, since, 5_000).await?;
            let Some((last, _, _)) = page.last() else {
                break;
            };
            after = *last;
            let known = |id: i64| self.index.read().is_ok_and(|i| i.contains(id as u64));
            // Signatures are computed before the lock: the index keeps answering meanwhile.
            let signed: Vec<(i64, DateTime<Utc>, Signature)> = page
                .into_iter()
                .filter(|(id, _, _)| !known(*id))
                .filter_map(|(id, at, text)| {
                    Signature::of(engine.nlp(), &text).map(|sig| (id, at, sig))
                })
                .collect();
            for (id, at, sig) in &signed {
                added += usize::from(self.insert(*id, *at, sig, now));
            }
        }
        self.followed.fetch_max(after, Ordering::AcqRel);
        self.ready.store(true, Ordering::Release);
        Ok(added)
    }

    pub fn len(&self) -> usize {
        self.index.read().map_or(0, |i| i.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks for an open ticket the new one repeats; a match is recorded on the ticket (its
    /// `duplicate_of` and the triage record). Returns what is needed to index the ticket.
    pub async fn check(
        &self,
        engine: &Triage,
        store: &dyn Store,
        new: &mut NewTicket,
    ) -> Result<Option<Probe>, StoreError> {
        if !self.enabled {
            return Ok(None);
        }
        // Folded once for both the signature and the pair scorer.
        let folded = engine.nlp().fold(new.description.as_str());
        let Some(signature) = Signature::of_folded(&folded) else {
            return Ok(None);
        };
        let (found, text) = self.find(engine, store, &folded, &signature).await?;
        if let Some(m) = found {
            crate::triage::note_duplicate(new, &m);
            new.duplicate_of = Some(m.number);
        }
        Ok(Some(Probe { signature, text }))
    }

    /// Indexes a ticket just registered, unless it was registered as a duplicate (its
    /// original stands for the cluster).
    pub fn registered(&self, probe: Option<Probe>, ticket: &closedloop_store::Ticket) {
        if let Some(probe) = probe
            && ticket.duplicate_of.is_none()
        {
            let _ = self.insert(
                ticket.id,
                ticket.created_at,
                &probe.signature,
                ticket.created_at,
            );
            if let (Some(text), Ok(mut cache)) = (probe.text, self.prepared.lock()) {
                cache.put(
                    ticket.id,
                    Prepared {
                        number: ticket.number.clone(),
                        text,
                        fetched: Instant::now(),
                    },
                );
            }
        }
    }

    /// Ids of indexed open tickets whose text resembles `description` (MinHash estimate at
    /// least the candidate floor), best first: the workspace's duplicate candidates.
    pub fn similar_open(&self, engine: &Triage, description: &str, k: usize) -> Vec<i64> {
        if !self.enabled {
            return Vec::new();
        }
        let Ok(index) = self.index.read() else {
            return Vec::new();
        };
        index
            .query(engine.nlp(), description, k)
            .into_iter()
            .filter(|c| c.similarity >= MIN_SIMILARITY)
            .filter_map(|c| i64::try_from(c.id).ok())
            .collect()
    }

    /// Drops what this instance remembers of a ticket's text and state (it changed status or
    /// text); the index itself re-checks openness when a candidate is read again.
    pub fn forget(&self, id: i64) {
        if let Ok(mut cache) = self.prepared.lock() {
            cache.pop(&id);
        }
    }

    async fn find(
        &self,
        engine: &Triage,
        store: &dyn Store,
        folded: &Folded,
        signature: &Signature,
    ) -> Result<(Option<Match>, Option<Arc<PairText>>), StoreError> {
        if !self.ready.load(Ordering::Acquire) {
            return Ok((None, None));
        }
        let candidates: Vec<i64> = match self.index.read() {
            // Only candidates whose estimated overlap could reach the threshold are worth a
            // read and a pair score: the scorer cannot call texts sharing less than about half
            // their character bigrams the same request. Best estimate first.
            Ok(index) => index
                .query_signature(signature, CANDIDATES)
                .into_iter()
                .filter(|c| c.similarity >= MIN_SIMILARITY)
                .map(|c| c.id as i64)
                .collect(),
            Err(_) => return Ok((None, None)),
        };
        if candidates.is_empty() {
            return Ok((None, None));
        }
        let texts = self.prepared_texts(engine, store, &candidates).await?;
        let me = PairText::from_folded(engine.nlp(), folded);
        let scorer = &engine.models().pairs;
        // The first candidate the scorer confirms is the original: candidates come in order
        // of estimated similarity, and the rest need not be scored.
        let found = candidates.iter().find_map(|id| {
            let (number, text) = texts
                .iter()
                .find(|(i, _, _)| i == id)
                .map(|(_, n, t)| (n, t))?;
            let score = scorer.score_prepared(&me, text);
            (score >= self.threshold).then(|| Match {
                number: number.clone(),
                score,
            })
        });
        Ok((found, Some(Arc::new(me))))
    }

    /// The candidates still open with their prepared texts, from the cache where fresh.
    async fn prepared_texts(
        &self,
        engine: &Triage,
        store: &dyn Store,
        ids: &[i64],
    ) -> Result<Vec<(i64, TicketNumber, Arc<PairText>)>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        if let Ok(mut cache) = self.prepared.lock() {
            for id in ids {
                match cache.get(id) {
                    Some(p) if p.fetched.elapsed() < PREPARED_TTL => {
                        found.push((*id, p.number.clone(), p.text.clone()));
                    }
                    _ => missing.push(*id),
                }
            }
        } else {
            missing.extend_from_slice(ids);
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let fetched = Instant::now();
        let rows = store.open_tickets_by_id(&missing).await?;
        let fresh: Vec<(i64, TicketNumber, Arc<PairText>)> = rows
            .into_iter()
            .map(|(id, number, text)| (id, number, Arc::new(PairText::new(engine.nlp(), &text))))
            .collect();
        if let Ok(mut cache) = self.prepared.lock() {
            for id in &missing {
                cache.pop(id);
            }
            for (id, number, text) in &fresh {
                cache.put(
                    *id,
                    Prepared {
                        number: number.clone(),
                        text: text.clone(),
                        fetched,
                    },
                );
            }
        }
        found.extend(fresh);
        Ok(found)
    }

    /// Whether it was added (not already there, not too old).
    fn insert(&self, id: i64, created: DateTime<Utc>, sig: &Signature, now: DateTime<Utc>) -> bool {
        let cutoff = self.cutoff(now);
        let Ok(mut window) = self.window.lock() else {
            return false;
        };
        let Ok(mut index) = self.index.write() else {
            return false;
        };
        if created < cutoff || index.contains(id as u64) {
            return false;
        }
        index.insert_signature(id as u64, sig);
        window.order.push_back((id, created));
        while let Some(&(old, at)) = window.order.front() {
            if at >= cutoff && window.order.len() <= self.max_indexed {
                break;
            }
            window.order.pop_front();
            index.remove(old as u64);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn duplicates(window_days: u32, max_indexed: usize) -> Duplicates {
        Duplicates::new(&Config {
            duplicate_window_days: window_days,
            duplicate_index_max: max_indexed,
            ..Config::default()
        })
    }

    #[test]
    fn the_index_keeps_only_the_window_and_drops_the_oldest_beyond_the_cap() {
        let engine = crate::triage::Engine::seed().unwrap().current();
        let d = duplicates(30, 1_000);
        let sig = Signature::of(engine.nlp(), "退款一直没有到账 refund never arrived").unwrap();
        let now = Utc::now();
        // Too old for the window: not indexed at all.
        d.insert(1, now - chrono::Duration::days(31), &sig, now);
        assert_eq!(d.len(), 0);
        for id in 10..1_210 {
            d.insert(id, now, &sig, now);
        }
        assert_eq!(d.len(), 1_000);
        let index = d.index.read().unwrap();
        assert!(!index.contains(10) && !index.contains(209));
        assert!(index.contains(210) && index.contains(1_209));
        drop(index);
        // Time passes: the next insert drops what left the window.
        let later = now + chrono::Duration::days(31);
        d.insert(5_000, later, &sig, later);
        assert_eq!(d.len(), 1);
    }
}
