//! Duplicate lookup: MinHash LSH over character shingles of the folded text (bigrams for
//! Chinese, trigrams for other scripts), 16 bands of 3 rows. Per ticket the index keeps its id,
//! a 48-byte b-bit (8-bit) MinHash signature for the similarity estimate, and one `(key, slot)`
//! entry per band — about 200 bytes. Bands are sorted arrays plus a small unsorted tail merged
//! in batches, and each band bucket is read only up to a cap (newest first), so lookups stay
//! fast even when many tickets share wording.
//!
//! The index estimates Jaccard similarity; the finer check with the trained [`PairScorer`]
//! needs the candidates' texts and is done by [`crate::Triage::find_duplicates`].
//!
//! [`PairScorer`]: crate::PairScorer

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::features::mix;
use crate::text::{Folded, Nlp, is_han};

const BANDS: usize = 16;
const ROWS: usize = 3;
const K: usize = BANDS * ROWS;
const DEAD: u64 = u64::MAX;
/// Characters of the folded text used for shingles.
const MAX_SHINGLE_CHARS: usize = 600;

/// A hasher for `u64` keys that are already well spread after mixing.
#[derive(Default, Clone, Copy)]
pub struct MixHasher(u64);
impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u32(&mut self, n: u32) {
        self.0 ^= u64::from(n);
    }
}
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<MixHasher>>;

/// Tuning of the index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexOptions {
    /// At most this many entries are read from one band bucket per query.
    pub max_bucket: usize,
    /// Candidates below this estimated Jaccard similarity are not returned.
    pub min_similarity: f32,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            max_bucket: 16,
            min_similarity: 0.2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: u64,
    /// Estimated Jaccard similarity of the shingle sets, 0..1.
    pub similarity: f32,
}

#[derive(Debug, Default, Clone)]
struct Band {
    main: Vec<(u32, u32)>,
    /// Entries since the last merge, by key: a query looks its keys up instead of scanning.
    pending: FastMap<u32, Vec<u32>>,
    pending_len: usize,
}

/// MinHash signature of a text: full values (for band keys) and the stored low bytes.
pub struct Signature {
    mins: [u64; K],
}

impl Signature {
    /// `None` when nothing is left to compare after normalisation.
    pub fn of(nlp: &Nlp, text: &str) -> Option<Self> {
        Self::of_folded(&nlp.fold(text))
    }

    /// The signature of a text already folded (callers that also score pairs fold once).
    pub fn of_folded(folded: &Folded) -> Option<Self> {
        let chars: Vec<char> = folded
            .folded
            .chars()
            .filter(|c| c.is_alphanumeric())
            .take(MAX_SHINGLE_CHARS)
            .collect();
        if chars.is_empty() {
            return None;
        }
        let mut shingles: Vec<u64> = Vec::with_capacity(chars.len());
        if chars.len() < 3 {
            shingles.push(
                chars
                    .iter()
                    .fold(7u64, |h, c| mix(h ^ u64::from(u32::from(*c)))),
            );
        }
        for i in 0..chars.len() {
            let c0 = u64::from(u32::from(chars[i]));
            if is_han(chars[i]) {
                if let Some(c1) = chars.get(i + 1) {
                    shingles.push(mix(c0 << 21 | u64::from(u32::from(*c1))));
                }
            } else if let (Some(c1), Some(c2)) = (chars.get(i + 1), chars.get(i + 2)) {
                shingles.push(mix(1 << 63
                    | c0 << 42
                    | u64::from(u32::from(*c1)) << 21
                    | u64::from(u32::from(*c2))));
            }
        }
        shingles.sort_unstable();
        shingles.dedup();
        let mut mins = [u64::MAX; K];
        for s in &shingles {
            for (k, m) in mins.iter_mut().enumerate() {
                let v = mix(s ^ SEEDS[k]);
                if v < *m {
                    *m = v;
                }
            }
        }
        Some(Self { mins })
    }

    fn band_key(&self, b: usize) -> u32 {
        let r = &self.mins[b * ROWS..(b + 1) * ROWS];
        (mix(r[0] ^ r[1].rotate_left(21) ^ r[2].rotate_left(42) ^ b as u64) >> 32) as u32
    }

    fn bytes(&self) -> [u8; K] {
        let mut out = [0u8; K];
        for (o, m) in out.iter_mut().zip(&self.mins) {
            *o = (*m & 0xff) as u8;
        }
        out
    }

    /// Estimated Jaccard similarity between two signatures' stored bytes.
    fn estimate(a: &[u8], b: &[u8]) -> f32 {
        let same = equal_bytes(a, b) as f32 / K as f32;
        ((same - 1.0 / 256.0) / (1.0 - 1.0 / 256.0)).max(0.0)
    }
}

/// How many positions hold the same byte, eight at a time: a query compares up to a thousand
/// stored signatures, and the byte-by-byte loop was most of its cost.
fn equal_bytes(a: &[u8], b: &[u8]) -> u32 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut same = 0;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .filter(|(x, y)| x == y)
        .count() as u32;
    for (x, y) in ca.zip(cb) {
        let mut wx = [0u8; 8];
        let mut wy = [0u8; 8];
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        let d = u64::from_le_bytes(wx) ^ u64::from_le_bytes(wy);
        // High bit of each byte set exactly when that byte of `d` is zero.
        let zero = !(((d & LOW7) + LOW7) | d | LOW7);
        same += zero.count_ones();
    }
    same + tail
}

const SEEDS: [u64; K] = {
    let mut s = [0u64; K];
    let mut i = 0;
    let mut x: u64 = 0x1234_5678_9abc_def1;
    while i < K {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        s[i] = z ^ (z >> 31);
        i += 1;
    }
    s
};

/// The duplicate index. Not internally synchronised: wrap it in a lock on the server.
#[derive(Debug, Clone, Default)]
pub struct DuplicateIndex {
    options: IndexOptions,
    ids: Vec<u64>,
    sigs: Vec<u8>,
    slot_of: FastMap<u64, u32>,
    bands: Vec<Band>,
    dead: usize,
}

fn grow<T>(v: &mut Vec<T>, extra: usize) {
    if v.len() + extra > v.capacity() {
        // Grow by a quarter instead of doubling, to keep bytes per ticket predictable.
        v.reserve_exact((v.len() / 4).max(1024).max(extra));
    }
}

impl DuplicateIndex {
    pub fn new(options: IndexOptions) -> Self {
        Self {
            options,
            bands: vec![Band::default(); BANDS],
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.slot_of.contains_key(&id)
    }

    /// Indexes (or re-indexes) a ticket. Returns false when the text has nothing to index.
    pub fn insert(&mut self, nlp: &Nlp, id: u64, text: &str) -> bool {
        match Signature::of(nlp, text) {
            Some(sig) => {
                self.insert_signature(id, &sig);
                true
            }
            None => {
                self.remove(id);
                false
            }
        }
    }

    /// Indexes a precomputed signature (lets callers compute signatures on other threads).
    pub fn insert_signature(&mut self, id: u64, sig: &Signature) {
        if self.bands.len() != BANDS {
            self.bands = vec![Band::default(); BANDS];
        }
        self.remove(id);
        let slot = self.ids.len() as u32;
        grow(&mut self.ids, 1);
        grow(&mut self.sigs, K);
        self.ids.push(id);
        self.sigs.extend_from_slice(&sig.bytes());
        self.slot_of.insert(id, slot);
        let live = self.ids.len();
        for (b, band) in self.bands.iter_mut().enumerate() {
            band.pending.entry(sig.band_key(b)).or_default().push(slot);
            band.pending_len += 1;
            if band.pending_len >= pending_limit(live) {
                merge(band);
            }
        }
    }

    /// Removes a ticket; returns whether it was indexed. Space is reclaimed in batches.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(slot) = self.slot_of.remove(&id) else {
            return false;
        };
        self.ids[slot as usize] = DEAD;
        self.dead += 1;
        if self.dead > 1024 && self.dead * 4 > self.ids.len() {
            self.compact();
        }
        true
    }

    /// Drops removed tickets and renumbers slots.
    fn compact(&mut self) {
        let mut remap = vec![u32::MAX; self.ids.len()];
        let mut ids = Vec::with_capacity(self.slot_of.len());
        let mut sigs = Vec::with_capacity(self.slot_of.len() * K);
        for (old, id) in self.ids.iter().enumerate() {
            if *id != DEAD {
                remap[old] = ids.len() as u32;
                ids.push(*id);
                sigs.extend_from_slice(&self.sigs[old * K..(old + 1) * K]);
            }
        }
        for band in &mut self.bands {
            merge(band);
            let mut main: Vec<(u32, u32)> = Vec::with_capacity(ids.len());
            main.extend(
                band.main
                    .iter()
                    .filter(|(_, s)| remap[*s as usize] != u32::MAX)
                    .map(|(k, s)| (*k, remap[*s as usize])),
            );
            band.main = main;
        }
        for (i, id) in ids.iter().enumerate() {
            self.slot_of.insert(*id, i as u32);
        }
        self.ids = ids;
        self.sigs = sigs;
        self.dead = 0;
    }

    /// Up to `k` indexed tickets most similar to `text`, best first.
    pub fn query(&self, nlp: &Nlp, text: &str, k: usize) -> Vec<Candidate> {
        match Signature::of(nlp, text) {
            Some(sig) => self.query_signature(&sig, k),
            None => Vec::new(),
        }
    }

    pub fn query_signature(&self, sig: &Signature, k: usize) -> Vec<Candidate> {
        let cap = self.options.max_bucket.max(1);
        let mut slots: Vec<u32> = Vec::with_capacity(BANDS * 8);
        for (b, band) in self.bands.iter().enumerate() {
            let key = sig.band_key(b);
            // Newest first: slots grow with insertion order, so the newest `cap` entries of the
            // bucket sit just before its end. Walking back from there reads adjacent memory; a
            // second binary search for the bucket's start missed the cache at every step.
            let hi = band.main.partition_point(|e| e.0 <= key);
            let newest = band.main[hi.saturating_sub(cap)..hi]
                .iter()
                .rev()
                .take_while(|e| e.0 == key);
            slots.extend(newest.map(|e| e.1));
            if let Some(recent) = band.pending.get(&key) {
                slots.extend(&recent[recent.len().saturating_sub(cap)..]);
            }
        }
        slots.sort_unstable();
        slots.dedup();
        let q = sig.bytes();
        let mut out: Vec<Candidate> = slots
            .into_iter()
            .filter_map(|s| {
                let s = s as usize;
                let id = *self.ids.get(s)?;
                if id == DEAD {
                    return None;
                }
                let similarity = Signature::estimate(&q, &self.sigs[s * K..(s + 1) * K]);
                (similarity >= self.options.min_similarity).then_some(Candidate { id, similarity })
            })
            .collect();
        out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(b.id.cmp(&a.id)));
        out.truncate(k);
        out
    }

    /// Bytes held by the index (capacities, not just lengths), for sizing.
    pub fn memory_bytes(&self) -> usize {
        let bands: usize = self
            .bands
            .iter()
            .map(|b| b.main.capacity() * 8 + b.pending_len * 4 + b.pending.capacity() * 32)
            .sum();
        let map_buckets = (self.slot_of.capacity() * 8 / 7 + 1).next_power_of_two();
        self.ids.capacity() * 8 + self.sigs.capacity() + bands + map_buckets * (16 + 1)
    }
}

fn pending_limit(live: usize) -> usize {
    (live / 128).clamp(2048, 16_384)
}

fn merge(band: &mut Band) {
    if band.pending_len == 0 {
        return;
    }
    let mut pending: Vec<(u32, u32)> = Vec::with_capacity(band.pending_len);
    for (key, slots) in band.pending.drain() {
        pending.extend(slots.into_iter().map(|s| (key, s)));
    }
    band.pending_len = 0;
    pending.sort_unstable();
    let mut out = Vec::with_capacity(band.main.len() + pending.len());
    let (mut i, mut j) = (0, 0);
    while i < band.main.len() && j < pending.len() {
        if band.main[i] <= pending[j] {
            out.push(band.main[i]);
            i += 1;
        } else {
            out.push(pending[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&band.main[i..]);
    out.extend_from_slice(&pending[j..]);
    band.main = out;
}

/// Groups ids connected by duplicate edges (union-find), largest group first; singletons are
/// left out.
pub fn clusters(edges: impl IntoIterator<Item = (u64, u64)>) -> Vec<Vec<u64>> {
    let mut index: FastMap<u64, usize> = FastMap::default();
    let mut ids: Vec<u64> = Vec::new();
    let mut parent: Vec<usize> = Vec::new();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut node = |id: u64, ids: &mut Vec<u64>, parent: &mut Vec<usize>| -> usize {
        *index.entry(id).or_insert_with(|| {
            ids.push(id);
            parent.push(parent.len());
            parent.len() - 1
        })
    };
    for (a, b) in edges {
        let x = node(a, &mut ids, &mut parent);
        let y = node(b, &mut ids, &mut parent);
        let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
        if rx != ry {
            parent[rx.max(ry)] = rx.min(ry);
        }
    }
    let mut groups: FastMap<usize, Vec<u64>> = FastMap::default();
    for (i, id) in ids.iter().enumerate() {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(*id);
    }
    let mut out: Vec<Vec<u64>> = groups.into_values().filter(|g| g.len() > 1).collect();
    for g in &mut out {
        g.sort_unstable();
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn equal_bytes_counts_like_a_byte_loop(
            pairs in proptest::collection::vec((0u8..4, 0u8..4), 0..60),
        ) {
            let (a, b): (Vec<u8>, Vec<u8>) = pairs.into_iter().unzip();
            let slow = a.iter().zip(&b).filter(|(x, y)| x == y).count() as u32;
            proptest::prop_assert_eq!(equal_bytes(&a, &b), slow);
        }
    }

    fn nlp() -> Nlp {
        match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn finds_near_duplicates_across_scripts_and_forgets_removed() {
        let n = nlp();
        let mut idx = DuplicateIndex::new(IndexOptions::default());
        assert!(idx.insert(
            &n,
            1,
            "我的账号被盗了，绑定的手机号也被改了，请尽快帮我处理"
        ));
        assert!(idx.insert(&n, 2, "快递一周了还没送到，物流信息一直不更新"));
        assert!(idx.insert(
            &n,
            3,
            "The checkout page won't load, it shows a blank screen"
        ));
        assert!(!idx.insert(&n, 4, "😡😡!!"));
        assert_eq!(idx.len(), 3);
        let hits = idx.query(
            &n,
            "我的帳號被盜了，綁定的手機號也被改了，請盡快幫我處理！",
            5,
        );
        assert_eq!(hits.first().map(|c| c.id), Some(1));
        assert!(hits[0].similarity > 0.8);
        let en = idx.query(
            &n,
            "the checkout page won't load and shows a blank screen",
            5,
        );
        assert_eq!(en.first().map(|c| c.id), Some(3));
        assert!(idx.remove(1));
        assert!(!idx.remove(1));
        assert!(
            idx.query(
                &n,
                "我的账号被盗了，绑定的手机号也被改了，请尽快帮我处理",
                5
            )
            .is_empty()
        );
        assert!(idx.query(&n, "", 5).is_empty());
    }

    #[test]
    fn reinsert_replaces_and_compaction_keeps_results() {
        let n = nlp();
        let mut idx = DuplicateIndex::new(IndexOptions::default());
        for i in 0..3000u64 {
            idx.insert(
                &n,
                i,
                &format!("订单{i}号的退款一直没有到账，请帮忙查一下原因 {}", i * 7919),
            );
        }
        for i in 0..2000u64 {
            idx.remove(i);
        }
        assert_eq!(idx.len(), 1000);
        let hits = idx.query(
            &n,
            "订单2500号的退款一直没有到账，请帮忙查一下原因 19797500",
            3,
        );
        assert_eq!(hits.first().map(|c| c.id), Some(2500));
        idx.insert(&n, 2500, "completely different text about shipping delays");
        let hits = idx.query(
            &n,
            "订单2500号的退款一直没有到账，请帮忙查一下原因 19797500",
            3,
        );
        assert!(hits.iter().all(|c| c.id != 2500 || c.similarity < 0.5));
        assert!(idx.memory_bytes() > 0);
    }

    #[test]
    fn clusters_join_transitively() {
        let c = clusters([(1, 2), (2, 3), (10, 11), (4, 4)]);
        assert_eq!(c, vec![vec![1, 2, 3], vec![10, 11]]);
    }
}
