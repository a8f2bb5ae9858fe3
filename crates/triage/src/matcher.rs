//! Phrase matching on folded text (so one simplified-Chinese phrase also matches traditional
//! input), with word boundaries for Latin phrases and a simple negation check: a negator in the
//! few characters (Chinese) or words (English) before the phrase, within the same clause.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::TriageError;
use crate::text::{Folded, Nlp};

#[derive(Debug, Clone)]
pub struct PhraseMatch<T> {
    pub tag: T,
    /// The phrase as configured (folded form).
    pub phrase: String,
    /// Byte range in the folded text.
    pub start: usize,
    pub end: usize,
    pub negated: bool,
}

#[derive(Debug, Clone)]
pub struct PhraseMatcher<T> {
    ac: Option<AhoCorasick>,
    phrases: Vec<(T, String)>,
}

const ZH_NEGATORS: &[&str] = &["没有", "没", "未", "不", "无", "并未", "从未", "别", "非"];
/// Forms that contain a negator but do not deny: questions (是不是被盗了 is a worry) and
/// adverbs such as 不小心, 不知道为什么.
const ZH_QUESTIONS: &[&str] = &[
    "是不是",
    "会不会",
    "有没有",
    "是否",
    "能不能",
    "可不可以",
    "不小心",
    "不知",
    "不明",
    "不得不",
    "不停",
    "不断",
    "莫名",
    "无缘无故",
    "无故",
];
const EN_NEGATORS: &[&str] = &[
    "not", "no", "never", "without", "don't", "dont", "doesn't", "didn't", "isn't", "wasn't",
    "aren't", "weren't", "haven't", "hasn't", "hadn't", "won't", "can't", "cannot", "nothing",
];
const ZH_WINDOW_CHARS: usize = 4;
const EN_WINDOW_WORDS: usize = 3;

fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | '!' | '?' | ';' | ':' | '\n' | '、' | '。' | '(' | ')'
    )
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '\''
}

impl<T: Clone> PhraseMatcher<T> {
    /// Builds a matcher; phrases are folded with `nlp` so they may be given in either script.
    pub fn new(
        nlp: &Nlp,
        phrases: impl IntoIterator<Item = (T, String)>,
    ) -> Result<Self, TriageError> {
        let phrases: Vec<(T, String)> = phrases
            .into_iter()
            .map(|(t, p)| (t, nlp.fold(&p).folded))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        let ac = if phrases.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(phrases.iter().map(|p| p.1.as_str()))
                    .map_err(|e| TriageError::Model(e.to_string()))?,
            )
        };
        Ok(Self { ac, phrases })
    }

    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// Non-overlapping matches, longest first where they overlap, in text order.
    pub fn find(&self, folded: &Folded) -> Vec<PhraseMatch<T>> {
        let Some(ac) = &self.ac else {
            return Vec::new();
        };
        let text = folded.folded.as_str();
        let mut found: Vec<(usize, usize, usize)> = ac
            .find_overlapping_iter(text)
            .filter(|m| boundaries_ok(text, m.start(), m.end()))
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        // Longest first, then keep those that do not overlap a kept one.
        found.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)));
        let mut kept: Vec<(usize, usize, usize)> = Vec::new();
        for f in found {
            if kept.iter().all(|k| f.1 <= k.0 || f.0 >= k.1) {
                kept.push(f);
            }
        }
        kept.sort_by_key(|k| k.0);
        kept.into_iter()
            .map(|(start, end, p)| PhraseMatch {
                tag: self.phrases[p].0.clone(),
                phrase: self.phrases[p].1.clone(),
                start,
                end,
                negated: negated_before(text, start),
            })
            .collect()
    }
}

fn boundaries_ok(text: &str, start: usize, end: usize) -> bool {
    let first = text[start..].chars().next();
    let last = text[..end].chars().next_back();
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let left = !first.is_some_and(is_word_char) || !before.is_some_and(is_word_char);
    let right = !last.is_some_and(is_word_char) || !after.is_some_and(is_word_char);
    left && right
}

/// Whether a negator governs the phrase starting at `start`.
pub fn negated_before(text: &str, start: usize) -> bool {
    let head = &text[..start];
    // Chinese: the few characters before, stopping at a clause break.
    let zh: String = {
        let mut v: Vec<char> = head
            .chars()
            .rev()
            .take_while(|c| !is_clause_break(*c))
            .take(ZH_WINDOW_CHARS)
            .collect();
        v.reverse();
        v.into_iter().collect()
    };
    if ZH_QUESTIONS.iter().any(|q| zh.contains(q)) {
        return false;
    }
    if ZH_NEGATORS.iter().any(|n| zh.contains(n)) {
        return true;
    }
    // English: the few words before, stopping at a clause break.
    let clause = head.rsplit(is_clause_break).next().unwrap_or("");
    clause
        .split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
        .rev()
        .take(EN_WINDOW_WORDS)
        .any(|w| EN_NEGATORS.contains(&w) || w.ends_with("n't"))
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
    fn finds_phrases_in_both_scripts_with_boundaries_and_negation() {
        let n = nlp();
        let m = match PhraseMatcher::new(
            &n,
            [
                (1, "被盗".to_string()),
                (2, "sue".to_string()),
                (3, "账号被盗".to_string()),
            ],
        ) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        let hits = m.find(&n.fold("我的帳號被盜了"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].tag, 3, "longest phrase wins");
        assert!(
            m.find(&n.fold("this issue again")).is_empty(),
            "sue inside issue"
        );
        assert_eq!(m.find(&n.fold("I will SUE you")).len(), 1);
        assert!(m.find(&n.fold("账号没有被盗，只是忘了密码"))[0].negated);
        assert!(!m.find(&n.fold("是不是被盗了"))[0].negated);
        assert!(
            !m.find(&n.fold("没有办法，被盗了"))[0].negated,
            "clause break"
        );
    }

    #[test]
    fn english_negation_window() {
        let n = nlp();
        let m = match PhraseMatcher::new(&n, [((), "hacked".to_string())]) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert!(m.find(&n.fold("my account was not hacked"))[0].negated);
        assert!(m.find(&n.fold("I haven't been hacked"))[0].negated);
        assert!(!m.find(&n.fold("my account was hacked"))[0].negated);
    }
}
