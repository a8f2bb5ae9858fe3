//! Charts drawn on the server as SVG: they need no script, print, and scale. Every label is
//! escaped; every number is formatted by us.

use closedloop_domain::report::Count;

use crate::http::search::escape;

/// Vertical bars, one per value in order (days), with the highest value and the first and
/// last keys as labels; `title` is the accessible name.
pub fn columns(title: &str, counts: &[Count]) -> String {
    let (w, h, top, bottom) = (720.0_f64, 200.0_f64, 16.0, 22.0);
    let max = counts.iter().map(|c| c.count).max().unwrap_or(0).max(1) as f64;
    let n = counts.len().max(1) as f64;
    let step = w / n;
    let bar = (step * 0.8).max(1.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" class=\"chart\">",
        escape(title)
    );
    for (i, c) in counts.iter().enumerate() {
        let bh = (c.count as f64 / max) * (h - top - bottom);
        let x = i as f64 * step + (step - bar) / 2.0;
        let y = h - bottom - bh;
        s.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"#3b6ea5\"><title>{}: {}</title></rect>",
            escape(&c.key),
            c.count
        ));
    }
    s.push_str(&format!(
        "<text x=\"0\" y=\"12\" font-size=\"11\">{}</text>",
        max as usize
    ));
    if let (Some(first), Some(last)) = (counts.first(), counts.last()) {
        s.push_str(&format!(
            "<text x=\"0\" y=\"{:.0}\" font-size=\"11\">{}</text><text x=\"{w}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            h - 6.0,
            escape(&first.key),
            h - 6.0,
            escape(&last.key)
        ));
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars with their labels and values, largest first as given.
pub fn bars(title: &str, counts: &[Count]) -> String {
    let (w, row, label) = (720.0_f64, 22.0_f64, 200.0_f64);
    let h = row * counts.len().max(1) as f64;
    let max = counts.iter().map(|c| c.count).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" class=\"chart\">",
        escape(title)
    );
    for (i, c) in counts.iter().enumerate() {
        let y = i as f64 * row;
        let bw = (c.count as f64 / max) * (w - label - 60.0);
        s.push_str(&format!(
            "<text x=\"0\" y=\"{:.0}\" font-size=\"12\">{}</text><rect x=\"{label}\" y=\"{:.0}\" width=\"{bw:.1}\" height=\"{:.0}\" fill=\"#3b6ea5\"></rect><text x=\"{:.1}\" y=\"{:.0}\" font-size=\"12\">{}</text>",
            y + 15.0,
            escape(&c.key),
            y + 4.0,
            row - 8.0,
            label + bw + 4.0,
            y + 15.0,
            c.count
        ));
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(key: &str, count: usize) -> Count {
        Count {
            key: key.into(),
            count,
        }
    }

    #[test]
    fn labels_are_escaped_and_bars_scale_to_the_largest() {
        let svg = bars("渠道 <b>", &[c("web", 10), c("<script>", 5)]);
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
        assert!(svg.contains("aria-label=\"渠道 &lt;b&gt;\""));
        assert!(
            svg.contains("width=\"460.0\"") && svg.contains("width=\"230.0\""),
            "{svg}"
        );
    }

    #[test]
    fn columns_have_one_bar_per_value_and_name_the_ends() {
        let svg = columns("days", &[c("2026-11-01", 0), c("2026-11-02", 4)]);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2026-11-01") && svg.contains("2026-11-02"));
        assert!(svg.contains("<title>2026-11-02: 4</title>"));
    }
}
