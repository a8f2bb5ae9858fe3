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

/// Weekly counts as a line, and the forecast after them as a dashed line with its values
/// labelled: what happened and what is expected, on one scale.
pub fn forecast(title: &str, history: &[u32], next: &[f64]) -> String {
    let (w, h, top, bottom) = (720.0_f64, 160.0_f64, 16.0, 18.0);
    let values: Vec<f64> = history
        .iter()
        .map(|v| f64::from(*v))
        .chain(next.iter().copied())
        .collect();
    let max = values.iter().copied().fold(1.0_f64, f64::max);
    let step = w / (values.len().max(2) - 1) as f64;
    let point = |i: usize, v: f64| (i as f64 * step, h - bottom - v / max * (h - top - bottom));
    let line = |from: usize, vals: &[f64]| -> String {
        vals.iter()
            .enumerate()
            .map(|(i, v)| {
                let (x, y) = point(from + i, *v);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" class=\"chart\">",
        escape(title)
    );
    let past: Vec<f64> = history.iter().map(|v| f64::from(*v)).collect();
    s.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"#3b6ea5\" stroke-width=\"2\" points=\"{}\"></polyline>",
        line(0, &past)
    ));
    if !next.is_empty() && !past.is_empty() {
        // The dashed line starts at the last real week so the two join.
        let mut ahead = vec![past[past.len() - 1]];
        ahead.extend_from_slice(next);
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"{}\"></polyline>",
            line(past.len() - 1, &ahead)
        ));
        for (i, v) in next.iter().enumerate() {
            let (x, y) = point(past.len() + i, *v);
            s.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v:.0}</text>",
                (y - 4.0).max(10.0)
            ));
        }
    }
    s.push_str(&format!(
        "<text x=\"0\" y=\"12\" font-size=\"11\">{max:.0}</text></svg>"
    ));
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

    #[test]
    fn a_forecast_continues_the_history_as_a_dashed_line() {
        let svg = forecast("预测 <x>", &[2, 4, 6], &[8.0, 10.0]);
        assert!(svg.contains("aria-label=\"预测 &lt;x&gt;\""));
        // Five weeks over 720 units: the history ends at x = 360, the forecast starts there.
        assert!(svg.contains("points=\"0.0,"));
        assert!(svg.contains("stroke-dasharray=\"6 4\" points=\"360.0,"));
        assert!(svg.contains(">10</text>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
    }
}
