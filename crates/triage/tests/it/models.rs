use closedloop_triage::{Models, TrainOptions, Triage, TriageConfig, retrain_category, seed};

use crate::triage;

#[test]
fn models_round_trip_through_bytes_and_stay_small() {
    let t = triage();
    let bytes = match t.models().to_bytes() {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    assert!(bytes.len() < 1_000_000, "{} bytes", bytes.len());
    let back = match Models::from_bytes(&bytes) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let swapped = match t.with(TriageConfig::default(), back) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let text = closedloop_triage::TicketText {
        title: None,
        description: "退款一直没到账",
    };
    assert_eq!(swapped.analyse(text), t.analyse(text));
    assert!(Models::from_bytes(&bytes[..10]).is_err());
}

#[test]
fn retrain_reports_before_and_after_on_held_out_examples() {
    let t = triage();
    let mut examples: Vec<(String, String)> = match seed::examples() {
        Ok(e) => e
            .into_iter()
            .map(|e| (e.category.to_string(), e.text))
            .collect(),
        Err(e) => panic!("{e}"),
    };
    // Agents' corrections: a new wording for logistics.
    for i in 0..10 {
        examples.push(("logistics".into(), format!("驿站{i}号柜的件一直取不出来")));
    }
    let mut calls = 0;
    let report = retrain_category(
        t.nlp(),
        Some(&t.models().category),
        &examples,
        0.2,
        &closedloop_triage::triage_seed_options(),
        &mut |_, _| calls += 1,
    );
    let report = match report {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert!(calls > 0);
    assert!(report.held_out > 0 && report.train_size > report.held_out);
    assert!(report.before.is_some());
    assert!(report.after.accuracy > 0.3, "{:?}", report.after);
    let _ = TrainOptions::default();
    let _ = Triage::new;
}
