//! Normalisation and tokenisation: NFKC (which also turns full-width forms into half-width),
//! lowercase, traditional → simplified folding for matching, jieba for Chinese runs, words for
//! Latin text and character n-grams for any other script. The original text is never changed:
//! every folded character remembers the byte offset it came from, so evidence can be quoted.

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;
use jieba_rs::Jieba;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::TriageError;

/// At most this many characters of a ticket are analysed; the rest is ignored so that a 100 KB
/// paste costs the same as a long ticket.
pub const MAX_ANALYSED_CHARS: usize = 2_000;

/// The script mix of a text, decided by counting characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    ZhHans,
    ZhHant,
    En,
    /// Chinese and Latin words both make up a real share of the text.
    Mixed,
    Other,
    /// Nothing left after normalisation (empty, punctuation, emoji only).
    None,
}

/// A text after folding. `folded` is what every matcher and feature extractor sees.
#[derive(Debug, Clone)]
pub struct Folded {
    pub folded: String,
    /// For every char of `folded`, the byte range in the original (analysed) text it came from.
    spans: Vec<(u32, u32)>,
    /// Byte offset of every char of `folded`, plus `folded.len()` at the end.
    char_starts: Vec<u32>,
    pub language: Language,
    /// Whether the original text was cut to [`MAX_ANALYSED_CHARS`].
    pub truncated: bool,
}

/// The kind of a token, which decides how features and lexicons treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A jieba word from a Han run.
    Han,
    /// A lowercased Latin word (letters, digits, apostrophes).
    Latin,
    Number,
    /// A character n-gram of some other script (Kana, Hangul, Cyrillic, Thai…).
    OtherGram,
    /// An emoji or symbol kept as its own token.
    Symbol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub kind: TokenKind,
    /// Byte range in the folded text.
    pub start: usize,
    pub end: usize,
}

/// Owns the dictionaries. Loading them takes ~100 ms, so build one and share it.
pub struct Nlp {
    opencc: OpenCC,
    jieba: Jieba,
}

impl std::fmt::Debug for Nlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nlp { opencc: t2s, jieba: default-dict }")
    }
}

pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x3007)
}

fn is_latin_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (c.is_alphabetic() && (c as u32) < 0x0250)
}

impl Nlp {
    pub fn new() -> Result<Self, TriageError> {
        let opencc = OpenCC::from_config(BuiltinConfig::T2s)
            .map_err(|e| TriageError::Dictionary(e.to_string()))?;
        Ok(Self {
            opencc,
            jieba: Jieba::new(),
        })
    }

    pub fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// Traditional → simplified only (no case or width folding), for display-free matching.
    pub fn t2s(&self, s: &str) -> String {
        self.opencc.convert(s)
    }

    /// NFKC, lowercase, traditional → simplified, whitespace runs collapsed to one space, control
    /// characters dropped; at most [`MAX_ANALYSED_CHARS`] characters of `original` are read.
    pub fn fold(&self, original: &str) -> Folded {
        self.fold_up_to(original, MAX_ANALYSED_CHARS)
    }

    /// [`Nlp::fold`] reading up to `max_chars` characters (search indexes whole texts).
    pub fn fold_up_to(&self, original: &str, max_chars: usize) -> Folded {
        let mut folded = String::with_capacity(original.len().min(max_chars.saturating_mul(3)));
        let mut spans: Vec<(u32, u32)> = Vec::with_capacity(original.len().min(max_chars));
        let mut truncated = false;
        let mut last_space = true;
        let mut buf = [0u8; 4];
        for (n, (i, c)) in original.char_indices().enumerate() {
            if n >= max_chars {
                truncated = true;
                break;
            }
            let span = (i as u32, (i + c.len_utf8()) as u32);
            // Most characters are ASCII or unified ideographs, which NFKC and lowercasing leave
            // alone apart from ASCII case; building an NFKC iterator for each of them cost more
            // than the rest of folding together.
            if c.is_ascii_graphic() || ('\u{4e00}'..='\u{9fff}').contains(&c) {
                folded.push_str(c.to_ascii_lowercase().encode_utf8(&mut buf));
                spans.push(span);
                last_space = false;
                continue;
            }
            for d in std::iter::once(c).nfkc() {
                for l in d.to_lowercase() {
                    if l.is_whitespace() || l.is_control() {
                        if !last_space && !l.is_control() {
                            folded.push(' ');
                            spans.push(span);
                            last_space = true;
                        }
                        continue;
                    }
                    if matches!(l, '\u{200b}'..='\u{200d}' | '\u{fe0f}' | '\u{feff}') {
                        continue;
                    }
                    // Typographic apostrophes, so "don’t" and "don't" are one word.
                    let l = if matches!(l, '\u{2018}' | '\u{2019}') {
                        '\''
                    } else {
                        l
                    };
                    folded.push_str(l.encode_utf8(&mut buf));
                    spans.push(span);
                    last_space = false;
                }
            }
        }
        if folded.ends_with(' ') {
            folded.pop();
            spans.pop();
        }
        let han = folded.chars().filter(|c| is_han(*c)).count();
        let mut traditional = 0usize;
        if han > 0 {
            let simplified = self.opencc.convert(&folded);
            if simplified.chars().count() == spans.len() {
                traditional = folded
                    .chars()
                    .zip(simplified.chars())
                    .filter(|(a, b)| a != b)
                    .count();
                folded = simplified;
            } else {
                // Phrase conversions that change the length are rare; fall back to converting
                // char by char so the offsets stay exact.
                let mut s = String::with_capacity(folded.len());
                for c in folded.chars() {
                    let one = self.opencc.convert(c.encode_utf8(&mut buf));
                    let mut it = one.chars();
                    match (it.next(), it.next()) {
                        (Some(x), None) => {
                            if x != c {
                                traditional += 1;
                            }
                            s.push(x);
                        }
                        _ => s.push(c),
                    }
                }
                folded = s;
            }
        }
        // Variant forms OpenCC leaves apart: 帐号/账号, 帐户/账户 are the same word.
        if folded.contains('帐') {
            folded = folded.replace('帐', "账");
        }
        let language = detect_language(&folded, han, traditional);
        let mut char_starts: Vec<u32> = folded.char_indices().map(|(i, _)| i as u32).collect();
        char_starts.push(folded.len() as u32);
        Folded {
            folded,
            spans,
            char_starts,
            language,
            truncated,
        }
    }

    /// Tokens of a folded text in order. Chinese runs go through jieba (HMM on, for names and
    /// new words), Latin words are kept whole, other scripts become character bigrams.
    pub fn tokens<'a>(&self, folded: &'a str) -> Vec<Token<'a>> {
        self.tokens_in(folded, false)
    }

    /// Tokens for a search index: as [`Nlp::tokens`], but a long Chinese word also yields the
    /// shorter words inside it (中华人民共和国 → 中华, 人民, 共和国, …), so a query of any of
    /// them finds it.
    pub fn search_tokens<'a>(&self, folded: &'a str) -> Vec<Token<'a>> {
        self.tokens_in(folded, true)
    }

    fn tokens_in<'a>(&self, folded: &'a str, search: bool) -> Vec<Token<'a>> {
        let mut out = Vec::with_capacity(folded.len() / 3 + 1);
        let mut iter = folded.char_indices().peekable();
        while let Some(&(start, c)) = iter.peek() {
            let class = char_class(c);
            let mut end = start;
            while let Some(&(i, d)) = iter.peek() {
                if char_class(d) != class || (class == Class::Symbol && i != start) {
                    break;
                }
                end = i + d.len_utf8();
                iter.next();
            }
            let run = &folded[start..end];
            match class {
                Class::Space | Class::Punct => {}
                Class::Han => {
                    let words = if search {
                        self.jieba.cut_for_search(run, true)
                    } else {
                        self.jieba.cut(run, true)
                    };
                    for t in words {
                        out.push(Token {
                            text: t.word,
                            kind: TokenKind::Han,
                            start: start + t.byte_start,
                            end: start + t.byte_end,
                        });
                    }
                }
                Class::Latin => {
                    let kind = if run.chars().all(|c| c.is_ascii_digit()) {
                        TokenKind::Number
                    } else {
                        TokenKind::Latin
                    };
                    out.push(Token {
                        text: run,
                        kind,
                        start,
                        end,
                    });
                }
                Class::Symbol => out.push(Token {
                    text: run,
                    kind: TokenKind::Symbol,
                    start,
                    end,
                }),
                Class::Other => {
                    let idx: Vec<usize> = run
                        .char_indices()
                        .map(|(i, _)| i)
                        .chain(std::iter::once(run.len()))
                        .collect();
                    let n = idx.len() - 1;
                    if n == 1 {
                        out.push(Token {
                            text: run,
                            kind: TokenKind::OtherGram,
                            start,
                            end,
                        });
                    }
                    for w in idx.windows(3) {
                        out.push(Token {
                            text: &run[w[0]..w[2]],
                            kind: TokenKind::OtherGram,
                            start: start + w[0],
                            end: start + w[2],
                        });
                    }
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Space,
    Han,
    Latin,
    Other,
    Symbol,
    Punct,
}

fn char_class(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if is_han(c) {
        Class::Han
    } else if is_latin_word_char(c) || c == '\'' {
        Class::Latin
    } else if c.is_alphanumeric() {
        Class::Other
    } else if c.is_ascii_punctuation()
        || matches!(c as u32, 0x2000..=0x206F | 0x3000..=0x303F | 0xFF00..=0xFFEF)
    {
        Class::Punct
    } else {
        Class::Symbol
    }
}

fn detect_language(folded: &str, han: usize, traditional: usize) -> Language {
    let latin = folded.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let other = folded
        .chars()
        .filter(|c| c.is_alphabetic() && !c.is_ascii_alphabetic() && !is_han(*c))
        .count();
    // A Chinese character weighs about two Latin letters.
    let han_w = han * 2;
    let total = han_w + latin + other;
    if total == 0 {
        return Language::None;
    }
    let zh = han_w as f32 / total as f32;
    let en = latin as f32 / total as f32;
    if zh >= 0.2 && en >= 0.15 {
        Language::Mixed
    } else if zh >= 0.5 {
        // Count characters that change under T2s; a few in a long text are shared forms.
        if traditional * 10 >= han.max(1) && traditional >= 1 {
            Language::ZhHant
        } else {
            Language::ZhHans
        }
    } else if en >= 0.5 {
        Language::En
    } else {
        Language::Other
    }
}

impl Folded {
    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }

    /// The byte range in the original text covered by folded bytes `start..end`.
    pub fn original_range(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if start >= end || end > self.folded.len() {
            return None;
        }
        let first = self.char_starts.partition_point(|&b| (b as usize) < start);
        let last = self.char_starts.partition_point(|&b| (b as usize) < end);
        let a = self.spans.get(first)?.0 as usize;
        let b = self.spans.get(last.checked_sub(1)?)?.1 as usize;
        (a < b).then_some((a, b))
    }

    /// The characters of the folded text (cached offsets), for n-gram loops.
    pub fn char_count(&self) -> usize {
        self.char_starts.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlp() -> Nlp {
        match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn full_width_and_case_are_folded() {
        let f = nlp().fold("ＡＢＣ　１２３ Ｈｅｌｌｏ！");
        assert_eq!(f.folded, "abc 123 hello!");
        assert_eq!(f.language, Language::En);
    }

    #[test]
    fn traditional_is_folded_to_simplified_and_detected() {
        let n = nlp();
        let f = n.fold("帳號被盜了，請盡快處理");
        assert_eq!(f.folded, "账号被盗了,请尽快处理");
        assert_eq!(f.language, Language::ZhHant);
        let s = n.fold("账号被盗了，请尽快处理");
        assert_eq!(s.language, Language::ZhHans);
    }

    #[test]
    fn evidence_maps_back_to_the_original() {
        let n = nlp();
        let original = "我的帳號被盜了！";
        let f = n.fold(original);
        let at = f.folded.find("被盗").unwrap_or(0);
        let (a, b) = f.original_range(at, at + "被盗".len()).unwrap_or((0, 0));
        assert_eq!(&original[a..b], "被盜");
    }

    #[test]
    fn mixed_text_gets_words_of_both() {
        let n = nlp();
        let f = n.fold("App 登录 crash 了，password 不对");
        assert_eq!(f.language, Language::Mixed);
        let toks: Vec<&str> = n.tokens(&f.folded).iter().map(|t| t.text).collect();
        assert!(toks.contains(&"app"), "{toks:?}");
        assert!(toks.contains(&"登录"), "{toks:?}");
        assert!(toks.contains(&"password"), "{toks:?}");
    }

    #[test]
    fn other_scripts_become_bigrams_and_emoji_symbols() {
        let n = nlp();
        let f = n.fold("ログインできない 😡😡");
        let toks = n.tokens(&f.folded);
        assert!(
            toks.iter()
                .any(|t| t.kind == TokenKind::OtherGram && t.text == "ログ")
        );
        assert_eq!(
            toks.iter().filter(|t| t.kind == TokenKind::Symbol).count(),
            2
        );
    }

    #[test]
    fn emoji_only_and_empty_are_safe() {
        let n = nlp();
        assert_eq!(n.fold("").language, Language::None);
        assert_eq!(n.fold("   \u{200b} ").folded, "");
        assert_eq!(n.fold("👍👍").language, Language::None);
    }

    #[test]
    fn long_input_is_capped() {
        let n = nlp();
        let f = n.fold(&"很慢".repeat(60_000));
        assert!(f.truncated);
        assert_eq!(f.char_count(), MAX_ANALYSED_CHARS);
    }
}
