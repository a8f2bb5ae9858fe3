//! Load for the signed webhook intake: fires N signed messages at a running server and prints
//! the rate. Five messages per conversation, so a fifth of them open tickets and the rest are
//! threaded onto them.
//!
//! ```sh
//! closedloop webhook add --name bench --channel chat      # secret on the last line
//! CLOSEDLOOP_RATE_LIMIT__PUBLIC_BURST=1000000 CLOSEDLOOP_RATE_LIMIT__WEBHOOK_BURST=1000000 \
//!   closedloop serve --listen 127.0.0.1:8080
//! cargo run --release -p closedloop-server --example webhook_load -- \
//!   http://127.0.0.1:8080 bench "$SECRET" 20000 64
//! ```

#![expect(
    clippy::expect_used,
    reason = "a benchmark tool stops on the first surprise"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use closedloop_server::signature::sign;

const MESSAGES_PER_THREAD: u64 = 5;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, source, secret, rest @ ..] = args.as_slice() else {
        eprintln!("usage: webhook_load BASE_URL SOURCE SECRET [REQUESTS=10000] [CONCURRENCY=64]");
        std::process::exit(2);
    };
    let total: u64 = rest.first().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let concurrency: u64 = rest.get(1).and_then(|n| n.parse().ok()).unwrap_or(64);
    let url = Arc::new(format!("{base}/api/v1/intake/webhook/{source}"));
    let secret = Arc::new(secret.clone());
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, url, secret, next, failed) = (
            http.clone(),
            url.clone(),
            secret.clone(),
            next.clone(),
            failed.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return latencies;
                }
                // Messages of one conversation are spread over workers, as a busy chat would be.
                let thread = i % (total / MESSAGES_PER_THREAD).max(1);
                let body = serde_json::to_vec(&serde_json::json!({
                    "thread": format!("run-{run}-conv-{thread}"),
                    "message_id": format!("msg-{i}"),
                    "from": {"name": "压测用户", "handle": format!("wxid_{thread}")},
                    "text": format!("第 {i} 条消息：订单付款后一直显示未支付，请尽快处理。Order still unpaid."),
                }))
                .expect("json");
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default() as i64;
                let t0 = Instant::now();
                let res = http
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header("x-closedloop-timestamp", ts.to_string())
                    .header(
                        "x-closedloop-signature",
                        sign(secret.as_bytes(), ts, &body),
                    )
                    .body(body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(t0.elapsed()),
                    Ok(r) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("{}: {}", r.status(), r.text().await.unwrap_or_default());
                        }
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{e}");
                    }
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: usize| {
        latencies
            .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "webhook intake: {} accepted, {} failed in {secs:.2} s = {:.0} requests/s \
         (concurrency {concurrency}, {MESSAGES_PER_THREAD} messages per thread); \
         p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        failed.load(Ordering::Relaxed),
        latencies.len() as f64 / secs,
        pct(50),
        pct(99),
    );
}
