//! SLA clocks with a clock the tests move: breaches at the right moment, once; answered tickets
//! never escalate; waiting on the user pauses the clocks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, spawn_with};

async fn app(backend: Backend) -> TestApp {
    spawn_with(backend, |c| c.sla_poll_ms = 20).await
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {v}"))
}

/// The ticket's SLA timeline entries as (clock, stage).
async fn sla_entries(app: &TestApp, number: &str) -> Vec<(String, String)> {
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}/timeline"))
        .await;
    t.body
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "sla")
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["new_value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Waits (real time) until the scheduler has recorded `want` on the ticket.
async fn wait_for(app: &TestApp, number: &str, want: (&str, &str)) {
    for _ in 0..250 {
        if sla_entries(app, number)
            .await
            .iter()
            .any(|(c, s)| c == want.0 && s == want.1)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "no {want:?} on {number}: {:?}",
        sla_entries(app, number).await
    );
}

/// One clock of the ticket as `GET /tickets/{number}/sla` shows it.
async fn clock(app: &TestApp, number: &str, kind: &str) -> Value {
    app.get(&app.admin, &format!("/api/v1/tickets/{number}/sla"))
        .await
        .body
        .as_array()
        .expect("clocks")
        .iter()
        .find(|c| c["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} clock on {number}"))
}

/// Gives the scheduler time for many passes (it polls every 20 ms in these tests).
async fn let_scheduler_run() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn count(entries: &[(String, String)], clock: &str, stage: &str) -> usize {
    entries
        .iter()
        .filter(|(c, s)| c == clock && s == stage)
        .count()
}

/// The fixed contract: an urgent complaint is P1 and its first answer is due within 30 minutes.
pub async fn urgent_complaint_is_p1_with_first_response_due_within_30_minutes(backend: Backend) {
    let app = app(backend).await;
    let customer = app.user("victim@example.com", "customer", &[]).await;
    let r = app
        .post(
            &customer,
            "/api/v1/tickets",
            json!({"channel": "email", "description": "My account was stolen and money was taken from my balance, please freeze it now!"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.str("priority"), "P1", "{}", r.body);
    let created = time(&r.body["created_at"]);
    let due = time(&r.body["first_response_due_at"]);
    assert!(due > created && due - created <= minutes(30), "{}", r.body);
    // The answer is what is stored.
    let again = app
        .get(&app.admin, &format!("/api/v1/tickets/{}", r.str("number")))
        .await;
    assert_eq!(
        again.body["first_response_due_at"],
        r.body["first_response_due_at"]
    );
    assert!(
        again.body["resolution_due_at"].is_string(),
        "{}",
        again.body
    );
}

/// A P2 web ticket nobody answers: warned at 75%, breached at 10 minutes (raised to P1, the
/// department's supervisor told), and each happens once however long the scheduler runs.
pub async fn unanswered_ticket_breaches_on_time_and_escalates_once(backend: Backend) {
    let app = app(backend).await;
    let supervisor = app
        .user("lead@closedloop.test", "supervisor", &["tech_support"])
        .await;
    let r = app
        .post(
            &app.admin,
            "/api/v1/tickets",
            json!({"channel": "web", "description": "The export button does nothing", "priority": "P2", "department": "tech_support"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let number = r.str("number");
    let due = time(&r.body["first_response_due_at"]);
    assert_eq!(due - time(&r.body["created_at"]), minutes(10));

    app.clock.advance(minutes(7));
    let_scheduler_run().await;
    assert!(
        sla_entries(&app, &number).await.is_empty(),
        "nothing is due at 7 minutes"
    );

    app.clock.advance(chrono::Duration::seconds(40)); // 7m40s: past 75% of 10 minutes
    wait_for(&app, &number, ("first_response", "warning")).await;
    assert_eq!(
        count(
            &sla_entries(&app, &number).await,
            "first_response",
            "breach"
        ),
        0
    );

    app.clock.advance(chrono::Duration::seconds(140)); // 10m00s: due
    wait_for(&app, &number, ("first_response", "breach")).await;
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(
        t.str("priority"),
        "P1",
        "the breach raises the priority one level"
    );

    // A later change re-plans the ticket's clocks: what already fired stays fired.
    let edit = app
        .patch(
            &app.admin,
            &format!("/api/v1/tickets/{number}"),
            json!({"region": "north"}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.body);
    let_scheduler_run().await;
    app.clock.advance(minutes(1));
    let_scheduler_run().await;
    let entries = sla_entries(&app, &number).await;
    assert_eq!(
        count(&entries, "first_response", "breach"),
        1,
        "{entries:?}"
    );
    assert_eq!(
        count(&entries, "first_response", "warning"),
        1,
        "{entries:?}"
    );
    let raises = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}/timeline"))
        .await
        .body
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["field"] == "priority")
        .count();
    assert_eq!(raises, 1, "raised once");

    let told = app.get(&supervisor, "/api/v1/notifications").await;
    let told = told.body.as_array().expect("notifications");
    assert_eq!(
        told.iter()
            .filter(|n| n["kind"] == "sla_escalation" && n["ticket"] == number.as_str())
            .count(),
        1,
        "{told:?}"
    );
    let first = clock(&app, &number, "first_response").await;
    assert_eq!(first["state"]["status"], "breached", "{first}");
    assert!(
        first["remaining_seconds"].as_i64().unwrap_or(0) < 0,
        "{first}"
    );
}

/// Answered in time: the first-response clock is met and never escalates.
pub async fn ticket_answered_in_time_never_escalates(backend: Backend) {
    let app = app(backend).await;
    let number = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "How do I change my invoice address?", "priority": "P2"}),
        )
        .await;
    app.clock.advance(minutes(5));
    let reply = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{number}/replies"),
            json!({"body": "Open Settings, then Billing."}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app.clock.advance(minutes(60));
    let_scheduler_run().await;
    let entries = sla_entries(&app, &number).await;
    assert_eq!(
        count(&entries, "first_response", "breach"),
        0,
        "{entries:?}"
    );
    assert_eq!(
        count(&entries, "first_response", "warning"),
        0,
        "{entries:?}"
    );
    let first = clock(&app, &number, "first_response").await;
    assert_eq!(first["state"]["status"], "met", "{first}");
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert!(
        t.body["first_response_due_at"].is_null(),
        "no first answer is due any more"
    );
}

/// Waiting on the user stops the resolution clock; the user's answer starts it again with the
/// due time moved by the wait.
pub async fn waiting_on_the_user_pauses_the_clocks(backend: Backend) {
    let app = app(backend).await;
    let customer = app.user("slow@example.com", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "The app crashes when I open my orders"}),
        )
        .await;
    let before = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    let resolution_due = time(&before.body["resolution_due_at"]);
    for action in ["accept", "start", "request_info"] {
        let r = app.act(&app.admin, &number, action).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    }
    let waiting = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert!(
        waiting.body["resolution_due_at"].is_null(),
        "paused: {}",
        waiting.body
    );

    // The user takes far longer than the whole resolution target to answer.
    let wait = resolution_due - time(&before.body["created_at"]) + minutes(60);
    app.clock.advance(wait);
    let_scheduler_run().await;
    assert_eq!(
        count(&sla_entries(&app, &number).await, "resolution", "breach"),
        0
    );

    let answer = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/replies"),
            json!({"body": "It happens on every start, screenshot attached."}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let resumed = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(resumed.str("status"), "in_progress");
    assert_eq!(
        time(&resumed.body["resolution_due_at"]),
        resolution_due + wait
    );
    // The re-planned deadline is one the scheduler acts on.
    app.clock
        .advance(resolution_due + wait - app.clock_now() + minutes(1));
    wait_for(&app, &number, ("resolution", "breach")).await;
}

/// A chain step configured to reassign hands the ticket to the supervisor it tells (whose
/// acceptance clock then runs), and the backlog report counts the late ticket.
pub async fn escalation_reassigns_and_the_backlog_counts_it(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sla.toml");
    std::fs::write(
        &path,
        "[policy.escalation]\nP3 = [{ after_minutes = 0, notify = \"team_lead\", reassign = true }]\n",
    )
    .expect("write sla.toml");
    let app = spawn_with(backend, |c| {
        c.sla_poll_ms = 20;
        c.sla_config = Some(path.clone());
    })
    .await;
    let supervisor = app
        .user("lead2@closedloop.test", "supervisor", &["tech_support"])
        .await;
    let agent = app
        .user("agent2@closedloop.test", "agent", &["tech_support"])
        .await;
    let number = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "The search box ignores my filters", "priority": "P3", "department": "tech_support"}),
        )
        .await;
    // Another department's ticket, which the tech_support supervisor's report must not show.
    app.create(
        &app.admin,
        json!({"channel": "web", "description": "Refund for order 1182 never arrived", "priority": "P3", "department": "payment"}),
    )
    .await;
    app.clock.advance(minutes(11));
    wait_for(&app, &number, ("first_response", "breach")).await;
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.str("assignee_name"), "lead2", "{}", t.body);
    assert_eq!(t.str("priority"), "P3", "this chain does not raise");
    let acceptance = clock(&app, &number, "acceptance").await;
    assert_eq!(acceptance["state"]["status"], "running", "{acceptance}");

    let report = app.get(&supervisor, "/api/v1/reports/backlog").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let rows = report.body.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "scoped to tech_support: {rows:?}");
    assert_eq!(rows[0]["department"], "tech_support");
    let all = app.get(&app.admin, "/api/v1/reports/backlog").await;
    assert_eq!(all.body.as_array().map_or(0, Vec::len), 2, "{}", all.body);
    let row = &rows[0];
    assert_eq!(row["open"], 1);
    assert_eq!(row["overdue_first_response"], 1);
    assert_eq!(row["stuck"], 0);
    let later = app
        .get(&supervisor, "/api/v1/reports/backlog?stuck_days=1")
        .await;
    assert_eq!(later.body[0]["stuck"], 0, "changed 11 minutes ago");
    app.clock.advance(chrono::Duration::days(2));
    let stuck = app
        .get(&supervisor, "/api/v1/reports/backlog?stuck_days=1")
        .await;
    assert_eq!(stuck.body[0]["stuck"], 1, "{}", stuck.body);
    // The new assignee's acceptance clock was planned too: it runs out unanswered.
    wait_for(&app, &number, ("acceptance", "breach")).await;
    let refused = app.get(&agent, "/api/v1/reports/backlog").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad = app
        .get(&supervisor, "/api/v1/reports/backlog?stuck_days=0")
        .await;
    assert_eq!(bad.error_field(), Some("stuck_days"));
}
