//! `new_text`: what a reply adds, without the quoted history and the signature.
//!
//! The text is cut at the first line that starts the quoted history:
//! - an attribution line: `On <date>, <name> wrote:` (possibly wrapped onto a second line),
//!   `在 <date>，<name> 写道：`, `於 ... 寫道：`;
//! - a separator: `-----Original Message-----`, `-----原始邮件-----`, QQ Mail's
//!   `------------------ 原始邮件 ------------------`, a line of underscores (Outlook);
//! - a quoted header block: `发件人:` / `發件人:` / `From:` followed within three lines by a
//!   `Sent:` / `Date:` / `To:` / `Subject:` / `发送时间:` / `收件人:` / `主题:` line (a lone
//!   `From:` in the customer's own words is kept);
//! - the signature separator `-- ` and mobile signatures (`Sent from my iPhone`, `发自我的iPhone`).
//!
//! Lines quoted with `>` are dropped wherever they are (inline replies keep their new lines).

pub(crate) fn new_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = history_start(&lines).unwrap_or(lines.len());
    let kept: Vec<&str> = lines[..end]
        .iter()
        .copied()
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect();
    let mut out = kept.join("\n");
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    // Leading blank lines are noise too.
    let leading = out.len() - out.trim_start_matches(['\n', '\r']).len();
    out.drain(..leading);
    out
}

fn history_start(lines: &[&str]) -> Option<usize> {
    (0..lines.len()).find(|&i| starts_history(lines, i))
}

fn starts_history(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    if line.is_empty() {
        return false;
    }
    if line == "--" || lines[i] == "-- " {
        return true;
    }
    let lower = line.to_lowercase();
    if is_separator(&lower) || is_mobile_signature(&lower) {
        return true;
    }
    if is_attribution(&lower) {
        return true;
    }
    // "On Mon, 23 Nov 2026 at 10:00, A Long Name <a@example.com>\nwrote:"
    if lower.starts_with("on ")
        && lines
            .get(i + 1)
            .is_some_and(|next| next.trim().to_lowercase().ends_with("wrote:"))
    {
        return true;
    }
    if is_header_line(&lower, FROM) {
        if lower.starts_with("发件人") || lower.starts_with("發件人") {
            return true;
        }
        return lines
            .iter()
            .skip(i + 1)
            .take(3)
            .any(|next| is_header_line(&next.trim().to_lowercase(), OTHER_HEADERS));
    }
    false
}

const FROM: &[&str] = &["from", "发件人", "發件人", "寄件者", "寄件人"];
const OTHER_HEADERS: &[&str] = &[
    "sent",
    "date",
    "to",
    "subject",
    "cc",
    "发送时间",
    "發送時間",
    "日期",
    "时间",
    "收件人",
    "收件者",
    "主题",
    "主旨",
    "主題",
    "抄送",
    "副本",
];

fn is_header_line(lower: &str, names: &[&str]) -> bool {
    names.iter().any(|name| {
        lower
            .strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with([':', '：']))
    })
}

fn is_separator(lower: &str) -> bool {
    let inner = lower.trim_matches(|c: char| c == '-' || c == '—' || c.is_whitespace());
    let dashed = lower.starts_with("---") || lower.starts_with("——");
    if dashed
        && matches!(
            inner,
            "original message"
                | "原始邮件"
                | "原始郵件"
                | "原邮件"
                | "原郵件"
                | "forwarded message"
                | "转发的邮件"
                | "轉寄的郵件"
                | "reply message"
                | "回复的原邮件"
        )
    {
        return true;
    }
    lower.len() >= 20 && lower.chars().all(|c| c == '_')
}

fn is_mobile_signature(lower: &str) -> bool {
    [
        "sent from my ",
        "发自我的",
        "發自我的",
        "从我的",
        "從我的",
        "get outlook for ",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        && lower.chars().count() < 60
}

fn is_attribution(lower: &str) -> bool {
    let lower = lower.trim_end();
    (lower.starts_with("on ") && lower.ends_with("wrote:"))
        || ((lower.starts_with('在') || lower.starts_with('于') || lower.starts_with('於'))
            && ["写道：", "写道:", "寫道：", "寫道:"]
                .iter()
                .any(|end| lower.ends_with(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_attribution_and_quotes_are_cut() {
        let text = "Thanks, it works now.\n\nOn Mon, Nov 23, 2026 at 10:00 AM Support <s@x.com> wrote:\n> old\n> text";
        assert_eq!(new_text(text), "Thanks, it works now.");
    }

    #[test]
    fn wrapped_attribution() {
        let text =
            "Yes.\nOn Mon, Nov 23, 2026 at 10:00 AM A Very Long Name <a@example.com>\nwrote:\n> q";
        assert_eq!(new_text(text), "Yes.");
    }

    #[test]
    fn chinese_attribution_and_outlook_headers() {
        assert_eq!(
            new_text("好的，谢谢。\n\n在 2026年11月22日 10:00，客服 <s@x.com> 写道：\n> 您好"),
            "好的，谢谢。"
        );
        assert_eq!(
            new_text("已处理。\n\n发件人: 客服\n发送时间: 2026年11月22日\n收件人: 我"),
            "已处理。"
        );
        assert_eq!(
            new_text("ok\n------------------ 原始邮件 ------------------\n发件人: x"),
            "ok"
        );
    }

    #[test]
    fn a_lone_from_line_is_the_customers_text() {
        assert_eq!(
            new_text("From: my manager\nWe still wait."),
            "From: my manager\nWe still wait."
        );
    }

    #[test]
    fn signature_and_inline_quotes() {
        assert_eq!(
            new_text("> q1\nanswer 1\n> q2\nanswer 2\n-- \nBob\nACME"),
            "answer 1\nanswer 2"
        );
        assert_eq!(new_text("收到\n\n发自我的iPhone"), "收到");
    }
}
