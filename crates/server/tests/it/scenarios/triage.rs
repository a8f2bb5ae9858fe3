use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, spawn, spawn_with};

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

/// The same problem reported again by someone else is registered as a duplicate of the open
/// ticket and points to it; a different problem is not; agents see the cluster.
pub async fn repeated_reports_become_duplicates_of_the_open_ticket(backend: Backend) {
    let app = spawn(backend).await;
    let first = app.user("wu@example.cn", "customer", &[]).await;
    let second = app.user("zheng@example.cn", "customer", &[]).await;
    let text = "APP 升级到 5.2 版本以后，首页一打开就闪退，重装也没有用。";
    let master = app
        .create(&first, json!({"channel": "widget", "description": text}))
        .await;

    let again = app
        .post(
            &second,
            "/api/v1/tickets",
            json!({"channel": "web", "description": text}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.str("status"), "duplicate", "{}", again.body);
    assert_eq!(
        again.str("duplicate_of"),
        master,
        "the user is pointed to it"
    );
    let dup = again.str("number");

    let other = app
        .post(
            &second,
            "/api/v1/tickets",
            json!({"channel": "web", "description": "退款申请提交三天了还没有到账，请尽快处理。"}),
        )
        .await;
    assert_eq!(other.str("status"), "received", "{}", other.body);

    let cluster = app
        .get(
            &app.admin,
            &format!("/api/v1/tickets?duplicate_of={master}"),
        )
        .await;
    let items = cluster.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", cluster.body);
    assert_eq!(items[0]["number"].as_str(), Some(dup.as_str()));
    let verdict = triaged(
        &app.get(&app.admin, &format!("/api/v1/tickets/{dup}/timeline"))
            .await
            .body,
    )
    .expect("verdict");
    assert_eq!(
        verdict["duplicate_of"]["ticket"].as_str(),
        Some(master.as_str())
    );
    // The second customer sees their own ticket, not the first customer's.
    let r = app.get(&second, &format!("/api/v1/tickets/{master}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Administrators' keyword rules (a TOML file named by `triage_config`) override the model.
pub async fn administrators_keyword_rules_override_the_model(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("triage.toml");
    std::fs::write(
        &file,
        "review_threshold = 0.3\n\n[[category_rules]]\ncategory = \"privacy\"\nkeywords = [\"外星人\", \"alien\"]\n",
    )
    .expect("write");
    let app = spawn_with(backend, |c| c.triage_config = Some(file.clone())).await;
    let number = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "外星人在看我的订单页面"}),
        )
        .await;
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.str("category"), "privacy", "{}", t.body);
    let verdict = triaged(
        &app.get(&app.admin, &format!("/api/v1/tickets/{number}/timeline"))
            .await
            .body,
    )
    .expect("verdict");
    assert!(
        verdict["reasons"]
            .to_string()
            .contains(r#""matched":"外星人""#),
        "the rule's keyword is the evidence: {verdict}"
    );
}
