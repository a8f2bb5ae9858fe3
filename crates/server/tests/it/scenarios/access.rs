use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, spawn};

pub async fn agent_of_other_department_cannot_read_or_change_ticket(backend: Backend) {
    let app = spawn(backend).await;
    let outsider = app
        .user("wu@logistics.example", "agent", &["logistics"])
        .await;
    let outsider_sup = app
        .user("boss@logistics.example", "supervisor", &["logistics"])
        .await;
    let number = app.create(&app.admin, json!({"channel": "web", "description": "Charged twice for order 88.", "category": "payment"})).await;
    let before = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await
        .body;
    let entries = app.timeline_len(&number).await;

    for who in [&outsider, &outsider_sup] {
        let path = format!("/api/v1/tickets/{number}");
        assert_eq!(app.get(who, &path).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            app.get(who, &format!("{path}/timeline")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.patch(who, &path, json!({"priority": "P1"}))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.act(who, &number, "accept").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.post(who, &format!("{path}/replies"), json!({"body": "hi"}))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.post(who, &format!("{path}/notes"), json!({"body": "hi"}))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let list = app.get(who, "/api/v1/tickets").await;
        assert_eq!(list.body["items"].as_array().map(Vec::len), Some(0));
        let search = app.get(who, &format!("/api/v1/tickets?q={number}")).await;
        assert_eq!(search.body["items"].as_array().map(Vec::len), Some(0));
    }
    // A duplicate link may not point into another department's tickets either.
    let own = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "Parcel lost.", "category": "logistics"}),
        )
        .await;
    let r = app
        .post(
            &outsider,
            &format!("/api/v1/tickets/{own}/transitions"),
            json!({"action": "mark_duplicate", "duplicate_of": number}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    let after = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await
        .body;
    assert_eq!(before, after, "nothing changed");
    assert_eq!(app.timeline_len(&number).await, entries);
}

pub async fn coordinating_department_sees_ticket(backend: Backend) {
    let app = spawn(backend).await;
    let finance = app
        .user("qian@finance.example", "agent", &["finance"])
        .await;
    let number = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "Refund is late.", "category": "payment"}),
        )
        .await;
    let r = app
        .get(&finance, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["coordinating_departments"], json!(["finance"]));
    let r = app
        .post(
            &finance,
            &format!("/api/v1/tickets/{number}/notes"),
            json!({"body": "Refund batch runs tonight."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["public"], false);
}

pub async fn customer_sees_only_own_tickets_and_public_entries(backend: Backend) {
    let app = spawn(backend).await;
    let alice = app.user("alice@example.com", "customer", &[]).await;
    let bob = app.user("bob@example.com", "customer", &[]).await;
    let mine = app
        .create(
            &alice,
            json!({"channel": "widget", "description": "Dark mode please."}),
        )
        .await;
    let theirs = app
        .create(
            &bob,
            json!({"channel": "web", "description": "My parcel never arrived."}),
        )
        .await;
    app.post(
        &app.admin,
        &format!("/api/v1/tickets/{mine}/notes"),
        json!({"body": "VIP customer, internal only"}),
    )
    .await;
    let reply = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{mine}/replies"),
            json!({"body": "Thanks, we are on it."}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);

    let list = app.get(&alice, "/api/v1/tickets").await;
    let numbers: Vec<_> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["number"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(numbers, vec![mine.clone()]);
    assert_eq!(
        app.get(&alice, &format!("/api/v1/tickets/{theirs}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let t = app.get(&alice, &format!("/api/v1/tickets/{mine}")).await;
    assert!(
        t.body["first_response_at"].is_string(),
        "staff reply is the first response"
    );
    assert!(t.body["requester_ip"].is_null());
    let timeline = app
        .get(&alice, &format!("/api/v1/tickets/{mine}/timeline"))
        .await;
    let entries = timeline.body.as_array().expect("entries");
    assert!(entries.iter().all(|e| e["public"] == true), "{entries:?}");
    assert!(!timeline.body.to_string().contains("VIP customer"));
    assert!(timeline.body.to_string().contains("Thanks, we are on it."));
}

pub async fn routing_by_matrix_and_manual_reassignment(backend: Backend) {
    let app = spawn(backend).await;
    let account_agent = app
        .user("zhao@acct.example", "agent", &["account_mgmt"])
        .await;
    let _ = account_agent;
    let t = app
        .post(
            &app.admin,
            "/api/v1/tickets",
            json!({"channel": "email", "description": "帳號被盜了！", "category": "account"}),
        )
        .await;
    assert_eq!(t.str("department"), "account_mgmt");
    assert_eq!(t.body["coordinating_departments"], json!(["security"]));
    assert_eq!(
        t.str("nature"),
        "problem",
        "nature defaults from the category"
    );
    let none = app
        .post(
            &app.admin,
            "/api/v1/tickets",
            json!({"channel": "email", "description": "Hello?"}),
        )
        .await;
    assert_eq!(
        none.str("department"),
        "customer_service",
        "unclassified tickets wait for manual triage"
    );
    let bad = app
        .post(
            &app.admin,
            "/api/v1/tickets",
            json!({"channel": "email", "description": "x", "category": "weather"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_field(), Some("category"));

    let number = none.str("number");
    let path = format!("/api/v1/tickets/{number}");
    // Correcting the category re-routes by the matrix.
    let r = app
        .patch(&app.admin, &path, json!({"category": "payment"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.str("department"), "payment");
    assert_eq!(r.body["coordinating_departments"], json!(["finance"]));
    // Manual reassignment, and assignment only within the handling department.
    let r = app
        .patch(&app.admin, &path, json!({"department": "account_mgmt"}))
        .await;
    assert_eq!(r.str("department"), "account_mgmt");
    let r = app
        .patch(
            &app.admin,
            &path,
            json!({"assignee": "zhao@acct.example", "priority": "P1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.str("assignee_name"), "zhao");
    assert_eq!(r.str("priority"), "P1");
    let r = app
        .patch(
            &app.admin,
            &path,
            json!({"department": "logistics", "assignee": "zhao@acct.example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_field(), Some("assignee"));
    let r = app
        .patch(&app.admin, &path, json!({"assignee": null}))
        .await;
    assert!(r.body["assignee_id"].is_null());

    let timeline = app.get(&app.admin, &format!("{path}/timeline")).await;
    let fields: Vec<_> = timeline
        .body
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for f in ["category", "department", "assignee", "priority"] {
        assert!(fields.contains(&f), "{f} change recorded: {fields:?}");
    }
    let priority = timeline
        .body
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["field"] == "priority")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            priority["old_value"].as_str(),
            priority["new_value"].as_str()
        ),
        (Some("P3"), Some("P1"))
    );
}

pub async fn agent_keeps_seeing_a_ticket_they_logged_for_another_department(backend: Backend) {
    let app = spawn(backend).await;
    let agent = app
        .user("hotline@example.cn", "agent", &["customer_service"])
        .await;
    let other = app
        .user("other@example.cn", "agent", &["customer_service"])
        .await;
    let number = app.create(&agent, json!({"channel": "phone", "description": "来电：被重复扣款。", "category": "payment", "requester_email": "caller@example.cn"})).await;
    let r = app.get(&agent, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.str("department"), "payment");
    assert_eq!(
        r.str("requester_name"),
        "caller",
        "the caller became a customer account"
    );
    assert_eq!(
        app.get(&other, &format!("/api/v1/tickets/{number}"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "only the one who logged it"
    );
}
