//! The evaluation contract: train a fresh model on one labelled TSV file, evaluate on another,
//! print the report, and end with exactly one line `macro_f1=0.xxx` (classification),
//! `f1=0.xxx` (pairs) or `spearman=0.xxx` (intensity, the lexicon is not trained).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::TriageError;
use crate::data::{self, Dataset};
use crate::features;
use crate::linear::{LinearModel, TrainOptions};
use crate::pairs::{PairOptions, PairScorer, PairText, best_f1_threshold, bigram_jaccard};
use crate::sentiment;
use crate::text::Nlp;

fn io(e: std::io::Error) -> TriageError {
    TriageError::Io {
        path: "<output>".into(),
        source: e,
    }
}

/// Progress on stderr, one line rewritten in place.
fn progress_bar(what: &'static str) -> impl FnMut(usize, usize) {
    let mut last = usize::MAX;
    move |done, total| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if pct != last {
            last = pct;
            let filled = pct / 4;
            eprint!(
                "\r{what} [{}{}] {pct:3}%",
                "#".repeat(filled),
                " ".repeat(25 - filled.min(25))
            );
            if done >= total {
                eprintln!();
            }
        }
    }
}

/// Extracts hashed features of many texts on up to two threads.
pub fn featurise(nlp: &Nlp, texts: &[&str]) -> Vec<Vec<(u32, f32)>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2);
    let chunk = texts.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|t| {
                            let mut v = Vec::new();
                            features::extract(nlp, &nlp.fold(t), &mut v);
                            v
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Runs the evaluation of `train` → `test` and writes the report to `out`.
pub fn run(train: &Path, test: &Path, out: &mut dyn Write) -> Result<(), TriageError> {
    let started = Instant::now();
    let nlp = Nlp::new()?;
    let tr = data::load(train)?;
    let te = data::load(test)?;
    writeln!(
        out,
        "train: {} ({} {}), test: {} ({})",
        train.display(),
        tr.len(),
        tr.kind(),
        test.display(),
        te.len()
    )
    .map_err(io)?;
    match (tr, te) {
        (Dataset::Classification(a), Dataset::Classification(b)) => {
            classification(&nlp, &a, &b, out, started)
        }
        (Dataset::Pairs(a), Dataset::Pairs(b)) => pairs(&nlp, &a, &b, out, started),
        (Dataset::Intensity(a), Dataset::Intensity(b)) => intensity(&nlp, &a, &b, out, started),
        _ => Err(TriageError::Data {
            path: test.display().to_string(),
            line: 1,
            message: "train and test files are of different kinds".into(),
        }),
    }
}

/// Per-class precision/recall/F1, accuracy and macro-F1 from (gold, predicted) label indices.
pub struct Scores {
    pub accuracy: f32,
    pub macro_f1: f32,
    pub per_class: Vec<(f32, f32, f32, usize)>,
    pub confusion: Vec<Vec<usize>>,
}

pub fn scores(gold: &[usize], pred: &[usize], k: usize) -> Scores {
    let mut confusion = vec![vec![0usize; k]; k];
    for (g, p) in gold.iter().zip(pred) {
        confusion[*g][*p] += 1;
    }
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    let per_class: Vec<(f32, f32, f32, usize)> = (0..k)
        .map(|c| {
            let tp = confusion[c][c] as f32;
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = (0..k).map(|g| confusion[g][c]).sum();
            let p = if predicted > 0 {
                tp / predicted as f32
            } else {
                0.0
            };
            let r = if support > 0 {
                tp / support as f32
            } else {
                0.0
            };
            let f = if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            };
            (p, r, f, support)
        })
        .collect();
    let present: Vec<&(f32, f32, f32, usize)> = per_class.iter().filter(|c| c.3 > 0).collect();
    Scores {
        accuracy: correct as f32 / gold.len().max(1) as f32,
        macro_f1: present.iter().map(|c| c.2).sum::<f32>() / present.len().max(1) as f32,
        per_class,
        confusion,
    }
}

fn classification(
    nlp: &Nlp,
    train: &[(String, String)],
    test: &[(String, String)],
    out: &mut dyn Write,
    started: Instant,
) -> Result<(), TriageError> {
    let t0 = Instant::now();
    let texts: Vec<&str> = train.iter().map(|e| e.1.as_str()).collect();
    let docs = featurise(nlp, &texts);
    let labels: Vec<String> = train.iter().map(|e| e.0.clone()).collect();
    let fe_secs = t0.elapsed().as_secs_f32();
    let opts = TrainOptions::default();
    let t1 = Instant::now();
    let model = LinearModel::train(&docs, &labels, &opts, &mut progress_bar("training"))?;
    let bytes = model.to_bytes()?;
    writeln!(
        out,
        "features {fe_secs:.1}s, training {:.1}s; model: {} labels, {} features, {} bytes, softmax temperature {:.2}",
        t1.elapsed().as_secs_f32(),
        model.labels().len(),
        model.feature_count(),
        bytes.len(),
        model.temperature()
    )
    .map_err(io)?;

    let names = model.labels();
    let k = names.len();
    // Single-threaded, text to prediction, to report honest per-item throughput.
    let t2 = Instant::now();
    let mut buf = Vec::new();
    let mut gold = Vec::with_capacity(test.len());
    let mut pred = Vec::with_capacity(test.len());
    let mut conf = Vec::with_capacity(test.len());
    let mut unknown = 0usize;
    for (label, text) in test {
        features::extract(nlp, &nlp.fold(text), &mut buf);
        let p = model.predict_proba(&buf);
        let (best, pmax) =
            p.iter().enumerate().fold(
                (0, f32::MIN),
                |a, (i, v)| if *v > a.1 { (i, *v) } else { a },
            );
        match names.binary_search(label) {
            Ok(g) => {
                gold.push(g);
                pred.push(best);
                conf.push((pmax, g == best));
            }
            Err(_) => unknown += 1,
        }
    }
    let secs = t2.elapsed().as_secs_f32().max(1e-6);
    let s = scores(&gold, &pred, k);
    if unknown > 0 {
        writeln!(
            out,
            "{unknown} test items have labels unseen in training (skipped)"
        )
        .map_err(io)?;
    }
    writeln!(
        out,
        "test items {}: accuracy {:.4}, macro-F1 {:.4}; throughput {:.0} items/s (one thread, text to label)",
        gold.len(),
        s.accuracy,
        s.macro_f1,
        test.len() as f32 / secs
    )
    .map_err(io)?;
    if k <= 12 {
        writeln!(out, "\nper class (precision recall f1 support):").map_err(io)?;
        for (i, c) in s.per_class.iter().enumerate() {
            writeln!(
                out,
                "  {:<24} {:.3} {:.3} {:.3} {}",
                names[i], c.0, c.1, c.2, c.3
            )
            .map_err(io)?;
        }
        writeln!(
            out,
            "\nconfusion matrix (rows gold, columns predicted, order as above):"
        )
        .map_err(io)?;
        for row in &s.confusion {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>6}")).collect();
            writeln!(out, "  {}", cells.join("")).map_err(io)?;
        }
    } else {
        let mut conf_pairs: Vec<(usize, usize, usize)> = Vec::new();
        for (g, row) in s.confusion.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                if g != p && n > 0 {
                    conf_pairs.push((n, g, p));
                }
            }
        }
        conf_pairs.sort_unstable_by(|a, b| b.cmp(a));
        writeln!(out, "\ntop confusions (gold -> predicted: count):").map_err(io)?;
        for (n, g, p) in conf_pairs.iter().take(15) {
            writeln!(out, "  {} -> {}: {n}", names[*g], names[*p]).map_err(io)?;
        }
        let mut worst: Vec<(f32, usize)> = s
            .per_class
            .iter()
            .enumerate()
            .map(|(i, c)| (c.2, i))
            .collect();
        worst.sort_by(|a, b| a.0.total_cmp(&b.0));
        let w: Vec<String> = worst
            .iter()
            .take(8)
            .map(|(f, i)| format!("{} {f:.2}", names[*i]))
            .collect();
        writeln!(out, "weakest classes (F1): {}", w.join(", ")).map_err(io)?;
    }
    calibration_report(&conf, out)?;
    writeln!(out, "wall time {:.1}s", started.elapsed().as_secs_f32()).map_err(io)?;
    writeln!(out, "macro_f1={:.3}", s.macro_f1).map_err(io)?;
    Ok(())
}

/// Reliability table and expected calibration error of the top-class confidence.
fn calibration_report(conf: &[(f32, bool)], out: &mut dyn Write) -> Result<(), TriageError> {
    let mut bins = [(0usize, 0usize, 0.0f32); 10];
    for (p, ok) in conf {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += usize::from(*ok);
        bins[b].2 += p;
    }
    let n = conf.len().max(1) as f32;
    let mut ece = 0.0;
    writeln!(
        out,
        "\ncalibration on the test set (confidence bin: items, mean confidence, accuracy):"
    )
    .map_err(io)?;
    for (i, (count, right, sum)) in bins.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let c = *count as f32;
        let (mean, acc) = (sum / c, *right as f32 / c);
        ece += c / n * (mean - acc).abs();
        writeln!(
            out,
            "  {:.1}-{:.1}: {count:>6}  {mean:.3}  {acc:.3}",
            i as f32 / 10.0,
            (i + 1) as f32 / 10.0
        )
        .map_err(io)?;
    }
    writeln!(out, "expected calibration error (ECE): {ece:.4}").map_err(io)?;
    Ok(())
}

fn prf(scored: &[(f32, bool)], t: f32) -> (f32, f32, f32) {
    let tp = scored.iter().filter(|s| s.0 >= t && s.1).count() as f32;
    let fp = scored.iter().filter(|s| s.0 >= t && !s.1).count() as f32;
    let fneg = scored.iter().filter(|s| s.0 < t && s.1).count() as f32;
    let p = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let r = if tp + fneg > 0.0 {
        tp / (tp + fneg)
    } else {
        0.0
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}

fn pairs(
    nlp: &Nlp,
    train: &[(bool, String, String)],
    test: &[(bool, String, String)],
    out: &mut dyn Write,
    started: Instant,
) -> Result<(), TriageError> {
    let refs: Vec<(bool, &str, &str)> = train
        .iter()
        .map(|(y, a, b)| (*y, a.as_str(), b.as_str()))
        .collect();
    let t0 = Instant::now();
    let scorer = PairScorer::train(
        nlp,
        &refs,
        &PairOptions::default(),
        &mut progress_bar("training"),
    )?;
    let size = scorer.to_bytes()?.len();
    writeln!(
        out,
        "training {:.1}s; pair scorer {size} bytes; threshold chosen on out-of-fold training predictions: {:.3}",
        t0.elapsed().as_secs_f32(),
        scorer.threshold()
    )
    .map_err(io)?;
    // Jaccard reference with its own threshold chosen on the training pairs.
    let train_j: Vec<(f32, bool)> = train
        .iter()
        .map(|(y, a, b)| {
            (
                bigram_jaccard(&PairText::new(nlp, a), &PairText::new(nlp, b)),
                *y,
            )
        })
        .collect();
    let (jt, _) = best_f1_threshold(&train_j);

    let t1 = Instant::now();
    let mut scored = Vec::with_capacity(test.len());
    let mut jac = Vec::with_capacity(test.len());
    for (y, a, b) in test {
        let (pa, pb) = (PairText::new(nlp, a), PairText::new(nlp, b));
        scored.push((scorer.score_prepared(&pa, &pb), *y));
        jac.push((bigram_jaccard(&pa, &pb), *y));
    }
    let secs = t1.elapsed().as_secs_f32().max(1e-6);
    let (p, r, f) = prf(&scored, scorer.threshold());
    let (jp, jr, jf) = prf(&jac, jt);
    let (_, oracle) = best_f1_threshold(&scored);
    let positives = test.iter().filter(|t| t.0).count();
    writeln!(
        out,
        "test pairs {} ({positives} duplicates); throughput {:.0} pairs/s (one thread, texts to score)",
        test.len(),
        test.len() as f32 / secs
    )
    .map_err(io)?;
    writeln!(out, "char-bigram Jaccard (threshold {jt:.3} from train): precision {jp:.4} recall {jr:.4} f1 {jf:.4}").map_err(io)?;
    writeln!(out, "pair scorer (threshold {:.3} from train):          precision {p:.4} recall {r:.4} f1 {f:.4}", scorer.threshold()).map_err(io)?;
    writeln!(out, "(for reference only, not reported: best F1 if the threshold were tuned on test {oracle:.4})").map_err(io)?;
    writeln!(out, "wall time {:.1}s", started.elapsed().as_secs_f32()).map_err(io)?;
    writeln!(out, "f1={f:.3}").map_err(io)?;
    Ok(())
}

fn ranks(v: &[f32]) -> Vec<f32> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && v[idx[j]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j - 1) as f32 / 2.0;
        for &k in &idx[i..j] {
            r[k] = avg;
        }
        i = j;
    }
    r
}

pub fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().max(1) as f64;
    let ma = a.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
    let mb = b.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(*x) - ma, f64::from(*y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        (sab / (saa * sbb).sqrt()) as f32
    }
}

fn intensity(
    nlp: &Nlp,
    _train: &[(f32, String)],
    test: &[(f32, String)],
    out: &mut dyn Write,
    started: Instant,
) -> Result<(), TriageError> {
    let lex = sentiment::Lexicon::builtin();
    let t0 = Instant::now();
    let pred: Vec<f32> = test
        .iter()
        .map(|(_, t)| {
            let f = nlp.fold(t);
            lex.analyse(nlp, &f).score
        })
        .collect();
    let secs = t0.elapsed().as_secs_f32().max(1e-6);
    let gold: Vec<f32> = test.iter().map(|t| t.0).collect();
    let p = pearson(&gold, &pred);
    let s = pearson(&ranks(&gold), &ranks(&pred));
    writeln!(
        out,
        "built-in lexicon sentiment score (not trained on the train file): Pearson {p:.4}, Spearman {s:.4}; {:.0} items/s",
        test.len() as f32 / secs
    )
    .map_err(io)?;
    writeln!(out, "wall time {:.1}s", started.elapsed().as_secs_f32()).map_err(io)?;
    writeln!(out, "spearman={s:.3}").map_err(io)?;
    Ok(())
}

/// How well hot-issue clusters (tickets grouped by their two most shared keywords, see
/// `closedloop_domain::hot`) match human labels: for the ten largest clusters, their size and
/// purity (share of their largest label); over all clustered texts, coverage and weighted
/// purity, beside the baseline of one word instead of two.
pub fn clusters(path: &Path, out: &mut dyn Write) -> Result<(), TriageError> {
    use closedloop_domain::hot::{Doc, labels};
    let started = Instant::now();
    let Dataset::Classification(rows) = data::load(path)? else {
        return Err(TriageError::Data {
            path: path.display().to_string(),
            line: 1,
            message: "clustering is evaluated on a label<TAB>text file".into(),
        });
    };
    let triage = crate::Triage::new()?;
    let docs: Vec<Doc> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            let (keywords, sentiment) = triage.terms(crate::TicketText {
                title: None,
                description: text,
            });
            Doc {
                number: i.to_string(),
                created_at: Default::default(),
                category: None,
                sentiment,
                keywords,
            }
        })
        .collect();
    let read = started.elapsed();
    writeln!(
        out,
        "{}: {} texts, keywords read in {:.1} s",
        path.display(),
        docs.len(),
        read.as_secs_f32()
    )
    .map_err(io)?;
    let gold: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
    for (name, width) in [
        ("two words (as shipped)", 2usize),
        ("one word (baseline)", 1),
    ] {
        let assigned: Vec<Option<Vec<String>>> = labels(&docs)
            .into_iter()
            .map(|l| {
                l.map(|mut l| {
                    l.truncate(width);
                    l
                })
            })
            .collect();
        let mut groups: HashMap<&[String], Vec<usize>> = HashMap::new();
        for (i, l) in assigned.iter().enumerate() {
            if let Some(l) = l {
                groups.entry(l.as_slice()).or_default().push(i);
            }
        }
        let purity = |members: &[usize]| {
            let mut by: HashMap<&str, usize> = HashMap::new();
            for &i in members {
                *by.entry(gold[i]).or_default() += 1;
            }
            let (label, n) = by
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .unwrap_or(("", 0));
            (label, n)
        };
        let mut sizes: Vec<(&[String], &Vec<usize>)> = groups
            .iter()
            .map(|(k, v)| (*k, v))
            .filter(|(_, v)| v.len() >= 2)
            .collect();
        sizes.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let clustered: usize = sizes.iter().map(|(_, v)| v.len()).sum();
        let pure: usize = sizes.iter().map(|(_, v)| purity(v).1).sum();
        writeln!(
            out,
            "\n{name}: {} clusters of 2+, covering {clustered} of {} texts ({:.1} %), weighted purity {:.1} %",
            sizes.len(),
            docs.len(),
            clustered as f64 * 100.0 / docs.len().max(1) as f64,
            pure as f64 * 100.0 / clustered.max(1) as f64
        )
        .map_err(io)?;
        writeln!(
            out,
            "| # | label | size | purity | majority label |\n|---|---|---|---|---|"
        )
        .map_err(io)?;
        for (rank, (label, members)) in sizes.iter().take(10).enumerate() {
            let (majority, n) = purity(members);
            writeln!(
                out,
                "| {} | {} | {} | {:.1} % | {majority} |",
                rank + 1,
                label.join(" · "),
                members.len(),
                n as f64 * 100.0 / members.len() as f64
            )
            .map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_ranks() {
        let s = scores(&[0, 0, 1, 1], &[0, 1, 1, 1], 2);
        assert!((s.accuracy - 0.75).abs() < 1e-6);
        assert!(s.macro_f1 > 0.7 && s.macro_f1 < 0.8);
        assert_eq!(ranks(&[3.0, 1.0, 1.0]), vec![2.0, 0.5, 0.5]);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn end_to_end_on_tiny_files() {
        let dir = std::env::temp_dir().join(format!("triage-eval-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut train = String::from("label\ttext\n");
        for i in 0..20 {
            train.push_str(&format!("payment\t扣款{i}次 refund charged twice\n"));
            train.push_str(&format!("logistics\t快递{i}天没到 delivery late\n"));
        }
        let (a, b) = (dir.join("t.tsv"), dir.join("e.tsv"));
        let ok = std::fs::write(&a, &train).is_ok()
            && std::fs::write(
                &b,
                "label\ttext\npayment\t被扣款两次\nlogistics\t快递没到\n",
            )
            .is_ok();
        assert!(ok);
        let mut out = Vec::new();
        let r = run(&a, &b, &mut out);
        assert!(r.is_ok(), "{r:?}");
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text.lines().last(), Some("macro_f1=1.000"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
