//! Retraining from labelled tickets (seed set plus agents' corrections), with an honest
//! before/after comparison on a held-out split. `closedloop triage retrain` calls this.

use serde::{Deserialize, Serialize};

use crate::TriageError;
use crate::eval::{featurise, scores};
use crate::linear::{LinearModel, Rng, TrainOptions};
use crate::text::Nlp;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitScores {
    pub accuracy: f32,
    pub macro_f1: f32,
}

#[derive(Debug, Clone)]
pub struct RetrainReport {
    pub train_size: usize,
    pub held_out: usize,
    /// The current model on the held-out split (`None` without a current model).
    pub before: Option<SplitScores>,
    /// A model trained on the train split only, on the held-out split.
    pub after: SplitScores,
    /// The new model, trained on all examples; install it if `after` beats `before`.
    pub model: LinearModel,
}

fn evaluate(model: &LinearModel, docs: &[Vec<(u32, f32)>], gold: &[&str]) -> SplitScores {
    let labels = model.labels();
    let mut names: Vec<String> = labels.to_vec();
    for g in gold {
        if !names.iter().any(|n| n == g) {
            names.push((*g).to_owned());
        }
    }
    let g: Vec<usize> = gold
        .iter()
        .map(|l| names.iter().position(|n| n == l).unwrap_or(0))
        .collect();
    let p: Vec<usize> = docs
        .iter()
        .map(|d| {
            let probs = model.predict_proba(d);
            (0..probs.len())
                .max_by(|a, b| probs[*a].total_cmp(&probs[*b]))
                .unwrap_or(0)
        })
        .collect();
    let s = scores(&g, &p, names.len());
    SplitScores {
        accuracy: s.accuracy,
        macro_f1: s.macro_f1,
    }
}

/// Splits `examples` (label, text) into train and `holdout` share held out, reports the
/// current and a freshly trained model on the held-out part, and returns a model trained on
/// everything. `progress(done, total)` covers both trainings.
pub fn retrain_category(
    nlp: &Nlp,
    current: Option<&LinearModel>,
    examples: &[(String, String)],
    holdout: f32,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RetrainReport, TriageError> {
    if examples.len() < 10 {
        return Err(TriageError::Training(
            "need at least 10 labelled examples".into(),
        ));
    }
    let texts: Vec<&str> = examples.iter().map(|e| e.1.as_str()).collect();
    let docs = featurise(nlp, &texts);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    Rng::new(opts.seed ^ 0xE7A1).shuffle(&mut order);
    let n_held = ((examples.len() as f32 * holdout.clamp(0.05, 0.5)) as usize).max(1);
    let (held, fit) = order.split_at(n_held);
    let fit_docs: Vec<Vec<(u32, f32)>> = fit.iter().map(|&i| docs[i].clone()).collect();
    let fit_labels: Vec<String> = fit.iter().map(|&i| examples[i].0.clone()).collect();
    let held_docs: Vec<Vec<(u32, f32)>> = held.iter().map(|&i| docs[i].clone()).collect();
    let held_gold: Vec<&str> = held.iter().map(|&i| examples[i].0.as_str()).collect();

    let mut first = |d: usize, t: usize| progress(d, 2 * t);
    let split_model = LinearModel::train(&fit_docs, &fit_labels, opts, &mut first)?;
    let after = evaluate(&split_model, &held_docs, &held_gold);
    let before = current.map(|m| evaluate(m, &held_docs, &held_gold));
    let all_labels: Vec<String> = examples.iter().map(|e| e.0.clone()).collect();
    let mut second = |d: usize, t: usize| progress(t + d, 2 * t);
    let model = LinearModel::train(&docs, &all_labels, opts, &mut second)?;
    Ok(RetrainReport {
        train_size: fit.len(),
        held_out: held.len(),
        before,
        after,
        model,
    })
}
