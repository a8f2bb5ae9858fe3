//! Keywords of a ticket: jieba TF-IDF (its embedded IDF table) for Chinese and a
//! stopword-filtered frequency × length score for English, merged by score.

use jieba_rs::{KeywordExtract, TfIdf};
use serde::{Deserialize, Serialize};

use crate::text::{Folded, Nlp, TokenKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    /// The keyword in folded form (simplified, lowercase).
    pub text: String,
    pub weight: f32,
}

const EN_STOP: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does",
    "doing", "don't", "for", "from", "get", "got", "had", "has", "have", "having", "he", "her",
    "here", "him", "his", "how", "i", "i'm", "i've", "if", "in", "into", "is", "it", "it's", "its",
    "just", "me", "more", "my", "no", "not", "now", "of", "on", "once", "only", "or", "other",
    "our", "out", "over", "please", "same", "she", "should", "so", "some", "still", "such", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too",
    "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why",
    "will", "with", "would", "you", "your", "can't", "won't", "didn't", "doesn't", "isn't",
    "wasn't", "hi", "hello", "thanks", "thank", "one", "two", "since", "yet", "even", "really",
    "cannot", "already", "every", "keeps", "keep",
    // Words people use whatever they write about; as cluster labels they merge unrelated
    // issues (measured with `triage-eval --clusters`, BENCHMARKS.md).
    "need", "want", "like", "know", "tell",
];

const ZH_STOP: &[&str] = &[
    "我们",
    "你们",
    "他们",
    "这个",
    "那个",
    "什么",
    "怎么",
    "为什么",
    "已经",
    "还是",
    "一直",
    "可以",
    "没有",
    "就是",
    "但是",
    "因为",
    "所以",
    "如果",
    "现在",
    "一下",
    "时候",
    "请问",
    "你好",
    "谢谢",
    "问题",
    "处理",
    "一个",
    "自己",
    "还有",
    "不是",
    "这样",
    "然后",
    "而且",
    "今天",
    "昨天",
    "结果",
    // As above: praise, hedges and shop names head clusters of unrelated complaints.
    "不错",
    "感觉",
    "觉得",
    "知道",
    "东西",
    "非常",
    "比较",
    "真的",
    "特别",
    "有点",
    "京东",
    "淘宝",
    "天猫",
];

pub struct KeywordExtractor {
    tfidf: TfIdf,
}

impl std::fmt::Debug for KeywordExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeywordExtractor")
    }
}

impl KeywordExtractor {
    pub fn new() -> Self {
        Self {
            tfidf: TfIdf::default(),
        }
    }

    pub fn extract(&self, nlp: &Nlp, folded: &Folded, top_k: usize) -> Vec<Keyword> {
        let text = folded.folded.as_str();
        let mut out: Vec<Keyword> = Vec::new();
        let has_han = text.chars().any(crate::text::is_han);
        if has_han {
            // Only Chinese runs go to jieba; English words are scored below.
            let zh: String = text
                .chars()
                .map(|c| if crate::text::is_han(c) { c } else { ' ' })
                .collect();
            for k in self
                .tfidf
                .extract_keywords(nlp.jieba(), &zh, top_k * 2, Vec::new())
            {
                if !ZH_STOP.contains(&k.keyword.as_str()) && k.keyword.trim().chars().count() >= 2 {
                    // jieba's weights are TF-IDF sums over ~10-20 per word; bring them to ~0..1.
                    out.push(Keyword {
                        text: k.keyword.trim().to_owned(),
                        weight: (k.weight as f32 / 12.0).min(1.0),
                    });
                }
            }
        }
        let mut counts: Vec<(&str, f32)> = Vec::new();
        let mut total = 0.0f32;
        for t in nlp.tokens(text) {
            if t.kind != TokenKind::Latin || t.text.len() < 3 || EN_STOP.contains(&t.text) {
                continue;
            }
            total += 1.0;
            match counts.iter_mut().find(|c| c.0 == t.text) {
                Some(c) => c.1 += 1.0,
                None => counts.push((t.text, 1.0)),
            }
        }
        for (w, c) in counts {
            let len_bonus = (w.len() as f32).ln() / 10.0_f32.ln();
            out.push(Keyword {
                text: w.to_owned(),
                weight: (c / total.max(1.0) * 2.0).min(1.0) * 0.5 + len_bonus.min(1.0) * 0.4,
            });
        }
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.text.cmp(&b.text)));
        out.dedup_by(|a, b| a.text == b.text);
        out.truncate(top_k);
        out
    }
}

impl Default for KeywordExtractor {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_in_chinese_english_and_mixed() {
        let nlp = match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let k = KeywordExtractor::new();
        let zh = k.extract(
            &nlp,
            &nlp.fold("退款申请提交了十天，退款还是没有到账，客服也不回复"),
            5,
        );
        assert!(zh.iter().any(|w| w.text == "退款"), "{zh:?}");
        let hant = k.extract(&nlp, &nlp.fold("退款申請提交了十天，退款還是沒有到帳"), 5);
        assert!(hant.iter().any(|w| w.text == "退款"), "{hant:?}");
        let en = k.extract(
            &nlp,
            &nlp.fold("The refund for my order never arrived, refund please"),
            5,
        );
        assert_eq!(
            en.first().map(|w| w.text.as_str()),
            Some("refund"),
            "{en:?}"
        );
        let mixed = k.extract(&nlp, &nlp.fold("iPhone 充电器 发烫"), 5);
        assert!(mixed.iter().any(|w| w.text == "iphone"), "{mixed:?}");
        assert!(k.extract(&nlp, &nlp.fold("😀"), 5).is_empty());
    }

    #[test]
    fn words_said_of_anything_are_not_keywords() {
        let nlp = match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let k = KeywordExtractor::new();
        let words = |text: &str| -> Vec<String> {
            k.extract(&nlp, &nlp.fold(text), 5)
                .into_iter()
                .map(|w| w.text)
                .collect()
        };
        let zh = words("京东的东西感觉不错，就是快递包装破损了");
        assert!(zh.iter().any(|w| w == "包装"), "{zh:?}");
        for generic in ["京东", "东西", "感觉", "不错"] {
            assert!(!zh.iter().any(|w| w == generic), "{generic}: {zh:?}");
        }
        let en = words("I need to know why my virtual card was declined");
        assert!(en.iter().any(|w| w == "virtual"), "{en:?}");
        assert!(!en.iter().any(|w| w == "need" || w == "know"), "{en:?}");
    }
}
