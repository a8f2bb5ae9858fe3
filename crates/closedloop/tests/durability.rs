//! Durability under faults (issue 10): 64 clients create tickets with `Idempotency-Key`s and
//! retry every failure with the same key, while the only SQLite instance is SIGKILLed, while
//! one of three PostgreSQL instances is, and while PostgreSQL itself restarts. Every ticket
//! answered 2xx must be in the database exactly once, and every retried key must answer the
//! same ticket when sent again. The runs live in `bench/load` (`closedloop-load durability`
//! runs them against a release build); this test runs them against this build's binary.
//!
//! The PostgreSQL runs need `CLOSEDLOOP_TEST_POSTGRES_URL` (and PostgreSQL's server programs
//! for the restart), so a plain `cargo test` leaves them out; `--test durability -- --ignored`
//! runs them.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use closedloop_load::durability::{self, Plan, Report};
use closedloop_load::pg;

const BIN: &str = env!("CARGO_BIN_EXE_closedloop");

fn plan() -> Plan {
    Plan {
        clients: 64,
        create_for: Duration::from_secs(12),
        fault_at: Duration::from_secs(4),
        down_for: Duration::from_secs(3),
        ..Plan::default()
    }
}

fn check(report: &Report) {
    report.print();
    assert!(
        report.verdict.acked > 500,
        "too few tickets to prove anything"
    );
    assert!(
        report.verdict.retried > 0,
        "no client had to retry: the fault came too late"
    );
    assert!(report.passed(), "see the report above");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_the_sqlite_instance_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let report = durability::sqlite_kill(Path::new(BIN), dir.path(), &plan())
        .await
        .unwrap();
    check(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (CLOSEDLOOP_TEST_POSTGRES_URL); run with --ignored"]
async fn nothing_acknowledged_is_lost_when_one_of_three_postgres_instances_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let url = pg::fresh_database(&pg::test_server_url(), "closedloop_test_durability")
        .await
        .unwrap();
    let report = durability::postgres_kill(Path::new(BIN), dir.path(), &url, &plan()).await;
    pg::drop_database(&pg::test_server_url(), &url).await;
    check(&report.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server programs; run with --ignored"]
async fn a_postgres_restart_answers_503_with_retry_after_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let report = durability::postgres_restart(Path::new(BIN), dir.path(), 2000, &plan())
        .await
        .unwrap();
    check(&report);
}
