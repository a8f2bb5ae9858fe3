//! Duplicate-pair scoring: logistic regression over pair features — character uni/bi/trigram
//! Jaccard, word Jaccard and containment, length ratio, LCS and edit ratios, number and negation
//! mismatch, word-order agreement (for adversarial paraphrases whose words are the same but
//! whose order differs) — plus hashed "words only one side has" features, which learn that
//! 花呗 vs 借呗 matters while 请问 vs 你好 does not. The decision threshold is chosen on
//! out-of-fold predictions over the training pairs.

use serde::{Deserialize, Serialize};

use crate::TriageError;
use crate::features::{hash_str, mix};
use crate::linear::Rng;
use crate::text::{Folded, Nlp, TokenKind};

/// Longer texts are compared on their first this many characters.
const MAX_PAIR_CHARS: usize = 256;
const SPARSE_BITS: u32 = 20;
const N_DENSE: usize = 20;
const N_BINS: usize = 8;

/// A text prepared once for pair comparison.
#[derive(Debug, Clone)]
pub struct PairText {
    chars: Vec<char>,
    uni: Vec<u64>,
    bi: Vec<u64>,
    tri: Vec<u64>,
    words: Vec<u64>,
    word_seq: Vec<u64>,
    word_bi: Vec<u64>,
    numbers: Vec<u64>,
    negations: u32,
}

const NEGATORS_ZH: &[&str] = &[
    "不", "没", "没有", "未", "无", "别", "非", "不是", "不能", "不会",
];
const NEGATORS_EN: &[&str] = &[
    "not", "no", "never", "don't", "dont", "doesn't", "didn't", "isn't", "wasn't", "can't",
    "cannot", "won't", "aren't", "without",
];

fn sorted_dedup(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v.dedup();
    v
}

impl PairText {
    pub fn new(nlp: &Nlp, text: &str) -> Self {
        Self::from_folded(nlp, &nlp.fold(text))
    }

    /// The prepared form of a text already folded with `nlp`.
    pub fn from_folded(nlp: &Nlp, folded: &Folded) -> Self {
        let chars: Vec<char> = folded
            .folded
            .chars()
            .filter(|c| c.is_alphanumeric())
            .take(MAX_PAIR_CHARS)
            .collect();
        let cu: Vec<u64> = chars.iter().map(|&c| u64::from(u32::from(c))).collect();
        let uni = sorted_dedup(cu.clone());
        let bi = sorted_dedup(cu.windows(2).map(|w| w[0] << 21 | w[1]).collect());
        let tri = sorted_dedup(
            cu.windows(3)
                .map(|w| w[0] << 42 | w[1] << 21 | w[2])
                .collect(),
        );
        let mut word_seq = Vec::new();
        let mut numbers = Vec::new();
        let mut negations = 0;
        for t in nlp.tokens(&folded.folded).iter().take(MAX_PAIR_CHARS) {
            let h = hash_str(11, t.text);
            if t.kind == TokenKind::Number {
                numbers.push(h);
            }
            if (t.kind == TokenKind::Han && NEGATORS_ZH.contains(&t.text))
                || (t.kind == TokenKind::Latin && NEGATORS_EN.contains(&t.text))
            {
                negations += 1;
            }
            word_seq.push(h);
        }
        let word_bi = sorted_dedup(
            word_seq
                .windows(2)
                .map(|w| mix(w[0] ^ w[1].rotate_left(7)))
                .collect(),
        );
        Self {
            chars,
            uni,
            bi,
            tri,
            words: sorted_dedup(word_seq.clone()),
            word_seq,
            word_bi,
            numbers: sorted_dedup(numbers),
            negations,
        }
    }
}

fn intersect(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

fn jaccard(a: &[u64], b: &[u64]) -> f32 {
    let i = intersect(a, b);
    let u = a.len() + b.len() - i;
    if u == 0 { 1.0 } else { i as f32 / u as f32 }
}

/// Character-bigram Jaccard, the baseline similarity.
pub fn bigram_jaccard(a: &PairText, b: &PairText) -> f32 {
    jaccard(&a.bi, &b.bi)
}

/// Longest common subsequence length. Bit-parallel (rapidfuzz): the quadratic table made these
/// two measures most of the cost of a duplicate check.
fn lcs<T: rapidfuzz::HashableChar + Copy + PartialEq>(a: &[T], b: &[T]) -> usize {
    rapidfuzz::distance::lcs_seq::similarity(a.iter().copied(), b.iter().copied())
}

/// Unit-cost edit distance, bit-parallel like [`lcs`].
fn levenshtein(a: &[char], b: &[char]) -> usize {
    rapidfuzz::distance::levenshtein::distance(a.iter().copied(), b.iter().copied())
}

/// The dense pair features, each roughly in 0..1.
pub fn dense_features(a: &PairText, b: &PairText) -> [f32; N_DENSE] {
    let (la, lb) = (a.chars.len() as f32, b.chars.len() as f32);
    let (lmin, lmax) = (la.min(lb), la.max(lb).max(1.0));
    let wi = intersect(&a.words, &b.words) as f32;
    let (wa, wb) = (a.words.len() as f32, b.words.len() as f32);
    let uni = jaccard(&a.uni, &b.uni);
    let bi = jaccard(&a.bi, &b.bi);
    let lcs_c = lcs(&a.chars, &b.chars) as f32;
    let lcs_w = lcs(&a.word_seq, &b.word_seq) as f32;
    let edit = levenshtein(&a.chars, &b.chars) as f32;
    let num_mismatch = (!a.numbers.is_empty() || !b.numbers.is_empty()) && a.numbers != b.numbers;
    let shared_seq_min = a.word_seq.len().min(b.word_seq.len()).max(1) as f32;
    let order = order_features(&a.word_seq, &b.word_seq);
    [
        uni,
        bi,
        jaccard(&a.tri, &b.tri),
        jaccard(&a.words, &b.words),
        wi / wa.min(wb).max(1.0),
        wi / wa.max(wb).max(1.0),
        lmin / lmax,
        ((la + 1.0) / (lb + 1.0)).ln().abs().min(3.0) / 3.0,
        lcs_c / lmax,
        1.0 - edit / lmax,
        f32::from(u8::from(num_mismatch)),
        f32::from(u8::from(a.negations % 2 != b.negations % 2)),
        lcs_w / shared_seq_min,
        if uni > 0.0 { bi / uni } else { 0.0 },
        jaccard(&a.word_bi, &b.word_bi),
        // Same words, different order: high word overlap but low sequence agreement.
        (wi / wa.max(wb).max(1.0)) - lcs_w / (a.word_seq.len().max(b.word_seq.len()).max(1) as f32),
        lcs_c / lmin.max(1.0),
        order.0,
        order.1,
        order.2,
    ]
}

/// Word-order agreement of the words both sides share: (share of concordant pairs, mean and
/// max displacement of relative positions). Swapped entities show up here.
fn order_features(a: &[u64], b: &[u64]) -> (f32, f32, f32) {
    let pos_b = |w: u64| b.iter().position(|x| *x == w);
    let mut pairs: Vec<(f32, f32)> = Vec::new();
    for (i, w) in a.iter().enumerate() {
        if a[..i].contains(w) {
            continue;
        }
        if let Some(j) = pos_b(*w) {
            pairs.push((
                i as f32 / a.len().max(1) as f32,
                j as f32 / b.len().max(1) as f32,
            ));
        }
    }
    if pairs.len() < 2 {
        return (1.0, 0.0, 0.0);
    }
    let mut concordant = 0usize;
    let mut total = 0usize;
    for i in 0..pairs.len() {
        for j in i + 1..pairs.len() {
            total += 1;
            concordant += usize::from(pairs[j].1 > pairs[i].1);
        }
    }
    let disp: Vec<f32> = pairs.iter().map(|p| (p.0 - p.1).abs()).collect();
    (
        concordant as f32 / total.max(1) as f32,
        disp.iter().sum::<f32>() / disp.len() as f32,
        disp.iter().copied().fold(0.0, f32::max),
    )
}

/// Sparse features: hashed words only one side has, and pairs of such words.
fn sparse_features(a: &PairText, b: &PairText, out: &mut Vec<u32>) {
    let mask = (1u64 << SPARSE_BITS) - 1;
    let only = |x: &[u64], y: &[u64]| -> Vec<u64> {
        x.iter()
            .filter(|w| y.binary_search(w).is_err())
            .copied()
            .collect()
    };
    let da = only(&a.words, &b.words);
    let db = only(&b.words, &a.words);
    for w in da.iter().chain(&db) {
        out.push((mix(*w ^ 0xD1FF) & mask) as u32);
    }
    for x in da.iter().take(6) {
        for y in db.iter().take(6) {
            let (p, q) = if x < y { (*x, *y) } else { (*y, *x) };
            out.push((mix(p ^ q.rotate_left(29) ^ 0xC055) & mask) as u32);
        }
    }
    if da.is_empty() && db.is_empty() {
        out.push((mix(0x5A4E) & mask) as u32);
    }
}

/// Feature vector layout: dense, binned dense, then hashed sparse ids offset past them.
struct PairVec {
    dense: [f32; N_DENSE],
    sparse: Vec<u32>,
}

fn bins(dense: &[f32; N_DENSE], out: &mut Vec<u32>) {
    for (k, v) in dense.iter().enumerate() {
        let b = ((v.clamp(0.0, 0.999_9)) * N_BINS as f32) as usize;
        out.push((k * N_BINS + b) as u32);
    }
}

fn vectorise(a: &PairText, b: &PairText) -> PairVec {
    let dense = dense_features(a, b);
    let mut sparse = Vec::with_capacity(64);
    bins(&dense, &mut sparse);
    let off = (N_DENSE * N_BINS) as u32;
    let mut s = Vec::with_capacity(48);
    sparse_features(a, b, &mut s);
    sparse.extend(s.into_iter().map(|x| x + off));
    PairVec { dense, sparse }
}

/// Options for [`PairScorer::train`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairOptions {
    pub epochs: usize,
    pub l2: f32,
    pub learning_rate: f32,
    /// Use the hashed word-difference features…
    pub sparse: bool,
    /// …but only with at least this many training pairs (below, they overfit: 3-fold CV on
    /// the PAWS-X train file preferred dense-only features, AFQMC and STS-B sparse ones).
    pub sparse_min_pairs: usize,
    pub seed: u64,
}

impl Default for PairOptions {
    fn default() -> Self {
        Self {
            epochs: 3,
            l2: 1e-6,
            learning_rate: 0.1,
            sparse: true,
            sparse_min_pairs: 4_000,
            seed: 11,
        }
    }
}

/// A trained pair scorer with its decision threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairScorer {
    dense_w: Vec<f32>,
    /// Non-zero sparse weights as (id, weight), sorted by id.
    sparse_w: Vec<(u32, f32)>,
    bias: f32,
    threshold: f32,
}

struct Lr {
    dense: Vec<f32>,
    sparse: Vec<f32>,
    bias: f32,
    g_dense: Vec<f32>,
    g_sparse: Vec<f32>,
    g_bias: f32,
}

impl Lr {
    fn new(sparse_dim: usize) -> Self {
        Self {
            dense: vec![0.0; N_DENSE],
            sparse: vec![0.0; sparse_dim],
            bias: 0.0,
            g_dense: vec![1e-8; N_DENSE],
            g_sparse: vec![1e-8; sparse_dim],
            g_bias: 1e-8,
        }
    }
    fn score(&self, v: &PairVec) -> f32 {
        let mut s = self.bias;
        for (w, x) in self.dense.iter().zip(&v.dense) {
            s += w * x;
        }
        for &i in &v.sparse {
            s += self.sparse[i as usize];
        }
        s
    }
    fn fit(&mut self, data: &[(PairVec, bool)], rows: &[usize], opts: &PairOptions) {
        let mut order = rows.to_vec();
        let mut rng = Rng::new(opts.seed);
        let lr = opts.learning_rate;
        for _ in 0..opts.epochs {
            rng.shuffle(&mut order);
            for &r in &order {
                let (v, y) = &data[r];
                let p = sigmoid(self.score(v));
                let g = p - f32::from(u8::from(*y));
                for (k, x) in v.dense.iter().enumerate() {
                    let gk = g * x + opts.l2 * self.dense[k];
                    self.g_dense[k] += gk * gk;
                    self.dense[k] -= lr * gk / self.g_dense[k].sqrt();
                }
                for &i in &v.sparse {
                    let i = i as usize;
                    let gk = g + opts.l2 * self.sparse[i];
                    self.g_sparse[i] += gk * gk;
                    self.sparse[i] -= lr * gk / self.g_sparse[i].sqrt();
                }
                self.g_bias += g * g;
                self.bias -= lr * g / self.g_bias.sqrt();
            }
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The threshold maximising F1 over scored examples, and that F1.
pub fn best_f1_threshold(scored: &[(f32, bool)]) -> (f32, f32) {
    let mut v = scored.to_vec();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = v.iter().filter(|x| x.1).count() as f32;
    let (mut tp, mut fp) = (0.0f32, 0.0f32);
    let (mut best_f1, mut best_t) = (0.0f32, 0.5f32);
    for i in 0..v.len() {
        if v[i].1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // Only cut between distinct scores.
        if i + 1 < v.len() && v[i + 1].0 == v[i].0 {
            continue;
        }
        let f1 = 2.0 * tp / (tp + fp + positives).max(1.0);
        if f1 > best_f1 {
            best_f1 = f1;
            best_t = match v.get(i + 1) {
                Some(next) => (v[i].0 + next.0) / 2.0,
                None => v[i].0,
            };
        }
    }
    (best_t, best_f1)
}

impl PairScorer {
    /// Trains on labelled pairs (true = duplicate). The threshold is chosen on 2-fold
    /// out-of-fold predictions so it is not fitted to memorised training pairs.
    pub fn train(
        nlp: &Nlp,
        pairs: &[(bool, &str, &str)],
        opts: &PairOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self, TriageError> {
        if pairs.len() < 4 || pairs.iter().all(|p| p.0) || pairs.iter().all(|p| !p.0) {
            return Err(TriageError::Training(
                "need duplicate and non-duplicate pairs".into(),
            ));
        }
        let total = pairs.len() + 3;
        let mut data = Vec::with_capacity(pairs.len());
        for (i, (y, a, b)) in pairs.iter().enumerate() {
            let (pa, pb) = (PairText::new(nlp, a), PairText::new(nlp, b));
            let mut v = vectorise(&pa, &pb);
            if !opts.sparse || pairs.len() < opts.sparse_min_pairs {
                v.sparse.truncate(N_DENSE);
            }
            data.push((v, *y));
            if i % 1000 == 0 {
                progress(i, total);
            }
        }
        let dim = (N_DENSE * N_BINS) + (1usize << SPARSE_BITS);
        let mut order: Vec<usize> = (0..data.len()).collect();
        Rng::new(opts.seed).shuffle(&mut order);
        let half = order.len() / 2;
        let mut oof = Vec::with_capacity(data.len());
        for (fit, held) in [
            (&order[..half], &order[half..]),
            (&order[half..], &order[..half]),
        ] {
            let mut lr = Lr::new(dim);
            lr.fit(&data, fit, opts);
            oof.extend(
                held.iter()
                    .map(|&r| (sigmoid(lr.score(&data[r].0)), data[r].1)),
            );
            progress(pairs.len() + oof.len() / half.max(1), total);
        }
        let (threshold, _) = best_f1_threshold(&oof);
        let mut lr = Lr::new(dim);
        lr.fit(&data, &order, opts);
        progress(total, total);
        Ok(Self {
            dense_w: lr.dense,
            sparse_w: lr
                .sparse
                .iter()
                .enumerate()
                .filter(|(_, w)| w.abs() > 1e-4)
                .map(|(i, w)| (i as u32, *w))
                .collect(),
            bias: lr.bias,
            threshold,
        })
    }

    /// A scorer with hand-set weights on the dense features only, used until an administrator
    /// trains one on pairs agents marked as duplicates.
    pub fn untrained() -> Self {
        let mut dense_w = vec![0.0; N_DENSE];
        dense_w[1] = 4.0; // char bigram Jaccard
        dense_w[3] = 2.0; // word Jaccard
        dense_w[8] = 2.0; // LCS ratio
        dense_w[10] = -1.5; // numbers differ
        dense_w[11] = -1.5; // one side negated
        Self {
            dense_w,
            sparse_w: Vec::new(),
            bias: -4.0,
            threshold: 0.5,
        }
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    pub fn set_threshold(&mut self, t: f32) {
        self.threshold = t.clamp(0.0, 1.0);
    }

    /// Probability that the two prepared texts are the same request.
    pub fn score_prepared(&self, a: &PairText, b: &PairText) -> f32 {
        let v = vectorise(a, b);
        let mut s = self.bias;
        for (w, x) in self.dense_w.iter().zip(&v.dense) {
            s += w * x;
        }
        for i in &v.sparse {
            if let Ok(k) = self.sparse_w.binary_search_by_key(i, |p| p.0) {
                s += self.sparse_w[k].1;
            }
        }
        sigmoid(s)
    }

    pub fn score(&self, nlp: &Nlp, a: &str, b: &str) -> f32 {
        self.score_prepared(&PairText::new(nlp, a), &PairText::new(nlp, b))
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, TriageError> {
        postcard::to_stdvec(self).map_err(|e| TriageError::Model(e.to_string()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TriageError> {
        let s: Self = postcard::from_bytes(bytes).map_err(|e| TriageError::Model(e.to_string()))?;
        if s.dense_w.len() != N_DENSE || !s.sparse_w.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err(TriageError::Model("inconsistent pair scorer".into()));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {

    /// The textbook tables the bit-parallel versions must agree with (the trained scorer's
    /// features were computed with these).
    fn lcs_table<T: PartialEq>(a: &[T], b: &[T]) -> usize {
        let mut prev = vec![0usize; b.len() + 1];
        let mut cur = vec![0usize; b.len() + 1];
        for x in a {
            for (j, y) in b.iter().enumerate() {
                cur[j + 1] = if x == y {
                    prev[j] + 1
                } else {
                    prev[j + 1].max(cur[j])
                };
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        prev[b.len()]
    }

    fn levenshtein_table(a: &[char], b: &[char]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        let mut cur = vec![0; b.len() + 1];
        for (i, x) in a.iter().enumerate() {
            cur[0] = i + 1;
            for (j, y) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(x != y);
                cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        prev[b.len()]
    }

    proptest::proptest! {
        #[test]
        fn bit_parallel_measures_equal_the_tables(
            a in proptest::collection::vec(proptest::sample::select(vec!['a', 'b', 'c', '退', '款', '1']), 0..300),
            b in proptest::collection::vec(proptest::sample::select(vec!['a', 'b', 'c', '退', '款', '1']), 0..300),
        ) {
            proptest::prop_assert_eq!(lcs(&a, &b), lcs_table(&a, &b));
            proptest::prop_assert_eq!(levenshtein(&a, &b), levenshtein_table(&a, &b));
            let wa: Vec<u64> = a.iter().map(|c| u64::from(u32::from(*c)) * 0x9E37_79B9).collect();
            let wb: Vec<u64> = b.iter().map(|c| u64::from(u32::from(*c)) * 0x9E37_79B9).collect();
            proptest::prop_assert_eq!(lcs(&wa, &wb), lcs_table(&wa, &wb));
        }
    }
    use super::*;

    fn nlp() -> Nlp {
        match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn features_see_order_numbers_and_negation() {
        let n = nlp();
        let a = PairText::new(&n, "我的订单123没有发货");
        let b = PairText::new(&n, "我的訂單123沒有發貨");
        let f = dense_features(&a, &b);
        assert!(
            (f[0] - 1.0).abs() < 1e-6,
            "traditional folds to the same text"
        );
        let c = PairText::new(&n, "我的订单456已经发货");
        let g = dense_features(&a, &c);
        assert_eq!(g[10], 1.0);
        assert_eq!(g[11], 1.0);
        let empty = PairText::new(&n, "");
        let e = dense_features(&empty, &empty);
        assert!(e.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn best_threshold_separates() {
        let s = [(0.9, true), (0.8, true), (0.3, false), (0.2, false)];
        let (t, f1) = best_f1_threshold(&s);
        assert!(t > 0.3 && t < 0.8);
        assert!((f1 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn trains_on_small_pairs_and_round_trips() {
        let n = nlp();
        let base = [
            "怎么修改登录密码",
            "退款什么时候到账",
            "快递一直没有送到",
            "app打开就闪退",
            "how do i change my password",
            "my refund has not arrived",
        ];
        let mut pairs: Vec<(bool, String, String)> = Vec::new();
        for (i, a) in base.iter().enumerate() {
            pairs.push((true, (*a).to_string(), format!("{a}啊")));
            pairs.push((true, (*a).to_string(), format!("请问{a}")));
            pairs.push((
                false,
                (*a).to_string(),
                base[(i + 1) % base.len()].to_string(),
            ));
            pairs.push((
                false,
                (*a).to_string(),
                base[(i + 2) % base.len()].to_string(),
            ));
        }
        let refs: Vec<(bool, &str, &str)> = pairs
            .iter()
            .map(|(y, a, b)| (*y, a.as_str(), b.as_str()))
            .collect();
        let opts = PairOptions {
            epochs: 30,
            sparse_min_pairs: 0,
            ..PairOptions::default()
        };
        let s = match PairScorer::train(&n, &refs, &opts, &mut |_, _| {}) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let same = s.score(&n, "怎么修改登录密码", "怎么修改登录密码呢");
        let diff = s.score(&n, "怎么修改登录密码", "快递一直没有送到");
        assert!(same > diff, "{same} {diff}");
        let back = PairScorer::from_bytes(&s.to_bytes().unwrap_or_default());
        assert!(back.is_ok());
        let u = PairScorer::untrained();
        assert!(u.score(&n, "退款没到账", "退款没到账") > u.threshold());
        assert!(u.score(&n, "退款没到账", "快递丢了") < u.threshold());
    }
}
