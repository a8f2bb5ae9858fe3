//! HTML to readable text for HTML-only mail: a careful tag stripper. Drops `head`, `script`,
//! `style`, `template` and comments; block elements and `<br>` become line breaks, list items get
//! "- ", entities are decoded (mail-parser's full HTML5 entity table), white space collapses
//! as a browser would. Links keep their text only. Linear in the input, never panics.

const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "ul",
    "body",
    "html",
];
const HIDDEN: &[&str] = &["head", "script", "style", "template", "title", "noscript"];

pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = Text::default();
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut hidden: Option<String> = None;
    let mut pre = 0usize;
    let mut text_start = 0;
    while i < bytes.len() {
        let starts_tag = bytes[i] == b'<'
            && bytes
                .get(i + 1)
                .is_some_and(|&b| b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?'));
        if !starts_tag {
            i += 1;
            continue;
        }
        if hidden.is_none() {
            out.push_text(&html[text_start..i], pre > 0);
        }
        // Comment, doctype, CDATA.
        if html[i..].starts_with("<!--") {
            i = html[i + 4..]
                .find("-->")
                .map_or(bytes.len(), |p| i + 4 + p + 3);
            text_start = i;
            continue;
        }
        let Some(tag_len) = html[i..].find('>') else {
            // An unclosed '<' is text.
            if hidden.is_none() {
                out.push_text(&html[i..], pre > 0);
            }
            text_start = bytes.len();
            break;
        };
        let tag = &html[i + 1..i + tag_len];
        i += tag_len + 1;
        text_start = i;
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            // `<!DOCTYPE ...>`, `<?xml ...?>`, `</ >`: nothing to show.
            continue;
        }
        if let Some(open) = &hidden {
            if closing && *open == name {
                hidden = None;
            }
            continue;
        }
        if HIDDEN.contains(&name.as_str()) {
            if !closing && !tag.ends_with('/') {
                hidden = Some(name);
            }
            continue;
        }
        match name.as_str() {
            "br" => out.newline(),
            "pre" => {
                out.block();
                pre = if closing {
                    pre.saturating_sub(1)
                } else {
                    pre + 1
                };
            }
            "li" => {
                out.line_start();
                if !closing {
                    out.push_raw("- ");
                }
            }
            "td" | "th" if closing => out.push_raw("\t"),
            "img" => {
                if let Some(alt) = attribute(tag, "alt").filter(|a| !a.trim().is_empty()) {
                    out.push_text(&format!("[{}]", alt.trim()), false);
                }
            }
            n if BLOCK.contains(&n) => out.block(),
            _ => {}
        }
    }
    if hidden.is_none() && text_start < bytes.len() {
        out.push_text(&html[text_start..], pre > 0);
    }
    out.finish()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))?;
    let rest = tag.get(at + name.len() + 1..)?;
    let quote = rest.chars().next()?;
    if quote == '"' || quote == '\'' {
        let inner = &rest[1..];
        inner.find(quote).map(|end| &inner[..end])
    } else {
        rest.split_whitespace().next()
    }
}

#[derive(Default)]
struct Text {
    out: String,
    /// A space is owed before the next word.
    space: bool,
}

impl Text {
    fn push_text(&mut self, raw: &str, pre: bool) {
        let decoded = decode_entities(raw);
        if pre {
            self.out.push_str(&decoded);
            self.space = false;
            return;
        }
        for (n, word) in decoded
            .split(|c: char| c.is_whitespace() && c != '\u{a0}')
            .enumerate()
        {
            if n > 0 {
                self.space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.space && !self.out.is_empty() && !self.out.ends_with(['\n', ' ', '\t']) {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push_str(&word.replace('\u{a0}', " "));
        }
    }

    fn push_raw(&mut self, s: &str) {
        self.out.push_str(s);
        self.space = false;
    }

    fn newline(&mut self) {
        self.trim_line_end();
        self.out.push('\n');
        self.space = false;
    }

    fn line_start(&mut self) {
        self.trim_line_end();
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.space = false;
    }

    /// Start a new paragraph-like block: at most one blank line between blocks.
    fn block(&mut self) {
        self.trim_line_end();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
        self.space = false;
    }

    fn trim_line_end(&mut self) {
        while self.out.ends_with([' ', '\t']) {
            self.out.pop();
        }
    }

    fn finish(self) -> String {
        let mut lines: Vec<&str> = Vec::new();
        let mut blank = 0;
        for line in self.out.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank += 1;
                if blank > 1 || lines.is_empty() {
                    continue;
                }
            } else {
                blank = 0;
            }
            lines.push(line);
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.join("\n")
    }
}

/// Decode `&name;`, `&#NNN;` and `&#xHH;`; anything else stays as written.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let end = after
            .char_indices()
            .skip(1)
            .take(32)
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '#'))
            .filter(|&(_, c)| c == ';')
            .map(|(p, _)| p);
        match end {
            Some(end) if end > 1 => {
                let entity = &after[..=end];
                let mut decoded = String::new();
                mail_parser::decoders::html::add_html_token(&mut decoded, entity.as_bytes(), false);
                // U+0000 and surrogates come back as U+FFFD; that is what a browser shows too.
                out.push_str(&decoded);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_lists_and_entities() {
        let html = "<html><head><title>t</title><style>p{color:red}</style></head><body>\
            <p>您好，&nbsp;客服</p><div>Order&nbsp;#42 &amp; more&#8212;now &#x4e2d;</div>\
            <ul><li>one</li><li>two</li></ul>Line<br>break<script>alert(1)</script>\
            <!-- hidden --> end &unknown; a < b</body></html>";
        assert_eq!(
            html_to_text(html),
            "您好， 客服\n\nOrder #42 & more—now 中\n\n- one\n- two\n\nLine\nbreak end &unknown; a < b"
        );
    }

    #[test]
    fn broken_html_never_panics() {
        for html in [
            "<",
            "<a",
            "&#",
            "&#xFFFFFFFF;",
            "&#0;",
            "<!--",
            "<script>",
            "<pre>x",
            "中<文>",
        ] {
            let _ = html_to_text(html);
        }
    }
}
