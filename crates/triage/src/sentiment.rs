//! Sentiment and emotion intensity from a small bilingual lexicon written for this project
//! (valences on VADER's −4…+4 scale, but the words and numbers are our own), with degree
//! adverbs, negation and exclamation marks. Chinese is matched by longest match on the folded
//! (simplified) text so segmentation errors do not matter; English by whole words.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::text::{Folded, Nlp, Token, TokenKind, is_han};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Emotion {
    Anger,
    Disappointment,
    Anxiety,
    Satisfaction,
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    Word(f32, Option<Emotion>),
    Degree(f32),
    Negator,
    /// A word that contains a lexicon word but means something else (快递 is not 快).
    Neutral,
}

/// Intensities in 0..1 per emotion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Emotions {
    pub anger: f32,
    pub disappointment: f32,
    pub anxiety: f32,
    pub satisfaction: f32,
}

/// A lexicon hit, with its byte range in the folded text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub word: String,
    pub emotion: Option<Emotion>,
    pub valence: f32,
    pub negated: bool,
    #[serde(skip)]
    pub start: usize,
    #[serde(skip)]
    pub end: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// −1 (very negative) … +1 (very positive).
    pub score: f32,
    pub emotions: Emotions,
    pub hits: Vec<Hit>,
}

use crate::lexicon_data::{
    EN_DEGREE, EN_NEGATORS, EN_WORDS, SYMBOLS, ZH_DEGREE, ZH_NEGATORS, ZH_NEUTRAL, ZH_WORDS,
};
use Emotion::{Anger as A, Anxiety as X, Disappointment as D, Satisfaction as S};

/// The built-in lexicon; administrators may add words with [`Lexicon::insert`].
#[derive(Debug, Clone)]
pub struct Lexicon {
    zh: HashMap<String, Entry>,
    en: HashMap<String, Entry>,
    max_zh_chars: usize,
}

/// How far (in folded characters) a Chinese negator or degree word reaches, and in words for
/// English.
const ZH_REACH: usize = 3;
const EN_REACH: usize = 3;

impl Lexicon {
    pub fn builtin() -> Self {
        let mut zh = HashMap::new();
        let mut en = HashMap::new();
        for (w, v, e) in ZH_WORDS {
            zh.insert((*w).to_owned(), Entry::Word(*v, *e));
        }
        for (w, d) in ZH_DEGREE {
            zh.insert((*w).to_owned(), Entry::Degree(*d));
        }
        for w in ZH_NEGATORS {
            zh.insert((*w).to_owned(), Entry::Negator);
        }
        for w in ZH_NEUTRAL {
            zh.insert((*w).to_owned(), Entry::Neutral);
        }
        for (w, v, e) in EN_WORDS.iter().chain(SYMBOLS) {
            en.insert((*w).to_owned(), Entry::Word(*v, *e));
        }
        for (w, d) in EN_DEGREE {
            en.insert((*w).to_owned(), Entry::Degree(*d));
        }
        for w in EN_NEGATORS {
            en.insert((*w).to_owned(), Entry::Negator);
        }
        let max_zh_chars = zh.keys().map(|k| k.chars().count()).max().unwrap_or(1);
        Self {
            zh,
            en,
            max_zh_chars,
        }
    }

    /// Adds or replaces a sentiment word (either script; Chinese given in simplified form).
    pub fn insert(&mut self, word: &str, valence: f32, emotion: Option<Emotion>) {
        let w = word.trim().to_lowercase();
        if w.is_empty() {
            return;
        }
        let e = Entry::Word(valence.clamp(-4.0, 4.0), emotion);
        if w.chars().any(is_han) {
            self.max_zh_chars = self.max_zh_chars.max(w.chars().count());
            self.zh.insert(w, e);
        } else {
            self.en.insert(w, e);
        }
    }

    fn zh_longest(&self, chars: &[(usize, char)], i: usize, text: &str) -> Option<(usize, Entry)> {
        let max = self.max_zh_chars.min(chars.len() - i);
        for len in (1..=max).rev() {
            let a = chars[i].0;
            let b = chars.get(i + len).map_or(text.len(), |c| c.0);
            if let Some(e) = self.zh.get(&text[a..b]) {
                return Some((len, *e));
            }
        }
        None
    }

    pub fn analyse(&self, nlp: &Nlp, folded: &Folded) -> Sentiment {
        self.analyse_tokens(folded, &nlp.tokens(&folded.folded))
    }

    /// As [`Self::analyse`] with the tokens already computed.
    pub fn analyse_tokens(&self, folded: &Folded, tokens: &[Token<'_>]) -> Sentiment {
        let text = folded.folded.as_str();
        // Units in order: (start, end, entry, position in "reach" units).
        let mut units: Vec<(usize, usize, Entry, usize, bool)> = Vec::new();
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut i = 0;
        let mut word_pos = 0usize;
        while i < chars.len() {
            let (start, c) = chars[i];
            if is_han(c) {
                if let Some((len, mut e)) = self.zh_longest(&chars, i, text) {
                    let end = chars.get(i + len).map_or(text.len(), |c| c.0);
                    // 好 before a sentiment word is a degree adverb: 好慢, 好失望.
                    if &text[start..end] == "好"
                        && i + 1 < chars.len()
                        && matches!(
                            self.zh_longest(&chars, i + 1, text),
                            Some((_, Entry::Word(..)))
                        )
                    {
                        e = Entry::Degree(1.4);
                    }
                    units.push((start, end, e, i, true));
                    i += len;
                } else {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        for t in tokens {
            if matches!(t.kind, TokenKind::Latin | TokenKind::Symbol) {
                word_pos += 1;
                if let Some(e) = self.en.get(t.text) {
                    units.push((t.start, t.end, *e, word_pos, false));
                }
            }
        }
        units.sort_by_key(|u| u.0);

        let mut hits = Vec::new();
        let mut total = 0.0f32;
        let mut emo = [0.0f32; 4];
        let mut neg_at: Option<(usize, bool)> = None;
        let mut degree_at: Option<(usize, bool, f32)> = None;
        for (start, end, entry, pos, zh) in units {
            let reach = if zh { ZH_REACH } else { EN_REACH };
            let near = |p: usize, z: bool| z == zh && pos >= p && pos - p <= reach;
            match entry {
                Entry::Negator => neg_at = Some((pos + 1, zh)),
                Entry::Degree(d) => degree_at = Some((pos + 1, zh, d)),
                Entry::Neutral => {}
                Entry::Word(v, e) => {
                    let negated = neg_at.is_some_and(|(p, z)| near(p, z));
                    let degree = degree_at
                        .filter(|(p, z, _)| near(*p, *z))
                        .map_or(1.0, |d| d.2);
                    let mut val = v * degree;
                    if negated {
                        val *= -0.6;
                    }
                    total += val;
                    let emotion = match (e, negated) {
                        (Some(S), true) => Some(D),
                        (_, true) => None,
                        (e, false) => e,
                    };
                    if let Some(em) = emotion {
                        emo[em as usize] += val.abs();
                    }
                    hits.push(Hit {
                        word: text[start..end].to_owned(),
                        emotion,
                        valence: val,
                        negated,
                        start,
                        end,
                    });
                    neg_at = None;
                    degree_at = None;
                }
            }
        }
        let bangs = text.chars().filter(|c| *c == '!').count().min(4) as f32;
        if total != 0.0 {
            total *= 1.0 + 0.08 * bangs;
        }
        emo[A as usize] *= 1.0 + 0.1 * bangs;
        let score = total / (total * total + 15.0).sqrt();
        let squash = |x: f32| 1.0 - (-x / 3.0).exp();
        Sentiment {
            score,
            emotions: Emotions {
                anger: squash(emo[A as usize]),
                disappointment: squash(emo[D as usize]),
                anxiety: squash(emo[X as usize]),
                satisfaction: squash(emo[S as usize]),
            },
            hits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Sentiment {
        let nlp = match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        Lexicon::builtin().analyse(&nlp, &nlp.fold(s))
    }

    #[test]
    fn chinese_negation_and_degree() {
        assert!(run("非常满意").score > run("满意").score);
        assert!(run("不满意").score < 0.0);
        assert!(run("不错").score > 0.0, "不错 is a word of its own");
        assert!(
            run("快递很快，很好").score > 0.0,
            "快递 does not count as 快"
        );
    }

    #[test]
    fn anger_is_detected_in_both_scripts_and_english() {
        assert!(run("太垃圾了，骗子公司，气死我了！！").emotions.anger > 0.8);
        assert!(run("太垃圾了，騙子公司，氣死我了！！").emotions.anger > 0.8);
        assert!(
            run("This is a SCAM, absolutely unacceptable!")
                .emotions
                .anger
                > 0.7
        );
        assert!(run("thanks, great service").emotions.anger < 0.01);
    }

    #[test]
    fn english_negation() {
        assert!(run("not good").score < 0.0);
        assert!(run("I don't hate it").emotions.anger < 0.01);
        assert!(run("I’m not happy").emotions.disappointment > 0.0);
    }

    #[test]
    fn anxiety_and_emoji() {
        assert!(run("急死了，怎么办").emotions.anxiety > 0.5);
        assert!(run("😡😡😡").emotions.anger > 0.8);
        assert_eq!(run("").score, 0.0);
        assert_eq!(run("12345").hits.len(), 0);
    }
}
