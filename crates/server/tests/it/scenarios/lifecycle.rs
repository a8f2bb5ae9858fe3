use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, spawn};

pub async fn health_reports_database(backend: Backend) {
    let app = spawn(backend).await;
    let r = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["database"], "ok");
}

pub async fn walk_ticket_through_every_status(backend: Backend) {
    let app = spawn(backend).await;
    let agent = app.user("li.agent@example.cn", "agent", &["payment"]).await;
    let supervisor = app
        .user("wang.sup@example.cn", "supervisor", &["payment"])
        .await;
    let customer = app.user("zhang@example.cn", "customer", &[]).await;

    let number = app.create(&customer, json!({"channel": "web", "description": "订单没有成功却被扣款两次。请退款。", "category": "payment"})).await;
    let t = app.get(&agent, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(t.str("status"), "received");
    assert_eq!(t.str("title"), "订单没有成功却被扣款两次");
    assert_eq!(t.str("department"), "payment");

    let steps = [
        (&agent, "accept", "accepted"),
        (&agent, "start", "in_progress"),
        (&agent, "request_info", "waiting_on_user"),
        (&customer, "resume", "in_progress"),
        (&agent, "propose_solution", "solution_proposed"),
        (&agent, "rework", "in_progress"),
        (&agent, "propose_solution", "solution_proposed"),
        (&agent, "resolve", "resolved"),
        (&customer, "reopen", "reopened"),
        (&agent, "start", "in_progress"),
        (&agent, "propose_solution", "solution_proposed"),
        (&agent, "resolve", "resolved"),
        (&customer, "close", "closed"),
        (&customer, "appeal", "appeal"),
        (&supervisor, "revise_appeal", "in_progress"),
        (&agent, "propose_solution", "solution_proposed"),
        (&agent, "resolve", "resolved"),
        (&customer, "appeal", "appeal"),
        (&supervisor, "uphold_appeal", "closed"),
        (&supervisor, "reopen", "reopened"),
    ];
    for (who, action, expect) in steps {
        app.clock.advance(chrono::Duration::minutes(5));
        let r = app.act(who, &number, action).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
        assert_eq!(r.str("status"), expect, "{action}");
    }

    let t = app.get(&agent, &format!("/api/v1/tickets/{number}")).await;
    assert!(t.body["accepted_at"].is_string(), "accept sets accepted_at");
    // The appeal handed it to the supervisor not involved in the handling (the only one).
    assert_eq!(t.body["assignee_name"], "wang.sup");
    assert!(
        t.body["resolved_at"].is_null() && t.body["closed_at"].is_null(),
        "reopening clears the outcome"
    );

    let timeline = app
        .get(&agent, &format!("/api/v1/tickets/{number}/timeline"))
        .await;
    let changes: Vec<_> = timeline
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .collect();
    assert_eq!(changes.len(), steps.len(), "every move is on the timeline");
    assert_eq!(changes[0]["old_value"], "received");
    assert_eq!(changes[0]["new_value"], "accepted");
    assert_eq!(changes[0]["actor_name"], "li.agent");
    let assigned: Vec<_> = timeline
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["kind"] == "assigned")
        .collect();
    assert_eq!(
        assigned[0]["new_value"], "li.agent",
        "accepting an unassigned ticket assigns it"
    );
}

pub async fn illegal_transition_answers_409_naming_from_and_to(backend: Backend) {
    let app = spawn(backend).await;
    let number = app
        .create(
            &app.admin,
            json!({"channel": "phone", "description": "The app crashes when I open settings."}),
        )
        .await;
    let before = app.timeline_len(&number).await;
    for (action, to) in [
        ("resolve", "resolved"),
        ("close", "closed"),
        ("uphold_appeal", "closed"),
        ("resume", "in_progress"),
    ] {
        let r = app.act(&app.admin, &number, action).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{action}");
        assert_eq!(r.error_code(), "invalid_transition");
        let msg = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("received") && msg.contains(to), "{msg}");
    }
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{number}/transitions"),
            json!({"action": "teleport"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("action"));
    assert_eq!(
        app.get(&app.admin, &format!("/api/v1/tickets/{number}"))
            .await
            .str("status"),
        "received"
    );
    assert_eq!(
        app.timeline_len(&number).await,
        before,
        "refused moves leave no trace"
    );
}

pub async fn customer_cannot_take_staff_actions(backend: Backend) {
    let app = spawn(backend).await;
    let customer = app.user("c@example.com", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "I was charged twice."}),
        )
        .await;
    let r = app.act(&customer, &number, "accept").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/notes"),
            json!({"body": "internal?"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .patch(
            &customer,
            &format!("/api/v1/tickets/{number}"),
            json!({"priority": "P1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            &customer,
            "/api/v1/tickets",
            json!({"channel": "web", "description": "urgent!!!", "priority": "P1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error_field(), Some("priority"));
    let agent = app
        // Wherever triage routes "charged twice" (payment, or manual review when unsure).
        .user("a@example.com", "agent", &["customer_service", "payment"])
        .await;
    for step in ["accept", "start", "propose_solution", "resolve", "close"] {
        let who = if step == "close" { &customer } else { &agent };
        assert_eq!(
            app.act(who, &number, step).await.status,
            StatusCode::OK,
            "{step}"
        );
    }
    let r = app.act(&customer, &number, "reopen").await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only supervisors reopen closed tickets: {}",
        r.body
    );
    let r = app.act(&agent, &number, "reopen").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "agents neither");
}

pub async fn duplicate_links_to_master(backend: Backend) {
    let app = spawn(backend).await;
    let master = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "Login page is down for everyone."}),
        )
        .await;
    let copy = app
        .create(
            &app.admin,
            json!({"channel": "email", "description": "Cannot reach the login page."}),
        )
        .await;
    let r = app.act(&app.admin, &copy, "mark_duplicate").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("duplicate_of"));
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{copy}/transitions"),
            json!({"action": "mark_duplicate", "duplicate_of": copy}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "not itself");
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{copy}/transitions"),
            json!({"action": "mark_duplicate", "duplicate_of": master, "reason": "same outage"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.str("status"), "duplicate");
    assert_eq!(r.str("duplicate_of"), master);
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{master}/transitions"),
            json!({"action": "mark_duplicate", "duplicate_of": copy}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "never onto a duplicate"
    );
}

pub async fn appeal_only_within_seven_days(backend: Backend) {
    let app = spawn(backend).await;
    let customer = app.user("c@example.com", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "退款一直没到账。"}),
        )
        .await;
    for step in ["accept", "start", "propose_solution", "resolve"] {
        assert_eq!(
            app.act(&app.admin, &number, step).await.status,
            StatusCode::OK
        );
    }
    app.clock.advance(chrono::Duration::days(8));
    let r = app.act(&customer, &number, "appeal").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "appeal_window_closed");
    let r = app.act(&customer, &number, "close").await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Creation answers with the ticket it wrote without reading it back; whatever it answers must
/// be exactly what a later read returns, for every way a ticket can be routed and attributed.
pub async fn created_ticket_reads_back_identically(backend: Backend) {
    let app = spawn(backend).await;
    let customer = app.user("zhao@example.cn", "customer", &[]).await;
    let agent = app
        .user("qian.agent@example.cn", "agent", &["payment"])
        .await;
    let cases = [
        (
            &customer,
            json!({"channel": "widget", "description": "扣款两次 – 请退款 🙏", "category": "payment", "order_number": "A-1", "evidence": ["shot.png"]}),
        ),
        (
            &agent,
            json!({"channel": "phone", "description": "Caller says the app crashes", "requester_email": "New.Caller@Example.com", "category": "function_fault", "priority": "P1"}),
        ),
        (
            &agent,
            json!({"channel": "offline", "title": "Walk-in", "description": "walk-in feedback", "department": "logistics"}),
        ),
        (
            &app.admin,
            json!({"channel": "email", "description": "no category, goes to manual triage"}),
        ),
    ];
    for (token, body) in cases {
        let created = app.post(token, "/api/v1/tickets", body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let number = created.str("number");
        let read = app
            .get(&app.admin, &format!("/api/v1/tickets/{number}"))
            .await;
        assert_eq!(created.body, read.body);
    }
}
