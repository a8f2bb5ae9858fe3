use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, spawn};

fn numbers(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t["number"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub async fn listing_filters_and_cursor_pagination(backend: Backend) {
    let app = spawn(backend).await;
    let specs = [
        ("payment", "P1", "web", "扣款两次，急！"),
        ("payment", "P3", "email", "Refund is late"),
        ("logistics", "P2", "web", "包裹丢失"),
        ("account", "P1", "phone", "Account hacked"),
        ("suggestion", "P3", "widget", "Add dark mode"),
        ("payment", "P2", "chat", "Charged without an order"),
        ("content", "P3", "social", "文章有错误"),
    ];
    let mut created = Vec::new();
    for (i, (category, priority, channel, text)) in specs.iter().enumerate() {
        // Two tickets share each timestamp, so ordering relies on the id tie-breaker too.
        if i % 2 == 0 {
            app.clock.advance(chrono::Duration::minutes(1));
        }
        created.push(app.create(&app.admin, json!({"channel": channel, "description": text, "category": category, "priority": priority})).await);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let all = app.get(&app.admin, "/api/v1/tickets").await;
    assert_eq!(numbers(&all.body), newest_first);
    assert!(all.body["next_cursor"].is_null());

    // Pages of 3: every ticket exactly once, in the same order.
    let mut seen = Vec::new();
    let mut path = "/api/v1/tickets?limit=3".to_owned();
    for _ in 0..5 {
        let page = app.get(&app.admin, &path).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(numbers(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/tickets?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);

    let payment = app
        .get(&app.admin, "/api/v1/tickets?category=payment")
        .await;
    assert_eq!(
        numbers(&payment.body),
        vec![created[5].clone(), created[1].clone(), created[0].clone()]
    );
    let p1 = app.get(&app.admin, "/api/v1/tickets?priority=P1").await;
    assert_eq!(
        numbers(&p1.body).into_iter().collect::<HashSet<_>>(),
        HashSet::from([created[0].clone(), created[3].clone()])
    );
    let dep = app
        .get(&app.admin, "/api/v1/tickets?department=payment&priority=P2")
        .await;
    assert_eq!(numbers(&dep.body), vec![created[5].clone()]);
    let ch = app.get(&app.admin, "/api/v1/tickets?channel=web").await;
    assert_eq!(numbers(&ch.body).len(), 2);
    let q = app.get(&app.admin, "/api/v1/tickets?q=refund").await;
    assert_eq!(
        numbers(&q.body),
        vec![created[1].clone()],
        "case-insensitive"
    );
    let q = app
        .get(&app.admin, &format!("/api/v1/tickets?q={}", "包裹"))
        .await;
    assert_eq!(numbers(&q.body), vec![created[2].clone()]);

    app.act(&app.admin, &created[3], "accept").await;
    let accepted = app
        .get(&app.admin, "/api/v1/tickets?status=accepted,in_progress")
        .await;
    assert_eq!(numbers(&accepted.body), vec![created[3].clone()]);
    let mine = app.get(&app.admin, "/api/v1/tickets?assignee=me").await;
    assert_eq!(numbers(&mine.body), vec![created[3].clone()]);
    let unassigned = app.get(&app.admin, "/api/v1/tickets?assignee=none").await;
    assert_eq!(numbers(&unassigned.body).len(), 6);

    let t0 = app
        .get(&app.admin, &format!("/api/v1/tickets/{}", created[2]))
        .await
        .str("created_at");
    let from = app
        .get(&app.admin, &format!("/api/v1/tickets?created_from={t0}"))
        .await;
    assert_eq!(numbers(&from.body).len(), 5, "created_from is inclusive");
    let to = app
        .get(&app.admin, &format!("/api/v1/tickets?created_to={t0}"))
        .await;
    assert_eq!(numbers(&to.body).len(), 2, "created_to is exclusive");
}
