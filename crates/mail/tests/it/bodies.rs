use crate::parse_fixture;

#[test]
fn english_reply_keeps_only_the_new_words() {
    let m = parse_fixture("reply-quoted-en.eml");
    assert_eq!(m.ticket_numbers, vec!["FB-20261120-000007"]);
    assert_eq!(
        m.text,
        "Thanks, the replacement arrived and works.\n\nJane\n--\nJane Doe | ACME Ltd.\n\n\
         On Tue, Nov 24, 2026 at 3:00 PM Support <support@help.example.com> wrote:\n\
         > Hello Jane,\n> we have sent a replacement."
    );
    assert_eq!(
        m.new_text,
        "Thanks, the replacement arrived and works.\n\nJane"
    );
}

#[test]
fn chinese_reply_keeps_only_the_new_words() {
    let m = parse_fixture("reply-quoted-zh.eml");
    assert_eq!(m.subject, "回复：[FB-20261120-000008] 发票问题");
    assert_eq!(m.ticket_numbers, vec!["FB-20261120-000008"]);
    assert_eq!(m.from.name.as_deref(), Some("陈静"));
    assert_eq!(m.new_text, "好的，发票已经收到了，谢谢！");
    assert!(m.text.ends_with("您好，发票已经寄出。"));
}

#[test]
fn html_only_mail_becomes_readable_text() {
    let m = parse_fixture("html-only.eml");
    assert_eq!(m.subject, "快递没有更新");
    assert!(m.html_only);
    assert_eq!(
        m.text,
        "您好，\n\n我的快递三天没有更新 & 客服电话打不通。\n\n- 订单号：12345\n- 快递：顺丰\n\n谢谢\n李雷"
    );
    assert!(m.attachments.is_empty());
}

#[test]
fn alternative_prefers_plain_base64_and_keeps_the_image() {
    let m = parse_fixture("alternative-qp-base64.eml");
    assert!(!m.html_only);
    assert_eq!(m.text, "Hello,\nthe screen flickers — see photo.");
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("photo.png"));
    assert_eq!(a.content_type, "image/png");
    assert_eq!(&a.data[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(a.data.len(), 16);
}

#[test]
fn rfc2231_continued_filename_and_attachment_bytes() {
    let m = parse_fixture("rfc2231-attachment.eml");
    assert_eq!(m.text, "Please see the attached invoice.");
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("发票扫描件—2026.pdf"));
    assert_eq!(a.content_type, "application/pdf");
    assert_eq!(
        a.data,
        b"%PDF-1.4\n% fake invoice\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    );
}

#[test]
fn broken_boundary_still_yields_the_text() {
    let m = parse_fixture("broken-boundary.eml");
    assert_eq!(m.text, "The app crashes when I open settings.");
    assert!(
        m.warnings
            .iter()
            .any(|w| w.starts_with("broken MIME boundary")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn unterminated_multipart_keeps_its_text() {
    let raw =
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n\
        --XX\r\nContent-Type: text/plain\r\n\r\nbody text here\r\n";
    let m = closedloop_mail::parse(raw, &closedloop_mail::AutoPolicy::default()).unwrap();
    assert_eq!(m.text, "body text here");
}

#[test]
fn multipart_without_boundary_keeps_raw_body() {
    let raw = b"From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/mixed\r\n\r\nplain words\r\n";
    let m = closedloop_mail::parse(raw, &closedloop_mail::AutoPolicy::default()).unwrap();
    assert_eq!(m.text, "plain words");
    assert!(!m.warnings.is_empty());
}
