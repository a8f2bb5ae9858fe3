use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, spawn_with};

async fn scrape(
    app: &crate::harness::TestApp,
    token: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = app.http.get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("scrape");
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, res.text().await.unwrap_or_default())
}

/// Fixed contract: `GET /metrics` serves the Prometheus text format.
pub async fn metrics_count_tickets_queues_and_requests(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.metrics_token = Some(closedloop_server::Secret::new("scrape-secret-0001"));
    })
    .await;
    let customer = app.user("li@example.cn", "customer", &[]).await;
    for text in ["快递三天没有更新。", "包裹被摔坏了。"] {
        app.create(
            &customer,
            json!({"channel": "web", "description": text, "category": "logistics"}),
        )
        .await;
    }
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "重复扣款。", "category": "payment"}),
        )
        .await;
    assert_eq!(
        app.act(&app.admin, &number, "accept").await.status,
        StatusCode::OK
    );

    assert_eq!(scrape(&app, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(&app, Some("scrape-secret-0002")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, kind, text) = scrape(&app, Some("scrape-secret-0001")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    for line in [
        "# TYPE closedloop_tickets gauge",
        "closedloop_tickets{status=\"received\"} 2",
        "closedloop_tickets{status=\"accepted\"} 1",
        "closedloop_queue_open_tickets{department=\"logistics\",priority=\"P3\"} 2",
        "# TYPE closedloop_sla_breaches_total counter",
        "# TYPE closedloop_http_request_duration_seconds histogram",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // Requests are labelled by route template, never by the ticket number in the path.
    assert!(
        text.contains("route=\"/api/v1/tickets/{number}/transitions\""),
        "{text}"
    );
    assert!(!text.contains(&number), "a ticket number became a label");
    // Every sample line parses as `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap_or_default();
        assert!(value.parse::<f64>().is_ok(), "bad sample {line:?}");
    }
}
