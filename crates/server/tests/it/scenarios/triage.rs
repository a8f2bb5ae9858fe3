use serde_json::{Value, json};

use crate::harness::{Backend, spawn};

fn triaged(timeline: &Value) -> Option<Value> {
    timeline
        .as_array()?
        .iter()
        .find(|e| e["kind"] == "triaged")
        .map(|e| {
            serde_json::from_str(e["body"].as_str().unwrap_or_default()).expect("verdict is JSON")
        })
}

/// A ticket filed without a category is read by the engine: routed by what it says, raised to
/// P1 for a hijacked account with the evidence on the (staff-only) timeline.
pub async fn triage_routes_and_raises_urgent_tickets(backend: Backend) {
    let app = spawn(backend).await;
    let customer = app.user("sun@example.cn", "customer", &[]).await;

    let number = app
        .create(&customer, json!({"channel": "widget", "description": "我的账号被盗了，密码被人改了，现在登录不了，请马上冻结账号！"}))
        .await;
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.str("priority"), "P1", "{}", t.body);
    assert!(
        ["account", "payment"].contains(&t.str("category").as_str()),
        "{}",
        t.body
    );
    assert_eq!(t.str("department"), "account_mgmt");

    let staff_view = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}/timeline"))
        .await;
    let verdict = triaged(&staff_view.body).expect("a triaged entry");
    assert!(
        verdict["urgent"].as_array().is_some_and(|u| !u.is_empty()),
        "{verdict}"
    );
    assert!(
        verdict["applied"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("priority")))
    );
    assert!(
        verdict["reasons"].to_string().contains("盗"),
        "evidence quotes the text: {verdict}"
    );

    let own_view = app
        .get(&customer, &format!("/api/v1/tickets/{number}/timeline"))
        .await;
    assert!(
        triaged(&own_view.body).is_none(),
        "customers do not see the verdict"
    );

    // Traditional Chinese and English take the same path.
    let tw = app
        .create(
            &customer,
            json!({"channel": "web", "description": "包裹寄送延遲了一個星期，物流一直沒有更新。"}),
        )
        .await;
    let t = app.get(&app.admin, &format!("/api/v1/tickets/{tw}")).await;
    assert_eq!(t.str("category"), "logistics", "{}", t.body);
    assert_eq!(t.str("department"), "logistics");
}

/// What people set wins, and text the engine cannot place waits for a person.
pub async fn triage_never_overrides_people_and_defers_when_unsure(backend: Backend) {
    let app = spawn(backend).await;
    let agent = app.user("zhou@example.cn", "agent", &["payment"]).await;
    let number = app
        .create(&agent, json!({"channel": "phone", "description": "The parcel never arrived and I lost money", "category": "payment", "priority": "P2"}))
        .await;
    let t = app.get(&agent, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(t.str("category"), "payment");
    assert_eq!(t.str("priority"), "P2");

    let vague = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "🙂🙂🙂"}),
        )
        .await;
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{vague}"))
        .await;
    assert!(t.body["category"].is_null(), "{}", t.body);
    assert_eq!(t.str("department"), "customer_service");
    let verdict = triaged(
        &app.get(&app.admin, &format!("/api/v1/tickets/{vague}/timeline"))
            .await
            .body,
    )
    .expect("verdict");
    assert_eq!(verdict["needs_review"], true);
}
