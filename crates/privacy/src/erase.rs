//! Erasure: personal data removed for good, unlike masking, which keeps the original aside.
//!
//! What the detectors find becomes `[kind]`, and so does every value the caller knows belongs
//! to the person (name, e-mail, phone, the originals of masked fields, and their masked
//! forms) wherever it appears, so that a name the detectors cannot recognise goes as well.

use crate::{Kind, find, mask_value};

/// Values known to belong to a person, to remove wherever they appear.
#[derive(Debug, Clone, Default)]
pub struct Known {
    values: Vec<String>,
}

/// Shorter values are too likely to be ordinary words ("Li", "王").
const MIN_KNOWN_CHARS: usize = 2;

impl Known {
    /// Adds a value; also the masked form an intake mask would have left of it.
    pub fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.chars().count() < MIN_KNOWN_CHARS || self.values.iter().any(|v| v == value) {
            return;
        }
        self.values.push(value.to_owned());
    }

    /// Adds a person's name, whole and by its parts ("张三丰 Zhang Sanfeng" is also written
    /// "Zhang" or "Sanfeng" alone), each part long enough to be safe to remove.
    pub fn add_name(&mut self, name: &str) {
        self.add(name);
        let parts: Vec<&str> = name
            .split(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | '·' | '(' | ')'))
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() > 1 {
            for part in parts {
                self.add(part);
            }
        }
    }

    /// Adds every personal value the detectors find in `text` (an original kept at intake),
    /// with its masked form, which is what the ticket's text holds.
    pub fn add_found_in(&mut self, text: &str) {
        for f in find(text) {
            let value = &text[f.range];
            self.add(value);
            self.add(&mask_value(f.kind, value));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The text with every detected and every known value replaced; `None` when nothing was.
pub fn erase(text: &str, known: &Known) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in find(text) {
        out.push_str(&text[at..f.range.start]);
        out.push_str(&placeholder(f.kind));
        at = f.range.end;
    }
    out.push_str(&text[at..]);
    // Longest first, so a name inside an e-mail address does not leave the rest behind.
    let mut values: Vec<&String> = known.values.iter().collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for value in values {
        out = replace_ignoring_case(&out, value, "[erased]");
    }
    (out != text).then_some(out)
}

fn placeholder(kind: Kind) -> String {
    format!("[{}]", kind.as_str())
}

/// Replaces `needle` in `haystack` ignoring ASCII case (e-mail addresses and English names
/// are written either way; Chinese has no case). A needle that begins or ends with a Latin
/// letter or digit only matches a whole word there, so "Li" leaves "policy" alone.
fn replace_ignoring_case(haystack: &str, needle: &str, with: &str) -> String {
    let lower_hay = haystack.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let starts_word = word(needle.chars().next());
    let ends_word = word(needle.chars().last());
    // ASCII lower-casing keeps byte offsets, so positions found in the copy hold in the text.
    let mut out = String::with_capacity(haystack.len());
    let mut at = 0;
    for (i, _) in lower_hay.match_indices(&lower_needle) {
        let end = i + needle.len();
        if i < at
            || (starts_word && word(haystack[..i].chars().next_back()))
            || (ends_word && word(haystack[end..].chars().next()))
        {
            continue;
        }
        out.push_str(&haystack[at..i]);
        out.push_str(with);
        at = i + needle.len();
    }
    out.push_str(&haystack[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detected_values_become_their_kind() {
        let known = Known::default();
        let out = erase("电话13812345678，邮箱 li.wei@example.com", &known).unwrap();
        assert_eq!(out, "电话[cn_mobile]，邮箱 [email]");
        assert_eq!(erase("nothing personal here", &known), None);
    }

    #[test]
    fn known_values_go_wherever_they_appear_in_any_case() {
        let mut known = Known::default();
        known.add("Wei Zhangsan");
        known.add("张三丰");
        known.add("x"); // too short to be safe to remove
        let out = erase("wei zhangsan wrote; 张三丰说 x marks it", &known).unwrap();
        assert_eq!(out, "[erased] wrote; [erased]说 x marks it");
    }

    #[test]
    fn latin_names_match_whole_words_only() {
        let mut known = Known::default();
        known.add_name("Li Na");
        let out = erase("Li said: the policy link is in Na's mail; Lina", &known).unwrap();
        assert_eq!(
            out,
            "[erased] said: the policy link is in [erased]'s mail; Lina"
        );
    }

    #[test]
    fn names_go_whole_and_by_their_parts() {
        let mut known = Known::default();
        known.add_name("张三丰 Zhang Sanfeng");
        let out = erase("张三丰说 Sanfeng Zhang agreed", &known).unwrap();
        assert_eq!(out, "[erased]说 [erased] [erased] agreed");
    }

    #[test]
    fn masked_forms_of_kept_originals_are_known_too() {
        let mut known = Known::default();
        known.add_found_in("call 13812345678 please");
        let out = erase("call 138****5678 please", &known).unwrap();
        assert_eq!(out, "call [erased] please");
    }
}
