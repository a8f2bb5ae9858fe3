use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, spawn};

pub async fn idempotent_retry_returns_same_ticket(backend: Backend) {
    let app = spawn(backend).await;
    let body = json!({"channel": "api", "description": "Webhook delivery failed."});
    let send = |key: &'static str, body: Value| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(format!("{}/api/v1/tickets", app.base))
                .bearer_auth(&app.admin)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .expect("send");
            (
                res.status(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s1, first) = send("order-42-retry", body.clone()).await;
    let (s2, second) = send("order-42-retry", body.clone()).await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(first["number"], second["number"]);
    let (s3, err) = send(
        "order-42-retry",
        json!({"channel": "api", "description": "Something else."}),
    )
    .await;
    assert_eq!(s3, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["code"], "idempotency_key_reused");
    assert_eq!(app.count_visible_to_admin().await, 1);
}

/// Retries with one key race plain creations: new tickets are written in shared transactions,
/// so a retry that collides on its key must fail alone, not take its neighbours with it.
pub async fn concurrent_retries_with_one_key_make_one_ticket(backend: Backend) {
    let app = spawn(backend).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let http = app.http.clone();
        let url = format!("{}/api/v1/tickets", app.base);
        let token = app.admin.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = http.post(url).bearer_auth(token);
            let retry = i % 2 == 0;
            let description = if retry {
                "double click".to_owned()
            } else {
                format!("neighbour {i}")
            };
            if retry {
                req = req.header("Idempotency-Key", "same");
            }
            let res = req
                .json(&json!({"channel": "web", "description": description}))
                .send()
                .await
                .expect("send");
            let status = res.status();
            let number = res.json::<Value>().await.unwrap_or(Value::Null)["number"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (retry, status, number)
        }));
    }
    let mut retried = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let (retry, status, number) = t.await.expect("join");
        if retry {
            assert!(
                status == StatusCode::CREATED || status == StatusCode::OK,
                "{status}"
            );
            created += usize::from(status == StatusCode::CREATED);
            retried.insert(number);
        } else {
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    assert_eq!(created, 1);
    assert_eq!(retried.len(), 1);
    assert_eq!(app.count_visible_to_admin().await, 13);
}

pub async fn concurrent_creation_produces_unique_numbers(backend: Backend) {
    let app = spawn(backend).await;
    let n = 64;
    let mut tasks = Vec::new();
    for i in 0..n {
        let http = app.http.clone();
        let url = format!("{}/api/v1/tickets", app.base);
        let token = app.admin.clone();
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"channel": "chat", "description": format!("message {i}")}))
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), StatusCode::CREATED);
            res.json::<Value>().await.expect("json")["number"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }));
    }
    let mut numbers = HashSet::new();
    for t in tasks {
        numbers.insert(t.await.expect("join"));
    }
    assert_eq!(numbers.len(), n);
    // One day's numbers are gap-free: 1..=n.
    let expected: HashSet<String> = (1..=n).map(|i| format!("FB-20261122-{i:06}")).collect();
    assert_eq!(numbers, expected);
}

pub async fn bad_input_is_refused_and_nothing_stored(backend: Backend) {
    let app = spawn(backend).await;
    let url = format!("{}/api/v1/tickets", app.base);
    let raw = |body: Vec<u8>, content_type: &'static str| {
        let app = &app;
        let url = url.clone();
        async move {
            let res = app
                .http
                .post(url)
                .bearer_auth(&app.admin)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("send");
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode, Option<&str>)> = vec![
        (
            "malformed JSON",
            br#"{"channel": "web", "description": "#.to_vec(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "not an object",
            br#""just text""#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            "wrong type",
            br#"{"channel": "web", "description": 42}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("description"),
        ),
        (
            "wrong nested type",
            br#"{"channel": "web", "description": "x", "evidence": ["a", 3]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("evidence[1]"),
        ),
        (
            "unknown enum value",
            br#"{"channel": "pigeon", "description": "x"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("channel"),
        ),
        (
            "unknown priority",
            br#"{"channel": "web", "description": "x", "priority": "P0"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("priority"),
        ),
        (
            "missing description",
            br#"{"channel": "web"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("description"),
        ),
        (
            "empty description",
            br#"{"channel": "web", "description": "   "}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("description"),
        ),
        (
            "control characters",
            b"{\"channel\": \"web\", \"description\": \"a\\u0000b\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("description"),
        ),
        (
            "unknown field",
            br#"{"channel": "web", "description": "x", "colour": "red"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("colour"),
        ),
        (
            "title too long",
            format!(
                r#"{{"channel": "web", "description": "x", "title": "{}"}}"#,
                "长".repeat(61)
            )
            .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("title"),
        ),
        (
            "invalid UTF-8",
            b"{\"channel\": \"web\", \"description\": \"\xff\xfe bad\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "bad category code",
            br#"{"channel": "web", "description": "x", "category": "Pay'; DROP TABLE tickets;--"}"#
                .to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("category"),
        ),
        (
            "oversized body",
            format!(
                r#"{{"channel": "web", "description": "{}"}}"#,
                "a".repeat(70 * 1024)
            )
            .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (name, body, status, field) in cases {
        let (got, json) = raw(body, "application/json").await;
        assert_eq!(got, status, "{name}: {json}");
        assert!(
            json["error"]["code"].is_string() && json["error"]["message"].is_string(),
            "{name}: error body {json}"
        );
        if let Some(f) = field {
            assert_eq!(json["error"]["field"], f, "{name}: {json}");
        }
    }
    let (got, _) = raw(
        br#"{"channel": "web", "description": "x"}"#.to_vec(),
        "text/plain",
    )
    .await;
    assert_eq!(got, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app.get(&app.admin, "/api/v1/tickets?status=lost").await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
    let r = app
        .get(&app.admin, "/api/v1/tickets?created_from=yesterday")
        .await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("created_from"))
    );
    let r = app.get(&app.admin, "/api/v1/tickets?limit=100000").await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
    );
    let r = app.get(&app.admin, "/api/v1/tickets?cursor=garbage").await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor"))
    );
    assert_eq!(
        app.get(&app.admin, "/api/v1/tickets/not-a-number")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count_visible_to_admin().await, 0, "nothing stored");
}

pub async fn metacharacters_are_stored_verbatim(backend: Backend) {
    let app = spawn(backend).await;
    let nasty = [
        "Robert'); DROP TABLE tickets;--",
        "<script>alert('x')</script> & \"quotes\"",
        "100% off_sale \\ back\\slash",
        "全角＜script＞ 与 ' OR '1'='1",
    ];
    for text in nasty {
        let body = json!({
            "channel": "web", "description": text, "title": text, "order_number": text.chars().take(20).collect::<String>(),
            "expected_resolution": text, "region": text, "evidence": [text],
        });
        let r = app.post(&app.admin, "/api/v1/tickets", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{text}: {}", r.body);
        let got = app
            .get(&app.admin, &format!("/api/v1/tickets/{}", r.str("number")))
            .await;
        assert_eq!(
            got.body["order_number"],
            text.chars().take(20).collect::<String>()
        );
        for field in ["description", "title", "expected_resolution", "region"] {
            assert_eq!(got.body[field], text, "{field}");
        }
        assert_eq!(got.body["evidence"], json!([text]));
        let reply = app
            .post(
                &app.admin,
                &format!("/api/v1/tickets/{}/replies", r.str("number")),
                json!({"body": text}),
            )
            .await;
        assert_eq!(reply.body["body"], text);
    }
    // LIKE wildcards in q match literally.
    let r = app
        .get(&app.admin, "/api/v1/tickets?q=100%25%20off_sale")
        .await;
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1));
    let r = app.get(&app.admin, "/api/v1/tickets?q=%25").await;
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(1),
        "a bare % is a literal percent sign"
    );
    assert_eq!(
        app.count_visible_to_admin().await,
        nasty.len(),
        "the table is intact"
    );
}
