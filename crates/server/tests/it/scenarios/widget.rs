//! The in-app feedback widget: sites, CORS by configured origins, posts with a screenshot.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, spawn_with};

const SHOP: &str = "https://shop.example";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

struct Answer {
    status: StatusCode,
    allow_origin: Option<String>,
    body: Value,
}

async fn widget(
    app: &TestApp,
    method: reqwest::Method,
    key: &str,
    origin: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = app
        .http
        .request(method, format!("{}/api/v1/intake/widget/{key}", app.base));
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let allow_origin = res
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Answer {
        status,
        allow_origin,
        body,
    }
}

pub async fn widget_posts_only_from_the_sites_origins(backend: Backend) {
    // One token a minute: no refill while the test runs, however slow the machine.
    let app = spawn_with(backend, |c| {
        c.rate_limit.widget_burst = 3;
        c.rate_limit.widget_per_minute = 1;
    })
    .await;
    let agent = app
        .user("widget-agent@shop.test", "agent", &["tech_support"])
        .await;

    // Sites are the administrators' to make.
    let new = json!({"name": "shop", "origins": ["https://Shop.example/"]});
    assert_eq!(
        app.post(&agent, "/api/v1/widget-sites", new.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let bad = app
        .post(
            &app.admin,
            "/api/v1/widget-sites",
            json!({"name": "x", "origins": ["javascript:alert(1)"]}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("origins"))
    );
    let site = app
        .post(&app.admin, "/api/v1/widget-sites", new.clone())
        .await;
    assert_eq!(site.status, StatusCode::CREATED, "{}", site.body);
    assert_eq!(site.body["origins"], json!([SHOP]), "normalised");
    let key = site.str("site_key");
    assert!(key.starts_with("wk_"));
    assert_eq!(
        app.post(&app.admin, "/api/v1/widget-sites", new)
            .await
            .status,
        StatusCode::CONFLICT
    );

    // The script carries this installation's categories.
    let js = app
        .http
        .get(format!("{}/widget.js", app.base))
        .send()
        .await
        .expect("script");
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/javascript")
    );
    let js = js.text().await.expect("text");
    assert!(js.contains("\"code\":\"payment\"") && js.contains("data-closedloop-widget"));

    // Preflight: the site's own pages only.
    let ok = widget(&app, reqwest::Method::OPTIONS, &key, Some(SHOP), None).await;
    assert_eq!(
        (ok.status, ok.allow_origin.as_deref()),
        (StatusCode::NO_CONTENT, Some(SHOP))
    );
    let evil = widget(
        &app,
        reqwest::Method::OPTIONS,
        &key,
        Some("https://evil.example"),
        None,
    )
    .await;
    assert_eq!(
        (evil.status, evil.allow_origin),
        (StatusCode::FORBIDDEN, None)
    );

    // Refused: an unknown key, another site's page, no origin at all. Nothing is stored.
    let post = json!({"description": "The checkout button does nothing on my phone."});
    let r = widget(
        &app,
        reqwest::Method::POST,
        "wk_not-a-site",
        Some(SHOP),
        Some(post.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.allow_origin.as_deref()),
        (StatusCode::FORBIDDEN, None)
    );
    assert_eq!(r.body["error"]["field"], "site_key");
    let r = widget(
        &app,
        reqwest::Method::POST,
        &key,
        Some("https://evil.example"),
        Some(post.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.allow_origin.as_deref()),
        (StatusCode::FORBIDDEN, None)
    );
    assert_eq!(r.body["error"]["field"], "Origin");
    let r = widget(&app, reqwest::Method::POST, &key, None, Some(post.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_visible_to_admin().await, 0);

    // Bad input from the right page: a clear error the page may read, nothing stored.
    let not_image = json!({"description": "See the attached file.",
        "screenshot": {"filename": "x.png", "data": base64::engine::general_purpose::STANDARD.encode("<svg onload=alert(1)>")}});
    let r = widget(
        &app,
        reqwest::Method::POST,
        &key,
        Some(SHOP),
        Some(not_image),
    )
    .await;
    assert_eq!(
        (r.status, r.allow_origin.as_deref()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(SHOP))
    );
    assert_eq!(r.body["error"]["field"], "screenshot");
    assert_eq!(app.count_visible_to_admin().await, 0);

    // Accepted: a ticket of channel `widget` with the page and the screenshot as evidence.
    let good = json!({
        "description": "支付页面一直转圈，无法完成付款。The payment page keeps spinning.",
        "category": "payment",
        "page": "https://shop.example/checkout?step=2",
        "screenshot": {"filename": "screen.png",
            "data": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(PNG))},
    });
    let r = widget(&app, reqwest::Method::POST, &key, Some(SHOP), Some(good)).await;
    assert_eq!(
        (r.status, r.allow_origin.as_deref()),
        (StatusCode::CREATED, Some(SHOP)),
        "{}",
        r.body
    );
    let number = r.body["ticket"].as_str().unwrap_or_default().to_owned();
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(
        (t.str("channel").as_str(), t.str("category").as_str()),
        ("widget", "payment")
    );
    let evidence: Vec<String> = t.body["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    assert!(
        evidence.contains(&"widget: shop".to_owned()),
        "{evidence:?}"
    );
    assert!(evidence.contains(&"page: https://shop.example/checkout?step=2".to_owned()));
    assert!(evidence.iter().any(|e| e.starts_with("attachment:")));
    let follow = app
        .http
        .get(format!(
            "{}{}",
            app.base,
            r.body["follow_url"].as_str().unwrap_or_default()
        ))
        .send()
        .await
        .expect("follow");
    assert_eq!(follow.status(), StatusCode::OK);
    assert!(follow.text().await.unwrap_or_default().contains(&number));

    // The site's allowance (burst 3 here: the refused screenshot, the ticket, one more).
    let again = widget(
        &app,
        reqwest::Method::POST,
        &key,
        Some(SHOP),
        Some(post.clone()),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let over = widget(&app, reqwest::Method::POST, &key, Some(SHOP), Some(post)).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count_visible_to_admin().await, 2);
}
