use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, spawn};

/// The report's numbers over a small, known history, scoped to the reader, as JSON, CSV and
/// the page with its charts.
pub async fn service_reports_count_what_happened_within_the_readers_scope(backend: Backend) {
    let app = spawn(backend).await;
    let agent = app
        .user("rep-agent@shop.example", "agent", &["payment"])
        .await;
    let lead = app
        .user("rep-lead@shop.example", "supervisor", &["payment"])
        .await;
    let customer = app.user("rep-c@example.cn", "customer", &[]).await;
    let paid = app
        .create(
            &customer,
            json!({"channel": "web", "description": "重复扣款两次。", "category": "payment"}),
        )
        .await;
    let shipped = app
        .create(
            &customer,
            json!({"channel": "email", "description": "快递没到。", "category": "logistics"}),
        )
        .await;
    // The payment ticket: answered after 30 minutes, resolved after 2 hours, closed by the
    // user with 5 stars. The logistics one stays open.
    app.clock.advance(chrono::Duration::minutes(30));
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{paid}/replies"),
            json!({"body": "正在核实。"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    for action in ["accept", "start", "propose_solution"] {
        assert_eq!(
            app.act(&agent, &paid, action).await.status,
            StatusCode::OK,
            "{action}"
        );
    }
    app.clock.advance(chrono::Duration::minutes(90));
    assert_eq!(
        app.act(&agent, &paid, "resolve").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.act(&customer, &paid, "close").await.status,
        StatusCode::OK
    );
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{paid}/survey"),
            json!({"stars": 5}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let _ = shipped;

    let period = "from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z";
    let all = app
        .get(&app.admin, &format!("/api/v1/reports/service?{period}"))
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let b = &all.body;
    assert_eq!(b["total"], 2);
    assert_eq!(
        b["by_channel"],
        json!([{"key": "email", "count": 1}, {"key": "web", "count": 1}])
    );
    assert_eq!(b["first_response"]["count"], 1);
    assert_eq!(b["first_response"]["p50_minutes"], 30.0);
    assert_eq!(b["resolution"]["p50_minutes"], 120.0);
    assert_eq!(b["resolution"]["compliance_pct"], 100.0);
    assert_eq!(b["first_contact_resolution_pct"], 100.0);
    assert_eq!(b["satisfaction"]["average_stars"], 5.0);
    assert_eq!(b["backlog"][0], json!({"key": "<1d", "count": 1}));
    assert_eq!(b["departments"][0]["name"], "payment");
    assert_eq!(b["departments"][0]["rank"], 1);
    // The supervisor of payment sees payment's ticket only.
    let mine = app
        .get(&lead, &format!("/api/v1/reports/service?{period}"))
        .await;
    assert_eq!(mine.body["total"], 1, "{}", mine.body);
    assert_eq!(mine.body["departments"].as_array().map(Vec::len), Some(1));
    // Agents and customers get no reports; bad periods name the field.
    assert_eq!(
        app.get(&agent, "/api/v1/reports/service").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&customer, "/api/v1/reports/service").await.status,
        StatusCode::FORBIDDEN
    );
    for (q, field) in [
        ("from=yesterday", "from"),
        ("from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z", "from"),
        ("from=2020-01-01T00:00:00Z&to=2026-11-22T00:00:00Z", "from"),
        ("format=xls", "format"),
    ] {
        let r = app
            .get(&app.admin, &format!("/api/v1/reports/service?{q}"))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{q}");
    }
    // CSV for a spreadsheet.
    let res = app
        .http
        .get(format!(
            "{}/api/v1/reports/service?format=csv&{period}",
            app.base
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap_or_default();
    assert!(text.starts_with("table,key,count,extra\n"), "{text}");
    assert!(text.contains("by_channel,web,1,"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("department,payment,1,1,100,100,120,100,5,1")),
        "{text}"
    );
}
