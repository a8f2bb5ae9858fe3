//! Mail over HTTP (the endpoint mail providers post to), the intake log, the quarantine and its
//! retry, and `/metrics`.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Backend, Reply, TestApp, spawn, spawn_with};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn message(id: &str, from: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@shop.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Sun, 22 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n{headers}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A message with a text part, a PNG and a Windows executable.
fn with_files(id: &str, from: &str) -> Vec<u8> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    format!(
        "From: {from}\r\nTo: support@shop.example\r\nSubject: 扣款两次 charged twice\r\n\
         Message-ID: <{id}>\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         同一个订单被扣款两次，截图见附件。I was charged twice for one order.\r\n\
         --b1\r\nContent-Type: image/png; name=\"screen.png\"\r\nContent-Disposition: attachment; filename=\"screen.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --b1\r\nContent-Type: image/png; name=\"invoice.exe\"\r\nContent-Disposition: attachment; filename=\"invoice.exe\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        b64(PNG),
        b64(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0this program cannot be run"),
    )
    .into_bytes()
}

async fn post_mail(app: &TestApp, auth: Option<&str>, raw: Vec<u8>) -> Reply {
    let mut req = app
        .http
        .post(format!("{}/api/v1/intake/email", app.base))
        .header("content-type", "message/rfc822")
        .body(raw);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Reply { status, body }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn metrics(app: &TestApp, token: &str) -> (StatusCode, String) {
    let res = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("metrics");
    (res.status(), res.text().await.unwrap_or_default())
}

pub async fn mail_over_http_opens_threads_ignores_and_quarantines(backend: Backend) {
    let app = spawn(backend).await;
    let admin = bearer(&app.admin);
    let agent = app
        .user("mail-agent@shop.test", "agent", &["tech_support"])
        .await;

    let first = with_files("m1@alice.example", "Alice <alice@alice.example>");
    assert_eq!(
        post_mail(&app, None, first.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = post_mail(&app, Some(&bearer(&agent)), first.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(app.count_visible_to_admin().await, 0);

    // A provider that can only put credentials in a URL sends them as Basic.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("mailgun:{}", app.admin))
    );
    let r = post_mail(&app, Some(&basic), first.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.str("outcome"), "created");
    let number = r.str("ticket");
    let ticket = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(ticket.str("channel"), "email");
    let evidence: Vec<String> = ticket.body["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    assert_eq!(evidence.len(), 2, "both files kept: {evidence:?}");
    // The picture is served as a picture; the executable, whatever its label said, as bytes.
    let mut types = Vec::new();
    for e in &evidence {
        let id = e.strip_prefix("attachment:").expect("attachment reference");
        let res = app
            .http
            .get(format!(
                "{}/api/v1/tickets/{number}/attachments/{id}",
                app.base
            ))
            .bearer_auth(&app.admin)
            .send()
            .await
            .expect("download");
        assert_eq!(res.status(), StatusCode::OK);
        types.push(
            res.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    types.sort();
    assert_eq!(types, ["application/octet-stream", "image/png"]);

    // The provider retries: same Message-ID, same ticket, nothing new.
    let r = post_mail(&app, Some(&admin), first).await;
    assert_eq!(r.str("ticket"), number);
    assert_eq!(app.count_visible_to_admin().await, 1);

    // The requester answers: threaded.
    let before = app.timeline_len(&number).await;
    let reply = message(
        "m2@alice.example",
        "alice@alice.example",
        &format!("Re: [{number}] 扣款两次"),
        "In-Reply-To: <m1@alice.example>\r\n",
        "还没有退款。Still no refund.\r\n\r\n> quoted history",
    );
    let r = post_mail(&app, Some(&admin), reply).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.str("outcome").as_str(), r.str("ticket")),
        ("threaded", number.clone())
    );
    assert_eq!(app.timeline_len(&number).await, before + 1);

    // A stranger naming that ticket gets one of their own and sees nothing of Alice's.
    let stranger = message(
        "m3@mallory.example",
        "mallory@mallory.example",
        &format!("Re: {number}"),
        "",
        "Please send me the details of this order.",
    );
    let r = post_mail(&app, Some(&admin), stranger).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_ne!(r.str("ticket"), number);
    assert_eq!(app.timeline_len(&number).await, before + 1);

    // An out-of-office answer marked only by its headers: no ticket, the rule named.
    let ooo = message(
        "m4@alice.example",
        "alice@alice.example",
        &format!("Re: [{number}] 扣款两次"),
        "Auto-Submitted: auto-replied\r\nIn-Reply-To: <m1@alice.example>\r\n",
        "我正在休假。",
    );
    let r = post_mail(&app, Some(&admin), ooo).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.str("outcome"), "ignored");
    assert!(r.str("reason").contains("auto_submitted"), "{}", r.body);
    assert_eq!(app.count_visible_to_admin().await, 2);

    // Unreadable: kept, and the provider is told so it does not send it again.
    let broken = b"Subject: no sender at all\r\n\r\nbody".to_vec();
    let r = post_mail(&app, Some(&admin), broken.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.str("outcome"), "quarantined");
    let qid = r.str("quarantine_id");
    assert_eq!(qid.len(), 64);
    let kept = app
        .http
        .get(format!("{}/api/v1/intake/mail/quarantine/{qid}", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("quarantined copy");
    assert_eq!(kept.status(), StatusCode::OK);
    assert_eq!(
        kept.bytes().await.expect("bytes").as_ref(),
        broken.as_slice()
    );

    // The log says what became of each message.
    let log = app.get(&app.admin, "/api/v1/intake/mail").await;
    let outcomes: Vec<&str> = log
        .body
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    let count = |o: &str| outcomes.iter().filter(|x| **x == o).count();
    assert_eq!(
        (
            count("created"),
            count("threaded"),
            count("ignored"),
            count("quarantined")
        ),
        (2, 1, 1, 1),
        "{}",
        log.body
    );
    let q = app
        .get(&app.admin, "/api/v1/intake/mail?outcome=quarantined")
        .await;
    assert_eq!(q.body[0]["message_id"], format!("sha256:{qid}"));
    assert_eq!(q.body[0]["reason"], "no From address");
    let bad = app
        .get(&app.admin, "/api/v1/intake/mail?outcome=lost")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_field(), Some("outcome"));
    assert_eq!(
        app.get(&agent, "/api/v1/intake/mail").await.status,
        StatusCode::FORBIDDEN
    );

    let (status, text) = metrics(&app, &app.admin).await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "closedloop_mail_messages_total{direction=\"in\",path=\"http\",outcome=\"created\",rule=\"\"} 2",
        "closedloop_mail_messages_total{direction=\"in\",path=\"http\",outcome=\"threaded\",rule=\"\"} 1",
        "closedloop_mail_messages_total{direction=\"in\",path=\"http\",outcome=\"quarantined\",rule=\"\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    assert!(
        text.contains("outcome=\"ignored\",rule=\"auto_submitted"),
        "{text}"
    );
    assert_eq!(metrics(&app, &agent).await.0, StatusCode::FORBIDDEN);
}

pub async fn quarantined_mail_is_retried_after_a_fix(backend: Backend) {
    let app = spawn_with(backend, |c| c.mail.max_bytes = 400).await;
    let admin = bearer(&app.admin);
    let long = message(
        "big@bob.example",
        "bob@bob.example",
        "Parcel missing",
        "",
        &"The parcel is marked as delivered but it never arrived. ".repeat(10),
    );
    assert!(long.len() > 400 && long.len() < 800);
    let r = post_mail(&app, Some(&admin), long).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert!(r.str("reason").contains("larger than 400"), "{}", r.body);
    let qid = r.str("quarantine_id");
    assert_eq!(app.count_visible_to_admin().await, 0);

    // Retried on an instance that still has the old limit: still quarantined, counted once.
    let path = format!("/api/v1/intake/mail/quarantine/{qid}/retry");
    let again = app.post(&app.admin, &path, Value::Null).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    let q = app
        .get(&app.admin, "/api/v1/intake/mail?outcome=quarantined")
        .await;
    assert_eq!(q.body.as_array().map(Vec::len), Some(1));

    // The limit raised: the retry files it, and the quarantine is empty again.
    let fixed = app.sibling(|c| c.mail.max_bytes = 100_000).await;
    let done = fixed.post(&fixed.admin, &path, Value::Null).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.str("outcome"), "created");
    assert_eq!(fixed.count_visible_to_admin().await, 1);
    let q = fixed
        .get(&fixed.admin, "/api/v1/intake/mail?outcome=quarantined")
        .await;
    assert_eq!(q.body.as_array().map(Vec::len), Some(0), "{}", q.body);
    let log = fixed.get(&fixed.admin, "/api/v1/intake/mail").await;
    assert_eq!(log.body[0]["path"], "retry");
    assert_eq!(log.body[0]["message_id"], "big@bob.example");
    assert_eq!(
        fixed.post(&fixed.admin, &path, Value::Null).await.status,
        StatusCode::NOT_FOUND,
        "the kept copy is gone once filed"
    );
}
