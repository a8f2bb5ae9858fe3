use chrono::{TimeZone, Utc};
use closedloop_mail::{AutoPolicy, MailError, Mailbox, parse};

use crate::parse_fixture;

#[test]
fn customer_mail_with_ticket_number_in_subject() {
    let m = parse_fixture("customer-ticket-number.eml");
    assert_eq!(m.subject, "Re: [FB-20261122-000042] 退款进度");
    assert_eq!(m.ticket_numbers, vec!["FB-20261122-000042"]);
    assert_eq!(m.from, Mailbox::new(Some("王芳"), "wang.fang@example.cn"));
    assert_eq!(
        m.reply_to,
        Some(Mailbox::new(None, "wang.fang+reply@example.cn"))
    );
    assert_eq!(
        m.to,
        vec![Mailbox::new(Some("客服"), "support@help.example.com")]
    );
    assert_eq!(m.cc, vec![Mailbox::new(None, "boss@example.cn")]);
    assert_eq!(m.message_id.as_deref(), Some("CAF=abc123@mail.example.cn"));
    assert_eq!(
        m.in_reply_to,
        vec!["FB-20261122-000042.9f2c1d7e@help.example.com"]
    );
    assert_eq!(
        m.references,
        vec![
            "first@example.cn",
            "FB-20261122-000042.9f2c1d7e@help.example.com"
        ]
    );
    assert_eq!(m.return_path.as_deref(), Some("wang.fang@example.cn"));
    assert_eq!(
        m.date,
        Some(Utc.with_ymd_and_hms(2026, 11, 24, 6, 30, 0).unwrap())
    );
    assert_eq!(
        m.text,
        "您好：\n退款申请已经提交三天了，还没有到账，请尽快处理。\n谢谢！"
    );
    assert!(!m.html_only);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn invalid_encoded_word_is_kept_and_reported() {
    let m = parse_fixture("invalid-encoded-word.eml");
    assert_eq!(m.subject, "投诉 =?utf-8?B?!!not-base64!!?= café");
    assert!(
        m.warnings.contains(&"invalid encoded word".to_owned()),
        "{:?}",
        m.warnings
    );
    assert!(
        m.warnings
            .contains(&"text in unknown charset unknown-8bit decoded as windows-1252".to_owned()),
        "{:?}",
        m.warnings
    );
    assert_eq!(m.text, "Body is fine.");
}

#[test]
fn refusals_carry_a_reason() {
    let p = AutoPolicy::default();
    assert_eq!(parse(b"", &p), Err(MailError::Empty));
    assert_eq!(parse(b" \r\n\r\n", &p), Err(MailError::Empty));
    assert_eq!(
        parse(b"hello world, this is not mail\n", &p),
        Err(MailError::NotMail("no header block"))
    );
    assert_eq!(
        parse(b"\x00\x01\x02binary", &p).map_err(|e| e.to_string()),
        Err("not a mail message: no header block".to_owned())
    );
    assert_eq!(
        parse(b"Subject: hi\r\n\r\nno sender\r\n", &p),
        Err(MailError::NoFrom)
    );
    let small = AutoPolicy {
        max_bytes: 10,
        ..AutoPolicy::default()
    };
    let err = parse(b"From: a@b.c\r\n\r\nbody", &small).unwrap_err();
    assert_eq!(err.code(), "too_large");
    assert_eq!(err.to_string(), "message larger than 10 bytes (19 bytes)");
}

#[test]
fn sender_is_used_when_from_is_missing_and_addresses_are_lowercased() {
    let m = parse(
        b"Sender: Help <Desk@Example.COM>\r\nSubject: x\r\n\r\nbody\r\n",
        &AutoPolicy::default(),
    )
    .unwrap();
    assert_eq!(m.from, Mailbox::new(Some("Help"), "desk@example.com"));
}

#[test]
fn mbox_separator_line_is_skipped() {
    let m = parse(
        b"From a@example.com Mon Nov 23 10:00:00 2026\nFrom: a@example.com\nSubject: x\n\nbody\n",
        &AutoPolicy::default(),
    )
    .unwrap();
    assert_eq!(m.text, "body");
}
