//! Where an index stands in the database's change feed.
//!
//! The feed is the timeline's ids. SQLite hands them out and commits them in order; on
//! PostgreSQL a sequence value is taken when a row is written and becomes visible when its
//! transaction commits, so id 41 can appear after id 42 was read — or never, when its
//! transaction rolled back. The cursor therefore remembers every id it skipped as a *gap*,
//! asks for those again on each pass, and gives a gap up only after `patience` (longer than
//! any write transaction of the service takes). What is persisted with the index is the
//! *watermark*: every id at or below it has been indexed, so a restart (or a crash) resumes
//! there and re-indexes the few tickets above it again, which is harmless.

use std::collections::BTreeMap;

/// At most this many gaps are remembered; past that the oldest are given up.
const MAX_GAPS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The highest id read.
    head: i64,
    /// Ids below `head` not seen yet, with when (ms) they were first missed.
    gaps: BTreeMap<i64, i64>,
}

impl Cursor {
    /// Resuming at a persisted watermark.
    pub fn at(watermark: i64) -> Self {
        Self {
            head: watermark,
            gaps: BTreeMap::new(),
        }
    }

    pub fn head(&self) -> i64 {
        self.head
    }

    /// Every id at or below this one has been read.
    pub fn watermark(&self) -> i64 {
        self.gaps.keys().next().map_or(self.head, |first| first - 1)
    }

    /// The gaps to ask for again.
    pub fn gaps(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }

    /// Takes in ids read after `head` (ascending) at time `now_ms`.
    pub fn advance(&mut self, ids: &[i64], now_ms: i64) {
        for &id in ids {
            if id <= self.head {
                self.gaps.remove(&id);
                continue;
            }
            // A long run of missing ids is one burst of rollbacks; remember at most the cap.
            let missing_from = (self.head + 1).max(id - MAX_GAPS as i64);
            for missing in missing_from..id {
                self.gaps.insert(missing, now_ms);
            }
            self.head = id;
        }
        while self.gaps.len() > MAX_GAPS {
            self.gaps.pop_first();
        }
    }

    /// Takes in gaps found on asking again, and gives up those older than `patience_ms`.
    pub fn fill(&mut self, found: &[i64], now_ms: i64, patience_ms: i64) {
        for id in found {
            self.gaps.remove(id);
        }
        self.gaps.retain(|_, since| now_ms - *since < patience_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_ids_move_the_watermark() {
        let mut c = Cursor::at(10);
        c.advance(&[11, 12, 13], 0);
        assert_eq!((c.head(), c.watermark()), (13, 13));
        assert!(c.gaps().is_empty());
    }

    #[test]
    fn a_late_commit_holds_the_watermark_until_it_is_seen() {
        let mut c = Cursor::at(0);
        c.advance(&[1, 2, 4, 5], 1_000);
        assert_eq!(c.gaps(), [3]);
        assert_eq!(c.watermark(), 2, "3 may still commit");
        c.fill(&[], 2_000, 60_000);
        assert_eq!(c.watermark(), 2);
        c.fill(&[3], 3_000, 60_000);
        assert_eq!(c.watermark(), 5);
    }

    #[test]
    fn a_rolled_back_id_is_given_up_after_the_patience() {
        let mut c = Cursor::at(0);
        c.advance(&[1, 3], 1_000);
        c.fill(&[], 60_999, 60_000);
        assert_eq!(c.watermark(), 1);
        c.fill(&[], 61_000, 60_000);
        assert_eq!(c.watermark(), 3);
    }

    #[test]
    fn an_id_below_the_head_arriving_in_a_later_read_fills_its_gap() {
        let mut c = Cursor::at(0);
        c.advance(&[2], 0);
        c.advance(&[1, 3], 10);
        assert_eq!(c.watermark(), 3);
    }

    #[test]
    fn a_huge_jump_remembers_a_bounded_number_of_gaps() {
        let mut c = Cursor::at(0);
        c.advance(&[1_000_000], 0);
        assert_eq!(c.gaps().len(), MAX_GAPS);
        assert_eq!(c.head(), 1_000_000);
        assert_eq!(c.watermark(), 1_000_000 - MAX_GAPS as i64 - 1);
    }
}
