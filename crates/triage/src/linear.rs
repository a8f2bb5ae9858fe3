//! A linear text classifier: TF-IDF (sublinear TF, L2 norm) over hashed features, one-vs-rest
//! L2-loss linear SVMs trained by dual coordinate descent (the liblinear solver), margins turned
//! into probabilities by a softmax whose temperature is fitted on a held-out split. Weights are
//! quantised to `i8` per class and features that end up with no weight are dropped, so a model
//! is a few MB at most.

use serde::{Deserialize, Serialize};

use crate::TriageError;
use crate::dedup::FastMap;

/// Training knobs. `c` was chosen by 3-fold cross-validation on training files only
/// (`examples/class_cv.rs`: C = 1 beat 0.25 and 0.5 on three of four sets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Inverse regularisation strength of each SVM.
    pub c: f32,
    /// Features seen in fewer documents are dropped.
    pub min_df: u32,
    /// Keep at most this many features (the most frequent).
    pub max_features: usize,
    /// Passes of coordinate descent at most.
    pub max_iter: usize,
    /// Share of the training data held out to fit the softmax temperature (0 = no calibration).
    pub calibration_holdout: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            c: 1.0,
            min_df: 2,
            max_features: 400_000,
            max_iter: 40,
            calibration_holdout: 0.1,
            seed: 7,
        }
    }
}

/// A serialisable trained model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearModel {
    labels: Vec<String>,
    /// Sorted hashed feature ids, stored as deltas (small varints in postcard).
    bucket_deltas: Vec<u32>,
    #[serde(skip)]
    buckets: Vec<u32>,
    /// Row of each bucket: one hash probe per feature instead of a binary search whose every
    /// step missed the cache (the search was the classifier's largest cost).
    #[serde(skip)]
    rows: FastMap<u32, u32>,
    /// IDF per kept feature, quantised: idf = q / 16.
    idf_q: Vec<u8>,
    /// Row-major, `buckets.len() * labels.len()`.
    weights: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<f32>,
    temperature: f32,
}

/// Sparse rows: documents as sorted (column, value) lists.
#[derive(Debug, Default, Clone)]
pub struct Csr {
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }
    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }
}

/// Small deterministic PRNG (xorshift64*), enough for shuffling.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Vocabulary fitted on training documents: which hashed ids are kept, and their IDF.
struct Vocab {
    buckets: Vec<u32>,
    idf: Vec<f32>,
}

impl Vocab {
    fn fit(docs: &[Vec<(u32, f32)>], min_df: u32, max_features: usize) -> Self {
        let mut all: Vec<u32> = docs.iter().flat_map(|d| d.iter().map(|p| p.0)).collect();
        all.sort_unstable();
        let mut counted: Vec<(u32, u32)> = Vec::new();
        let mut i = 0;
        while i < all.len() {
            let mut j = i + 1;
            while j < all.len() && all[j] == all[i] {
                j += 1;
            }
            let df = (j - i) as u32;
            if df >= min_df {
                counted.push((all[i], df));
            }
            i = j;
        }
        if counted.len() > max_features {
            counted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            counted.truncate(max_features);
            counted.sort_unstable();
        }
        let n = docs.len() as f32;
        Self {
            buckets: counted.iter().map(|c| c.0).collect(),
            idf: counted
                .iter()
                .map(|c| ((1.0 + n) / (1.0 + c.1 as f32)).ln() + 1.0)
                .collect(),
        }
    }

    fn transform(&self, doc: &[(u32, f32)], idx: &mut Vec<u32>, val: &mut Vec<f32>) {
        let start = idx.len();
        let mut norm = 0.0f32;
        for &(b, tf) in doc {
            if let Ok(r) = self.buckets.binary_search(&b) {
                let v = tf * self.idf[r];
                idx.push(r as u32);
                val.push(v);
                norm += v * v;
            }
        }
        if norm > 0.0 {
            let inv = 1.0 / norm.sqrt();
            for v in &mut val[start..] {
                *v *= inv;
            }
        }
    }

    fn matrix(&self, docs: &[Vec<(u32, f32)>], rows: &[usize]) -> Csr {
        let mut m = Csr {
            indptr: vec![0],
            ..Csr::default()
        };
        for &r in rows {
            self.transform(&docs[r], &mut m.indices, &mut m.values);
            m.indptr.push(m.indices.len());
        }
        m
    }
}

/// One-vs-rest dual coordinate descent for the L2-regularised L2-loss SVM. Returns weights
/// (with the bias as the last element).
fn train_binary(x: &Csr, y: &[f32], dim: usize, c: f32, max_iter: usize, seed: u64) -> Vec<f32> {
    let n = x.rows();
    let mut w = vec![0.0f32; dim + 1];
    let mut alpha = vec![0.0f32; n];
    let diag = 0.5 / c;
    let qd: Vec<f32> = (0..n)
        .map(|i| x.row(i).1.iter().map(|v| v * v).sum::<f32>() + 1.0 + diag)
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    for _ in 0..max_iter {
        rng.shuffle(&mut order);
        let (mut max_pg, mut min_pg) = (f32::NEG_INFINITY, f32::INFINITY);
        for &i in &order {
            let (idx, val) = x.row(i);
            let mut dot = w[dim];
            for (j, v) in idx.iter().zip(val) {
                dot += w[*j as usize] * v;
            }
            let g = y[i] * dot - 1.0 + diag * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            max_pg = max_pg.max(pg);
            min_pg = min_pg.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).max(0.0);
                let d = (alpha[i] - old) * y[i];
                for (j, v) in idx.iter().zip(val) {
                    w[*j as usize] += d * v;
                }
                w[dim] += d;
            }
        }
        if max_pg - min_pg < 0.1 {
            break;
        }
    }
    w
}

/// Float weights of all classes, `[class][feature..., bias]`.
fn train_all(
    x: &Csr,
    labels: &[usize],
    n_classes: usize,
    dim: usize,
    opts: &TrainOptions,
    class_done: &mut dyn FnMut(),
) -> Vec<Vec<f32>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2);
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); n_classes];
    for chunk_start in (0..n_classes).step_by(threads) {
        let chunk: Vec<usize> = (chunk_start..(chunk_start + threads).min(n_classes)).collect();
        let results: Vec<(usize, Vec<f32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&k| {
                    s.spawn(move || {
                        let y: Vec<f32> = labels
                            .iter()
                            .map(|&l| if l == k { 1.0 } else { -1.0 })
                            .collect();
                        (
                            k,
                            train_binary(x, &y, dim, opts.c, opts.max_iter, opts.seed ^ k as u64),
                        )
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (k, w) in results {
            out[k] = w;
            class_done();
        }
    }
    out
}

fn rows_of(buckets: &[u32]) -> FastMap<u32, u32> {
    buckets.iter().zip(0u32..).map(|(&b, r)| (b, r)).collect()
}

fn margins(w: &[Vec<f32>], idx: &[u32], val: &[f32]) -> Vec<f32> {
    w.iter()
        .map(|wk| {
            let dim = wk.len() - 1;
            let mut s = wk[dim];
            for (j, v) in idx.iter().zip(val) {
                s += wk[*j as usize] * v;
            }
            s
        })
        .collect()
}

pub fn softmax(scores: &[f32], t: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut e: Vec<f32> = scores.iter().map(|s| ((s - max) * t).exp()).collect();
    let sum: f32 = e.iter().sum();
    if sum > 0.0 {
        for v in &mut e {
            *v /= sum;
        }
    }
    e
}

/// The temperature minimising negative log-likelihood of held-out margins (golden section on
/// log T).
fn fit_temperature(held: &[(Vec<f32>, usize)]) -> f32 {
    if held.is_empty() {
        return 3.0;
    }
    let nll = |log_t: f32| -> f32 {
        let t = log_t.exp();
        held.iter()
            .map(|(m, y)| -softmax(m, t)[*y].max(1e-7).ln())
            .sum()
    };
    let (mut a, mut b) = (-2.0f32, 4.0f32);
    let g = 0.618_034f32;
    for _ in 0..40 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if nll(c) < nll(d) {
            b = d;
        } else {
            a = c;
        }
    }
    ((a + b) / 2.0).exp()
}

impl LinearModel {
    /// Trains on documents already turned into raw hashed features (see
    /// [`crate::features::extract`]); `labels[i]` is the label of `docs[i]`.
    pub fn train(
        docs: &[Vec<(u32, f32)>],
        labels: &[String],
        opts: &TrainOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self, TriageError> {
        if docs.len() != labels.len() || docs.is_empty() {
            return Err(TriageError::Training("no labelled examples".into()));
        }
        let mut names: Vec<String> = labels.to_vec();
        names.sort();
        names.dedup();
        if names.len() < 2 {
            return Err(TriageError::Training("need at least two labels".into()));
        }
        let y: Vec<usize> = labels
            .iter()
            .map(|l| names.binary_search(l).unwrap_or(0))
            .collect();
        let k = names.len();
        let calibrate = opts.calibration_holdout > 0.0 && docs.len() >= 20;
        let total = if calibrate { 2 * k } else { k };

        let mut temperature = 3.0;
        if calibrate {
            let mut order: Vec<usize> = (0..docs.len()).collect();
            Rng::new(opts.seed).shuffle(&mut order);
            let n_held = ((docs.len() as f32 * opts.calibration_holdout) as usize).max(1);
            let (held, fit) = order.split_at(n_held);
            let fit_docs: Vec<Vec<(u32, f32)>> = fit.iter().map(|&i| docs[i].clone()).collect();
            let vocab = Vocab::fit(&fit_docs, opts.min_df, opts.max_features);
            let x = vocab.matrix(docs, fit);
            let fit_y: Vec<usize> = fit.iter().map(|&i| y[i]).collect();
            let mut done = 0;
            let w = train_all(&x, &fit_y, k, vocab.buckets.len(), opts, &mut || {
                done += 1;
                progress(done, total);
            });
            let hx = vocab.matrix(docs, held);
            let pairs: Vec<(Vec<f32>, usize)> = (0..hx.rows())
                .map(|r| {
                    let (idx, val) = hx.row(r);
                    (margins(&w, idx, val), y[held[r]])
                })
                .collect();
            temperature = fit_temperature(&pairs);
        }

        let vocab = Vocab::fit(docs, opts.min_df, opts.max_features);
        let all: Vec<usize> = (0..docs.len()).collect();
        let x = vocab.matrix(docs, &all);
        let dim = vocab.buckets.len();
        let mut done = if calibrate { k } else { 0 };
        let w = train_all(&x, &y, k, dim, opts, &mut || {
            done += 1;
            progress(done, total);
        });
        Ok(Self::quantise(names, &vocab, &w, temperature))
    }

    fn quantise(labels: Vec<String>, vocab: &Vocab, w: &[Vec<f32>], temperature: f32) -> Self {
        let k = labels.len();
        let dim = vocab.buckets.len();
        let scales: Vec<f32> = w
            .iter()
            .map(|wk| {
                let m = wk[..dim].iter().fold(0.0f32, |a, v| a.max(v.abs()));
                if m > 0.0 { m / 127.0 } else { 1.0 }
            })
            .collect();
        let bias: Vec<f32> = w.iter().map(|wk| wk[dim]).collect();
        let mut buckets = Vec::new();
        let mut idf_q = Vec::new();
        let mut weights = Vec::new();
        let mut row = vec![0i8; k];
        for (j, (&bucket, &idf)) in vocab.buckets.iter().zip(&vocab.idf).enumerate() {
            let mut any = false;
            for c in 0..k {
                let q = (w[c][j] / scales[c]).round().clamp(-127.0, 127.0) as i8;
                row[c] = q;
                any |= q != 0;
            }
            // A feature with no weight still counts in the document norm, so keep it if its
            // IDF makes it weigh in; we keep it cheaply only when some class uses it.
            if any {
                buckets.push(bucket);
                idf_q.push((idf * 16.0).round().clamp(1.0, 255.0) as u8);
                weights.extend_from_slice(&row);
            }
        }
        let mut prev = 0u32;
        let bucket_deltas = buckets
            .iter()
            .map(|&b| {
                let d = b - prev;
                prev = b;
                d
            })
            .collect();
        Self {
            labels,
            bucket_deltas,
            rows: rows_of(&buckets),
            buckets,
            idf_q,
            weights,
            scales,
            bias,
            temperature,
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    pub fn feature_count(&self) -> usize {
        self.buckets.len()
    }

    /// Raw margins per label for raw hashed features.
    pub fn margins(&self, doc: &[(u32, f32)]) -> Vec<f32> {
        let k = self.labels.len();
        let mut acc = vec![0.0f32; k];
        let mut norm = 0.0f32;
        for &(b, tf) in doc {
            if let Some(&r) = self.rows.get(&b) {
                let r = r as usize;
                let v = tf * f32::from(self.idf_q[r]) / 16.0;
                norm += v * v;
                let row = &self.weights[r * k..(r + 1) * k];
                for (a, q) in acc.iter_mut().zip(row) {
                    *a += v * f32::from(*q);
                }
            }
        }
        let inv = if norm > 0.0 { 1.0 / norm.sqrt() } else { 0.0 };
        acc.iter()
            .zip(&self.scales)
            .zip(&self.bias)
            .map(|((a, s), b)| a * s * inv + b)
            .collect()
    }

    /// Calibrated probabilities per label (same order as [`Self::labels`]).
    pub fn predict_proba(&self, doc: &[(u32, f32)]) -> Vec<f32> {
        softmax(&self.margins(doc), self.temperature)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, TriageError> {
        postcard::to_stdvec(self).map_err(|e| TriageError::Model(e.to_string()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TriageError> {
        let mut m: Self =
            postcard::from_bytes(bytes).map_err(|e| TriageError::Model(e.to_string()))?;
        let mut acc = 0u32;
        m.buckets = m
            .bucket_deltas
            .iter()
            .map(|d| {
                acc = acc.wrapping_add(*d);
                acc
            })
            .collect();
        m.rows = rows_of(&m.buckets);
        let k = m.labels.len();
        let ok = k >= 2
            && m.idf_q.len() == m.buckets.len()
            && m.weights.len() == m.buckets.len() * k
            && m.scales.len() == k
            && m.bias.len() == k
            && m.buckets.windows(2).all(|w| w[0] < w[1]);
        if !ok {
            return Err(TriageError::Model("inconsistent model dimensions".into()));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(ids: &[u32]) -> Vec<(u32, f32)> {
        ids.iter().map(|&i| (i, 1.0)).collect()
    }

    #[test]
    fn learns_separable_toy_data_and_round_trips() {
        let mut docs = Vec::new();
        let mut labels = Vec::new();
        for i in 0..30u32 {
            docs.push(doc(&[1, 10 + i % 3]));
            labels.push("a".to_string());
            docs.push(doc(&[2, 10 + i % 3]));
            labels.push("b".to_string());
            docs.push(doc(&[3, 20 + i % 4]));
            labels.push("c".to_string());
        }
        let mut calls = 0;
        let m = LinearModel::train(&docs, &labels, &TrainOptions::default(), &mut |_, _| {
            calls += 1
        });
        let m = match m {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(calls, 6);
        let p = m.predict_proba(&doc(&[2, 11]));
        assert!(p[1] > 0.6, "{p:?}");
        let bytes = m.to_bytes().unwrap_or_default();
        let back = LinearModel::from_bytes(&bytes);
        assert!(back.is_ok());
        if let Ok(b) = back {
            assert_eq!(b.predict_proba(&doc(&[2, 11])), p);
        }
        assert!(LinearModel::from_bytes(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn refuses_single_label() {
        let r = LinearModel::train(
            &[doc(&[1])],
            &["a".to_string()],
            &TrainOptions::default(),
            &mut |_, _| {},
        );
        assert!(r.is_err());
    }
}
