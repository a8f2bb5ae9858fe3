//! Read replica (issue 10): with `replica_url` set, ticket lists (and reports) are read from a
//! PostgreSQL standby, while creation and reading one ticket stay on the primary. Proven by
//! pausing the standby's replay: a new ticket is then readable by number but missing from the
//! list until replay resumes. With the standby down, lists fail with 503 and writes go on.
//!
//! Makes a primary and a standby of its own (initdb, pg_basebackup), so a plain `cargo test`
//! leaves it out; `--test replica -- --ignored` runs it.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use closedloop_load::instance::Deployment;
use closedloop_load::pg::PrivateCluster;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

const BIN: &str = env!("CARGO_BIN_EXE_closedloop");

async fn listed(http: &reqwest::Client, base: &str, token: &str) -> (u16, Vec<String>) {
    let resp = http
        .get(format!("{base}/api/v1/tickets?limit=200"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let numbers = body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["number"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (status, numbers)
}

async fn create(http: &reqwest::Client, base: &str, token: &str, text: &str) -> String {
    let resp = http
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(token)
        .json(&json!({"channel": "web", "description": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let t: Value = resp.json().await.unwrap();
    t["number"].as_str().unwrap().to_owned()
}

async fn until_listed(http: &reqwest::Client, base: &str, token: &str, number: &str) {
    let start = Instant::now();
    while !listed(http, base, token)
        .await
        .1
        .iter()
        .any(|n| n == number)
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{number} never reached the list"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server programs; run with --ignored"]
async fn lists_come_from_the_standby_and_writes_do_not_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let primary = PrivateCluster::create(&dir.path().join("primary"))
        .await
        .unwrap();
    let url = primary.create_database("closedloop").await.unwrap();
    let standby = primary.standby(&dir.path().join("standby")).await.unwrap();
    let d = Deployment::new(Path::new(BIN), &dir.path().join("app"), Some(url))
        .setting("CLOSEDLOOP_REPLICA_URL", &standby.url("closedloop"))
        .setting("CLOSEDLOOP_DATABASE_TIMEOUT_MS", "1000");
    let token = d.prepare().await.unwrap();
    let mut instance = d.start("instance-1").await.unwrap();
    let (base, http) = (instance.base(), reqwest::Client::new());

    let a = create(&http, &base, &token, "The first parcel never arrived.").await;
    until_listed(&http, &base, &token, &a).await;

    let mut replica = PgConnection::connect(&standby.url("closedloop"))
        .await
        .unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&mut replica)
        .await
        .unwrap();
    let b = create(&http, &base, &token, "页面一直加载不出来，已经重试了三次。").await;
    let got = http
        .get(format!("{base}/api/v1/tickets/{b}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.status().as_u16(),
        200,
        "one ticket is read from the primary"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, numbers) = listed(&http, &base, &token).await;
    assert_eq!(status, 200);
    assert!(numbers.contains(&a));
    assert!(
        !numbers.contains(&b),
        "the list came from the primary: the paused standby cannot know {b}"
    );
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&mut replica)
        .await
        .unwrap();
    until_listed(&http, &base, &token, &b).await;
    drop(replica);

    // The standby goes away: lists answer 503 (bounded by database_timeout_ms), writes go on.
    standby.stop().await.unwrap();
    let t = Instant::now();
    let (status, _) = listed(&http, &base, &token).await;
    assert_eq!(status, 503);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let c = create(&http, &base, &token, "Charged twice for one order.").await;
    let got = http
        .get(format!("{base}/api/v1/tickets/{c}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    instance.kill().await.unwrap();
    standby.destroy().await;
    primary.destroy().await;
}
