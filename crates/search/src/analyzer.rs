//! The analyser shared by indexing, queries and highlighting: the triage crate's folding
//! (NFKC, lowercase, traditional → simplified) and jieba's search-mode segmentation, with
//! English stemming on top. Every token keeps the byte range of the original text it came
//! from, so highlights land on the characters the user wrote, traditional or not.

use std::sync::Arc;

use closedloop_triage::Nlp;
use closedloop_triage::text::TokenKind;
use tantivy::tokenizer::{
    Language, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Name under which the analyser is registered on the index.
pub const ANALYZER: &str = "closedloop";

/// Texts longer than this are indexed up to here (a pasted log is not worth more).
pub const MAX_INDEXED_CHARS: usize = 20_000;

#[derive(Clone)]
pub struct Bilingual {
    nlp: Arc<Nlp>,
}

impl Bilingual {
    pub fn analyzer(nlp: Arc<Nlp>) -> TextAnalyzer {
        TextAnalyzer::builder(Bilingual { nlp })
            .filter(RemoveLongFilter::limit(64))
            .filter(Stemmer::new(Language::English))
            .build()
    }
}

pub struct Tokens {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for Bilingual {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let folded = self.nlp.fold_up_to(text, MAX_INDEXED_CHARS);
        let tokens = self
            .nlp
            .search_tokens(&folded.folded)
            .into_iter()
            .filter(|t| t.kind != TokenKind::Symbol)
            .filter_map(|t| {
                let (from, to) = folded.original_range(t.start, t.end)?;
                Some((from, to, t.text.to_owned()))
            })
            .enumerate()
            .map(|(position, (offset_from, offset_to, text))| Token {
                offset_from,
                offset_to,
                position,
                text,
                position_length: 1,
            })
            .collect();
        Tokens { tokens, next: 0 }
    }
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// The distinct terms of a text as the index stores them, in order of first appearance.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(t) = stream.next() {
        if !out.iter().any(|o| *o == t.text) {
            out.push(t.text.clone());
        }
    }
    out
}

/// The words of a query: each is the list of terms for one stretch of the text — a long
/// Chinese word with the shorter words inside it (为什么, 什么) counts as one word.
pub fn query_words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Vec<String>> {
    let mut out: Vec<(usize, Vec<String>)> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(t) = stream.next() {
        match out.last_mut() {
            Some((end, terms)) if t.offset_from < *end => {
                *end = (*end).max(t.offset_to);
                if !terms.contains(&t.text) {
                    terms.push(t.text.clone());
                }
            }
            _ => out.push((t.offset_to, vec![t.text.clone()])),
        }
    }
    let mut words: Vec<Vec<String>> = Vec::new();
    for (_, terms) in out {
        if !words.contains(&terms) {
            words.push(terms);
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> TextAnalyzer {
        let nlp = match Nlp::new() {
            Ok(n) => Arc::new(n),
            Err(e) => panic!("{e}"),
        };
        Bilingual::analyzer(nlp)
    }

    fn tokens(text: &str) -> Vec<(String, String)> {
        let mut a = analyzer();
        let mut out = Vec::new();
        let mut s = a.token_stream(text);
        while let Some(t) = s.next() {
            out.push((t.text.clone(), text[t.offset_from..t.offset_to].to_owned()));
        }
        out
    }

    #[test]
    fn traditional_text_gives_simplified_terms_at_the_original_characters() {
        let t = tokens("退款申請一直沒有到帳");
        assert!(t.contains(&("退款".into(), "退款".into())), "{t:?}");
        assert!(t.contains(&("申请".into(), "申請".into())), "{t:?}");
        assert!(t.contains(&("账".into(), "帳".into())) || t.iter().any(|(a, b)| a.contains('账') && b.contains('帳')), "{t:?}");
    }

    #[test]
    fn long_words_also_give_the_words_inside_them() {
        let terms = terms(&mut analyzer(), "中华人民共和国");
        for w in ["中华", "人民", "共和国", "中华人民共和国"] {
            assert!(terms.contains(&w.to_owned()), "{w} missing from {terms:?}");
        }
    }

    #[test]
    fn english_is_lowercased_and_stemmed_full_width_folded() {
        let t = tokens("Refunds REFUNDED ｒｅｆｕｎｄｉｎｇ");
        let terms: Vec<&str> = t.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(terms, ["refund", "refund", "refund"], "{t:?}");
        assert_eq!(t[2].1, "ｒｅｆｕｎｄｉｎｇ");
    }

    #[test]
    fn a_query_word_holds_the_shorter_words_inside_it() {
        let words = query_words(&mut analyzer(), "为什么退款 refund refund");
        assert_eq!(words.len(), 3, "{words:?}");
        assert!(words[0].contains(&"为什么".to_owned()) && words[0].contains(&"什么".to_owned()));
        assert_eq!(words[1], ["退款"]);
        assert_eq!(words[2], ["refund"]);
    }

    #[test]
    fn punctuation_and_emoji_make_no_terms() {
        let terms = terms(&mut analyzer(), "！！！😡😡 ... ？");
        assert!(terms.is_empty(), "{terms:?}");
    }
}
