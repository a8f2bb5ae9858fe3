//! Rendering and checking the templates of users' messages (Jinja syntax, through minijinja).
//! The plain text renders values as they are; the HTML alternative escapes every value, so
//! nothing a user typed into a ticket can become markup in a mail client.

use closedloop_domain::notice::{COMMON_VARIABLES, Event, NoticeChannel, TemplateText};
use minijinja::{AutoEscape, Environment};

/// A template refused when saved: which part, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub field: &'static str,
    pub message: String,
}

fn environment(escape: AutoEscape) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(move |_| escape);
    env.set_keep_trailing_newline(true);
    env
}

/// Checks a template before it is saved: it parses, uses only the variables its event
/// offers, and carries every element its event requires (MISSION §5).
pub fn validate(
    event: Event,
    channel: NoticeChannel,
    t: &TemplateText,
) -> Result<(), TemplateError> {
    let env = environment(AutoEscape::None);
    let mut used = std::collections::HashSet::new();
    for (field, source) in [("subject", &t.subject), ("body", &t.body)] {
        if field == "subject" && channel == NoticeChannel::Sms {
            continue;
        }
        let tpl = env.template_from_str(source).map_err(|e| TemplateError {
            field,
            message: format!("does not parse: {e}"),
        })?;
        for var in tpl.undeclared_variables(false) {
            if !event.offers(&var) {
                let mut offered: Vec<&str> = COMMON_VARIABLES.to_vec();
                offered.extend(event.variables());
                return Err(TemplateError {
                    field,
                    message: format!(
                        "{{{{ {var} }}}} is not offered for {event}; use {}",
                        offered.join(", ")
                    ),
                });
            }
            used.insert(var);
        }
    }
    if t.body.trim().is_empty() {
        return Err(TemplateError {
            field: "body",
            message: "must not be empty".into(),
        });
    }
    if channel != NoticeChannel::Sms && !t.subject.contains("number") {
        return Err(TemplateError {
            field: "subject",
            message: "must carry {{ number }} (replies thread by it)".into(),
        });
    }
    for var in event.required() {
        if !used.contains(*var) {
            return Err(TemplateError {
                field: "body",
                message: format!("must contain {{{{ {var} }}}}: every {event} message carries it"),
            });
        }
    }
    Ok(())
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `t` with `vars`; the subject is one line.
pub fn render(t: &TemplateText, vars: &serde_json::Value) -> Result<Rendered, String> {
    let plain = environment(AutoEscape::None);
    let html = environment(AutoEscape::Html);
    let run = |env: &Environment<'static>, source: &str| {
        env.render_str(source, vars).map_err(|e| e.to_string())
    };
    let subject = run(&plain, &t.subject)?
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let text = run(&plain, &t.body)?;
    let body = run(&html, &t.body)?.replace('\n', "<br>\n");
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\n{body}</body></html>\n"
    );
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use closedloop_domain::notice::{Lang, default_template};
    use serde_json::json;

    fn result_vars(solution: &str) -> serde_json::Value {
        json!({
            "number": "FB-20261202-000007", "title": "包裹丢失", "name": "王小明",
            "contact": "support@shop.example", "solution": solution,
            "compensation": "coupon 20.00", "apology": true, "appeal_days": 7,
            "confirm_url": "https://help.example/r/abc",
        })
    }

    #[test]
    fn built_in_templates_pass_their_own_validation() {
        for &event in Event::ALL {
            for &lang in Lang::ALL {
                for &channel in NoticeChannel::ALL {
                    let t = default_template(event, lang, channel);
                    assert_eq!(
                        validate(event, channel, &t),
                        Ok(()),
                        "{event} {lang} {channel}"
                    );
                }
            }
        }
    }

    #[test]
    fn result_renders_in_chinese_and_english() {
        let zh = render(
            &default_template(Event::Result, Lang::Zh, NoticeChannel::Email),
            &result_vars("已为您补发包裹"),
        )
        .unwrap();
        assert_eq!(zh.subject, "[FB-20261202-000007] 处理结果");
        assert!(zh.text.contains("王小明，您好"));
        assert!(zh.text.contains("已为您补发包裹"));
        assert!(zh.text.contains("您将获得：coupon 20.00"));
        assert!(zh.text.contains("深表歉意"));
        assert!(zh.text.contains("https://help.example/r/abc"));
        assert!(zh.text.contains("7 天内"));
        // Optional elements that are absent leave no trace.
        assert!(!zh.text.contains("原因："));
        let en = render(
            &default_template(Event::Result, Lang::En, NoticeChannel::Email),
            &result_vars("We sent a new parcel."),
        )
        .unwrap();
        assert_eq!(
            en.subject,
            "[FB-20261202-000007] The result of your request"
        );
        assert!(en.text.contains("Hello 王小明"));
        assert!(en.text.contains("You receive: coupon 20.00"));
        assert!(en.text.contains("We are sorry"));
        assert!(!en.text.contains("What caused it"));
    }

    #[test]
    fn html_escapes_what_users_wrote() {
        let r = render(
            &default_template(Event::Result, Lang::En, NoticeChannel::Email),
            &result_vars("<script>alert(1)</script> & <b>bold</b>"),
        )
        .unwrap();
        assert!(!r.html.contains("<script>"));
        assert!(
            r.html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
        );
        assert!(r.html.contains("&amp; &lt;b&gt;"));
        // The plain text keeps it as written (a text part is never interpreted).
        assert!(r.text.contains("<script>alert(1)</script>"));
    }

    #[test]
    fn templates_missing_a_required_element_are_refused() {
        let mut t = default_template(Event::Result, Lang::En, NoticeChannel::Email);
        t.body = t.body.replace("{{ confirm_url }}", "our website");
        let err = validate(Event::Result, NoticeChannel::Email, &t).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.message.contains("confirm_url"), "{}", err.message);

        let mut t = default_template(Event::Received, Lang::Zh, NoticeChannel::Email);
        t.subject = "已收到".into();
        assert_eq!(
            validate(Event::Received, NoticeChannel::Email, &t)
                .unwrap_err()
                .field,
            "subject"
        );
    }

    #[test]
    fn unknown_variables_and_syntax_errors_are_refused() {
        let mut t = default_template(Event::Received, Lang::En, NoticeChannel::Email);
        t.body.push_str("{{ password }}");
        let err = validate(Event::Received, NoticeChannel::Email, &t).unwrap_err();
        assert!(err.message.contains("password"));
        t.body = "{% if number %}{{ number }} {{ contact }}".into();
        let err = validate(Event::Received, NoticeChannel::Email, &t).unwrap_err();
        assert!(err.message.contains("does not parse"), "{}", err.message);
    }
}
