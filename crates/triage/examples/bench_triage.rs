//! Latency and memory measurements for EVAL.md:
//!
//!     cargo run --release -p closedloop-triage --example bench_triage -- [TICKETS_INDEXED]
//!
//! 1. `Triage::analyse` latency on synthetic tickets built from the seed sentences (one thread).
//! 2. Duplicate lookup with TICKETS_INDEXED (default 1,000,000) synthetic tickets indexed:
//!    index bytes per ticket, process RSS growth, and query latency p50/p99 (text to ranked
//!    candidates, one thread), plus `find_duplicates` with the pair-scorer check.

use std::time::Instant;

use closedloop_triage::dedup::Signature;
use closedloop_triage::linear::Rng;
use closedloop_triage::{DuplicateIndex, IndexOptions, TicketText, Triage, seed};

const FILLERS: &[&str] = &[
    "请尽快处理",
    "谢谢",
    "订单号",
    "急!!",
    "已经第三次反馈了",
    "Please help.",
    "order",
    "昨天开始",
    "麻烦看一下",
    "这是什么情况？",
    "ASAP",
    "again",
    "用户ID",
    "我在北京",
    "上周",
    "😡",
];

fn synth(rng: &mut Rng, seeds: &[String]) -> String {
    let mut s = String::new();
    let n = 1 + rng.below(3);
    for i in 0..n {
        if i > 0 {
            s.push_str(if rng.below(2) == 0 { "，" } else { ". " });
        }
        s.push_str(&seeds[rng.below(seeds.len())]);
        if rng.below(2) == 0 {
            s.push(' ');
            s.push_str(FILLERS[rng.below(FILLERS.len())]);
        }
        if rng.below(3) == 0 {
            s.push_str(&format!(" {}", rng.next_u64() % 100_000_000));
        }
    }
    s
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n_index: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::now();
    let triage = Triage::new()?;
    println!(
        "Triage::new (dictionaries + seed training): {:.0} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let bytes = triage.models().to_bytes()?;
    println!(
        "seed models: category {} B, nature {} B, pair scorer {} B; all together {} B",
        triage.models().category.to_bytes()?.len(),
        triage.models().nature.to_bytes()?.len(),
        triage.models().pairs.to_bytes()?.len(),
        bytes.len()
    );
    let seeds: Vec<String> = seed::examples()?.into_iter().map(|e| e.text).collect();
    let mut rng = Rng::new(42);

    // 1. analyse latency.
    let tickets: Vec<String> = (0..20_000).map(|_| synth(&mut rng, &seeds)).collect();
    let avg_chars =
        tickets.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / tickets.len() as f64;
    for t in tickets.iter().take(500) {
        let _ = triage.analyse(TicketText {
            title: None,
            description: t,
        });
    }
    let mut lat = Vec::with_capacity(tickets.len());
    for t in &tickets {
        let s = Instant::now();
        let v = triage.analyse(TicketText {
            title: None,
            description: t,
        });
        lat.push(s.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(v);
    }
    println!(
        "analyse: {} tickets, mean {:.0} chars: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        tickets.len(),
        avg_chars,
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.99),
        percentile(&mut lat, 1.0)
    );
    let big = "页面打不开，".repeat(20_000);
    let s = Instant::now();
    let _ = triage.analyse(TicketText {
        title: None,
        description: &big,
    });
    println!(
        "analyse of a {} KB ticket: {:.0} µs",
        big.len() / 1024,
        s.elapsed().as_secs_f64() * 1e6
    );

    // 2. duplicate index at scale.
    let rss0 = rss_kb();
    let nlp = triage.nlp_handle();
    let t1 = Instant::now();
    let mut texts: Vec<String> = Vec::with_capacity(n_index);
    for _ in 0..n_index {
        texts.push(synth(&mut rng, &seeds));
    }
    let rss_texts = rss_kb();
    let mut index = DuplicateIndex::new(IndexOptions::default());
    let chunk = 50_000;
    for (c, part) in texts.chunks(chunk).enumerate() {
        let half = part.len() / 2;
        let (a, b) = part.split_at(half);
        let sigs: Vec<Option<Signature>> = std::thread::scope(|s| {
            let h = s.spawn(|| a.iter().map(|t| Signature::of(&nlp, t)).collect::<Vec<_>>());
            let mut rest: Vec<Option<Signature>> =
                b.iter().map(|t| Signature::of(&nlp, t)).collect();
            let mut first = h.join().unwrap_or_default();
            first.append(&mut rest);
            first
        });
        for (i, sig) in sigs.iter().enumerate() {
            if let Some(sig) = sig {
                index.insert_signature((c * chunk + i) as u64, sig);
            }
        }
    }
    let rss_index = rss_kb();
    println!(
        "index: {} tickets in {:.1} s; index memory {} MB = {:.0} bytes/ticket (capacities); process RSS growth for the index {:.0} bytes/ticket",
        index.len(),
        t1.elapsed().as_secs_f64(),
        index.memory_bytes() / 1_000_000,
        index.memory_bytes() as f64 / index.len().max(1) as f64,
        (rss_index.saturating_sub(rss_texts)) as f64 * 1024.0 / index.len().max(1) as f64
    );
    let _ = rss0;

    let mut q = Vec::new();
    let mut found = 0usize;
    for i in 0..10_000 {
        // Half near-duplicates of indexed tickets (a filler appended), half fresh text.
        let text = if i % 2 == 0 {
            let id = rng.below(texts.len());
            format!("{} 请尽快处理", texts[id])
        } else {
            synth(&mut rng, &seeds)
        };
        let s = Instant::now();
        let hits = index.query(&nlp, &text, 5);
        q.push(s.elapsed().as_secs_f64() * 1e6);
        found += usize::from(!hits.is_empty());
    }
    println!(
        "query (text to top-5 candidates): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; {} of 10000 queries had candidates",
        percentile(&mut q, 0.5),
        percentile(&mut q, 0.99),
        percentile(&mut q, 1.0),
        found
    );
    let mut recall_hits = 0;
    let mut fd = Vec::new();
    for _ in 0..2_000 {
        let id = rng.below(texts.len());
        let text = format!("{}！", texts[id]);
        let s = Instant::now();
        let m = triage.find_duplicates(
            &index,
            TicketText {
                title: None,
                description: &text,
            },
            5,
            &|i| texts.get(i as usize).cloned(),
        );
        fd.push(s.elapsed().as_secs_f64() * 1e6);
        recall_hits += usize::from(
            m.iter()
                .any(|d| d.id == id as u64 || texts.get(d.id as usize) == texts.get(id)),
        );
    }
    println!(
        "find_duplicates (index + pair scorer on candidates' texts): p50 {:.0} µs, p99 {:.0} µs; re-submissions whose original (or an identical text) was returned: {}/2000",
        percentile(&mut fd, 0.5),
        percentile(&mut fd, 0.99),
        recall_hits
    );
    println!("RSS total {} MB", rss_kb() / 1024);
    Ok(())
}
