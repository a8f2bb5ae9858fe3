//! The detectors: a pattern proposes, a check (boundaries, check digit, context) disposes.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::{Finding, Kind, checks};

/// Every piece of personal data in `text`, in text order, none overlapping. Where two kinds
/// claim the same characters the earlier detector in `DETECTORS` wins (an e-mail address holds
/// digits; an ID number holds what looks like a phone). Full-width forms (`１３８…`, `＠`),
/// which Chinese input methods type, are read as their ASCII counterparts.
pub fn find(text: &str) -> Vec<Finding> {
    if !text.chars().any(is_full_width) {
        return find_ascii(text);
    }
    // Read a half-width copy, remembering where each of its bytes came from.
    let mut half = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len() + 1);
    for (at, c) in text.char_indices() {
        let h = if is_full_width(c) {
            char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
        } else {
            c
        };
        for _ in 0..h.len_utf8() {
            origin.push(at);
        }
        half.push(h);
    }
    origin.push(text.len());
    find_ascii(&half)
        .into_iter()
        .map(|f| Finding {
            kind: f.kind,
            range: origin[f.range.start]..origin[f.range.end],
        })
        .collect()
}

/// The full-width forms of ASCII letters, digits and punctuation (U+FF01-U+FF5E).
fn is_full_width(c: char) -> bool {
    ('\u{FF01}'..='\u{FF5E}').contains(&c)
}

fn find_ascii(text: &str) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    for d in DETECTORS.iter() {
        let mut at = 0;
        while let Some(c) = d.re.captures_at(text, at) {
            let Some(m) = c.get(0) else { break };
            match (d.accept)(text, &c) {
                Some(range) => {
                    if !found
                        .iter()
                        .any(|f| f.range.start < range.end && range.start < f.range.end)
                    {
                        found.push(Finding {
                            kind: d.kind,
                            range: range.clone(),
                        });
                    }
                    at = range.end.max(m.start() + 1);
                }
                // A refused candidate may hide a real one starting inside it.
                None => at = m.start() + 1,
            }
            while at < text.len() && !text.is_char_boundary(at) {
                at += 1;
            }
            if at >= text.len() {
                break;
            }
        }
    }
    found.sort_by_key(|f| f.range.start);
    found
}

struct Detector {
    kind: Kind,
    re: Regex,
    accept: fn(&str, &Captures) -> Option<Range<usize>>,
}

#[allow(
    clippy::expect_used,
    reason = "constant patterns, compiled by every test"
)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid pattern")
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    vec![
        Detector {
            kind: Kind::Email,
            re: re(
                r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}",
            ),
            accept: |text, c| {
                let r = c.get(0)?.range();
                let at = text[r.clone()].find('@')? + r.start;
                let local = &text[r.start..at];
                // `logo@2x.png` is a file name (retina assets), not an address.
                let tld = text[r.clone()]
                    .rsplit('.')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let file = FILE_TYPES.contains(&tld.as_str());
                (!local.starts_with('.')
                    && !local.ends_with('.')
                    && !file
                    && free_after(text, r.end))
                .then_some(r)
            },
        },
        Detector {
            kind: Kind::CnId,
            re: re(
                r"[1-9]\d{5} ?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]) ?\d{3}[\dXx]",
            ),
            accept: |text, c| {
                let r = c.get(0)?.range();
                let id: Vec<u8> = significant(&text[r.clone()]);
                (isolated(text, &r) && checks::cn_resident_id(&id)).then_some(r)
            },
        },
        Detector {
            kind: Kind::HkId,
            re: re(r"([A-Z]{1,2})(\d{6}) ?(?:\(([0-9A])\)|([0-9A]))"),
            accept: |text, c| {
                let r = c.get(0)?.range();
                let check = c.get(3).or_else(|| c.get(4))?.as_str().as_bytes()[0];
                (isolated(text, &r)
                    && checks::hk_id(
                        c.get(1)?.as_str().as_bytes(),
                        c.get(2)?.as_str().as_bytes(),
                        check,
                    ))
                .then_some(r)
            },
        },
        Detector {
            kind: Kind::TwId,
            re: re(r"[A-Z][12]\d{8}"),
            accept: |text, c| {
                let r = c.get(0)?.range();
                (isolated(text, &r) && checks::tw_id(text[r.clone()].as_bytes())).then_some(r)
            },
        },
        Detector {
            kind: Kind::BankCard,
            re: re(r"\d{4}(?:[ \-]\d{4}){3}(?:[ \-]?\d{1,3})?|\d{15,19}"),
            accept: |text, c| {
                let r = c.get(0)?.range();
                let d = significant(&text[r.clone()]);
                (isolated(text, &r)
                    && card_prefix(&d)
                    && checks::luhn(&d)
                    && !names_a_reference(text, r.start))
                .then_some(r)
            },
        },
        Detector {
            kind: Kind::CnMobile,
            re: re(r"(?:\(?(?:\+|00)86\)?[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}"),
            accept: |text, c| {
                let r = c.get(0)?.range();
                (isolated(text, &r) && !names_a_reference(text, r.start)).then_some(r)
            },
        },
        Detector {
            kind: Kind::IntlPhone,
            re: re(r"(?:\+|00)[1-9]\d{0,2}(?:[ \-.]?\(\d{1,4}\))?(?:[ \-.]?\d{1,4}){2,6}"),
            accept: |text, c| {
                let r = c.get(0)?.range();
                let s = &text[r.clone()];
                let digits = s.bytes().filter(u8::is_ascii_digit).count();
                let domestic = s.starts_with("+86") || s.starts_with("0086");
                // "00" opens many numbers that are not dialled; a dialled one is grouped.
                let grouped = s.starts_with('+') || s.contains([' ', '-', '.', '(']);
                (isolated(text, &r)
                    && (8..=15).contains(&digits)
                    && !domestic
                    && grouped
                    && !names_a_reference(text, r.start))
                .then_some(r)
            },
        },
        Detector {
            kind: Kind::CnLandline,
            re: re(r"(\(?0(?:10|2\d|[3-9]\d{2})\)?)([ \-]?)[2-9]\d{2,3}[ \-]?\d{4}"),
            accept: |text, c| {
                let r = c.get(0)?.range();
                // Written as a phone number: the area code set apart. Eleven bare digits
                // starting with 0 are more often some other number.
                let apart = c.get(1)?.as_str().contains(')') || !c.get(2)?.as_str().is_empty();
                (apart && isolated(text, &r) && !names_a_reference(text, r.start)).then_some(r)
            },
        },
        Detector {
            kind: Kind::Address,
            // Greedy from the left, so the match starts too early ("寄到北京市…"); `address_start`
            // moves the start to the first place name.
            re: re(concat!(
                r"(?:\p{Han}{2,6}?(?:省|自治区|自治區|特别行政区|特別行政區))?(?:\p{Han}{2,4}?市)?(?:\p{Han}{1,5}?(?:区|區|县|縣|镇|鎮))?",
                r"\p{Han}{1,10}?(?:路|街|道|巷|弄|胡同|里)(?:[一二三四五六七八九十0-9]{1,3}段)?\s?[0-9０-９]{1,5}(?:-[0-9]{1,5})?\s?[号號]",
                r"(?:[0-9A-Za-z\p{Han}]{0,10}?(?:号楼|號樓|栋|棟|幢|座|楼|樓|单元|單元|层|層|室|F)[0-9]{0,5}(?:室|号|號)?)*",
            )),
            accept: |text, c| {
                let r = c.get(0)?.range();
                Some(address_start(text, r))
            },
        },
        Detector {
            kind: Kind::Address,
            re: re(concat!(
                r"\d{1,5}[A-Za-z]?(?:\s+[A-Z][A-Za-z]+){1,4}\s+",
                r"(?:Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Parkway|Pkwy|Place|Pl|Court|Ct|Terrace|Square|Highway|Hwy)\.?",
                r"(?:\s+(?:North|South|East|West))?",
                r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Room|Rm)\.?\s*#?[0-9A-Za-z\-]+)?",
                // The town written right after it, with a postcode (UK, or state and number).
                r"(?:,\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2}(?:\s+[A-Z]{1,2}[0-9][0-9A-Z]?\s+[0-9][A-Z]{2}|\s+(?:[A-Z]{2,3}\s+)?[0-9]{4,5})?)?",
            )),
            accept: |text, c| {
                let r = c.get(0)?.range();
                (isolated(text, &r)).then_some(r)
            },
        },
    ]
});

/// The letters and digits of a match, without separators and brackets.
fn significant(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_alphanumeric).collect()
}

fn free_after(text: &str, end: usize) -> bool {
    !text[end..]
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Not a piece of a longer run of letters and digits (`SF1234567890123`, `x13812345678`).
fn isolated(text: &str, r: &std::ops::Range<usize>) -> bool {
    let before = text[..r.start].chars().next_back();
    !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '+') && free_after(text, r.end)
}

/// Issuer prefixes of the card schemes seen here (UnionPay, Visa, Mastercard, Amex, JCB,
/// Discover) with their lengths: Luhn alone passes one random number in ten.
fn card_prefix(d: &[u8]) -> bool {
    let n = d.len();
    let p2 = d
        .get(..2)
        .map(|p| (p[0] - b'0') * 10 + (p[1] - b'0'))
        .unwrap_or(0);
    let p4: u32 = d
        .get(..4)
        .map(|p| p.iter().fold(0, |a, c| a * 10 + u32::from(c - b'0')))
        .unwrap_or(0);
    match p2 {
        62 => (16..=19).contains(&n),
        40..=49 => n == 16 || n == 19,
        51..=55 => n == 16,
        22..=27 => n == 16 && (2221..=2720).contains(&p4),
        34 | 37 => n == 15,
        35 => n == 16,
        60 | 64 | 65 => (16..=19).contains(&n) && (p4 == 6011 || p2 != 60),
        _ => false,
    }
}

/// Words that say the number after them is a reference, not a person's: order, waybill,
/// ticket, invoice and serial numbers.
const REFERENCE_CUES: &[&str] = &[
    "订单",
    "訂單",
    "单号",
    "單號",
    "运单",
    "運單",
    "快递",
    "快遞",
    "物流",
    "工单",
    "工單",
    "发票",
    "發票",
    "编号",
    "編號",
    "流水",
    "序列号",
    "序號",
    "order",
    "tracking",
    "waybill",
    "invoice",
    "ticket",
    "serial",
];

fn names_a_reference(text: &str, start: usize) -> bool {
    let before: String = text[..start]
        .chars()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let before = before.to_lowercase();
    // Only the words right before the number speak for it: "my order arrived, call 138…" is a phone.
    let tail = before
        .rsplit(['，', '。', ',', ';', '；', '!', '！', '?', '？', '、'])
        .next()
        .unwrap_or("");
    REFERENCE_CUES.iter().any(|cue| tail.contains(cue))
}

/// Provinces and regions as addresses open with them (short forms, both scripts).
const REGIONS: &[&str] = &[
    "北京",
    "天津",
    "上海",
    "重庆",
    "重慶",
    "河北",
    "山西",
    "辽宁",
    "遼寧",
    "吉林",
    "黑龙江",
    "黑龍江",
    "江苏",
    "江蘇",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "山東",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "廣東",
    "海南",
    "四川",
    "贵州",
    "貴州",
    "云南",
    "雲南",
    "陕西",
    "陝西",
    "甘肃",
    "甘肅",
    "青海",
    "台湾",
    "台灣",
    "臺灣",
    "内蒙古",
    "內蒙古",
    "广西",
    "廣西",
    "西藏",
    "宁夏",
    "寧夏",
    "新疆",
    "香港",
    "澳门",
    "澳門",
];

/// Where a Chinese address really starts inside a match that began at the first Han character:
/// at a province or region named before the first city/district mark, else two characters
/// before that mark (most city and district names have two), else two before the road.
fn address_start(text: &str, r: Range<usize>) -> Range<usize> {
    let s = &text[r.clone()];
    let mark = s.find(['市', '区', '區', '县', '縣']);
    if let Some(p) = REGIONS
        .iter()
        .filter_map(|name| s.find(name))
        .filter(|p| mark.is_none_or(|m| *p < m))
        .min()
    {
        return r.start + p..r.end;
    }
    let anchor = mark.or_else(|| s.find(['路', '街', '道', '巷', '弄', '里']));
    match anchor {
        Some(m) => {
            let start = s[..m].char_indices().rev().nth(1).map_or(0, |(i, _)| i);
            r.start + start..r.end
        }
        None => r,
    }
}

/// File extensions that follow an `@2x`-style asset name.
const FILE_TYPES: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "doc", "docx", "xls", "xlsx", "zip", "txt",
    "mp4", "mov", "heic",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        find(text)
            .into_iter()
            .map(|f| (f.kind, &text[f.range]))
            .collect()
    }

    #[test]
    fn phones_in_both_languages() {
        assert_eq!(
            kinds("我的手机13812345678，请回电"),
            [(Kind::CnMobile, "13812345678")]
        );
        assert_eq!(
            kinds("call me on +86 138-1234-5678 please"),
            [(Kind::CnMobile, "+86 138-1234-5678")]
        );
        assert_eq!(
            kinds("電話 (0755)87654321 找陳先生"),
            [(Kind::CnLandline, "(0755)87654321")]
        );
        assert_eq!(
            kinds("office 010-62345678"),
            [(Kind::CnLandline, "010-62345678")]
        );
        assert_eq!(
            kinds("ring +44 20 7946 0958 today"),
            [(Kind::IntlPhone, "+44 20 7946 0958")]
        );
    }

    #[test]
    fn near_misses_stay_readable() {
        for text in [
            "订单号 13812345678 还没发货",
            "order #13812345678 never arrived",
            "1381234567 is ten digits",
            "138123456789 is twelve",
            "12345678901 starts with 12",
            "运单号SF1234567890123",
            "工单 FB-20261122-000042",
            "客服热线 400-820-8820 打不通",
            "退款 ¥1,380.00 到账了吗",
            "ID 110105194912310021 has a wrong check digit",
            "card 4111111111111112 fails luhn",
            "A123456(4) wrong check",
            "A123456788 wrong check",
            "2026-11-22 13:45 下单",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
    }

    #[test]
    fn numbers_with_check_digits() {
        assert_eq!(
            kinds("身份证11010519491231002X"),
            [(Kind::CnId, "11010519491231002X")]
        );
        assert_eq!(
            kinds("卡号 6222 0212 3456 7890 128 被扣款"),
            [(Kind::BankCard, "6222 0212 3456 7890 128")]
        );
        assert_eq!(kinds("HKID A123456(3)"), [(Kind::HkId, "A123456(3)")]);
        assert_eq!(kinds("身分證字號A123456789"), [(Kind::TwId, "A123456789")]);
    }

    #[test]
    fn emails_and_addresses() {
        assert_eq!(
            kinds("write to li.lei@example.com.cn."),
            [(Kind::Email, "li.lei@example.com.cn")]
        );
        assert_eq!(
            kinds("我家住在北京市朝阳区建国路88号，快递没送到"),
            [(Kind::Address, "北京市朝阳区建国路88号")]
        );
        assert_eq!(
            kinds("deliver to 350 Fifth Avenue, Apt 5B tomorrow"),
            [(Kind::Address, "350 Fifth Avenue, Apt 5B")]
        );
    }

    #[test]
    fn full_width_digits_and_signs_are_read_as_ascii() {
        let text = "手机１３８１２３４５６７８，邮箱ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ";
        let found = find(text);
        let kinds: Vec<Kind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [Kind::CnMobile, Kind::Email]);
        assert_eq!(&text[found[0].range.clone()], "１３８１２３４５６７８");
        assert_eq!(
            &text[found[1].range.clone()],
            "ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ"
        );
        // An order number stays an order number in full width too.
        assert!(find("订单号１３８１２３４５６７８").is_empty());
    }
}
