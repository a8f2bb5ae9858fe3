//! Titles: the user's own, or one made from the description.

use unicode_segmentation::UnicodeSegmentation;

use crate::{DomainError, TextField};

/// A ticket title of at most [`Title::MAX_GRAPHEMES`] graphemes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub const MAX_GRAPHEMES: usize = 60;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        TextField::parse("title", raw, Self::MAX_GRAPHEMES).map(|t| Self(t.into_string()))
    }

    /// The first sentence of the description, cut to the limit on a grapheme boundary (and on a
    /// word boundary for space-separated text) with an ellipsis when cut. Sentence ends are the
    /// Western `.!?` followed by a space, and the CJK `。！？；` anywhere; a line break also ends it.
    pub fn from_description(description: &str) -> Self {
        let text = description.trim();
        let first_line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let sentence = first_sentence(first_line);
        let collapsed = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
        Self(truncate(&collapsed, Self::MAX_GRAPHEMES))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn first_sentence(line: &str) -> &str {
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '。' | '！' | '？' | '；' | '…' => true,
            '.' | '!' | '?' => chars.peek().is_none_or(|(_, next)| next.is_whitespace()),
            _ => false,
        };
        if end {
            // Keep the question mark, drop other terminators: "Why was I charged twice?" reads as a title.
            let keep = matches!(c, '?' | '？');
            let cut = if keep { i + c.len_utf8() } else { i };
            let s = line[..cut].trim_end();
            if !s.is_empty() {
                return s;
            }
        }
    }
    line
}

fn truncate(text: &str, max: usize) -> String {
    let graphemes: Vec<&str> = text.graphemes(true).collect();
    if graphemes.len() <= max {
        return text.to_owned();
    }
    let keep = max - 1; // room for the ellipsis
    let mut cut = graphemes[..keep].concat();
    // For space-separated scripts prefer ending on a whole word, if that does not lose too much.
    if graphemes[keep] != " "
        && let Some(space) = cut.rfind(' ')
        && space >= cut.len() / 2
    {
        cut.truncate(space);
    }
    let mut out = cut.trim_end().to_owned();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_segmentation::UnicodeSegmentation;

    fn title(s: &str) -> String {
        Title::from_description(s).into_string()
    }

    #[test]
    fn english_first_sentence() {
        assert_eq!(
            title("The checkout page won't load. I tried three times."),
            "The checkout page won't load"
        );
        assert_eq!(
            title("Why was I charged twice? Order 123."),
            "Why was I charged twice?"
        );
    }

    #[test]
    fn decimal_points_do_not_end_a_sentence() {
        assert_eq!(
            title("Version 2.3 crashes on start. Please fix."),
            "Version 2.3 crashes on start"
        );
    }

    #[test]
    fn chinese_first_sentence() {
        assert_eq!(
            title("我昨天下单后被扣了两次款。订单号是123。"),
            "我昨天下单后被扣了两次款"
        );
        assert_eq!(
            title("为什么一直登录不了？试了好几次"),
            "为什么一直登录不了？"
        );
    }

    #[test]
    fn traditional_chinese_first_sentence() {
        assert_eq!(title("帳號被盜了！請盡快處理。"), "帳號被盜了");
    }

    #[test]
    fn first_line_when_no_terminator() {
        assert_eq!(
            title("\n  App crashes on login\nsteps: open app"),
            "App crashes on login"
        );
    }

    #[test]
    fn long_chinese_is_cut_at_60_graphemes_with_ellipsis() {
        let t = title(&"页面".repeat(50));
        assert_eq!(t.graphemes(true).count(), 60);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn long_english_is_cut_on_a_word() {
        let t = title(
            "When I open the settings page of the mobile application the whole screen goes white and nothing responds",
        );
        assert!(t.graphemes(true).count() <= 60);
        assert!(t.ends_with("…"));
        assert!(!t.contains("respon"), "{t}");
        assert!(t.starts_with("When I open the settings page"));
    }

    #[test]
    fn emoji_and_combining_marks_are_never_split() {
        let t = title(&"👍🏽".repeat(70));
        assert!(t.graphemes(true).all(|g| g == "👍🏽" || g == "…"));
    }

    #[test]
    fn user_title_over_limit_is_refused() {
        assert!(Title::parse(&"a".repeat(61)).is_err());
        assert!(Title::parse("  ").is_err());
    }
}
