//! The analyser shared by indexing, queries and highlighting: the triage crate's folding
//! (NFKC, lowercase, traditional → simplified) and jieba's search-mode segmentation, with
//! English stemming on top. Every token keeps the byte range of the original text it came
//! from, so highlights land on the characters the user wrote, traditional or not.

use std::sync::Arc;

use closedloop_triage::Nlp;
use closedloop_triage::text::{TokenKind, is_han};
use tantivy::tokenizer::{
    Language, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Name under which the analyser is registered on the index.
pub const ANALYZER: &str = "closedloop";

/// Texts longer than this are indexed up to here (a pasted log is not worth more).
pub const MAX_INDEXED_CHARS: usize = 20_000;

/// Words for queries; for the index, also every pair of adjacent Chinese characters, since
/// jieba may cut a stored sentence differently from a short query (沒有到帳 → 没有 / 到 / 账,
/// while the query 到账 is one word): the pair 到账 is in the index either way.
#[derive(Clone)]
pub struct Bilingual {
    nlp: Arc<Nlp>,
    pairs: bool,
}

impl Bilingual {
    /// What the index stores and highlights with.
    pub fn analyzer(nlp: Arc<Nlp>) -> TextAnalyzer {
        Self::build(Bilingual { nlp, pairs: true })
    }

    /// What a query is read with.
    pub fn query_analyzer(nlp: Arc<Nlp>) -> TextAnalyzer {
        Self::build(Bilingual { nlp, pairs: false })
    }

    fn build(tokenizer: Bilingual) -> TextAnalyzer {
        TextAnalyzer::builder(tokenizer)
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
        let words = self.nlp.search_tokens(&folded.folded);
        let mut spans: Vec<(usize, usize)> = words
            .iter()
            .filter(|t| t.kind != TokenKind::Symbol)
            .map(|t| (t.start, t.end))
            .collect();
        if self.pairs {
            let f = &folded.folded;
            let mut chars = f.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if let Some(&(j, d)) = chars.peek()
                    && is_han(c)
                    && is_han(d)
                {
                    let pair = (i, j + d.len_utf8());
                    // Two-character words are in already.
                    if !words.iter().any(|w| (w.start, w.end) == pair) {
                        spans.push(pair);
                    }
                }
            }
            spans.sort_unstable();
        }
        let tokens = spans
            .into_iter()
            .filter_map(|(start, end)| {
                let (from, to) = folded.original_range(start, end)?;
                Some((from, to, folded.folded[start..end].to_owned()))
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
        if !out.contains(&t.text) {
            out.push(t.text.clone());
        }
    }
    out
}

/// The words of a query: each is the list of terms for one stretch of the text — a long
/// Chinese word with the shorter words inside it (为什么, 什么) counts as one word.
pub fn query_words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Vec<String>> {
    // (start, end, terms) of each stretch; a token overlapping stretches joins them.
    let mut out: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(t) = stream.next() {
        let (mut start, mut end) = (t.offset_from, t.offset_to);
        let mut terms = vec![t.text.clone()];
        let mut i = 0;
        while i < out.len() {
            if out[i].0 < end && start < out[i].1 {
                let (s, e, ts) = out.remove(i);
                start = start.min(s);
                end = end.max(e);
                for term in ts {
                    if !terms.contains(&term) {
                        terms.push(term);
                    }
                }
            } else {
                i += 1;
            }
        }
        out.push((start, end, terms));
    }
    out.sort_by_key(|(start, _, _)| *start);
    // Characters jieba left single next to each other (到 账) are looked up as the pairs the
    // index holds (到账), any of them: a query is too short for jieba to see the word.
    let single = |terms: &[String]| {
        let mut c = terms.first().map(|t| t.chars()).into_iter().flatten();
        terms.len() == 1 && matches!((c.next(), c.next()), (Some(c), None) if is_han(c))
    };
    let mut merged: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let mut run: Vec<(usize, usize, String)> = Vec::new();
    let flush = |run: &mut Vec<(usize, usize, String)>,
                 merged: &mut Vec<(usize, usize, Vec<String>)>| {
        if run.len() >= 2 {
            let pairs = run
                .windows(2)
                .map(|w| format!("{}{}", w[0].2, w[1].2))
                .collect();
            merged.push((run[0].0, run[run.len() - 1].1, pairs));
        } else if let Some((s, e, t)) = run.pop() {
            merged.push((s, e, vec![t]));
        }
        run.clear();
    };
    for (start, end, terms) in out {
        if single(&terms) {
            if run.last().is_some_and(|last| last.1 != start) {
                flush(&mut run, &mut merged);
            }
            run.push((start, end, terms[0].clone()));
        } else {
            flush(&mut run, &mut merged);
            merged.push((start, end, terms));
        }
    }
    flush(&mut run, &mut merged);
    let mut words: Vec<Vec<String>> = Vec::new();
    for (_, _, terms) in merged {
        if !words.contains(&terms) {
            words.push(terms);
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlp() -> Arc<Nlp> {
        match Nlp::new() {
            Ok(n) => Arc::new(n),
            Err(e) => panic!("{e}"),
        }
    }

    fn analyzer() -> TextAnalyzer {
        Bilingual::analyzer(nlp())
    }

    #[test]
    fn the_index_holds_each_pair_of_chinese_characters_and_queries_only_words() {
        let stored = terms(&mut analyzer(), "沒有到帳");
        assert!(stored.contains(&"到账".to_owned()), "{stored:?}");
        let query = terms(&mut Bilingual::query_analyzer(nlp()), "退款到账");
        assert!(!query.contains(&"款到".to_owned()), "{query:?}");
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
        assert!(
            t.contains(&("账".into(), "帳".into()))
                || t.iter().any(|(a, b)| a.contains('账') && b.contains('帳')),
            "{t:?}"
        );
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
        let words = query_words(
            &mut Bilingual::query_analyzer(nlp()),
            "为什么退款 refund refund",
        );
        assert_eq!(words.len(), 3, "{words:?}");
        assert!(words[0].contains(&"为什么".to_owned()) && words[0].contains(&"什么".to_owned()));
        assert_eq!(words[1], ["退款"]);
        assert_eq!(words[2], ["refund"]);
    }

    #[test]
    fn single_characters_side_by_side_are_looked_up_as_pairs() {
        let words = query_words(&mut Bilingual::query_analyzer(nlp()), "退款申请 到账");
        assert!(words.contains(&vec!["到账".to_owned()]), "{words:?}");
    }

    #[test]
    fn punctuation_and_emoji_make_no_terms() {
        let terms = terms(&mut analyzer(), "！！！😡😡 ... ？");
        assert!(terms.is_empty(), "{terms:?}");
    }
}
