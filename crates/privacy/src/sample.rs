//! The labelled sample and its score: lines of text with personal data marked inline as
//! `[[kind:value]]`, compared with what `find` reports.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::{Kind, find};

/// One labelled line: the plain text and the marked spans.
#[derive(Debug)]
pub struct Labelled {
    pub text: String,
    pub gold: Vec<(Kind, Range<usize>)>,
}

/// Parses one line; `Err` names what is wrong with a marker.
pub fn parse(line: &str) -> Result<Labelled, String> {
    let mut text = String::with_capacity(line.len());
    let mut gold = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find("[[") {
        text.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("]]").ok_or("a [[ without ]]")?;
        let (kind, value) = after[..close]
            .split_once(':')
            .ok_or("a marker without kind:value")?;
        let kind = Kind::parse(kind).ok_or_else(|| format!("unknown kind {kind:?}"))?;
        gold.push((kind, text.len()..text.len() + value.len()));
        text.push_str(value);
        rest = &after[close + 2..];
    }
    text.push_str(rest);
    Ok(Labelled { text, gold })
}

/// Counts for one kind. `exact` needs the same kind on the same characters; `overlap` counts a
/// finding of the right kind that covers part of the marked value (its mask still hides some
/// of it, and usually all).
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub gold: usize,
    pub found: usize,
    pub exact: usize,
    pub overlap: usize,
}

impl Counts {
    pub fn precision(&self, overlap: bool) -> f64 {
        ratio(if overlap { self.overlap } else { self.exact }, self.found)
    }
    pub fn recall(&self, overlap: bool) -> f64 {
        ratio(if overlap { self.overlap } else { self.exact }, self.gold)
    }
    fn add(&mut self, o: &Counts) {
        self.gold += o.gold;
        self.found += o.found;
        self.exact += o.exact;
        self.overlap += o.overlap;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Scores per kind and in total, and the lines where detection and labels disagree.
#[derive(Debug, Default)]
pub struct Score {
    pub lines: usize,
    pub by_kind: BTreeMap<Kind, Counts>,
    pub total: Counts,
    pub mistakes: Vec<String>,
}

pub fn score(sample: &str) -> Result<Score, String> {
    let mut s = Score::default();
    for (n, line) in sample.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let l = parse(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        s.lines += 1;
        let found = find(&l.text);
        for (k, _) in &l.gold {
            s.by_kind.entry(*k).or_default().gold += 1;
        }
        let mut wrong = false;
        for f in &found {
            let c = s.by_kind.entry(f.kind).or_default();
            c.found += 1;
            let same_kind = l.gold.iter().filter(|(k, _)| *k == f.kind);
            if same_kind.clone().any(|(_, r)| *r == f.range) {
                c.exact += 1;
                c.overlap += 1;
            } else if same_kind
                .clone()
                .any(|(_, r)| r.start < f.range.end && f.range.start < r.end)
            {
                c.overlap += 1;
                wrong = true;
            } else {
                wrong = true;
            }
        }
        wrong |= l
            .gold
            .iter()
            .any(|(k, r)| !found.iter().any(|f| f.kind == *k && f.range == *r));
        if wrong {
            let got: Vec<String> = found
                .iter()
                .map(|f| format!("{}:{}", f.kind.as_str(), &l.text[f.range.clone()]))
                .collect();
            s.mistakes
                .push(format!("line {}: {line}\n    found: {got:?}", n + 1));
        }
    }
    for c in s.by_kind.values() {
        s.total.add(c);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_become_spans_of_the_plain_text() {
        let l = parse("电话[[cn_mobile:13812345678]]，mail [[email:a@b.cn]]").expect("parses");
        assert_eq!(l.text, "电话13812345678，mail a@b.cn");
        assert_eq!(l.gold[0], (Kind::CnMobile, 6..17));
        assert_eq!(&l.text[l.gold[1].1.clone()], "a@b.cn");
        assert!(parse("[[phone:1]]").is_err());
        assert!(parse("[[email:a@b.cn").is_err());
    }

    /// The hand-built sample (data/pii_sample.txt, written apart from the detectors): real
    /// formats, and as many near-misses (order, waybill and ticket numbers, wrong check
    /// digits, hotlines) that must stay unmasked. BENCHMARKS.md has the per-kind table.
    #[test]
    fn the_labelled_sample_is_found_with_few_mistakes() {
        let s = score(include_str!("../data/pii_sample.txt")).expect("sample parses");
        assert!(s.lines >= 200, "{} lines", s.lines);
        let (p, r) = (s.total.precision(false), s.total.recall(false));
        assert!(
            p >= 0.95 && r >= 0.90,
            "precision {p:.3} recall {r:.3}\n{}",
            s.mistakes.join("\n")
        );
    }
}
