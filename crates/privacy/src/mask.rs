//! Masking: enough of a value stays to talk about it ("the card ending 0128"), not enough to
//! use it.

use crate::{Kind, find};

/// A text with its personal data masked, and which kinds were there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    pub text: String,
    pub kinds: Vec<Kind>,
}

/// The text with every finding masked; `None` when there is nothing to mask.
pub fn mask(text: &str) -> Option<Masked> {
    let found = find(text);
    if found.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut kinds = Vec::new();
    for f in found {
        out.push_str(&text[at..f.range.start]);
        out.push_str(&mask_value(f.kind, &text[f.range.clone()]));
        at = f.range.end;
        if !kinds.contains(&f.kind) {
            kinds.push(f.kind);
        }
    }
    out.push_str(&text[at..]);
    kinds.sort();
    Some(Masked { text: out, kinds })
}

/// One value masked: its letters and digits turned into `*` but for a few at each end, the
/// separators kept so the shape stays recognisable.
pub fn mask_value(kind: Kind, value: &str) -> String {
    let significant = value.chars().filter(|c| alphanumeric(*c)).count();
    let (first, last) = match kind {
        Kind::CnMobile => {
            // A bare mobile number starts with 1, so leading 86 or 0086 is the country code.
            let bare = value.trim_start_matches(['(', '+']);
            let prefix = if bare.starts_with("0086") {
                4
            } else if bare.starts_with("86") {
                2
            } else {
                0
            };
            (prefix + 3, 4)
        }
        Kind::CnLandline => (
            value
                .chars()
                .take_while(|c| !matches!(c, ')' | ' ' | '-'))
                .filter(char::is_ascii_digit)
                .count(),
            2,
        ),
        Kind::CnId => (3, 2),
        Kind::BankCard => (4, 4),
        Kind::HkId => (
            value.chars().take_while(char::is_ascii_uppercase).count(),
            1,
        ),
        Kind::TwId => (1, 2),
        Kind::IntlPhone => (3, 2),
        Kind::Email => {
            let (local, domain) = value.split_once(['@', '＠']).unwrap_or((value, ""));
            let head: String = local.chars().take(1).collect();
            return format!("{head}***@{domain}");
        }
        Kind::Address => {
            // The city or district stays: where a complaint comes from is what reports need.
            let keep = value
                .char_indices()
                .find(|(_, c)| matches!(c, '市' | '区' | '區' | '县' | '縣'))
                .map_or(0, |(i, c)| i + c.len_utf8());
            return format!("{}****", &value[..keep]);
        }
    };
    // At least four hidden, whatever the policy above says for a short value.
    let (first, last) = if first + last + 4 > significant {
        (first.min(significant / 4), last.min(significant / 4))
    } else {
        (first, last)
    };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !alphanumeric(c) {
                return c;
            }
            seen += 1;
            if seen <= first || seen > significant - last {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// A letter or digit, in ASCII or in the full-width forms Chinese input methods type.
fn alphanumeric(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || ('\u{FF10}'..='\u{FF19}').contains(&c)
        || ('\u{FF21}'..='\u{FF3A}').contains(&c)
        || ('\u{FF41}'..='\u{FF5A}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_values_are_masked_too() {
        let m = mask("手机１３８１２３４５６７８").expect("found");
        assert_eq!(m.text, "手机１３８****５６７８");
        let m = mask("邮箱ｌｉ＠ｅｘａｍｐｌｅ．ｃｏｍ").expect("found");
        assert_eq!(m.text, "邮箱ｌ***@ｅｘａｍｐｌｅ．ｃｏｍ");
    }

    #[test]
    fn masked_values_keep_their_ends_and_hide_the_middle() {
        assert_eq!(mask_value(Kind::CnMobile, "13812345678"), "138****5678");
        assert_eq!(
            mask_value(Kind::CnMobile, "+86 138-1234-5678"),
            "+86 138-****-5678"
        );
        assert_eq!(
            mask_value(Kind::BankCard, "6222 0212 3456 7890 128"),
            "6222 **** **** ***0 128"
        );
        assert_eq!(
            mask_value(Kind::CnId, "11010519491231002X"),
            "110*************2X"
        );
        assert_eq!(
            mask_value(Kind::Email, "li.lei@example.com"),
            "l***@example.com"
        );
        assert_eq!(mask_value(Kind::HkId, "A123456(3)"), "A******(3)");
        assert_eq!(
            mask_value(Kind::Address, "北京市朝阳区建国路88号"),
            "北京市****"
        );
        assert_eq!(mask_value(Kind::Address, "350 Fifth Avenue"), "****");
    }

    #[test]
    fn a_text_is_masked_everywhere_and_says_what_it_held() {
        let m = mask("手机13812345678，邮箱 a.b@qq.com，身份证11010519491231002X").expect("found");
        assert_eq!(
            m.text,
            "手机138****5678，邮箱 a***@qq.com，身份证110*************2X"
        );
        assert_eq!(m.kinds, [Kind::CnMobile, Kind::CnId, Kind::Email]);
        assert!(mask("订单号 202611221234567 还没到").is_none());
    }
}
