//! Throughput of `parse()` over the test fixtures: `cargo bench -p closedloop-mail`.
//! A plain timing loop (no criterion) to keep the build light; prints messages per second.

use std::time::{Duration, Instant};

use closedloop_mail::{AutoPolicy, parse};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut messages: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    messages.sort();
    if messages.is_empty() {
        eprintln!("no fixtures in {}", dir.display());
        return;
    }
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let policy = AutoPolicy::default();
    // Warm up, then run for about three seconds.
    for m in &messages {
        let _ = parse(m, &policy);
    }
    let started = Instant::now();
    let mut parsed = 0u64;
    let mut rounds = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        for m in &messages {
            if parse(m, &policy).is_ok() {
                parsed += 1;
            }
        }
        rounds += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let total = rounds * messages.len() as u64;
    println!(
        "parse: {} fixtures ({} bytes), {rounds} rounds, {total} messages in {secs:.2}s: {:.0} messages/s, {:.1} MB/s ({parsed} ok)",
        messages.len(),
        bytes,
        total as f64 / secs,
        (rounds as f64 * bytes as f64) / secs / 1e6,
    );
}
