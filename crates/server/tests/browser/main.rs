//! Browser tests: the real server on a random port, Debian's headless Chromium driven through
//! WebDriver. They need Debian's chromium and chromium-driver, so a plain `cargo test` leaves them
//! out; `--test browser -- --ignored` runs them (`.ci/run` installs Chromium and does);
//! screenshots of the pages go to `target/screenshots/`.

// A failed expectation is how a test reports; panicking is the point here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[allow(
    dead_code,
    reason = "the behavioural suite's harness; these tests use part of it"
)]
#[path = "../it/harness.rs"]
mod harness;
mod webdriver;

use reqwest::StatusCode;
use serde_json::json;

use harness::{Backend, spawn_with};
use webdriver::Browser;

async fn sign_in(b: &Browser, base: &str, email: &str) {
    b.goto(&format!("{base}/login")).await;
    b.type_into("#email", email).await;
    b.type_into("#password", "password-123").await;
    b.click("#sign-in").await;
    for _ in 0..50 {
        let url = b.url().await;
        if url.contains("/agent") || url.contains("/portal") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not signed in: {}", b.url().await);
}

/// The link (`/r/...`) in the newest portal message of an event.
async fn message_link(app: &harness::TestApp, token: &str, event: &str) -> String {
    for _ in 0..100 {
        let m = app.get(token, "/api/v1/messages").await;
        if let Some(body) = m
            .body
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["event"] == event)
            .and_then(|x| x["body"].as_str())
            && let Some(at) = body.find("/r/")
        {
            let token: String = body[at + 3..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return format!("{}/r/{token}", app.base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {event} message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver; run with --ignored"]
async fn an_agent_answers_from_the_inbox_a_supervisor_approves_and_the_customer_confirms() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.smtp.poll_ms = 20;
    })
    .await;
    app.user("li.agent@example.cn", "agent", &["payment"]).await;
    app.user("wang.sup@example.cn", "supervisor", &["payment"])
        .await;
    let customer = app.user("zhang@example.cn", "customer", &[]).await;
    let xss = "<img src=x onerror=alert(1)>扣款两次";
    let number = app
        .create(&customer, json!({"channel": "web", "title": xss, "description": "同一个订单被扣款两次，请退款。", "category": "payment"}))
        .await;

    // The agent signs in and finds the new ticket in the inbox; its title is text, not markup.
    let b = Browser::start("en-US").await;
    sign_in(&b, &app.base, "li.agent@example.cn").await;
    let row = b.text("#tickets").await;
    assert!(row.contains(&number), "{row}");
    assert_eq!(b.text("#tickets td.title").await, xss);
    assert!(
        b.all("#tickets img").await.is_empty(),
        "the title became an image"
    );
    b.screenshot("inbox").await;

    // The workspace: accept, start, reply, propose a refund (it waits for approval).
    b.click(&format!("a[href='/agent/tickets/{number}']")).await;
    assert_eq!(b.text("#number").await, number);
    b.click("button[value=accept]").await;
    b.wait_attr("#status", "data-status", "accepted").await;
    b.click("button[value=start]").await;
    b.wait_attr("#status", "data-status", "in_progress").await;
    b.type_into("#body", "我们正在核对银行流水。").await;
    b.click("button[value=reply]").await;
    b.wait_text("#timeline", "我们正在核对银行流水。").await;
    b.click("#kind option[value=compensation]").await;
    b.type_into("#summary", "重复扣款的 128.00 元原路退回。")
        .await;
    b.click("#compensation_kind option[value=partial_refund]")
        .await;
    b.type_into("#amount", "12800").await;
    b.click("form[action$='/solutions'] button[type=submit]")
        .await;
    b.wait_text(".flash", "waits for approval").await;
    b.wait_attr("#status", "data-status", "solution_proposed")
        .await;
    b.screenshot("ticket").await;
    // An agent cannot approve.
    assert!(b.all("button[value=approve]").await.is_empty());
    b.click("#sign-out").await;
    b.wait_text("h1", "Sign in").await;

    // The supervisor approves: the ticket is resolved and the customer told.
    sign_in(&b, &app.base, "wang.sup@example.cn").await;
    b.goto(&format!("{}/agent/tickets/{number}", app.base))
        .await;
    b.click("button[value=approve]").await;
    b.wait_attr("#status", "data-status", "resolved").await;
    b.screenshot("approved").await;

    // The customer reads the result in the portal, confirms it there and answers the survey.
    let result = message_link(&app, &customer, "result").await;
    b.click("#sign-out").await;
    b.wait_text("h1", "Sign in").await;
    sign_in(&b, &app.base, "zhang@example.cn").await;
    b.wait_text("body", "重复扣款的 128.00 元原路退回。").await;
    b.screenshot("portal").await;
    b.click(&format!("a[href='/portal/tickets/{number}']"))
        .await;
    b.wait_attr("#status", "data-status", "resolved").await;
    b.click("#confirm").await;
    b.wait_attr("#status", "data-status", "closed").await;
    b.click("input[name=stars][value='5']").await;
    b.type_into("#comment", "处理得很快").await;
    b.click("#send-survey").await;
    b.wait_text(".flash", "thank you").await;
    b.screenshot("portal-ticket").await;

    // The result link in the message works without an account too (already confirmed here).
    b.goto(&result).await;
    b.wait_text("body", "重复扣款的 128.00 元原路退回。").await;
    b.screenshot("result-link").await;
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}/survey"))
        .await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(t.body["stars"], 5, "{}", t.body);
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.str("status"), "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver; run with --ignored"]
async fn a_card_dragged_on_the_board_moves_and_the_console_switches_to_chinese() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    app.user("li.agent@example.cn", "agent", &["payment"]).await;
    let customer = app.user("zhang@example.cn", "customer", &[]).await;
    let number = app
        .create(&customer, json!({"channel": "web", "description": "同一个订单被扣款两次，请退款。", "category": "payment"}))
        .await;

    // An English browser gets the English console.
    let b = Browser::start("en-US").await;
    sign_in(&b, &app.base, "li.agent@example.cn").await;
    b.wait_text("h1", "Open in my departments").await;
    b.goto(&format!("{}/agent/board", app.base)).await;
    let card = format!("#card-{number}");
    b.find(&format!(".column[data-status=received] {card}"))
        .await;

    // Dragged onto "Accepted": accepted, and the card sits in that column.
    b.drag(
        &format!("{card} .title"),
        ".column[data-status=accepted] h3",
    )
    .await;
    b.wait_text("#board-status", "moved to Accepted").await;
    b.find(&format!(".column[data-status=accepted] {card}"))
        .await;
    let path = format!("/api/v1/tickets/{number}");
    assert_eq!(app.get(&app.admin, &path).await.str("status"), "accepted");

    // Dragged straight to "Closed": refused, with the reason, and nothing changes.
    b.drag(&format!("{card} .title"), ".column[data-status=closed] h3")
        .await;
    b.wait_text("#board-status", "Not moved").await;
    assert!(
        b.all("#board-status.refused").await.len() == 1,
        "the refusal is shown as one"
    );
    assert_eq!(app.get(&app.admin, &path).await.str("status"), "accepted");
    b.screenshot("board").await;

    // The switch on every page: the console in Chinese, remembered after signing out.
    b.click("button[name=lang][value=zh]").await;
    b.wait_text("h1", "看板").await;
    b.goto(&format!("{}/agent", app.base)).await;
    b.wait_text("h1", "本部门未结工单").await;
    b.wait_text("#tickets", "已受理").await;
    b.screenshot("inbox-zh").await;
    b.click("#sign-out").await;
    b.wait_text("h1", "登录").await;
    b.screenshot("login-zh").await;

    // The public form speaks the chosen language too; an administrator's pages.
    b.goto(&format!("{}/feedback", app.base)).await;
    b.wait_text("h1", "提交反馈或投诉").await;
    b.screenshot("feedback-zh").await;
    b.click("button[name=lang][value=en]").await;
    b.wait_text("h1", "Send feedback or a complaint").await;
    b.goto(&format!("{}/login", app.base)).await;
    b.type_into("#email", "admin@closedloop.test").await;
    b.type_into("#password", "admin-password-1").await;
    b.click("#sign-in").await;
    b.wait_text("h1", "Open in my departments").await;
    b.goto(&format!("{}/admin/users", app.base)).await;
    b.wait_text("#users", "li.agent@example.cn").await;
    b.screenshot("admin-users").await;
    b.goto(&format!("{}/admin/templates", app.base)).await;
    b.click("#t-received-zh-email summary").await;
    b.screenshot("admin-templates").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver; run with --ignored"]
async fn the_feedback_form_suggests_an_answer_and_records_that_it_helped() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await;
    let article = app
        .post(
            &app.admin,
            "/api/v1/articles",
            json!({"lang": "zh", "kind": "faq", "status": "published", "title": "退款多久到账？",
                   "body": "退款审核通过后 3-5 个工作日内原路退回。", "category": "payment"}),
        )
        .await;
    assert_eq!(article.status, StatusCode::CREATED, "{}", article.body);

    // Someone starts describing their problem in traditional Chinese.
    let b = Browser::start("zh-CN").await;
    b.goto(&format!("{}/feedback", app.base)).await;
    b.type_into("#description", "我的退款申請怎麼還沒到帳")
        .await;
    b.wait_text("#suggestions", "退款多久到账").await;
    b.screenshot("feedback-suggestions").await;
    b.click("#suggestions button.answered").await;
    b.wait_text("#deflected", "无需再提交").await;

    let report = app.get(&app.admin, "/api/v1/reports/deflection").await;
    assert_eq!(report.body["shown"], 1, "{}", report.body);
    assert_eq!(report.body["answered"], 1);
    assert_eq!(report.body["top_articles"][0][1], "退款多久到账？");
    assert_eq!(
        app.count_visible_to_admin().await,
        0,
        "no ticket was needed"
    );

    // A supervisor reads the service report with its charts.
    app.user("lead@example.cn", "supervisor", &["payment", "logistics"])
        .await;
    let customer = app.user("he@example.cn", "customer", &[]).await;
    for (text, category) in [
        ("重复扣款两次。", "payment"),
        ("快递三天没更新。", "logistics"),
        ("退款还没到账。", "payment"),
    ] {
        app.create(
            &customer,
            json!({"channel": "web", "description": text, "category": category}),
        )
        .await;
    }
    let lead = Browser::start("zh-CN").await;
    sign_in(&lead, &app.base, "lead@example.cn").await;
    lead.goto(&format!(
        "{}/agent/reports?from=2026-11-16&to=2026-11-22",
        app.base
    ))
    .await;
    lead.wait_text("#total", "3").await;
    assert_eq!(lead.all("svg.chart").await.len(), 5);
    lead.screenshot("reports").await;
}
