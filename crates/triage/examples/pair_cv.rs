//! Cross-validation of pair-scorer options on a TRAIN file only (used to pick defaults):
//!
//!     cargo run --release -p closedloop-triage --example pair_cv -- FILE.train.tsv
//!
//! For each option set: 3-fold CV; inside each fold the scorer picks its own threshold on its
//! training part, F1 is measured on the held-out fold.

use closedloop_triage::data::{self, Dataset};
use closedloop_triage::linear::Rng;
use closedloop_triage::{Nlp, PairOptions, PairScorer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: pair_cv FILE")?;
    let Dataset::Pairs(pairs) = data::load(std::path::Path::new(&path))? else {
        return Err("not a pairs file".into());
    };
    let nlp = Nlp::new()?;
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    Rng::new(5).shuffle(&mut order);
    let variants = [
        ("sparse, 8 epochs", PairOptions::default()),
        (
            "dense only",
            PairOptions {
                sparse: false,
                ..PairOptions::default()
            },
        ),
        (
            "sparse, l2 1e-4",
            PairOptions {
                l2: 1e-4,
                ..PairOptions::default()
            },
        ),
        (
            "sparse, 3 epochs",
            PairOptions {
                epochs: 3,
                ..PairOptions::default()
            },
        ),
    ];
    for (name, opts) in variants {
        let mut f1s = Vec::new();
        for fold in 0..3 {
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            for (k, &i) in order.iter().enumerate() {
                let (y, a, b) = &pairs[i];
                if k % 3 == fold {
                    te.push((*y, a.as_str(), b.as_str()))
                } else {
                    tr.push((*y, a.as_str(), b.as_str()))
                }
            }
            let s = PairScorer::train(&nlp, &tr, &opts, &mut |_, _| {})?;
            let (mut tp, mut fp, mut fneg) = (0.0f32, 0.0f32, 0.0f32);
            for (y, a, b) in te {
                let p = s.score(&nlp, a, b) >= s.threshold();
                match (p, y) {
                    (true, true) => tp += 1.0,
                    (true, false) => fp += 1.0,
                    (false, true) => fneg += 1.0,
                    _ => {}
                }
            }
            f1s.push(2.0 * tp / (2.0 * tp + fp + fneg).max(1.0));
        }
        println!(
            "{name:<20} CV F1 {:.4} ({:?})",
            f1s.iter().sum::<f32>() / 3.0,
            f1s
        );
    }
    Ok(())
}
