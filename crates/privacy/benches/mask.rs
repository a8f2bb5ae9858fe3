//! Cost of masking on intake: `cargo bench -p closedloop-privacy`. Masks every text of both
//! labelled samples and, in the same run, reads the same texts with the triage engine that
//! every new ticket already goes through, so the figure is a share of intake's text work
//! rather than a bare time. A plain timing loop (no criterion) to keep the build light.

use std::time::{Duration, Instant};

use closedloop_triage::{TicketText, Triage};

fn texts() -> Vec<String> {
    [
        include_str!("../data/pii_sample.txt"),
        include_str!("../data/pii_heldout.txt"),
    ]
    .iter()
    .flat_map(|s| s.lines())
    .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    .filter_map(|l| closedloop_privacy::sample::parse(l).ok())
    .map(|l| l.text)
    .collect()
}

/// Texts per second of `f` over `texts`, run for about three seconds after a warm-up.
fn rate(texts: &[String], mut f: impl FnMut(&str)) -> f64 {
    texts.iter().for_each(|t| f(t));
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        for t in texts {
            f(t);
        }
        done += texts.len() as u64;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let texts = texts();
    let with_data = texts
        .iter()
        .filter(|t| closedloop_privacy::mask(t).is_some())
        .count();
    let mask = rate(&texts, |t| {
        std::hint::black_box(closedloop_privacy::mask(t));
    });
    let triage = match Triage::new() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("triage engine: {e}");
            return;
        }
    };
    let read = rate(&texts, |t| {
        std::hint::black_box(triage.analyse(TicketText {
            title: None,
            description: t,
        }));
    });
    println!(
        "{} texts ({} with personal data): mask {:.0} texts/s ({:.1} µs each), triage {:.0} texts/s ({:.1} µs each); masking costs {:.1}% of triage",
        texts.len(),
        with_data,
        mask,
        1e6 / mask,
        read,
        1e6 / read,
        100.0 * read / mask,
    );
}
