//! Charset rules. Everything is decoded with encoding_rs, so undecodable bytes become U+FFFD and
//! nothing is dropped.
//!
//! - The GB family (`gb2312`, `euc-cn`, `gbk`, `cp936`, ...) is decoded as GB18030, its superset:
//!   real mail labelled GB2312 carries GBK-only characters (镕, 喆, 堃) and en-dashes.
//! - `big5` and its aliases are decoded as Big5-HKSCS (encoding_rs' Big5 is the WHATWG one, which
//!   includes the HKSCS extensions).
//! - Unlabelled or `us-ascii` 8-bit text, text labelled UTF-8 that is not, and unknown labels are
//!   detected: valid UTF-8 stays UTF-8, otherwise chardetng guesses (GBK, Big5, Shift_JIS, ...),
//!   with the sender's top-level domain as a hint.

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{BIG5, Encoding, GB18030, GBK, UTF_8};

use crate::warnings::Warnings;

/// Where the bytes came from, for warnings, and what may help guessing.
pub(crate) struct Hint<'a> {
    /// Top-level domain of the sender (`cn`, `tw`, `hk`, ...), lowercased.
    pub(crate) tld: Option<&'a str>,
}

/// How a label is to be decoded.
pub(crate) enum Rule {
    /// No label, `us-ascii`: ASCII or UTF-8 when valid, else detect.
    Detect,
    /// An encoding_rs encoding (GB family mapped to GB18030).
    Known(&'static Encoding),
    /// A label encoding_rs does not know but mail-parser does (UTF-7): keep mail-parser's text.
    MailParser,
    /// A label nobody knows: treat like [`Rule::Detect`], with a warning.
    Unknown,
}

pub(crate) fn normalize_label(label: &str) -> String {
    label
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn rule_for(label: Option<&str>) -> Rule {
    let Some(label) = label else {
        return Rule::Detect;
    };
    let label = normalize_label(label);
    match label.as_str() {
        "" | "us-ascii" | "ascii" | "us_ascii" | "ansi_x3.4-1968" | "iso646-us" | "646" => {
            return Rule::Detect;
        }
        "euc-cn" | "euccn" | "x-euc-cn" | "cn-gb" | "cp936" | "ms936" | "windows-936" | "gb"
        | "gb2312-80" | "x-gb2312" | "gb-2312" => return Rule::Known(GB18030),
        "big5_hkscs" | "big5hkscs" | "hkscs" | "x-big5" | "big-5" | "big-five" | "cp950" => {
            return Rule::Known(BIG5);
        }
        _ => {}
    }
    match Encoding::for_label(label.as_bytes()) {
        Some(enc) if enc == GBK => Rule::Known(GB18030),
        Some(enc) => Rule::Known(enc),
        None if mail_parser::decoders::charsets::map::charset_decoder(label.as_bytes())
            .is_some() =>
        {
            Rule::MailParser
        }
        None => Rule::Unknown,
    }
}

/// Decode `bytes` labelled `label`. Returns `None` only for [`Rule::MailParser`] labels, where
/// the caller keeps mail-parser's own decoding.
pub(crate) fn decode(
    bytes: &[u8],
    label: Option<&str>,
    hint: &Hint<'_>,
    warnings: &mut Warnings,
) -> Option<String> {
    let shown = label.map(normalize_label).unwrap_or_default();
    match rule_for(label) {
        Rule::MailParser => None,
        Rule::Detect => Some(detect_and_decode(bytes, hint, warnings, || {
            if shown.is_empty() {
                "unlabelled 8-bit text".to_owned()
            } else {
                format!("8-bit text labelled {shown}")
            }
        })),
        Rule::Unknown => Some(detect_and_decode(bytes, hint, warnings, || {
            format!("text in unknown charset {shown}")
        })),
        Rule::Known(enc) if enc == UTF_8 => match std::str::from_utf8(bytes) {
            Ok(text) => Some(text.to_owned()),
            Err(_) => Some(detect_and_decode(bytes, hint, warnings, || {
                "text labelled utf-8 that is not utf-8".to_owned()
            })),
        },
        Rule::Known(enc) => {
            if enc == GB18030 && shown != "gb18030" {
                warnings.push(format!("charset {shown} decoded as gb18030"));
            }
            let (text, had_errors) = enc.decode_without_bom_handling(bytes);
            if had_errors {
                warnings.push(format!(
                    "undecodable bytes in {} text replaced",
                    enc.name().to_ascii_lowercase()
                ));
            }
            Some(text.into_owned())
        }
    }
}

/// Guess the encoding of bytes that carry no usable label.
pub(crate) fn detect(bytes: &[u8], hint: &Hint<'_>) -> &'static Encoding {
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let tld = hint.tld.map(str::as_bytes);
    let guess = detector.guess(tld, Utf8Detection::Deny);
    if guess == GBK { GB18030 } else { guess }
}

fn detect_and_decode(
    bytes: &[u8],
    hint: &Hint<'_>,
    warnings: &mut Warnings,
    what: impl FnOnce() -> String,
) -> String {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let enc = detect(bytes, hint);
    warnings.push(format!(
        "{} decoded as {}",
        what(),
        enc.name().to_ascii_lowercase()
    ));
    enc.decode_without_bom_handling(bytes).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint() -> Hint<'static> {
        Hint { tld: None }
    }

    #[test]
    fn gb_family_labels_decode_as_gb18030() {
        let (bytes, _, _) = GB18030.encode("朱镕基 – 𠀀");
        for label in [
            "gb2312",
            "GB2312",
            "\"gb2312\"",
            "euc-cn",
            "csgb2312",
            "gbk",
            "cp936",
        ] {
            let mut w = Warnings::default();
            assert_eq!(
                decode(&bytes, Some(label), &hint(), &mut w).as_deref(),
                Some("朱镕基 – 𠀀"),
                "{label}"
            );
        }
    }

    #[test]
    fn unlabelled_gbk_is_detected() {
        let (bytes, _, _) = GBK.encode("您好，我的订单还没有收到，请帮忙查一下。");
        let mut w = Warnings::default();
        assert_eq!(
            decode(&bytes, None, &hint(), &mut w).as_deref(),
            Some("您好，我的订单还没有收到，请帮忙查一下。")
        );
        assert_eq!(
            w.into_vec(),
            vec!["unlabelled 8-bit text decoded as gb18030"]
        );
    }

    #[test]
    fn utf7_is_left_to_mail_parser() {
        let mut w = Warnings::default();
        assert_eq!(decode(b"x", Some("utf-7"), &hint(), &mut w), None);
    }
}
