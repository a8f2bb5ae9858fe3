//! RFC 2047 encoded words in unstructured headers (the subject). Our own decoder, because real
//! mail splits one character's bytes across two encoded words (both halves carry the same
//! charset): adjacent words of one charset are joined as bytes before the charset is applied, and
//! adjacent words of different charsets are each decoded on their own. White space between
//! encoded words is dropped (RFC 2047 §6.2). A malformed word is kept as literal text, with a
//! warning.

use crate::charset::{self, Hint};
use crate::transfer;
use crate::warnings::Warnings;

struct Word {
    charset: String,
    bytes: Vec<u8>,
}

/// Decode an unfolded header value.
pub(crate) fn decode_unstructured(value: &str, hint: &Hint<'_>, warnings: &mut Warnings) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending: Vec<Word> = Vec::new();
    // White space seen after the last encoded word, emitted only if literal text follows.
    let mut gap = String::new();
    let mut rest = value;
    while !rest.is_empty() {
        if let Some(start) = rest.find("=?") {
            let (literal, candidate) = rest.split_at(start);
            push_literal(&mut out, &mut pending, &mut gap, literal, hint, warnings);
            match parse_word(candidate) {
                Parsed::Word(word, len) => {
                    gap.clear();
                    pending.push(word);
                    rest = &candidate[len..];
                }
                Parsed::Invalid(len) => {
                    warnings.push("invalid encoded word");
                    push_literal(
                        &mut out,
                        &mut pending,
                        &mut gap,
                        &candidate[..len],
                        hint,
                        warnings,
                    );
                    rest = &candidate[len..];
                }
            }
        } else {
            push_literal(&mut out, &mut pending, &mut gap, rest, hint, warnings);
            rest = "";
        }
    }
    flush(&mut out, &mut pending, hint, warnings);
    out
}

fn push_literal(
    out: &mut String,
    pending: &mut Vec<Word>,
    gap: &mut String,
    literal: &str,
    hint: &Hint<'_>,
    warnings: &mut Warnings,
) {
    if literal.is_empty() {
        return;
    }
    if !pending.is_empty() && literal.chars().all(char::is_whitespace) {
        gap.push_str(literal);
        return;
    }
    flush(out, pending, hint, warnings);
    out.push_str(gap);
    gap.clear();
    out.push_str(literal);
}

fn flush(out: &mut String, pending: &mut Vec<Word>, hint: &Hint<'_>, warnings: &mut Warnings) {
    let mut words = pending.drain(..).peekable();
    while let Some(mut word) = words.next() {
        while let Some(next) = words.next_if(|n| n.charset == word.charset) {
            word.bytes.extend_from_slice(&next.bytes);
        }
        let label = (!word.charset.is_empty()).then_some(word.charset.as_str());
        match charset::decode(&word.bytes, label, hint, warnings) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&mail_parser_decode(&word)),
        }
    }
}

/// For charsets only mail-parser knows (UTF-7): hand the word back to it.
fn mail_parser_decode(word: &Word) -> String {
    let decoder = mail_parser::decoders::charsets::map::charset_decoder(word.charset.as_bytes());
    match decoder {
        Some(decode) => decode(&word.bytes),
        None => String::from_utf8_lossy(&word.bytes).into_owned(),
    }
}

/// Longest encoded text we look for (RFC 2047 allows 75 characters per word; mailers exceed it).
const MAX_WORD: usize = 1024;
/// Longest charset name (with RFC 2231 language) we accept.
const MAX_CHARSET: usize = 64;
/// Longer subjects are cut before decoding; no real subject comes near it.
pub(crate) const MAX_SUBJECT: usize = 16 * 1024;

enum Parsed {
    Word(Word, usize),
    /// Not a valid encoded word; this many bytes are literal text.
    Invalid(usize),
}

/// `s` starts with `=?`.
fn parse_word(s: &str) -> Parsed {
    let body = &s[2..];
    let Some(q1) = body.bytes().take(MAX_CHARSET).position(|b| b == b'?') else {
        return Parsed::Invalid(2);
    };
    let charset_part = &body[..q1];
    let after = &body[q1 + 1..];
    let enc = match after.as_bytes() {
        [enc, b'?', ..] if enc.is_ascii() => char::from(*enc),
        _ => return Parsed::Invalid(2),
    };
    let text_start = 2 + q1 + 1 + 2;
    // Bounded search, so a header full of `=?` cannot make decoding quadratic.
    let window = &s.as_bytes()[text_start..s.len().min(text_start + MAX_WORD)];
    let Some(end) = window.windows(2).position(|w| w == b"?=") else {
        return Parsed::Invalid(2);
    };
    let text = &s[text_start..text_start + end];
    let len = text_start + end + 2;
    if charset_part.is_empty()
        || charset_part.contains(char::is_whitespace)
        || text.contains(char::is_whitespace) && !enc.eq_ignore_ascii_case(&'q')
    {
        return Parsed::Invalid(len);
    }
    // RFC 2231 language suffix: `utf-8*zh-cn`.
    let charset = charset_part
        .split('*')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match enc {
        'b' | 'B' => {
            let valid = text
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='));
            if !valid || text.trim_end_matches('=').is_empty() && !text.is_empty() {
                return Parsed::Invalid(len);
            }
            transfer::base64(text.as_bytes())
        }
        'q' | 'Q' => {
            let replaced: Vec<u8> = text
                .bytes()
                .map(|c| if c == b'_' { b' ' } else { c })
                .collect();
            transfer::quoted_printable(&replaced)
        }
        _ => return Parsed::Invalid(len),
    };
    Parsed::Word(Word { charset, bytes }, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> (String, Vec<String>) {
        let mut w = Warnings::default();
        let out = decode_unstructured(s, &Hint { tld: None }, &mut w);
        (out, w.into_vec())
    }

    #[test]
    fn adjacent_words_join_and_whitespace_between_them_goes() {
        assert_eq!(run("=?utf-8?B?5Lit?= =?utf-8?B?5paH?=").0, "中文");
        assert_eq!(run("a =?utf-8?Q?b_c?= d").0, "a b c d");
    }

    #[test]
    fn a_character_split_across_two_words_is_joined() {
        // 中文 = E4 B8 AD E6 96 87, split after E6.
        assert_eq!(run("=?UTF-8?B?5Lit5g==?=  =?UTF-8?B?loc=?=").0, "中文");
    }

    #[test]
    fn different_charsets_in_one_subject() {
        assert_eq!(
            run("=?gb2312?B?1tA=?= =?utf-8?B?5paH?= =?big5?B?pKQ=?=").0,
            "中文中"
        );
    }

    #[test]
    fn invalid_word_is_kept_literally_with_a_warning() {
        let (out, w) = run("Re: =?utf-8?B?!!!?= ok");
        assert_eq!(out, "Re: =?utf-8?B?!!!?= ok");
        assert_eq!(w, vec!["invalid encoded word"]);
        assert_eq!(run("=?utf-8?X?abc?=").0, "=?utf-8?X?abc?=");
        assert_eq!(run("cost =? 5").0, "cost =? 5");
        assert_eq!(run("=?utf-8?中?x?=").0, "=?utf-8?中?x?=");
    }
}
