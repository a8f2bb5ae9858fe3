//! Precision and recall of the personal-data detectors on a labelled sample:
//! `privacy-eval [FILE] [--mistakes]` (default: the crate's data/pii_sample.txt).

use closedloop_privacy::sample;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/data/pii_sample.txt").into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let s = match sample::score(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    println!("{} lines from {path}", s.lines);
    println!(
        "{:<12} {:>5} {:>6} {:>10} {:>8} {:>12} {:>10}",
        "kind", "gold", "found", "precision", "recall", "p (overlap)", "r (overlap)"
    );
    let row = |name: &str, c: &sample::Counts| {
        println!(
            "{:<12} {:>5} {:>6} {:>10.3} {:>8.3} {:>12.3} {:>10.3}",
            name,
            c.gold,
            c.found,
            c.precision(false),
            c.recall(false),
            c.precision(true),
            c.recall(true)
        );
    };
    for (k, c) in &s.by_kind {
        row(k.as_str(), c);
    }
    row("all", &s.total);
    if args.iter().any(|a| a == "--mistakes") {
        for m in &s.mistakes {
            println!("{m}");
        }
    }
}
