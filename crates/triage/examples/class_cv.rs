//! Cross-validation of the classifier's regularisation on a TRAIN file only (used to pick
//! `TrainOptions::default().c`):
//!
//!     cargo run --release -p closedloop-triage --example class_cv -- FILE.train.tsv [C ...]

use closedloop_triage::data::{self, Dataset};
use closedloop_triage::eval::{featurise, scores};
use closedloop_triage::linear::Rng;
use closedloop_triage::{LinearModel, Nlp, TrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: class_cv FILE [C ...]")?;
    let mut cs: Vec<f32> = args.filter_map(|a| a.parse().ok()).collect();
    if cs.is_empty() {
        cs = vec![0.25, 0.5, 1.0];
    }
    let Dataset::Classification(rows) = data::load(std::path::Path::new(&path))? else {
        return Err("not a classification file".into());
    };
    let nlp = Nlp::new()?;
    let texts: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let docs = featurise(&nlp, &texts);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    Rng::new(3).shuffle(&mut order);
    for c in cs {
        let opts = TrainOptions {
            c,
            calibration_holdout: 0.0,
            ..TrainOptions::default()
        };
        let mut f1 = 0.0;
        for fold in 0..3 {
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            for (k, &i) in order.iter().enumerate() {
                if k % 3 == fold {
                    te.push(i)
                } else {
                    tr.push(i)
                }
            }
            let d: Vec<Vec<(u32, f32)>> = tr.iter().map(|&i| docs[i].clone()).collect();
            let l: Vec<String> = tr.iter().map(|&i| rows[i].0.clone()).collect();
            let m = LinearModel::train(&d, &l, &opts, &mut |_, _| {})?;
            let names = m.labels();
            let (mut g, mut p) = (Vec::new(), Vec::new());
            for &i in &te {
                let Ok(gi) = names.binary_search(&rows[i].0) else {
                    continue;
                };
                let pr = m.predict_proba(&docs[i]);
                let best = (0..pr.len())
                    .max_by(|a, b| pr[*a].total_cmp(&pr[*b]))
                    .unwrap_or(0);
                g.push(gi);
                p.push(best);
            }
            f1 += scores(&g, &p, names.len()).macro_f1 / 3.0;
        }
        println!("C={c:<5} 3-fold CV macro-F1 {f1:.4}");
    }
    Ok(())
}
