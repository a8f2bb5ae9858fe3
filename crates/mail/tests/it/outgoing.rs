use chrono::{TimeZone, Utc};
use closedloop_mail::{
    Acknowledgement, AutoPolicy, AutoRule, Mailbox, auto_reply_headers, build_acknowledgement,
    message_id, parse,
};
use rand::SeedableRng;

#[test]
fn message_id_carries_the_ticket_number() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let id = message_id("FB-20261122-000042", "help.example.com", &mut rng);
    assert!(id.starts_with("<FB-20261122-000042."), "{id}");
    assert!(id.ends_with("@help.example.com>"));
    assert_eq!(
        id.len(),
        "<FB-20261122-000042.".len() + 32 + "@help.example.com>".len()
    );
    assert_ne!(
        id,
        message_id("FB-20261122-000042", "help.example.com", &mut rng)
    );
}

#[test]
fn acknowledgement_is_marked_threaded_and_reads_back() {
    let from = Mailbox::new(Some("闭环客服 Closedloop"), "support@help.example.com");
    let to = Mailbox::new(Some("王芳"), "wang.fang@example.cn");
    let references = vec!["first@example.cn".to_owned()];
    let body = "您好，我们已收到您的反馈，编号 FB-20261122-000042。\nWe received your feedback.";
    let ack = Acknowledgement {
        from: &from,
        to: &to,
        ticket_number: "FB-20261122-000042",
        subject: "已收到您的反馈 / We received your feedback",
        body,
        html: None,
        replied: true,
        message_id: "<FB-20261122-000042.1@help.example.com>",
        in_reply_to: Some("CAF=abc123@mail.example.cn"),
        references: &references,
        date: Utc.with_ymd_and_hms(2026, 11, 22, 2, 0, 0).unwrap(),
    };
    let raw = build_acknowledgement(&ack).unwrap();
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(text.is_ascii());
    assert!(text.contains("\r\nAuto-Submitted: auto-replied\r\n"));
    assert!(text.contains("\r\nX-Auto-Response-Suppress: All\r\n"));
    assert!(text.contains("\r\nIn-Reply-To: <CAF=abc123@mail.example.cn>\r\n"));
    assert!(text.contains("\r\nDate: Sun, 22 Nov 2026 02:00:00 +0000\r\n"));
    assert!(text.lines().all(|l| l.len() <= 998));
    assert_eq!(auto_reply_headers().len(), 2);

    let back = parse(&raw, &AutoPolicy::default()).unwrap();
    assert_eq!(
        back.subject,
        "[FB-20261122-000042] 已收到您的反馈 / We received your feedback"
    );
    assert_eq!(back.ticket_numbers, vec!["FB-20261122-000042"]);
    assert_eq!(back.from, from);
    assert_eq!(back.to, vec![to.clone()]);
    assert_eq!(
        back.message_id.as_deref(),
        Some("FB-20261122-000042.1@help.example.com")
    );
    assert_eq!(back.in_reply_to, vec!["CAF=abc123@mail.example.cn"]);
    assert_eq!(
        back.references,
        vec!["first@example.cn", "CAF=abc123@mail.example.cn"]
    );
    assert_eq!(back.text, body);
    assert_eq!(back.auto.map(|a| a.rule), Some(AutoRule::AutoSubmitted));
}
