//! Mail over HTTP (the endpoint mail providers post to), the intake log, the quarantine and its
//! retry, and `/metrics`.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;

use closedloop_server::Secret;

use crate::harness::{Backend, Dovecot, Reply, SmtpSink, TestApp, spawn, spawn_with};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

pub(crate) fn message(id: &str, from: &str, subject: &str, headers: &str, body: &str) -> Vec<u8> {
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

pub(crate) async fn post_mail(app: &TestApp, auth: Option<&str>, raw: Vec<u8>) -> Reply {
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

pub(crate) fn bearer(token: &str) -> String {
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
        "closedloop_mail_messages{direction=\"in\",path=\"http\",outcome=\"created\",rule=\"\"} 2",
        "closedloop_mail_messages{direction=\"in\",path=\"http\",outcome=\"threaded\",rule=\"\"} 1",
        "closedloop_mail_messages{direction=\"in\",path=\"http\",outcome=\"quarantined\",rule=\"\"} 1",
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

pub(crate) fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

pub async fn acknowledgements_are_marked_limited_and_never_loop(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_with(backend, |c| {
        c.smtp.url = Some(Secret::new(sink.addr.to_string()));
        c.smtp.from_address = "support@shop.example".into();
        c.smtp.acknowledgements_per_address_per_hour = 3;
        c.smtp.poll_ms = 20;
    })
    .await;
    let admin = bearer(&app.admin);

    // A customer's mail: one acknowledgement, marked as automatic, answering their message.
    let first = message(
        "c1@carol.example",
        "carol@carol.example",
        "Refund not received",
        "",
        "I am still waiting for my refund.",
    );
    let r = post_mail(&app, Some(&admin), first).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let number = r.str("ticket");
    let sent = sink.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    let ack = &sent[0];
    assert_eq!(header(ack, "To"), Some("carol@carol.example"));
    assert_eq!(header(ack, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(header(ack, "X-Auto-Response-Suppress"), Some("All"));
    assert_eq!(header(ack, "In-Reply-To"), Some("<c1@carol.example>"));
    assert!(
        header(ack, "Subject").is_some_and(|s| s.contains(&number)),
        "{ack}"
    );
    let ours = header(ack, "Message-ID")
        .expect("message id")
        .trim_matches(['<', '>'])
        .to_owned();

    // Her answer to the acknowledgement joins her ticket and is not acknowledged again.
    let answer = message(
        "c2@carol.example",
        "carol@carol.example",
        "Re: Refund not received",
        &format!("In-Reply-To: <{ours}>\r\nReferences: <c1@carol.example> <{ours}>\r\n"),
        "Order 4411.",
    );
    let r = post_mail(&app, Some(&admin), answer).await;
    assert_eq!(
        (r.str("outcome").as_str(), r.str("ticket")),
        ("threaded", number.clone())
    );

    // Automatic mail of every kind: her out-of-office, a bounce of our acknowledgement, a
    // mailing-list copy. None opens a ticket, none is acknowledged.
    let ooo = message(
        "c3@carol.example",
        "carol@carol.example",
        &format!("自动回复: [{number}]"),
        &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: <{ours}>\r\n"),
        "我正在休假，12月1日回来。",
    );
    let bounce = format!(
        "From: MAILER-DAEMON@mx.carol.example\r\nReturn-Path: <>\r\nTo: support@shop.example\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.carol.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.carol.example\r\n\r\n\
         Final-Recipient: rfc822; carol@carol.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{ours}>\r\nSubject: [{number}] Refund not received\r\n\r\n--r--\r\n"
    ).into_bytes();
    let list = message(
        "l1@lists.example",
        "news@lists.example",
        "Weekly digest",
        "List-Id: <digest.lists.example>\r\nPrecedence: list\r\n",
        "This week on the list.",
    );
    for m in [ooo, bounce, list] {
        let r = post_mail(&app, Some(&admin), m).await;
        assert_eq!(
            (r.status, r.str("outcome").as_str()),
            (StatusCode::OK, "ignored"),
            "{}",
            r.body
        );
    }
    assert_eq!(app.count_visible_to_admin().await, 1);

    // A responder that marks nothing and answers every mail with a fresh one: each of its
    // mails opens a ticket, but acknowledgements to it stop at the hourly limit, so the
    // exchange ends by itself.
    let mut bot_mails = 0;
    let mut acks_to_bot = 0;
    let mut pending = vec![message(
        "b0@bot.example",
        "bot@bot.example",
        "Hello",
        "",
        "Thank you for your message.",
    )];
    while let Some(next) = pending.pop() {
        assert!(bot_mails < 20, "the exchange did not stop");
        let r = post_mail(&app, Some(&admin), next).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        bot_mails += 1;
        // Give the sender time to act, then answer whatever reached the bot.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = sink
            .messages()
            .iter()
            .filter(|m| header(m, "To") == Some("bot@bot.example"))
            .count();
        for i in acks_to_bot..now {
            pending.push(message(
                &format!("b{}@bot.example", i + 1),
                "bot@bot.example",
                &format!("Automatic answer {}", i + 1),
                "",
                "Thank you for your message.",
            ));
        }
        acks_to_bot = now;
    }
    assert_eq!(acks_to_bot, 3, "the hourly limit");
    assert_eq!(bot_mails, 4);
    // All the mail exchanged: Carol's one acknowledgement and the bot's three.
    assert_eq!(sink.messages().len(), 4);
    let log = app
        .get(&app.admin, "/api/v1/intake/mail?outcome=sent")
        .await;
    assert_eq!(log.body.as_array().map(Vec::len), Some(4), "{}", log.body);
}

/// Message `i` of a batch of 1,000: readable unless 475 <= i < 525, where four kinds of
/// unreadable mail take turns (blank, no sender, an empty sender, noise without headers).
fn batch_message(i: usize) -> Vec<u8> {
    if (475..525).contains(&i) {
        return match i % 4 {
            0 => format!("{}\r\n", " ".repeat(i)).into_bytes(),
            1 => {
                format!("Subject: no sender {i}\r\nMessage-ID: <bad{i}@batch>\r\n\r\nWho am I?\r\n")
                    .into_bytes()
            }
            2 => format!("From: \r\nSubject: empty sender {i}\r\n\r\nhello\r\n").into_bytes(),
            _ => format!("{i} {}\r\n", "%$#@!".repeat(i % 7 + 1)).into_bytes(),
        };
    }
    let subject = [
        "订单一直没有发货",
        "Charged twice for one order",
        "无法登录账号",
    ][i % 3];
    format!(
        "From: User {i} <user{i}@example{}.com>\r\nTo: support@shop.example\r\nSubject: {subject} ({i})\r\n\
         Message-ID: <imap{i}@example.com>\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{subject}。第 {i} 封 / number {i}.\r\n",
        i % 13
    )
    .into_bytes()
}

/// `outcome -> count` of inbound mail that came over IMAP, from `/metrics`.
async fn imap_counts(app: &TestApp) -> std::collections::BTreeMap<String, u64> {
    let (_, text) = metrics(app, &app.admin).await;
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| l.contains("path=\"imap\"")) {
        let outcome = line
            .split("outcome=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        let n = line.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok());
        if let (Some(o), Some(n)) = (outcome, n) {
            *out.entry(o.to_owned()).or_default() += n;
        }
    }
    out
}

async fn wait_for_counts(app: &TestApp, created: u64, quarantined: u64) {
    let want: std::collections::BTreeMap<String, u64> = [
        ("created".to_owned(), created),
        ("quarantined".to_owned(), quarantined),
    ]
    .into();
    for _ in 0..600 {
        if imap_counts(app).await == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(imap_counts(app).await, want, "IMAP intake did not finish");
}

pub async fn imap_batch_with_bad_messages_is_filed_once_across_restarts(backend: Backend) {
    let dovecot = Dovecot::start().await;
    {
        let mut s = dovecot.session().await;
        for i in 0..1000 {
            s.append("INBOX", None, None, batch_message(i))
                .await
                .expect("append");
        }
        let _ = s.logout().await;
    }
    assert_eq!(dovecot.unfiled().await, 1000);
    let configure = |c: &mut closedloop_server::Config| {
        c.imap.server = Some(dovecot.addr.clone());
        c.imap.tls = false;
        c.imap.user = Dovecot::USER.into();
        c.imap.password = Some(closedloop_server::Secret::new(Dovecot::PASSWORD));
        c.imap.poll_ms = 100;
    };
    let app = spawn_with(backend, configure).await;
    wait_for_counts(&app, 950, 50).await;
    assert_eq!(
        dovecot.unfiled().await,
        0,
        "every message marked once its outcome is stored"
    );
    assert_eq!(app.count_visible_to_admin().await, 950);
    let q = app
        .get(
            &app.admin,
            "/api/v1/intake/mail?outcome=quarantined&limit=500",
        )
        .await;
    assert_eq!(q.body.as_array().map(Vec::len), Some(50));

    // Another instance on the same mailbox and database (a restart, or scale-out) fetches
    // nothing again; a new message is filed once although both poll for it.
    let second = app.sibling(|_| {}).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(imap_counts(&second).await, imap_counts(&app).await);
    assert_eq!(second.count_visible_to_admin().await, 950);
    {
        let mut s = dovecot.session().await;
        s.append("INBOX", None, None, batch_message(1000))
            .await
            .expect("append");
        let _ = s.logout().await;
    }
    wait_for_counts(&second, 951, 50).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(second.count_visible_to_admin().await, 951);
    assert_eq!(dovecot.unfiled().await, 0);
}

/// The mail crate's real-shaped messages, end to end: each gets its outcome, text in every
/// charset arrives intact, and only the messages that opened a ticket are acknowledged.
pub async fn real_shaped_mail_gets_the_right_outcome_and_only_people_are_answered(
    backend: Backend,
) {
    let sink = SmtpSink::start().await;
    let app = spawn_with(backend, |c| {
        c.smtp.url = Some(Secret::new(sink.addr.to_string()));
        c.smtp.poll_ms = 20;
    })
    .await;
    let admin = bearer(&app.admin);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mail/tests/fixtures");
    // (file, outcome, text the ticket must show)
    let cases: [(&str, &str, &[&str]); 17] = [
        ("ooo-zh-auto-submitted.eml", "ignored", &[]),
        ("ooo-en-x-autoreply.eml", "ignored", &[]),
        ("precedence-junk.eml", "ignored", &[]),
        ("dsn-bounce.eml", "ignored", &[]),
        ("list-copy.eml", "ignored", &[]),
        ("customer-ticket-number.eml", "created", &[]),
        ("reply-quoted-en.eml", "created", &[]),
        ("reply-quoted-zh.eml", "created", &[]),
        (
            "gb2312-gbk-chars.eml",
            "created",
            &["朱镕基", "陶喆", "王堃", "100–200"],
        ),
        ("big5-hkscs.eml", "created", &["查詢訂單", "𨋢"]),
        ("unlabelled-gbk.eml", "created", &["电视机坏点"]),
        ("broken-boundary.eml", "created", &[]),
        ("invalid-encoded-word.eml", "created", &["投诉"]),
        ("rfc2231-attachment.eml", "created", &[]),
        ("html-only.eml", "created", &["快递没有更新"]),
        ("alternative-qp-base64.eml", "created", &[]),
        ("customer-ticket-number.eml", "created", &[]),
    ];
    let mut created = 0;
    for (file, outcome, texts) in cases {
        let raw = std::fs::read(dir.join(file)).expect("fixture");
        let r = post_mail(&app, Some(&admin), raw).await;
        assert_eq!(r.str("outcome"), outcome, "{file}: {}", r.body);
        if outcome != "created" {
            continue;
        }
        created += 1;
        let t = app
            .get(&app.admin, &format!("/api/v1/tickets/{}", r.str("ticket")))
            .await;
        let shown = format!("{} {}", t.str("title"), t.str("description"));
        assert!(
            !shown.contains('\u{fffd}'),
            "{file}: replacement characters in {shown}"
        );
        for text in texts {
            assert!(shown.contains(text), "{file}: {text} missing from {shown}");
        }
    }
    // The last case was a re-delivery: answered as before, not a ticket (nor an answer) more.
    assert_eq!(app.count_visible_to_admin().await, created - 1);
    // One acknowledgement per ticket, except to the sender whose client asked for none
    // (`X-Auto-Response-Suppress: All` on customer-ticket-number.eml).
    let sent = sink.wait_for(created - 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), created - 2, "{sent:?}");
    assert!(
        sent.iter()
            .all(|m| header(m, "To") != Some("wang.fang@example.cn"))
    );
    for m in &sent {
        let to = header(m, "To").unwrap_or_default().to_lowercase();
        for robot in ["mailer-daemon", "noreply@", "announce", "lists."] {
            assert!(!to.contains(robot), "acknowledged automatic mail: {to}");
        }
    }
}

/// A provider retrying while the first delivery is still being filed, or two instances
/// polling one mailbox: the message is filed once, its files kept once, answered once.
pub async fn concurrent_deliveries_of_one_mail_file_it_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_with(backend, |c| {
        c.smtp.url = Some(Secret::new(sink.addr.to_string()));
        c.smtp.poll_ms = 20;
    })
    .await;
    let admin = bearer(&app.admin);
    let raw = with_files("race1@dora.example", "dora@dora.example");
    let posts = (0..8).map(|_| post_mail(&app, Some(&admin), raw.clone()));
    let replies = futures_util::future::join_all(posts).await;
    let numbers: std::collections::BTreeSet<String> =
        replies.iter().map(|r| r.str("ticket")).collect();
    assert_eq!(
        numbers.len(),
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(app.count_visible_to_admin().await, 1);
    let number = numbers.into_iter().next().unwrap_or_default();
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(
        t.body["evidence"].as_array().map(Vec::len),
        Some(2),
        "{}",
        t.body
    );
    sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "one acknowledgement");
}

/// A browser session of a staff member, signed in through the login page.
pub(crate) struct StaffBrowser {
    http: reqwest::Client,
    cookies: String,
}

impl StaffBrowser {
    pub(crate) async fn sign_in(
        app: &TestApp,
        email: &str,
        password: &str,
    ) -> (StatusCode, StaffBrowser) {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let page = http
            .get(format!("{}/login?next=/admin/mail", app.base))
            .send()
            .await
            .expect("login page");
        let csrf_cookie = page
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_owned();
        let html = page.text().await.unwrap_or_default();
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned();
        let res = http
            .post(format!("{}/login", app.base))
            .header("cookie", &csrf_cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("next", "/admin/mail"),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
            .expect("login");
        let session = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("closedloop_session="))
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_owned();
        let cookies = format!("{csrf_cookie}; {session}");
        (res.status(), StaffBrowser { http, cookies })
    }

    pub(crate) async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let res = self
            .http
            .get(format!("{}{path}", app.base))
            .header("cookie", &self.cookies)
            .send()
            .await
            .expect("get");
        (res.status(), res.text().await.unwrap_or_default())
    }

    pub(crate) async fn post(&self, app: &TestApp, path: &str, csrf: &str) -> (StatusCode, String) {
        let res = self
            .http
            .post(format!("{}{path}", app.base))
            .header("cookie", &self.cookies)
            .form(&[("csrf", csrf)])
            .send()
            .await
            .expect("post");
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, location)
    }
}

pub async fn administrators_see_the_intake_log_and_retry_quarantine_in_the_browser(
    backend: Backend,
) {
    let app = spawn_with(backend, |c| c.mail.max_bytes = 400).await;
    let admin = bearer(&app.admin);
    let long = message(
        "big@bob.example",
        "<script>bob</script>@bob.example",
        "Parcel missing",
        "",
        &"The parcel is marked as delivered but it never arrived. ".repeat(10),
    );
    let r = post_mail(&app, Some(&admin), long).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let qid = r.str("quarantine_id");
    let ok = message(
        "ok@carol.example",
        "carol@carol.example",
        "Hi",
        "",
        "Short.",
    );
    assert_eq!(
        post_mail(&app, Some(&admin), ok).await.status,
        StatusCode::CREATED
    );

    // Signed out: the page sends the browser to sign in first.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = anon
        .get(format!("{}/admin/mail", app.base))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/login?next=/admin/mail")
    );
    let (status, _) = StaffBrowser::sign_in(&app, "admin@closedloop.test", "wrong-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An agent signs in but may not see it.
    app.user("agent@shop.example", "agent", &["payment"]).await;
    let (status, agent) = StaffBrowser::sign_in(&app, "agent@shop.example", "password-123").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        agent.get(&app, "/admin/mail").await.0,
        StatusCode::FORBIDDEN
    );

    let (status, b) =
        StaffBrowser::sign_in(&app, crate::harness::ADMIN_EMAIL, "admin-password-1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, html) = b.get(&app, "/admin/mail").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("larger than 400"),
        "the reason is shown: {html}"
    );
    assert!(html.contains("carol@carol.example") && html.contains("created"));
    assert!(!html.contains("<script>"), "what senders wrote is escaped");
    assert!(html.contains(&format!("/admin/mail/quarantine/{qid}/retry")));
    let (_, quarantined_only) = b.get(&app, "/admin/mail?outcome=quarantined").await;
    assert!(!quarantined_only.contains("carol@carol.example"));
    let (status, raw) = b.get(&app, &format!("/admin/mail/quarantine/{qid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(raw.contains("Parcel missing"));

    // Retry from the page: refused without the session's token; on this instance the limit
    // still holds, on one with a raised limit the message is filed.
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let retry = format!("/admin/mail/quarantine/{qid}/retry");
    assert_eq!(b.post(&app, &retry, "wrong").await.0, StatusCode::FORBIDDEN);
    let (status, location) = b.post(&app, &retry, &csrf).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("still%20quarantined"), "{location}");
    let fixed = app.sibling(|c| c.mail.max_bytes = 100_000).await;
    let (status, location) = b.post(&fixed, &retry, &csrf).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("created"), "{location}");
    let (_, html) = b.get(&fixed, &location).await;
    assert!(html.contains("created FB-"), "{html}");
    assert_eq!(fixed.count_visible_to_admin().await, 2);

    // Signing out ends the session.
    assert_eq!(
        b.post(&app, "/logout", &csrf).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get(&app, "/admin/mail").await.0, StatusCode::SEE_OTHER);
}
