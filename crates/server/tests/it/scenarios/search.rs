use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, spawn};

async fn search(app: &TestApp, token: &str, q: &str) -> Value {
    let path = format!("/api/v1/search?q={}", urlencode(q));
    let r = app.get(token, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
    r.body
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn numbers(body: &Value) -> Vec<String> {
    let mut n: Vec<String> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["number"].as_str().map(str::to_owned))
        .collect();
    n.sort();
    n
}

/// Fixed contract: `GET /api/v1/search?q=` with a Bearer token returns the tickets the caller
/// may see with their numbers, and a simplified-Chinese query finds traditional text.
pub async fn search_finds_both_scripts_and_english_within_the_callers_scope(backend: Backend) {
    let app = spawn(backend).await;
    let lin = app.user("lin@example.tw", "customer", &[]).await;
    let wang = app.user("wang@example.cn", "customer", &[]).await;
    let payment_agent = app.user("pay@shop.example", "agent", &["payment"]).await;
    let logistics_agent = app.user("ship@shop.example", "agent", &["logistics"]).await;

    let traditional = app
        .create(&lin, json!({"channel": "web", "description": "退款申請已經兩週了，款項一直沒有到帳。", "category": "payment"}))
        .await;
    let simplified = app
        .create(&wang, json!({"channel": "web", "description": "我的退款申请一直没有到账，请尽快处理。", "category": "payment"}))
        .await;
    let english = app
        .create(&wang, json!({"channel": "email", "description": "The courier left my parcel in the rain and the charger inside was damaged.", "category": "logistics"}))
        .await;

    // Administrators see every match; the traditional text is found by simplified words,
    // its title and snippet quote what the user wrote, marked.
    let all = search(&app, &app.admin, "退款申请 到账").await;
    assert_eq!(numbers(&all), {
        let mut v = vec![traditional.clone(), simplified.clone()];
        v.sort();
        v
    });
    assert_eq!(all["total"], 2);
    let hit = all["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["number"] == traditional.as_str()))
        .cloned()
        .unwrap_or_default();
    let html = hit["snippet"]["html"].as_str().unwrap_or_default();
    assert!(html.contains("<mark>申請</mark>"), "{hit}");
    assert!(
        html.contains("<mark>到帳</mark>") || html.contains("到<mark>帳</mark>"),
        "{hit}"
    );
    assert_eq!(hit["kind"], "ticket");
    // The other way round, and English with another form of the word.
    assert_eq!(
        numbers(&search(&app, &app.admin, "退款申請 到帳").await).len(),
        2
    );
    assert_eq!(
        numbers(&search(&app, &app.admin, "damage chargers").await),
        std::slice::from_ref(&english)
    );
    // A ticket number finds its ticket.
    assert_eq!(
        numbers(&search(&app, &app.admin, &english).await),
        std::slice::from_ref(&english)
    );

    // Customers: only their own tickets, in hits and in the total.
    let own = search(&app, &lin, "退款").await;
    assert_eq!(
        (numbers(&own), own["total"].clone()),
        (vec![traditional.clone()], json!(1))
    );
    assert!(
        !own.to_string().contains("请尽快处理"),
        "nothing of another's ticket: {own}"
    );
    assert_eq!(search(&app, &lin, "parcel").await["total"], 0);
    // Agents: their departments' tickets only.
    assert_eq!(search(&app, &payment_agent, "退款").await["total"], 2);
    let shipping = search(&app, &logistics_agent, "退款").await;
    assert_eq!(
        (shipping["total"].clone(), numbers(&shipping)),
        (json!(0), Vec::<String>::new())
    );
    assert_eq!(
        numbers(&search(&app, &logistics_agent, "parcel").await),
        [english]
    );
}

pub async fn notes_are_searchable_by_staff_only_and_changes_are_found_at_once(backend: Backend) {
    let app = spawn(backend).await;
    let customer = app.user("chen@example.cn", "customer", &[]).await;
    let agent = app.user("pay2@shop.example", "agent", &["payment"]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "订单被重复扣款两次。", "category": "payment"}),
        )
        .await;
    let path = format!("/api/v1/tickets/{number}");
    let note = app
        .post(
            &agent,
            &format!("{path}/notes"),
            json!({"body": "内部备注：银行流水显示已冲正"}),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    // Searched right after the write: no waiting for the next pass.
    let staff = search(&app, &agent, "冲正").await;
    assert_eq!(numbers(&staff), std::slice::from_ref(&number));
    assert_eq!(staff["items"][0]["in_notes"], true);
    let seen = search(&app, &customer, "冲正").await;
    assert_eq!(
        seen["total"], 0,
        "a customer never matches an internal note: {seen}"
    );
    assert!(!seen.to_string().contains("银行流水"));
    // A public reply is found by both.
    let reply = app
        .post(
            &agent,
            &format!("{path}/replies"),
            json!({"body": "Refund issued to your card today."}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(
        numbers(&search(&app, &customer, "refunded card").await),
        std::slice::from_ref(&number)
    );

    // Another instance on the same database keeps an index of its own and finds the same.
    let sibling = app.sibling(|_| {}).await;
    assert_eq!(numbers(&search(&sibling, &agent, "冲正").await), [number]);

    // Bad input names the parameter.
    for (query, field) in [
        ("", "q"),
        ("q=%20%20", "q"),
        ("q=a&kind=comment", "kind"),
        ("q=a&limit=0", "limit"),
        ("q=a&limit=51", "limit"),
        ("q=a&status=lost", "status"),
        ("q=a&created_from=yesterday", "created_from"),
        ("q=a&offset=5000", "offset"),
    ] {
        let r = app.get(&agent, &format!("/api/v1/search?{query}")).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{query}: {}", r.body);
    }
    let long = "退".repeat(201);
    let r = app
        .get(&agent, &format!("/api/v1/search?q={}", urlencode(&long)))
        .await;
    assert_eq!(r.error_field(), Some("q"));
    let anonymous = app.get("", "/api/v1/search?q=refund").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// The console's search page: the same scope and highlights as the API, escaped, with its
/// filters, paging links and errors on the page; the inbox's filter offers it.
pub async fn the_console_search_page_finds_what_its_viewer_may_see(backend: Backend) {
    use super::console::Session;
    let app = spawn(backend).await;
    let wang = app.user("wang@example.cn", "customer", &[]).await;
    app.user("pay@shop.example", "agent", &["payment"]).await;
    app.user("ship@shop.example", "agent", &["logistics"]).await;
    let refund = app
        .create(&wang, json!({"channel": "web", "description": "退款申請已經兩週了 <script>alert(1)</script>", "category": "payment"}))
        .await;
    let parcel = app
        .create(&wang, json!({"channel": "web", "description": "快递丢了，退款也没有消息。", "category": "logistics"}))
        .await;

    let pay = Session::sign_in(&app, "pay@shop.example").await;
    let (status, html) = pay
        .get(&app, "/agent/search?q=%E9%80%80%E6%AC%BE%E7%94%B3%E8%AF%B7")
        .await; // 退款申请
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&format!("/agent/tickets/{refund}")), "{html}");
    assert!(
        !html.contains(&parcel),
        "another department's ticket: {html}"
    );
    assert!(html.contains("<mark>申請</mark>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;") && !html.contains("<script>alert"),
        "{html}"
    );
    assert!(
        html.contains("共找到 1 条") || html.contains("1 found"),
        "{html}"
    );
    // Both departments' agents find their own ticket by the shared word, and only that.
    let ship = Session::sign_in(&app, "ship@shop.example").await;
    let (_, html) = ship.get(&app, "/agent/search?q=%E9%80%80%E6%AC%BE").await; // 退款
    assert!(html.contains(&parcel) && !html.contains(&refund), "{html}");
    // Filters: articles only finds no ticket; a bad kind says so on the page.
    let (_, html) = pay
        .get(&app, "/agent/search?q=%E9%80%80%E6%AC%BE&kind=article")
        .await;
    assert!(!html.contains(&refund), "{html}");
    let (status, html) = pay.get(&app, "/agent/search?q=x&kind=email").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"search-error\""), "{html}");
    // No words: the form, no results and no error.
    let (status, html) = pay.get(&app, "/agent/search").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("id=\"total\""), "{html}");
    // The inbox's filter links to it with the same words; customers are sent away.
    let (_, html) = pay.get(&app, "/agent?q=%E9%80%80%E6%AC%BE").await;
    assert!(
        html.contains("href=\"/agent/search?q=%E9%80%80%E6%AC%BE\""),
        "{html}"
    );
    let customer = Session::sign_in(&app, "wang@example.cn").await;
    let (status, html) = customer.get(&app, "/agent/search?q=x").await;
    assert_ne!(status, StatusCode::OK, "{html}");
    assert!(!html.contains(&refund));
}
