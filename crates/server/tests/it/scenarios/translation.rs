//! The translation hook against a stand-in LibreTranslate provider on loopback.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::console::Session;
use crate::harness::{Backend, TestApp, spawn_with};

/// What the provider was asked, and a server that answers `[target] text`.
async fn provider() -> (String, Arc<Mutex<Vec<Value>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    async fn translate(
        State(asked): State<Arc<Mutex<Vec<Value>>>>,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        asked.lock().expect("lock").push(body.clone());
        let q = body["q"].as_str().unwrap_or_default();
        if q.contains("UNTRANSLATABLE") {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "no"})));
        }
        let target = body["target"].as_str().unwrap_or_default();
        (
            StatusCode::OK,
            Json(json!({"translatedText": format!("[{target}] {q}")})),
        )
    }
    let app = axum::Router::new()
        .route("/translate", axum::routing::post(translate))
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/translate"), asked)
}

async fn translations_of(app: &TestApp, token: &str, number: &str) -> (StatusCode, Vec<Value>) {
    let r = app
        .get(token, &format!("/api/v1/tickets/{number}/translations"))
        .await;
    (r.status, r.body.as_array().cloned().unwrap_or_default())
}

pub async fn tickets_in_another_language_get_a_translation_beside_the_original(backend: Backend) {
    let (url, asked) = provider().await;
    let app = spawn_with(backend, |c| {
        c.translation.url = Some(url);
        c.translation.poll_ms = 100;
    })
    .await;
    let outsider = app.user("ship@shop.example", "agent", &["logistics"]).await;
    let english = app
        .create(
            &app.admin,
            json!({"channel": "web", "category": "payment",
                   "description": "My refund has not arrived after three days."}),
        )
        .await;
    let chinese = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "退款三天还没有到账，请尽快处理。"}),
        )
        .await;
    let social = app
        .create(
            &app.admin,
            json!({"channel": "social", "description": "Terrible service, call me on 13812345678 now"}),
        )
        .await;
    let refused = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "UNTRANSLATABLE words only here"}),
        )
        .await;

    let mut found = Vec::new();
    for _ in 0..100 {
        found = translations_of(&app, &app.admin, &social).await.1;
        if found.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        found.len(),
        2,
        "title and description of the last ticket: {found:?}"
    );
    let (status, list) = translations_of(&app, &app.admin, &english).await;
    assert_eq!(status, StatusCode::OK);
    let description = list
        .iter()
        .find(|t| t["field"] == "description")
        .expect("description translated");
    assert_eq!(description["lang"], "zh");
    assert_eq!(
        description["text"],
        "[zh] My refund has not arrived after three days."
    );
    // The original stays as written.
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{english}"))
        .await;
    assert_eq!(
        t.str("description"),
        "My refund has not arrived after three days."
    );
    // Chinese needs nothing; a text the provider refuses is skipped, not retried for ever.
    assert!(
        translations_of(&app, &app.admin, &chinese)
            .await
            .1
            .is_empty()
    );
    assert!(
        translations_of(&app, &app.admin, &refused)
            .await
            .1
            .is_empty()
    );
    // The provider saw masked text only, and each ticket once.
    let asked = asked.lock().expect("lock").clone();
    assert!(
        asked.iter().all(|a| !a.to_string().contains("13812345678")),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|a| a["q"].as_str().is_some_and(|q| q.contains("138****5678")))
    );
    assert_eq!(
        asked
            .iter()
            .filter(|a| a["q"] == "My refund has not arrived after three days.")
            .count(),
        1
    );
    // Scoped like the ticket: staff of another department get nothing.
    assert_eq!(
        translations_of(&app, &outsider, &english).await.0,
        StatusCode::NOT_FOUND
    );
    // The workspace shows it under the original.
    let admin = Session::sign_in(&app, crate::harness::ADMIN_EMAIL).await;
    let (_, page) = admin.get(&app, &format!("/agent/tickets/{english}")).await;
    assert!(
        page.contains("id=\"translation\"") && page.contains("[zh] My refund"),
        "{page}"
    );
}
