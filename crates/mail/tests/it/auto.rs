use closedloop_mail::{AutoPolicy, AutoRule, parse};

use crate::{fixture, parse_fixture};

fn rule(name: &str) -> Option<AutoRule> {
    parse_fixture(name).auto.map(|a| a.rule)
}

#[test]
fn chinese_out_of_office_is_recognised_by_auto_submitted_alone() {
    let m = parse_fixture("ooo-zh-auto-submitted.eml");
    assert_eq!(m.subject, "Re: 关于订单的问题");
    let auto = m.auto.expect("auto");
    assert_eq!(auto.rule, AutoRule::AutoSubmitted);
    assert_eq!(auto.rule.as_str(), "auto_submitted");
    assert_eq!(auto.detail, "Auto-Submitted: auto-replied");
    assert_eq!(
        m.text,
        "您好，我正在休假，11月30日返回，期间邮件将延迟处理。"
    );
    assert_eq!(m.bounced_message_id, None);
}

#[test]
fn english_out_of_office_is_recognised_by_x_autoreply() {
    let m = parse_fixture("ooo-en-x-autoreply.eml");
    assert_eq!(m.subject, "Re: Your order 1234");
    assert_eq!(m.auto.map(|a| a.rule), Some(AutoRule::XAutoreply));
    assert!(m.suppress_auto_reply);
}

#[test]
fn precedence_junk_is_bulk() {
    assert_eq!(rule("precedence-junk.eml"), Some(AutoRule::PrecedenceBulk));
}

#[test]
fn bounce_of_our_acknowledgement_names_the_bounced_message() {
    let m = parse_fixture("dsn-bounce.eml");
    let auto = m.auto.expect("auto");
    assert_eq!(auto.rule, AutoRule::DeliveryStatus);
    assert_eq!(auto.detail, "multipart/report; report-type=delivery-status");
    assert_eq!(
        m.bounced_message_id.as_deref(),
        Some("FB-20261122-000042.9f2c1d7e@help.example.com")
    );
    assert_eq!(m.return_path.as_deref(), Some(""));
    assert!(
        m.text
            .starts_with("This is the mail system at host mx.example.net.")
    );
}

#[test]
fn bounce_without_report_falls_back_to_null_path_and_quoted_headers() {
    let raw = b"Return-Path: <>\r\nFrom: postmaster@mx.example.net\r\nSubject: failure notice\r\n\
        Message-ID: <own@mx>\r\n\r\nSorry, no mailbox here.\r\n\r\n--- Below is a copy.\r\n\
        Message-ID: <FB-20261122-000042.1@help.example.com>\r\nSubject: x\r\n";
    let m = parse(raw, &AutoPolicy::default()).expect("parse");
    assert_eq!(m.auto.map(|a| a.rule), Some(AutoRule::NullReturnPath));
    assert_eq!(
        m.bounced_message_id.as_deref(),
        Some("FB-20261122-000042.1@help.example.com")
    );
}

#[test]
fn mailer_daemon_sender_is_automatic() {
    let raw = b"From: MAILER-DAEMON@mx.example.net\r\nSubject: hello\r\n\r\nx\r\n";
    let m = parse(raw, &AutoPolicy::default()).expect("parse");
    assert_eq!(m.auto.map(|a| a.rule), Some(AutoRule::MailerDaemon));
}

#[test]
fn list_mail_follows_the_policy() {
    assert_eq!(rule("list-copy.eml"), Some(AutoRule::ListMail));
    let lenient = AutoPolicy {
        list_mail_is_auto: false,
        ..AutoPolicy::default()
    };
    let m = parse(&fixture("list-copy.eml"), &lenient).expect("parse");
    assert_eq!(m.auto, None);
}

#[test]
fn outlook_suppress_header_alone_does_not_make_mail_automatic() {
    let m = parse_fixture("customer-ticket-number.eml");
    assert_eq!(m.auto, None);
    assert!(m.suppress_auto_reply);
}

#[test]
fn auto_submitted_no_is_a_person() {
    let raw = b"From: a@example.com\r\nAuto-Submitted: no\r\nSubject: hi\r\n\r\nx\r\n";
    assert_eq!(
        parse(raw, &AutoPolicy::default()).expect("parse").auto,
        None
    );
}

#[test]
fn subject_words_are_only_a_fallback() {
    let cases: [&[u8]; 4] = [
        "From: a@example.cn\r\nSubject: 自动回复：您好\r\n\r\nx\r\n".as_bytes(),
        "From: a@example.tw\r\nSubject: 【自動回覆】休假中\r\n\r\nx\r\n".as_bytes(),
        b"From: a@example.com\r\nSubject: Automatic reply: Order\r\n\r\nx\r\n",
        b"From: a@example.com\r\nSubject: Undeliverable: Order\r\n\r\nx\r\n",
    ];
    for raw in cases {
        let m = parse(raw, &AutoPolicy::default()).expect("parse");
        assert_eq!(
            m.auto.map(|a| a.rule),
            Some(AutoRule::SubjectFallback),
            "{}",
            m.subject
        );
        let off = AutoPolicy {
            subject_fallback: false,
            ..AutoPolicy::default()
        };
        assert_eq!(parse(raw, &off).expect("parse").auto, None);
    }
    // A header wins over the subject.
    let raw =
        b"From: a@example.com\r\nSubject: Out of Office\r\nAuto-Submitted: auto-replied\r\n\r\nx";
    let m = parse(raw, &AutoPolicy::default()).expect("parse");
    assert_eq!(m.auto.map(|a| a.rule), Some(AutoRule::AutoSubmitted));
    // A customer quoting the words is not automatic.
    let raw = "From: a@example.com\r\nSubject: 你们的自动回复太烦了\r\n\r\nx".as_bytes();
    assert_eq!(
        parse(raw, &AutoPolicy::default()).expect("parse").auto,
        None
    );
}
