//! Closing the loop with the user (issue 6): exact mails at a real SMTP server, approvals,
//! signed links, appeals in and out of the window, surveys, templates, and delivery that
//! survives the mail server being down.

use base64::Engine as _;
use closedloop_server::Secret;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::mail::{bearer, header, message, post_mail};
use crate::harness::{Backend, SmtpSink, TestApp, spawn_with};

/// The text of a mail we sent: its text/plain part, decoded.
fn text(mail: &str) -> String {
    let start = mail
        .find(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        )
        .expect("a text part");
    let b64: String = mail[start..]
        .lines()
        .skip(3)
        .take_while(|l| !l.is_empty() && !l.starts_with("--"))
        .collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .expect("base64"),
    )
    .expect("utf-8")
}

/// The signed link (`/r/...`) a mail carries.
fn link(mail: &str) -> String {
    let t = text(mail);
    let at = t.find("/r/").expect("a link");
    t[at + 3..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn app_with_sink(backend: Backend, sink: &SmtpSink) -> TestApp {
    let addr = sink.addr.to_string();
    spawn_with(backend, move |c| {
        c.smtp.url = Some(Secret::new(addr));
        c.smtp.from_address = "support@shop.example".into();
        c.smtp.poll_ms = 20;
        c.closing.public_url = Some("https://help.shop.example".into());
    })
    .await
}

async fn use_link(app: &TestApp, token: &str, body: Value) -> crate::harness::Reply {
    let res = app
        .http
        .post(format!("{}/api/v1/links/{token}", app.base))
        .json(&body)
        .send()
        .await
        .expect("link");
    let status = res.status();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    crate::harness::Reply { status, body }
}

/// Waits until `n` e-mail notices of the ticket are recorded as sent (the sink has a message a
/// moment before the sender records it; a reply must find our Message-ID on record).
async fn wait_recorded(app: &TestApp, number: &str, n: usize) {
    for _ in 0..200 {
        let list = app
            .get(&app.admin, &format!("/api/v1/tickets/{number}/notices"))
            .await;
        let sent = list
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["channel"] == "email" && !x["sent_at"].is_null())
            .count();
        if sent >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{number}: fewer than {n} mails recorded as sent");
}

/// A mail's subject, its RFC 2047 words decoded.
fn subject(mail: &str) -> String {
    header(mail, "Subject")
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| {
            match w
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
            {
                Some(b64) => String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap_or_default(),
                )
                .unwrap_or_default(),
                None => w.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("")
}

fn subjects(mails: &[String]) -> Vec<String> {
    mails.iter().map(|m| subject(m)).collect()
}

pub async fn the_loop_closes_from_receipt_to_confirmation_with_exact_mails(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    let agent = app.user("li.agent@example.cn", "agent", &["payment"]).await;
    let sup = app
        .user("wang.sup@example.cn", "supervisor", &["payment"])
        .await;
    let customer = app.user("zhang@example.cn", "customer", &[]).await;

    // Registered: exactly one acknowledgement carrying the number (the fixed contract).
    let number = app
        .create(&customer, json!({"channel": "web", "description": "同一个订单被扣款两次，请退款。", "category": "payment"}))
        .await;
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(header(&mails[0], "To"), Some("zhang@example.cn"));
    assert!(
        subject(&mails[0]).contains(&number),
        "{}",
        subject(&mails[0])
    );
    assert!(text(&mails[0]).contains(&number));
    assert_eq!(header(&mails[0], "Auto-Submitted"), Some("auto-replied"));

    // A request for information with a checklist; the user's answer resumes the work.
    for step in ["accept", "start"] {
        assert_eq!(app.act(&agent, &number, step).await.status, StatusCode::OK);
    }
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/transitions"),
            json!({"action": "request_info", "checklist": ["扣款时间", "银行流水截图"]}),
        )
        .await;
    assert_eq!(r.str("status"), "waiting_on_user", "{}", r.body);
    let mails = sink.wait_for(2).await;
    let ask = text(&mails[1]);
    assert!(
        ask.contains("- 扣款时间") && ask.contains("- 银行流水截图"),
        "{ask}"
    );
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/replies"),
            json!({"body": "11月20日 10:02，截图已附。"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let t = app.get(&agent, &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(t.str("status"), "in_progress");

    // A refund needs approval: the user hears nothing until a supervisor says yes.
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/solutions"),
            json!({
            "kind": "compensation", "summary": "重复扣款的 128.00 元已原路退回。",
            "compensation": {"kind": "partial_refund", "amount": 12800},
            "instructions": "退款 1-3 个工作日到账。", "cause": "支付网关超时后重复提交。",
            "improvement": "已为支付请求加上幂等键。", "apology": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["solution"]["approval"], "pending");
    assert_eq!(r.body["ticket"]["status"], "solution_proposed");
    let solution = r.body["solution"]["id"].as_i64().expect("id");
    let r = app.act(&agent, &number, "resolve").await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "approval_required")
    );
    let decide = format!("/api/v1/tickets/{number}/solutions/{solution}/decision");
    let r = app
        .post(&agent, &decide, json!({"decision": "approve"}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "not_supervisor")
    );
    let queue = app.get(&sup, "/api/v1/approvals").await;
    assert_eq!(queue.body.as_array().map(Vec::len), Some(1));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 2, "nothing told before approval");
    let r = app
        .post(
            &sup,
            &decide,
            json!({"decision": "approve", "note": "同意退款"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ticket"]["status"], "resolved");

    // The result: what they get, how, why, what changes, an apology, a signed link.
    let mails = sink.wait_for(3).await;
    let result = &mails[2];
    let body = text(result);
    for part in [
        "128.00",
        "refund 128.00",
        "1-3 个工作日",
        "支付网关超时",
        "幂等键",
        "深表歉意",
        "https://help.shop.example/r/",
    ] {
        assert!(body.contains(part), "{part} missing from {body}");
    }
    assert_eq!(header(result, "Auto-Submitted"), Some("auto-generated"));
    assert!(result.contains("Content-Type: text/html; charset=utf-8"));

    // A reply to the result mail lands on the same ticket.
    wait_recorded(&app, &number, 3).await;
    let ours = header(result, "Message-ID")
        .expect("id")
        .trim_matches(['<', '>'])
        .to_owned();
    let reply = message(
        "z1@example.cn",
        "zhang@example.cn",
        &format!("Re: [{number}] 处理结果"),
        &format!("In-Reply-To: <{ours}>\r\n"),
        "收到，谢谢。",
    );
    let r = post_mail(&app, Some(&bearer(&app.admin)), reply).await;
    assert_eq!(
        (r.str("outcome").as_str(), r.str("ticket")),
        ("threaded", number.clone()),
        "{}",
        r.body
    );

    // The link's page, then the confirmation: closed, then the closing and survey mails.
    let token = link(result);
    let page = app
        .http
        .get(format!("{}/r/{token}", app.base))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains("问题已解决") && html.contains("重复扣款的 128.00 元已原路退回"),
        "{html}"
    );
    let r = use_link(&app, &token, json!({"action": "confirm"})).await;
    assert_eq!(r.str("status"), "closed", "{}", r.body);
    let mails = sink.wait_for(5).await;
    assert_eq!(mails.len(), 5, "{:?}", subjects(&mails));
    let s = subjects(&mails);
    assert!(s[3].contains("已结案"), "{s:?}");
    assert!(s[4].contains("评分"), "{s:?}");
    assert!(
        mails
            .iter()
            .all(|m| header(m, "To") == Some("zhang@example.cn"))
    );

    // The survey, once.
    let survey = link(&mails[4]);
    let r = use_link(
        &app,
        &survey,
        json!({"action": "survey", "stars": 5, "comment": "很快"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = use_link(&app, &survey, json!({"action": "survey", "stars": 4})).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "already_answered")
    );
    let r = use_link(&app, &survey, json!({"action": "confirm"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let answer = app
        .get(&agent, &format!("/api/v1/tickets/{number}/survey"))
        .await;
    assert_eq!(answer.body["stars"], 5);

    // The portal shows the same messages; nothing more was sent.
    let inbox = app.get(&customer, "/api/v1/messages").await;
    assert_eq!(
        inbox.body.as_array().map(Vec::len),
        Some(5),
        "{}",
        inbox.body
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 5);
    let notices = app
        .get(&agent, &format!("/api/v1/tickets/{number}/notices"))
        .await;
    let sent = notices
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter(|n| n["channel"] == "email" && !n["sent_at"].is_null())
        .count();
    assert_eq!(sent, 5);
}

pub async fn nobody_approves_their_own_proposal_and_rejection_returns_to_work(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    let sup = app
        .user("wang.sup@example.cn", "supervisor", &["payment"])
        .await;
    let other = app
        .user("zhao.sup@example.cn", "supervisor", &["payment"])
        .await;
    let number = app
        .create(
            &app.admin,
            json!({"channel": "phone", "description": "退款金额不对。", "category": "payment"}),
        )
        .await;
    for step in ["accept", "start"] {
        assert_eq!(app.act(&sup, &number, step).await.status, StatusCode::OK);
    }
    let r = app
        .post(&sup, &format!("/api/v1/tickets/{number}/solutions"),
            json!({"kind": "compensation", "summary": "补偿 50 元优惠券", "compensation": {"kind": "coupon", "amount": 5000}}))
        .await;
    let id = r.body["solution"]["id"].as_i64().expect("id");
    let decide = format!("/api/v1/tickets/{number}/solutions/{id}/decision");
    let r = app
        .post(&sup, &decide, json!({"decision": "approve"}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "own_proposal")
    );
    let r = app
        .post(&app.admin, &decide, json!({"decision": "reject"}))
        .await;
    assert_eq!(r.error_field(), Some("note"));
    let r = app
        .post(
            &other,
            &decide,
            json!({"decision": "reject", "note": "金额超出标准"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ticket"]["status"], "in_progress");
    assert_eq!(r.body["solution"]["approval"], "rejected");
    let r = app
        .post(&other, &decide, json!({"decision": "approve"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // An explanation needs no approval: the agent tells the user by resolving.
    let r = app
        .post(
            &sup,
            &format!("/api/v1/tickets/{number}/solutions"),
            json!({"kind": "explanation", "summary": "退款按原价计算。"}),
        )
        .await;
    assert_eq!(r.body["solution"]["approval"], "not_required");
    assert_eq!(
        app.act(&sup, &number, "resolve").await.str("status"),
        "resolved"
    );
    let timeline = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}/timeline"))
        .await;
    let kinds: Vec<&str> = timeline
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"approval") && kinds.contains(&"solution"),
        "{kinds:?}"
    );
}

pub async fn links_with_a_bad_signature_or_past_their_time_are_refused(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    let customer = app.user("chen@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "App keeps logging me out."}),
        )
        .await;
    for step in ["accept", "start", "propose_solution", "resolve"] {
        assert_eq!(
            app.act(&app.admin, &number, step).await.status,
            StatusCode::OK,
            "{step}"
        );
    }
    let mails = sink.wait_for(2).await;
    let token = link(&mails[1]);
    assert!(
        text(&mails[1]).contains("Hello chen"),
        "English for English text"
    );
    let (head, sig) = token.rsplit_once('.').expect("signed");
    let forged = format!("{}.{sig}", head.replacen(".r.", ".s.", 1));
    let r = use_link(&app, &forged, json!({"action": "confirm"})).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "link_invalid")
    );
    let page = app
        .http
        .get(format!("{}/r/{forged}", app.base))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let r = use_link(&app, "12.r.99", json!({"action": "confirm"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Past the appeal period the link is dead: 410, and the ticket is unchanged.
    app.clock.advance(chrono::Duration::days(8));
    let r = use_link(
        &app,
        &token,
        json!({"action": "appeal", "reason": "not fixed"}),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::GONE, "link_expired")
    );
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_ne!(t.str("status"), "appeal");
}

pub async fn appeals_inside_the_window_are_reviewed_by_someone_not_involved(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    let agent = app.user("li.agent@example.cn", "agent", &["payment"]).await;
    let approver = app
        .user("wang.sup@example.cn", "supervisor", &["payment"])
        .await;
    let reviewer = app
        .user("zhao.sup@example.cn", "supervisor", &["payment"])
        .await;
    let customer = app.user("sun@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "退款少了 20 元。", "category": "payment"}),
        )
        .await;
    for step in ["accept", "start"] {
        app.act(&agent, &number, step).await;
    }
    let r = app
        .post(&agent, &format!("/api/v1/tickets/{number}/solutions"),
            json!({"kind": "compensation", "summary": "补退 20 元", "compensation": {"kind": "partial_refund", "amount": 2000}}))
        .await;
    let id = r.body["solution"]["id"].as_i64().expect("id");
    app.post(
        &approver,
        &format!("/api/v1/tickets/{number}/solutions/{id}/decision"),
        json!({"decision": "approve"}),
    )
    .await;
    let token = link(&sink.wait_for(2).await[1]);

    // Six days later: still inside the window.
    app.clock.advance(chrono::Duration::days(6));
    let r = use_link(
        &app,
        &token,
        json!({"action": "appeal", "reason": "还是少了 5 元"}),
    )
    .await;
    assert_eq!(r.str("status"), "appeal", "{}", r.body);
    let appeals = app
        .get(&agent, &format!("/api/v1/tickets/{number}/appeals"))
        .await;
    assert_eq!(
        appeals.body[0]["reviewer_name"], "zhao.sup",
        "{}",
        appeals.body
    );
    // The approver handled it: they may not decide the appeal; the reviewer may.
    let uphold = json!({"action": "uphold_appeal", "reason": "复核无误"});
    let r = app
        .post(
            &approver,
            &format!("/api/v1/tickets/{number}/transitions"),
            uphold.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The reviewer hands it higher: an administrator not involved reviews it and upholds.
    let r = app
        .post(
            &reviewer,
            &format!("/api/v1/tickets/{number}/appeals/escalate"),
            json!({"reason": "金额争议，需上级复核"}),
        )
        .await;
    assert_eq!(r.str("status"), "appeal", "{}", r.body);
    let appeals = app
        .get(&agent, &format!("/api/v1/tickets/{number}/appeals"))
        .await;
    assert_eq!(appeals.body[0]["outcome"], "escalated", "{}", appeals.body);
    assert_eq!(
        appeals.body[1]["reviewer_name"], "Administrator",
        "{}",
        appeals.body
    );
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{number}/transitions"),
            uphold,
        )
        .await;
    assert_eq!(r.str("status"), "closed", "{}", r.body);
    let mails = sink.wait_for(5).await;
    let escalated = text(&mails[2]);
    assert!(
        escalated.contains("escalated") && escalated.contains("上级复核"),
        "{escalated}"
    );
    let outcome = text(&mails[3]);
    assert!(
        outcome.contains("upheld") && outcome.contains("复核无误"),
        "{outcome}"
    );
    assert!(
        subject(&mails[4]).contains("评分"),
        "{:?}",
        subjects(&mails)
    );

    // Outside the window: refused with a clear message, nothing changes.
    app.clock.advance(chrono::Duration::days(2));
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/transitions"),
            json!({"action": "appeal", "reason": "again"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "appeal_window_closed")
    );
}

pub async fn mail_server_down_for_a_while_then_every_notice_arrives_once(backend: Backend) {
    // A port with nothing behind it yet.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let url = addr.clone();
    let app = spawn_with(backend, move |c| {
        c.smtp.url = Some(Secret::new(url));
        c.smtp.poll_ms = 20;
    })
    .await;
    let mut numbers = Vec::new();
    for i in 0..3 {
        let c = app
            .user(&format!("user{i}@example.com"), "customer", &[])
            .await;
        numbers.push(app.create(&c, json!({"channel": "web", "description": format!("Problem number {i} with my order.")})).await);
    }
    // Every acknowledgement has been tried and has failed, and is waiting to be retried.
    let notices = |n: String| {
        let app = &app;
        async move {
            app.get(&app.admin, &format!("/api/v1/tickets/{n}/notices"))
                .await
                .body
        }
    };
    for _ in 0..200 {
        let mut tried = 0;
        for n in &numbers {
            let list = notices(n.clone()).await;
            tried += list
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| {
                    x["channel"] == "email"
                        && x["attempts"].as_i64() >= Some(1)
                        && !x["error"].is_null()
                })
                .count();
        }
        if tried == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let first = notices(numbers[0].clone()).await;
    let email = first
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["channel"] == "email")
        .cloned()
        .expect("email");
    assert!(
        email["sent_at"].is_null() && email["failed_at"].is_null() && !email["error"].is_null(),
        "{email}"
    );

    // The server comes back; the retries fall due: each message once.
    let sink = SmtpSink::start_on(&addr).await;
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(sink.wait_for(3).await.len(), 3);
    // Later passes find nothing more to send.
    app.clock.advance(chrono::Duration::hours(1));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 3, "{:?}", subjects(&mails));
    for n in &numbers {
        assert_eq!(
            mails
                .iter()
                .filter(|m| subject(m).contains(n.as_str()))
                .count(),
            1,
            "{n}"
        );
    }
}

pub async fn templates_are_checked_when_saved_and_used_when_sent(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    let path = "/api/v1/templates/received/zh/email";
    let missing = json!({"subject": "[{{ number }}] 收到", "body": "您好，我们收到了。"});
    let r = app
        .call(reqwest::Method::PUT, &app.admin, path, Some(missing))
        .await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("must contain"),
        "{}",
        r.body
    );
    let agent = app.user("a@example.cn", "agent", &["payment"]).await;
    let r = app
        .call(
            reqwest::Method::PUT,
            &agent,
            path,
            Some(json!({"subject": "x", "body": "y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let good = json!({"subject": "[{{ number }}] 我们收到了", "body": "{{ name }}：编号 {{ number }}，客服 {{ contact }}。"});
    let r = app
        .call(reqwest::Method::PUT, &app.admin, path, Some(good))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let customer = app.user("liu@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "<script>alert(1)</script> 页面打不开"}),
        )
        .await;
    let mails = sink.wait_for(1).await;
    assert_eq!(
        text(&mails[0]).trim(),
        format!("liu：编号 {number}，客服 support@shop.example。")
    );
    let list = app.get(&app.admin, "/api/v1/templates").await;
    let mine = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["event"] == "received" && t["lang"] == "zh" && t["channel"] == "email")
        .cloned()
        .expect("listed");
    assert_eq!(mine["custom"], true);
}

pub async fn unanswered_results_close_by_themselves_and_low_scores_reopen(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    let customer = app.user("he@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "快递一直没有更新。"}),
        )
        .await;
    for step in ["accept", "start", "propose_solution", "resolve"] {
        assert_eq!(
            app.act(&app.admin, &number, step).await.status,
            StatusCode::OK
        );
    }
    app.clock.advance(chrono::Duration::hours(73));
    let mut status = String::new();
    for _ in 0..200 {
        status = app
            .get(&app.admin, &format!("/api/v1/tickets/{number}"))
            .await
            .str("status");
        if status == "closed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(status, "closed");
    // Closing mail and the survey, once.
    let mails = sink.wait_for(4).await;
    let s = subjects(&mails);
    assert_eq!(s.iter().filter(|x| x.contains("评分")).count(), 1, "{s:?}");
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/survey"),
            json!({"stars": 2, "comment": "太慢了"}),
        )
        .await;
    assert_eq!(r.str("status"), "reopened", "{}", r.body);
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/survey"),
            json!({"stars": 6}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

pub async fn answering_the_result_mail_with_an_appeal_opens_one(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    app.user("zhao.sup@example.cn", "supervisor", &["logistics"])
        .await;
    let customer = app.user("qian@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "快递显示已签收但我没收到。", "category": "logistics"}),
        )
        .await;
    for step in ["accept", "start", "propose_solution", "resolve"] {
        assert_eq!(
            app.act(&app.admin, &number, step).await.status,
            StatusCode::OK,
            "{step}"
        );
    }
    let mails = sink.wait_for(2).await;
    wait_recorded(&app, &number, 2).await;
    let ours = header(&mails[1], "Message-ID")
        .expect("id")
        .trim_matches(['<', '>'])
        .to_owned();
    let admin = bearer(&app.admin);
    let subject_line = format!("Re: [{number}] 处理结果");
    let in_reply_to = format!("In-Reply-To: <{ours}>\r\n");
    let thanks = message(
        "q1@example.cn",
        "qian@example.cn",
        &subject_line,
        &in_reply_to,
        "谢谢，我再等等。",
    );
    assert_eq!(
        post_mail(&app, Some(&admin), thanks).await.str("outcome"),
        "threaded"
    );
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.str("status"), "resolved", "a thank-you stays a reply");
    let appeal = message(
        "q2@example.cn",
        "qian@example.cn",
        &subject_line,
        &in_reply_to,
        "申诉：快递员说放在了驿站，但驿站没有。",
    );
    assert_eq!(
        post_mail(&app, Some(&admin), appeal).await.str("outcome"),
        "threaded"
    );
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.str("status"), "appeal");
    let appeals = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}/appeals"))
        .await;
    assert_eq!(
        appeals.body[0]["reviewer_name"], "zhao.sup",
        "{}",
        appeals.body
    );
    assert!(
        appeals.body[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("驿站")
    );
}

/// An HTTP endpoint on loopback that answers 200 to every POST and keeps the bodies (with the
/// Authorization header): the SMS provider of the tests.
async fn sms_provider() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/send", listener.local_addr().expect("addr"));
    let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let k = kept.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let k = k.clone();
            tokio::spawn(async move {
                let (read, mut write) = conn.into_split();
                let mut r = BufReader::new(read);
                let mut len = 0usize;
                let mut auth = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = l.split_once(':') {
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => len = value.trim().parse().unwrap_or(0),
                            "authorization" => value.trim().clone_into(&mut auth),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).await.is_err() {
                    return;
                }
                let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                v["authorization"] = json!(auth);
                if let Ok(mut k) = k.lock() {
                    k.push(v);
                }
                let _ = write
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, kept)
}

pub async fn sms_goes_only_to_users_who_consented(backend: Backend) {
    let (url, sent) = sms_provider().await;
    let app = spawn_with(backend, move |c| {
        c.closing.sms_url = Some(url);
        c.closing.sms_token = Some(Secret::new("sms-secret"));
        c.smtp.poll_ms = 20;
    })
    .await;
    let yes = app.user("sms-yes@example.cn", "customer", &[]).await;
    let no = app.user("sms-no@example.cn", "customer", &[]).await;
    let prefs = json!({"email": true, "sms": true, "phone": "+86 138 0013 8000", "lang": "zh"});
    let r = app
        .call(
            reqwest::Method::PUT,
            &yes,
            "/api/v1/me/preferences",
            Some(prefs),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let no_phone = json!({"email": true, "sms": true, "phone": null, "lang": null});
    let r = app
        .call(
            reqwest::Method::PUT,
            &no,
            "/api/v1/me/preferences",
            Some(no_phone),
        )
        .await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("phone"))
    );
    let mine = app
        .create(
            &yes,
            json!({"channel": "web", "description": "My order never arrived."}),
        )
        .await;
    app.create(
        &no,
        json!({"channel": "web", "description": "我的订单没到。"}),
    )
    .await;
    for _ in 0..200 {
        if sent.lock().map(|v| !v.is_empty()).unwrap_or(false) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let got = sent.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["to"], "+86 138 0013 8000");
    assert_eq!(got[0]["authorization"], "Bearer sms-secret");
    let text = got[0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&mine) && text.contains("已收到"),
        "the user chose Chinese: {text}"
    );
    // Without an SMTP server there is no e-mail; the portal still has the message.
    let inbox = app.get(&yes, "/api/v1/messages").await;
    assert_eq!(
        inbox.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        inbox.body
    );
}

pub async fn nps_is_asked_of_a_sample_and_reported(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(backend, &sink).await;
    for i in 0..3 {
        let c = app
            .user(&format!("nps{i}@example.com"), "customer", &[])
            .await;
        let n = app
            .create(
                &c,
                json!({"channel": "web", "description": format!("Question {i} about my invoice.")}),
            )
            .await;
        for step in ["accept", "start", "propose_solution", "resolve", "close"] {
            assert_eq!(
                app.act(&app.admin, &n, step).await.status,
                StatusCode::OK,
                "{step}"
            );
        }
    }
    // Received, result, closed and survey for each.
    let before = sink.wait_for(12).await.len();
    assert_eq!(before, 12);
    let agent = app
        .user("nps.agent@example.com", "agent", &["payment"])
        .await;
    let r = app
        .post(&agent, "/api/v1/surveys/nps", json!({"percent": 100}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(&app.admin, "/api/v1/surveys/nps", json!({"percent": 100}))
        .await;
    assert_eq!(r.body["asked"], 3, "{}", r.body);
    // Asked once per period: a second round finds nobody.
    let r = app
        .post(&app.admin, "/api/v1/surveys/nps", json!({"percent": 100}))
        .await;
    assert_eq!(r.body["asked"], 0, "{}", r.body);
    let mails = sink.wait_for(before + 3).await;
    let nps: Vec<&String> = mails[before..].iter().collect();
    assert_eq!(nps.len(), 3);
    assert!(text(nps[0]).contains("0 to 10"), "{}", text(nps[0]));
    let token = link(nps[0]);
    let page = app
        .http
        .get(format!("{}/r/{token}", app.base))
        .header("accept-language", "en")
        .send()
        .await
        .expect("page");
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains("Would you recommend us?")
    );
    let r = use_link(
        &app,
        &token,
        json!({"action": "nps", "score": 10, "comment": "fast"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = use_link(&app, &token, json!({"action": "nps", "score": 3})).await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "already_answered")
    );
    let r = use_link(&app, &token, json!({"action": "confirm"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = use_link(&app, &link(nps[1]), json!({"action": "nps", "score": 4})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let report = app.get(&agent, "/api/v1/reports/nps?days=30").await;
    assert_eq!(report.body["asked"], 3, "{}", report.body);
    assert_eq!(report.body["answered"], 2);
    assert_eq!(report.body["promoters"], 1);
    assert_eq!(report.body["detractors"], 1);
    assert_eq!(report.body["nps"], 0);
}

pub async fn the_agent_console_shows_only_what_its_viewer_may_see(backend: Backend) {
    use super::mail::StaffBrowser;
    let app = spawn_with(backend, |_| {}).await;
    app.user("pay.agent@example.cn", "agent", &["payment"])
        .await;
    app.user("ship.agent@example.cn", "agent", &["logistics"])
        .await;
    let customer = app.user("c@example.cn", "customer", &[]).await;
    let number = app
        .create(&customer, json!({"channel": "web", "title": "扣款 <b>两次</b>", "description": "同一个订单被扣款两次。", "category": "payment"}))
        .await;
    app.post(
        &customer,
        &format!("/api/v1/tickets/{number}/replies"),
        json!({"body": "客户补充"}),
    )
    .await;
    app.post(
        &app.admin,
        &format!("/api/v1/tickets/{number}/notes"),
        json!({"body": "内部：疑似网关重复提交"}),
    )
    .await;

    let (_, pay) = StaffBrowser::sign_in(&app, "pay.agent@example.cn", "password-123").await;
    let (status, inbox) = pay.get(&app, "/agent").await;
    assert_eq!(status, StatusCode::OK);
    assert!(inbox.contains(&number), "{inbox}");
    assert!(
        inbox.contains("扣款 &#60;b&#62;两次&#60;/b&#62;") && !inbox.contains("<b>两次"),
        "{inbox}"
    );
    let (status, page) = pay.get(&app, &format!("/agent/tickets/{number}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("内部：疑似网关重复提交") && page.contains("entry internal"),
        "notes are set apart"
    );
    assert!(
        page.contains("value=\"accept\""),
        "the agent is offered accept"
    );

    // Another department's agent: not in the inbox, and the page is "not found".
    let (_, ship) = StaffBrowser::sign_in(&app, "ship.agent@example.cn", "password-123").await;
    let (_, inbox) = ship.get(&app, "/agent?view=all").await;
    assert!(!inbox.contains(&number));
    assert_eq!(
        ship.get(&app, &format!("/agent/tickets/{number}")).await.0,
        StatusCode::NOT_FOUND
    );
    // A move without the session's token is refused, and nothing moves.
    assert_eq!(
        pay.post(&app, &format!("/agent/tickets/{number}/move"), "wrong")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.str("status"), "received");
    // Customers have no console; they sign in to the portal, which shows their own ticket
    // without its internal notes, and take their part there.
    let (status, customer) = StaffBrowser::sign_in(&app, "c@example.cn", "password-123").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(customer.get(&app, "/agent").await.0, StatusCode::FORBIDDEN);
    assert_eq!(pay.get(&app, "/portal").await.0, StatusCode::FORBIDDEN);
    let (status, home) = customer.get(&app, "/portal").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains(&number), "{home}");
    let (_, page) = customer
        .get(&app, &format!("/portal/tickets/{number}"))
        .await;
    assert!(page.contains("客户补充"));
    assert!(
        !page.contains("疑似网关重复提交"),
        "internal notes stay internal"
    );
    let other = app.user("d@example.cn", "customer", &[]).await;
    let theirs = app
        .create(
            &other,
            json!({"channel": "web", "description": "别人的工单。"}),
        )
        .await;
    assert_eq!(
        customer
            .get(&app, &format!("/portal/tickets/{theirs}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
