//! `closedloop triage retrain` and `closedloop triage reclassify`.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use closedloop_domain::Status;
use closedloop_server::Config;
use closedloop_server::triage::{Engine, record};
use closedloop_store::{SqlStore, Store};
use closedloop_triage::{Models, TicketText, retrain_category, seed, triage_seed_options};
use serde_json::json;

use crate::progress::Progress;
use crate::{CliError, CliResult};

async fn engine(store: &SqlStore, config: &Config) -> CliResult<Engine> {
    let engine = Engine::configured(config).map_err(CliError)?;
    engine.refresh(store).await?;
    Ok(engine)
}

/// Retrains the category model on the seed set plus every category agents corrected, reports
/// the current and the new model on a held-out split, and stores the new one unless it is worse.
pub async fn retrain(store: &SqlStore, config: &Config, holdout: f32, force: bool) -> CliResult {
    let engine = engine(store, config).await?;
    let current = engine.current();
    let mut examples: Vec<(String, String)> = seed::examples()
        .map_err(|e| CliError(e.to_string()))?
        .into_iter()
        .map(|e| (e.category.to_string(), e.text))
        .collect();
    let seeded = examples.len();
    let corrections = store.triage_examples("category").await?;
    let corrected = corrections.len();
    examples.extend(corrections);
    println!("examples: {seeded} built-in + {corrected} agents' corrections");

    let mut progress = Progress::new("training (per mille)", 1000);
    let mut shown = 0;
    let report = retrain_category(
        current.nlp(),
        Some(&current.models().category),
        &examples,
        holdout,
        &triage_seed_options(),
        &mut |done, total| {
            let now = (done * 1000 / total.max(1)) as u64;
            progress.inc(now.saturating_sub(shown));
            shown = shown.max(now);
        },
    )
    .map_err(|e| CliError(e.to_string()))?;
    progress.finish();

    println!(
        "held out {} of {} examples; trained on the rest",
        report.held_out,
        report.train_size + report.held_out
    );
    if let Some(b) = &report.before {
        // The current model may have seen some held-out examples, so "before" flatters it:
        // a new model that still wins is better.
        println!(
            "before (model in use, version {}): accuracy {:.3}, macro-F1 {:.3}",
            engine.version(),
            b.accuracy,
            b.macro_f1
        );
    }
    println!(
        "after (retrained): accuracy {:.3}, macro-F1 {:.3}",
        report.after.accuracy, report.after.macro_f1
    );
    let worse = report
        .before
        .as_ref()
        .is_some_and(|b| report.after.macro_f1 < b.macro_f1);
    if worse && !force {
        println!(
            "kept the model in use: the retrained one scores lower (use --force to install it anyway)"
        );
        return Ok(());
    }
    let models = Models {
        category: report.model,
        nature: current.models().nature.clone(),
        pairs: current.models().pairs.clone(),
    };
    let bytes = models.to_bytes().map_err(|e| CliError(e.to_string()))?;
    let summary = json!({
        "examples": seeded + corrected,
        "corrections": corrected,
        "held_out": report.held_out,
        "before": report.before,
        "after": report.after,
        "bytes": bytes.len(),
    });
    let version = store
        .save_triage_model(
            &base64::engine::general_purpose::STANDARD.encode(&bytes),
            &summary.to_string(),
        )
        .await?;
    println!(
        "installed model version {version} ({} KB); running servers switch to it within their triage_reload_seconds",
        bytes.len() / 1024
    );
    Ok(())
}

/// Reads stored tickets again with the model in use and reports what it would decide
/// differently; with `apply`, gives tickets nobody has handled yet their new category.
pub async fn reclassify(
    store: &SqlStore,
    config: &Config,
    since: DateTime<Utc>,
    apply: bool,
) -> CliResult {
    let engine = engine(store, config).await?.current();
    let mut progress = Progress::new("reclassifying", 0);
    let (mut examined, mut unsure, mut same, mut handled, mut applied) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut changes: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.triage_candidates(since, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for t in &page {
            examined += 1;
            let verdict = engine.analyse(TicketText {
                title: Some(&t.title),
                description: &t.description,
            });
            let to = &verdict.category.category;
            if verdict.needs_review {
                unsure += 1;
            } else if t.category.as_ref() == Some(to) {
                same += 1;
            } else if t.status != Status::Received {
                handled += 1;
            } else {
                let from = t
                    .category
                    .as_ref()
                    .map_or("(none)", |c| c.as_str())
                    .to_owned();
                *changes.entry((from, to.as_str().to_owned())).or_default() += 1;
                if apply
                    && store
                        .reclassify(t.id, to, &record(&verdict, &["category"]))
                        .await?
                {
                    applied += 1;
                }
            }
        }
        progress.inc(page.len() as u64);
    }
    progress.finish();
    println!(
        "examined {examined} tickets created since {}",
        since.to_rfc3339()
    );
    println!(
        "  same category: {same}; unsure (left for people): {unsure}; already handled (left): {handled}"
    );
    let total: u64 = changes.values().sum();
    println!(
        "  {} category: {total}",
        if apply { "changed" } else { "would change" }
    );
    for ((from, to), n) in &changes {
        println!("    {from} -> {to}: {n}");
    }
    if apply {
        println!("applied {applied}");
    } else if total > 0 {
        println!("nothing written; run again with --apply to change them");
    }
    Ok(())
}
