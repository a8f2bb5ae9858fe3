//! The signed webhook channel: sources, threading, refusals, redelivery and rate limits.

use closedloop_server::signature::sign;
use closedloop_store::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, Reply, TestApp, spawn, spawn_with};

/// Adds a source through the API; returns its secret.
async fn add_source(app: &TestApp, name: &str, channel: &str) -> String {
    let r = app
        .post(
            &app.admin,
            "/api/v1/webhook-sources",
            json!({"name": name, "channel": channel}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["channel"], channel);
    let secret = r.str("secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    secret
}

/// Posts `body` to the source's intake, signed with `secret` at `timestamp`; the reply and its
/// `Retry-After`.
async fn post_signed(
    http: &reqwest::Client,
    base: &str,
    source: &str,
    secret: &str,
    timestamp: i64,
    body: &Value,
) -> (Reply, Option<String>) {
    let raw = serde_json::to_vec(body).expect("json");
    let res = http
        .post(format!("{base}/api/v1/intake/webhook/{source}"))
        .header("content-type", "application/json")
        .header("x-closedloop-timestamp", timestamp.to_string())
        .header(
            "x-closedloop-signature",
            sign(secret.as_bytes(), timestamp, &raw),
        )
        .body(raw)
        .send()
        .await
        .expect("request");
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = serde_json::from_str(&res.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    (Reply { status, body }, retry_after)
}

async fn deliver_at(
    app: &TestApp,
    source: &str,
    secret: &str,
    timestamp: i64,
    body: &Value,
) -> (Reply, Option<String>) {
    post_signed(&app.http, &app.base, source, secret, timestamp, body).await
}

async fn deliver(app: &TestApp, source: &str, secret: &str, body: &Value) -> Reply {
    let now = app.clock.now().timestamp();
    deliver_at(app, source, secret, now, body).await.0
}

fn message(thread: &str, id: &str, text: &str) -> Value {
    json!({"thread": thread, "message_id": id, "text": text,
           "from": {"name": "王小明", "handle": "wxid_42"}})
}

async fn timeline(app: &TestApp, number: &str) -> Vec<Value> {
    app.get(&app.admin, &format!("/api/v1/tickets/{number}/timeline"))
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn replies(entries: &[Value]) -> Vec<&Value> {
    entries.iter().filter(|e| e["kind"] == "reply").collect()
}

pub async fn webhook_messages_of_one_thread_become_one_ticket(backend: Backend) {
    let app = spawn(backend).await;
    let secret = add_source(&app, "wechat-bot", "chat").await;

    let first = deliver(
        &app,
        "wechat-bot",
        &secret,
        &message("room-1", "m1", "小程序付款后订单一直显示未支付。"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["threaded"], false);
    let number = first.str("ticket");
    for (id, text) in [("m2", "已经等了两天了。"), ("m3", "Any update?")] {
        let r = deliver(&app, "wechat-bot", &secret, &message("room-1", id, text)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["threaded"], true);
        assert_eq!(r.str("ticket"), number);
    }

    let ticket = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(ticket.body["channel"], "chat");
    let description = ticket.str("description");
    assert!(
        description.starts_with("小程序付款后订单一直显示未支付。"),
        "{description}"
    );
    assert!(description.contains("王小明 (wxid_42)"), "{description}");
    assert_eq!(ticket.body["requester_id"], Value::Null, "anonymous");
    let entries = timeline(&app, &number).await;
    assert!(
        entries.iter().any(|e| e["kind"] == "triaged"),
        "the opening message is triaged like any new ticket: {entries:?}"
    );
    let replies = replies(&entries);
    assert_eq!(replies.len(), 2, "{entries:?}");
    assert!(replies.iter().all(|e| e["public"] == true));
    assert!(
        replies[0]["body"]
            .as_str()
            .unwrap_or_default()
            .starts_with("已经等了两天了。")
    );
    assert!(
        replies[1]["body"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Any update?")
    );
    assert_eq!(replies[0]["actor_name"], "wechat-bot (webhook)");
    assert_eq!(
        ticket.body["first_response_at"],
        Value::Null,
        "the user's words are no response"
    );

    // Another conversation is another ticket; a known email makes the customer its requester.
    let other = deliver(
        &app,
        "wechat-bot",
        &secret,
        &json!({"thread": "room-2", "message_id": "m1", "text": "Refund please.",
                "from": {"email": "li.lei@example.com"}, "category": "payment"}),
    )
    .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    assert_eq!(other.body["threaded"], false);
    let second = other.str("ticket");
    assert_ne!(second, number);
    let t2 = app
        .get(&app.admin, &format!("/api/v1/tickets/{second}"))
        .await;
    assert_eq!(t2.body["requester_name"], "li.lei");
    assert_eq!(t2.body["department"], "payment");
    assert_eq!(app.count_visible_to_admin().await, 2);
}

pub async fn webhook_with_bad_signature_or_stale_timestamp_is_refused(backend: Backend) {
    let app = spawn(backend).await;
    let secret = add_source(&app, "weibo-monitor", "social").await;
    let body = message("post-9", "c1", "客服电话一直打不通");
    let now = app.clock.now().timestamp();

    let wrong = deliver(&app, "weibo-monitor", "whsec_guessed", &body).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert_eq!(wrong.error_code(), "invalid_signature");
    assert_eq!(wrong.error_field(), Some("X-Closedloop-Signature"));

    // Signed for another body (the one on the wire was changed on the way).
    let raw = serde_json::to_vec(&body).expect("json");
    let res = app
        .http
        .post(format!("{}/api/v1/intake/webhook/weibo-monitor", app.base))
        .header("x-closedloop-timestamp", now.to_string())
        .header(
            "x-closedloop-signature",
            sign(secret.as_bytes(), now, b"{}"),
        )
        .body(raw.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let unsigned = app
        .http
        .post(format!("{}/api/v1/intake/webhook/weibo-monitor", app.base))
        .body(raw)
        .send()
        .await
        .expect("request");
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

    for skew in [-301, 301, -3600] {
        let (old, _) = deliver_at(&app, "weibo-monitor", &secret, now + skew, &body).await;
        assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{skew}: {}", old.body);
        assert_eq!(old.error_code(), "stale_timestamp");
        assert_eq!(old.error_field(), Some("X-Closedloop-Timestamp"));
    }
    let (edge, _) = deliver_at(&app, "weibo-monitor", &secret, now - 300, &body).await;
    assert_eq!(
        edge.status,
        StatusCode::CREATED,
        "300 s is still fine: {}",
        edge.body
    );
    app.clock.advance(chrono::Duration::seconds(1));

    // An unknown source answers exactly like a wrong signature: nothing tells it apart.
    let unknown = deliver(&app, "no-such-source", &secret, &body).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body, wrong.body);
    let bad_name = deliver(&app, "Not_A_Slug", &secret, &body).await;
    assert_eq!(bad_name.body, wrong.body);

    assert_eq!(
        app.count_visible_to_admin().await,
        1,
        "only the one good delivery"
    );
}

pub async fn webhook_redelivery_changes_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let secret = add_source(&app, "crm", "phone").await;
    let first = message("call-7", "a", "Caller reports a double charge.");
    let r1 = deliver(&app, "crm", &secret, &first).await;
    assert_eq!(r1.status, StatusCode::CREATED);
    let number = r1.str("ticket");
    let again = deliver(&app, "crm", &secret, &first).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, r1.body);

    let follow = message("call-7", "b", "Caller called back.");
    let r2 = deliver(&app, "crm", &secret, &follow).await;
    assert_eq!(r2.status, StatusCode::CREATED);
    let before = timeline(&app, &number).await.len();
    // Redelivered later, after the clock moved on (still inside the window): same answer.
    app.clock.advance(chrono::Duration::seconds(30));
    let r3 = deliver(&app, "crm", &secret, &follow).await;
    assert_eq!(r3.status, StatusCode::OK);
    assert_eq!(r3.body, json!({"ticket": number, "threaded": true}));
    assert_eq!(timeline(&app, &number).await.len(), before);
    assert_eq!(replies(&timeline(&app, &number).await).len(), 1);
    assert_eq!(app.count_visible_to_admin().await, 1);
}

pub async fn webhook_thread_of_a_closed_ticket_opens_a_linked_one(backend: Backend) {
    let app = spawn(backend).await;
    let secret = add_source(&app, "line-bot", "chat").await;
    let r = deliver(
        &app,
        "line-bot",
        &secret,
        &message("t", "1", "App crashes on start."),
    )
    .await;
    let old = r.str("ticket");
    for action in ["accept", "start", "propose_solution", "resolve", "close"] {
        let step = app.act(&app.admin, &old, action).await;
        assert_eq!(step.status, StatusCode::OK, "{action}: {}", step.body);
    }
    let r = deliver(
        &app,
        "line-bot",
        &secret,
        &message("t", "2", "It crashes again."),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["threaded"], false);
    let new = r.str("ticket");
    assert_ne!(new, old);
    let t = app.get(&app.admin, &format!("/api/v1/tickets/{new}")).await;
    assert!(t.str("description").starts_with("It crashes again."));
    assert!(t.str("description").contains(&old), "{}", t.body);
    assert_eq!(t.str("title"), "It crashes again");
    let r = deliver(&app, "line-bot", &secret, &message("t", "3", "Still.")).await;
    assert_eq!(r.body, json!({"ticket": new, "threaded": true}));
    assert_eq!(replies(&timeline(&app, &old).await).len(), 0);
}

pub async fn only_admins_manage_webhook_sources(backend: Backend) {
    let app = spawn(backend).await;
    let agent = app.user("agent@example.com", "agent", &["payment"]).await;
    let sup = app
        .user("sup@example.com", "supervisor", &["payment"])
        .await;
    for token in [&agent, &sup] {
        let r = app
            .post(
                token,
                "/api/v1/webhook-sources",
                json!({"name": "x", "channel": "chat"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            app.get(token, "/api/v1/webhook-sources").await.status,
            StatusCode::FORBIDDEN
        );
    }
    add_source(&app, "hotline", "phone").await;
    let dup = app
        .post(
            &app.admin,
            "/api/v1/webhook-sources",
            json!({"name": "hotline", "channel": "chat"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.error_field(), Some("name"));
    let bad = app
        .post(
            &app.admin,
            "/api/v1/webhook-sources",
            json!({"name": "Hot Line", "channel": "chat"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_field(), Some("name"));
    let bad = app
        .post(
            &app.admin,
            "/api/v1/webhook-sources",
            json!({"name": "fax", "channel": "fax"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let list = app.get(&app.admin, "/api/v1/webhook-sources").await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body.as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["user_email"], "webhook+hotline@closedloop.local");
    assert!(
        !list.body.to_string().contains("whsec_"),
        "no secrets in the list"
    );
    let users = app.get(&app.admin, "/api/v1/users").await;
    let service = users
        .body
        .as_array()
        .and_then(|u| {
            u.iter()
                .find(|u| u["email"] == "webhook+hotline@closedloop.local")
                .cloned()
        })
        .expect("service account listed");
    assert_eq!(service["role"], "agent");
    assert_eq!(service["departments"], json!([]));
    // It has no password: logging in as it fails like any wrong password.
    let login = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": "webhook+hotline@closedloop.local", "password": ""}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
}

pub async fn webhook_and_login_endpoints_answer_429_over_the_limit(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.rate_limit.login_burst = 2;
        c.rate_limit.login_per_minute = 1;
        c.rate_limit.public_burst = 3;
        c.rate_limit.public_per_minute = 1;
        c.rate_limit.webhook_burst = 2;
        c.rate_limit.webhook_per_minute = 1;
    })
    .await;
    let login = || async {
        app.http
            .post(format!("{}/api/v1/auth/login", app.base))
            .json(&json!({"email": "nobody@example.com", "password": "guess-guess"}))
            .send()
            .await
            .expect("login")
    };
    assert_eq!(login().await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login().await.status(), StatusCode::UNAUTHORIZED);
    let limited = login().await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = limited.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    // Per source: the third signed message in a burst of two waits.
    let secret = add_source(&app, "bot", "chat").await;
    let now = app.clock.now().timestamp();
    for id in ["1", "2"] {
        let (r, _) = deliver_at(&app, "bot", &secret, now, &message("t", id, "hello")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let (r, retry) = deliver_at(&app, "bot", &secret, now, &message("t", "3", "hello")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.error_code(), "rate_limited");
    assert!(retry.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
    assert_eq!(replies(&timeline(&app, &r.str("ticket")).await).len(), 0);

    // Per address: those three used the public allowance; the OpenAPI document is public too.
    let doc = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .expect("doc");
    assert_eq!(doc.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(doc.headers().contains_key("retry-after"));
    // A browser on the web form gets a page, not JSON.
    let page = app
        .http
        .get(format!("{}/feedback", app.base))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("form");
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));
    assert!(
        page.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        page.headers()
    );
    let text = page.text().await.unwrap_or_default();
    assert!(
        text.contains("Too many requests") && text.contains("请求过于频繁"),
        "{text}"
    );
    // Authenticated work is not limited by these buckets.
    assert_eq!(
        app.get(&app.admin, "/api/v1/me").await.status,
        StatusCode::OK
    );
    assert_eq!(app.count_visible_to_admin().await, 1);
}

pub async fn webhook_concurrent_first_messages_make_one_ticket(backend: Backend) {
    let app = spawn(backend).await;
    let secret = add_source(&app, "burst", "chat").await;
    let now = app.clock.now().timestamp();
    let mut tasks = Vec::new();
    // Eight messages of a new thread at once, and the first of them delivered twice.
    for i in [0, 1, 2, 3, 4, 5, 6, 7, 0] {
        let (http, base, secret) = (app.http.clone(), app.base.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let body = message("same-room", &format!("m{i}"), &format!("message {i}"));
            post_signed(&http, &base, "burst", &secret, now, &body)
                .await
                .0
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("join"));
    }
    let mut numbers: Vec<String> = results.iter().map(|r| r.str("ticket")).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 1, "{numbers:?}");
    let opened = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED && r.body["threaded"] == false)
        .count();
    assert_eq!(opened, 1);
    assert_eq!(app.count_visible_to_admin().await, 1);
    assert_eq!(replies(&timeline(&app, &numbers[0]).await).len(), 7);
}

pub async fn later_messages_of_a_public_thread_are_masked_like_the_first(backend: Backend) {
    let app = spawn(backend).await;
    let secret = add_source(&app, "weibo", "social").await;
    let first = deliver(
        &app,
        "weibo",
        &secret,
        &message("post-9", "c1", "退款三天没到账，电话 13812345678"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let number = first.str("ticket");
    let r = deliver(
        &app,
        "weibo",
        &secret,
        &message(
            "post-9",
            "c2",
            "补充：身份证 11010519491231002X，邮箱 wang@example.com",
        ),
    )
    .await;
    assert_eq!(r.body["threaded"], true, "{}", r.body);

    let entries = timeline(&app, &number).await;
    let text = serde_json::to_string(&entries).unwrap_or_default();
    for raw in ["13812345678", "11010519491231002X", "wang@example.com"] {
        assert!(!text.contains(raw), "{raw} in {text}");
    }
    assert!(text.contains("w***@example.com"), "{text}");
    let reply_id = replies(&entries)[0]["id"].as_i64().expect("id");
    let revealed = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{number}/reveal"),
            json!({}),
        )
        .await;
    assert_eq!(revealed.status, StatusCode::OK, "{}", revealed.body);
    let fields = revealed.body["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let reply = fields
        .iter()
        .find(|f| f["field"] == format!("reply:{reply_id}"))
        .unwrap_or_else(|| panic!("the reply's original: {fields:?}"));
    assert!(
        reply["original"]
            .as_str()
            .unwrap_or_default()
            .contains("11010519491231002X")
    );
    assert_eq!(reply["kinds"], json!(["cn_id", "email"]));
}
