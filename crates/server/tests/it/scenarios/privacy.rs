use reqwest::{Method, StatusCode};
use serde_json::json;

use super::console::Session;
use crate::harness::{Backend, spawn};

const MOBILE: &str = "13812345678";
const RESIDENT_ID: &str = "11010519491231002X";
const EMAIL: &str = "li.lei@example.com";
const CARD: &str = "6222021234567890128";

pub async fn personal_data_from_public_channels_is_masked_and_revealed_on_record(backend: Backend) {
    let app = spawn(backend).await;
    let agent = app.user("pay@shop.example", "agent", &["payment"]).await;
    let boss = app
        .user("boss@shop.example", "supervisor", &["payment"])
        .await;
    let outsider = app
        .user("boss@ship.example", "supervisor", &["logistics"])
        .await;
    let text = format!(
        "微博评论：退款一直没到！手机{MOBILE}，身份证{RESIDENT_ID}，邮箱 {EMAIL} 订单号 202611221234567"
    );
    let social = app
        .create(
            &app.admin,
            json!({"channel": "social", "description": text, "category": "payment",
                   "expected_resolution": format!("退回到卡 {CARD}")}),
        )
        .await;
    let web = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": text, "category": "payment"}),
        )
        .await;

    // Staff read it masked, everywhere the text goes: the ticket, its title, the triage entry.
    let path = format!("/api/v1/tickets/{social}");
    let t = app.get(&agent, &path).await;
    assert_eq!(t.status, StatusCode::OK);
    let description = t.str("description");
    assert!(
        description.contains("138****5678") && description.contains("l***@example.com"),
        "{description}"
    );
    assert!(
        description.contains("202611221234567"),
        "an order number stays readable: {description}"
    );
    assert!(t.str("expected_resolution").starts_with("退回到卡 6222"));
    let timeline = app.get(&agent, &format!("{path}/timeline")).await;
    for raw in [MOBILE, RESIDENT_ID, EMAIL, CARD] {
        assert!(!t.body.to_string().contains(raw), "{raw} in {}", t.body);
        assert!(
            !timeline.body.to_string().contains(raw),
            "{raw} in the timeline"
        );
    }
    // A private channel's text is the user's own message to us and stays as written.
    let w = app.get(&agent, &format!("/api/v1/tickets/{web}")).await;
    assert!(w.str("description").contains(MOBILE));

    // Revealing is for supervisors and up (the default), within their scope.
    let reveal = format!("{path}/reveal");
    let refused = app.post(&agent, &reveal, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "forbidden");
    assert_eq!(
        app.post(&outsider, &reveal, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    let shown = app.post(&boss, &reveal, json!({})).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let fields = shown.body["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["field"] == name)
            .unwrap_or_else(|| panic!("{name} in {fields:?}"))
    };
    assert_eq!(field("description")["original"], text.as_str());
    assert_eq!(
        field("description")["kinds"],
        json!(["cn_mobile", "cn_id", "email"])
    );
    assert_eq!(field("expected_resolution")["kinds"], json!(["bank_card"]));
    // The unmasked web ticket has nothing to reveal, and says so.
    let nothing = app
        .post(&boss, &format!("/api/v1/tickets/{web}/reveal"), json!({}))
        .await;
    assert_eq!(nothing.body["fields"], json!([]));

    // The access log: the agent's view and the supervisor's reveal, for administrators only.
    let log = app
        .get(&app.admin, &format!("/api/v1/access-log?ticket={social}"))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let items = log.body["items"].as_array().expect("items").clone();
    assert!(
        items.iter().any(|e| e["action"] == "reveal"
            && e["actor_name"] == "boss"
            && e["kinds"] == json!(["bank_card", "cn_id", "cn_mobile", "email"])),
        "{items:?}"
    );
    assert!(
        items
            .iter()
            .any(|e| e["action"] == "view" && e["actor_name"] == "pay"),
        "{items:?}"
    );
    assert!(items.iter().all(|e| e["ticket"] == social.as_str()));
    // Viewing again within minutes is the same entry.
    app.get(&agent, &path).await;
    let again = app
        .get(&app.admin, &format!("/api/v1/access-log?ticket={social}"))
        .await;
    assert_eq!(
        again.body["items"].as_array().map(Vec::len),
        Some(items.len())
    );
    assert_eq!(
        app.get(&boss, "/api/v1/access-log").await.status,
        StatusCode::FORBIDDEN
    );
    for (query, field) in [
        ("limit=0", "limit"),
        ("ticket=nope", "ticket"),
        ("actor=1", "actor"),
    ] {
        let bad = app
            .get(&app.admin, &format!("/api/v1/access-log?{query}"))
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(bad.error_field(), Some(field), "{query}");
    }
    // No route changes the log.
    for method in [Method::DELETE, Method::PUT, Method::PATCH] {
        let r = app
            .call(
                method.clone(),
                &app.admin,
                "/api/v1/access-log",
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    let after = app.get(&app.admin, "/api/v1/access-log?limit=500").await;
    assert!(after.body["items"].as_array().map(Vec::len) >= Some(items.len()));

    // The workspace: masked text and which kinds, the supervisor's button shows the original.
    let sup = Session::sign_in(&app, "boss@shop.example").await;
    let (status, page) = sup.get(&app, &format!("/agent/tickets/{social}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("138****5678") && !page.contains(MOBILE));
    assert!(
        (page.contains("mobile number") || page.contains("手机号"))
            && page.contains("id=\"reveal\""),
        "kinds and the button: {page}"
    );
    let (status, _, shown) = sup
        .post(&app, &format!("/agent/tickets/{social}/reveal"), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains(MOBILE) && shown.contains(CARD) && shown.contains("class=\"revealed\""));
    let ag = Session::sign_in(&app, "pay@shop.example").await;
    let (_, page) = ag.get(&app, &format!("/agent/tickets/{social}")).await;
    assert!(page.contains("138****5678") && !page.contains("id=\"reveal\""));
    let (status, _, body) = ag
        .post(&app, &format!("/agent/tickets/{social}/reveal"), &[])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.contains(MOBILE) && body.contains("supervisor"));
    let log = app
        .get(
            &app.admin,
            &format!("/api/v1/access-log?ticket={social}&limit=500"),
        )
        .await;
    let reveals = log.body["items"]
        .as_array()
        .map(|i| i.iter().filter(|e| e["action"] == "reveal").count());
    assert_eq!(
        reveals,
        Some(2),
        "the API's and the console's reveal, not the refused one"
    );
}
