use crate::{fixture, parse_fixture};

#[test]
fn gb2312_label_with_gbk_only_characters_decodes_as_gb18030() {
    let raw = fixture("gb2312-gbk-chars.eml");
    // 镕 E9 46, 喆 86 B4, 堃 88 D2 and the en-dash A8 43 all lie outside GB2312 (whose bytes
    // are both in A1..FE): a strict GB2312 decoder would lose them.
    for seq in [[0xE9, 0x46], [0x86, 0xB4], [0x88, 0xD2], [0xA8, 0x43]] {
        assert!(raw.windows(2).any(|w| w == seq), "{seq:02x?}");
    }
    let m = parse_fixture("gb2312-gbk-chars.eml");
    assert_eq!(m.subject, "投诉：王堃的订单");
    assert_eq!(m.text, "朱镕基、陶喆、王堃反馈：价格 100–200 元。");
    assert!(
        m.warnings
            .contains(&"charset gb2312 decoded as gb18030".to_owned())
    );
}

#[test]
fn big5_with_hkscs_characters() {
    let raw = fixture("big5-hkscs.eml");
    // 𨋢 is 9D F2 and 咗 9D F7: HKSCS, outside plain Big5 (lead bytes from A1).
    assert!(raw.windows(2).any(|w| w == [0x9D, 0xF2]));
    let m = parse_fixture("big5-hkscs.eml");
    assert_eq!(m.subject, "查詢訂單");
    assert_eq!(m.from.name.as_deref(), Some("陳大文"));
    assert_eq!(m.text, "你好，我想查詢訂單。佢話咗冇貨，𨋢壞咗。");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn unlabelled_8bit_gbk_body_and_raw_subject_are_detected() {
    let m = parse_fixture("unlabelled-gbk.eml");
    assert_eq!(m.subject, "投诉：电视机坏点");
    assert_eq!(m.text, "您好，我在贵店购买的电视机屏幕有坏点，要求换货。");
    assert_eq!(
        m.warnings,
        vec![
            "8-bit header bytes decoded as gb18030",
            "unlabelled 8-bit text decoded as gb18030"
        ]
    );
}

#[test]
fn undecodable_bytes_become_replacement_characters() {
    let raw = b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=big5\r\n\r\nok \xFF\xFF end\r\n";
    let m = closedloop_mail::parse(raw, &closedloop_mail::AutoPolicy::default()).unwrap();
    assert_eq!(m.text, "ok \u{FFFD}\u{FFFD} end");
    assert!(
        m.warnings
            .contains(&"undecodable bytes in big5 text replaced".to_owned())
    );
}

#[test]
fn encoded_words_split_across_lines_and_charsets() {
    let raw = b"From: a@example.com\r\nSubject: =?gb2312?B?1tA=?=\r\n =?UTF-8?B?5paH?=\r\n\t=?big5?B?pKQ=?= =?UTF-8?B?5Lit5g==?= =?UTF-8?B?loc=?=\r\n\r\nx";
    let m = closedloop_mail::parse(raw, &closedloop_mail::AutoPolicy::default()).unwrap();
    assert_eq!(m.subject, "中文中中文");
}

#[test]
fn raw_gb18030_four_byte_header_that_shrinks_in_utf8() {
    // Regression (found reviewing the fuzz targets): the repaired header block may be shorter
    // than the raw one (GB18030 four-byte sequences become two or three UTF-8 bytes); sizing the
    // buffer as `raw + text - block` underflowed.
    let mut raw = b"From: a@example.cn\r\nSubject: ".to_vec();
    for _ in 0..50 {
        raw.extend_from_slice(&[0x81, 0x30, 0x81, 0x30]);
    }
    raw.extend_from_slice(b"\r\n\r\nbody\r\n");
    let m = closedloop_mail::parse(&raw, &closedloop_mail::AutoPolicy::default()).unwrap();
    assert_eq!(m.text, "body");
}
