//! What the user is told, and when (MISSION §5): the events that send a notice, the channels,
//! the elements each event's template must carry, and the built-in templates in Chinese and
//! English. Templates use Jinja syntax (`{{ number }}`, `{% if cause %}…{% endif %}`); the
//! server renders and validates them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::DomainError;
use crate::ticket::text_enum;

text_enum!(
    /// A moment the user hears from us.
    Event, "event" {
        Received => "received",
        NeedInfo => "need_info",
        Progress => "progress",
        Result => "result",
        Closed => "closed",
        AppealOutcome => "appeal_outcome",
        Survey => "survey",
        Nps => "nps",
    }
);

text_enum!(
    /// How a notice reaches the user. `in_app` is the customer portal's message list.
    NoticeChannel, "channel" {
        Email => "email",
        InApp => "in_app",
        Sms => "sms",
    }
);

text_enum!(
    /// The languages templates are written in.
    Lang, "lang" {
        Zh => "zh",
        En => "en",
    }
);

impl Lang {
    /// The language a user wrote in: Chinese when the text has any Han character.
    pub fn of_text(text: &str) -> Lang {
        let han = text.chars().any(|c| {
            matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
        });
        if han { Lang::Zh } else { Lang::En }
    }
}

/// Variables every template may use.
pub const COMMON_VARIABLES: &[&str] = &["number", "title", "name", "contact", "portal_url"];

impl Event {
    /// The elements the template must carry (MISSION §5): a template without one of them is
    /// refused when saved.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            Event::Received => &["number", "contact"],
            Event::NeedInfo => &["number", "checklist"],
            Event::Progress => &["number", "message"],
            // Acknowledgement (the number), the result, how to accept it, and a contact.
            Event::Result => &["number", "solution", "confirm_url", "contact"],
            Event::Closed => &["number", "contact"],
            Event::AppealOutcome => &["number", "outcome", "note"],
            Event::Survey => &["number", "survey_url"],
            Event::Nps => &["survey_url"],
        }
    }

    /// Variables this event offers beyond [`COMMON_VARIABLES`].
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Event::Received | Event::Closed => &[],
            Event::NeedInfo => &["checklist"],
            Event::Progress => &["message"],
            Event::Result => &[
                "solution",
                "compensation",
                "instructions",
                "cause",
                "improvement",
                "apology",
                "expected_by",
                "confirm_url",
                "appeal_days",
            ],
            Event::AppealOutcome => &["outcome", "note"],
            Event::Survey | Event::Nps => &["survey_url"],
        }
    }

    /// Is `name` a variable this event's template may use?
    pub fn offers(self, name: &str) -> bool {
        COMMON_VARIABLES.contains(&name) || self.variables().contains(&name)
    }
}

/// A template: the subject (e-mail only) and the body, both Jinja text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateText {
    pub subject: String,
    pub body: String,
}

/// The built-in template of an event, in a language, for a channel (`in_app` uses e-mail's).
pub fn default_template(event: Event, lang: Lang, channel: NoticeChannel) -> TemplateText {
    let (subject, body) = match channel {
        NoticeChannel::Sms => ("", sms(event, lang)),
        NoticeChannel::Email | NoticeChannel::InApp => mail(event, lang),
    };
    TemplateText {
        subject: subject.into(),
        body: body.into(),
    }
}

fn mail(event: Event, lang: Lang) -> (&'static str, &'static str) {
    use Event::*;
    match (event, lang) {
        (Received, Lang::Zh) => (
            "[{{ number }}] 已收到您的反馈",
            "{{ name }}，您好：\n\n感谢您的反馈，我们已登记为 {{ number }}（{{ title }}），会尽快处理。直接回复此邮件即可补充信息，内容会记录在同一编号下。\n{% if portal_url %}\n查看进度：{{ portal_url }}\n{% endif %}\n联系我们：{{ contact }}\n",
        ),
        (Received, Lang::En) => (
            "[{{ number }}] We have received your message",
            "Hello {{ name }},\n\nThank you for your feedback. We have registered it as {{ number }} ({{ title }}) and will handle it as soon as we can. Reply to this mail to add to it; your answer is kept with the same number.\n{% if portal_url %}\nFollow it here: {{ portal_url }}\n{% endif %}\nContact: {{ contact }}\n",
        ),
        (NeedInfo, Lang::Zh) => (
            "[{{ number }}] 请补充信息",
            "{{ name }}，您好：\n\n为了处理您的反馈 {{ number }}，我们还需要以下信息：\n\n{{ checklist }}\n\n请直接回复此邮件{% if portal_url %}或在 {{ portal_url }} 补充{% endif %}。收到后我们会继续处理。\n\n联系我们：{{ contact }}\n",
        ),
        (NeedInfo, Lang::En) => (
            "[{{ number }}] We need a little more information",
            "Hello {{ name }},\n\nTo handle {{ number }} we need the following from you:\n\n{{ checklist }}\n\nPlease reply to this mail{% if portal_url %} or add it at {{ portal_url }}{% endif %}; we carry on as soon as we have it.\n\nContact: {{ contact }}\n",
        ),
        (Progress, Lang::Zh) => (
            "[{{ number }}] 处理进展",
            "{{ name }}，您好：\n\n关于您的反馈 {{ number }}：\n\n{{ message }}\n\n联系我们：{{ contact }}\n",
        ),
        (Progress, Lang::En) => (
            "[{{ number }}] An update on your request",
            "Hello {{ name }},\n\nAbout {{ number }}:\n\n{{ message }}\n\nContact: {{ contact }}\n",
        ),
        (Result, Lang::Zh) => (
            "[{{ number }}] 处理结果",
            "{{ name }}，您好：\n\n感谢您的耐心等待。关于您的反馈 {{ number }}（{{ title }}），处理结果如下：\n\n{{ solution }}\n{% if compensation %}\n您将获得：{{ compensation }}\n{% endif %}{% if instructions %}\n使用方式：{{ instructions }}\n{% endif %}{% if expected_by %}\n预计完成时间：{{ expected_by }}\n{% endif %}{% if cause %}\n原因：{{ cause }}\n{% endif %}{% if improvement %}\n我们的改进：{{ improvement }}\n{% endif %}{% if apology %}\n给您带来不便，我们深表歉意。\n{% endif %}\n请确认结果或告诉我们问题仍未解决：{{ confirm_url }}\n如对结果有异议，可在 {{ appeal_days }} 天内通过同一链接申诉。\n\n联系我们：{{ contact }}\n",
        ),
        (Result, Lang::En) => (
            "[{{ number }}] The result of your request",
            "Hello {{ name }},\n\nThank you for your patience. Here is our answer to {{ number }} ({{ title }}):\n\n{{ solution }}\n{% if compensation %}\nYou receive: {{ compensation }}\n{% endif %}{% if instructions %}\nHow to use it: {{ instructions }}\n{% endif %}{% if expected_by %}\nExpected to be complete by: {{ expected_by }}\n{% endif %}{% if cause %}\nWhat caused it: {{ cause }}\n{% endif %}{% if improvement %}\nWhat we are changing: {{ improvement }}\n{% endif %}{% if apology %}\nWe are sorry for the trouble this caused you.\n{% endif %}\nPlease confirm the result, or tell us it is not solved: {{ confirm_url }}\nIf you disagree with it, you can appeal within {{ appeal_days }} days through the same link.\n\nContact: {{ contact }}\n",
        ),
        (Closed, Lang::Zh) => (
            "[{{ number }}] 已结案",
            "{{ name }}，您好：\n\n您的反馈 {{ number }}（{{ title }}）已结案。感谢您帮助我们改进。\n\n联系我们：{{ contact }}\n",
        ),
        (Closed, Lang::En) => (
            "[{{ number }}] Your request is closed",
            "Hello {{ name }},\n\n{{ number }} ({{ title }}) is now closed. Thank you for helping us improve.\n\nContact: {{ contact }}\n",
        ),
        (AppealOutcome, Lang::Zh) => (
            "[{{ number }}] 申诉复核结果",
            "{{ name }}，您好：\n\n您对 {{ number }} 的申诉已复核，结果：{{ outcome }}。\n\n{{ note }}\n\n联系我们：{{ contact }}\n",
        ),
        (AppealOutcome, Lang::En) => (
            "[{{ number }}] The review of your appeal",
            "Hello {{ name }},\n\nWe have reviewed your appeal on {{ number }}. Outcome: {{ outcome }}.\n\n{{ note }}\n\nContact: {{ contact }}\n",
        ),
        (Survey, Lang::Zh) => (
            "[{{ number }}] 请为本次服务评分",
            "{{ name }}，您好：\n\n您对 {{ number }} 的处理满意吗？请花一分钟打分（1-5 星）并留下建议：{{ survey_url }}\n\n谢谢！\n",
        ),
        (Survey, Lang::En) => (
            "[{{ number }}] How did we do?",
            "Hello {{ name }},\n\nHow satisfied are you with how we handled {{ number }}? Rate us from 1 to 5 stars and tell us why: {{ survey_url }}\n\nThank you!\n",
        ),
        (Nps, Lang::Zh) => (
            "[{{ number }}] 您会向朋友推荐我们吗？",
            "{{ name }}，您好：\n\n从 0 到 10 分，您有多大可能向朋友或同事推荐我们？一个问题，十秒钟：{{ survey_url }}\n\n谢谢！{{ contact }}\n",
        ),
        (Nps, Lang::En) => (
            "[{{ number }}] Would you recommend us?",
            "Hello {{ name }},\n\nOn a scale of 0 to 10, how likely are you to recommend us to a friend or colleague? One question, ten seconds: {{ survey_url }}\n\nThank you! {{ contact }}\n",
        ),
    }
}

fn sms(event: Event, lang: Lang) -> &'static str {
    use Event::*;
    match (event, lang) {
        (Received, Lang::Zh) => "已收到您的反馈，编号 {{ number }}。咨询：{{ contact }}",
        (Received, Lang::En) => "We received your feedback: {{ number }}. Contact: {{ contact }}",
        (NeedInfo, Lang::Zh) => "{{ number }} 需要您补充：{{ checklist }}",
        (NeedInfo, Lang::En) => "{{ number }}: please send us {{ checklist }}",
        (Progress, Lang::Zh) => "{{ number }} 进展：{{ message }}",
        (Progress, Lang::En) => "{{ number }} update: {{ message }}",
        (Result, Lang::Zh) => {
            "{{ number }} 处理结果：{{ solution }} 确认或申诉：{{ confirm_url }} 咨询：{{ contact }}"
        }
        (Result, Lang::En) => {
            "{{ number }} result: {{ solution }} Confirm or appeal: {{ confirm_url }} Contact: {{ contact }}"
        }
        (Closed, Lang::Zh) => "{{ number }} 已结案。咨询：{{ contact }}",
        (Closed, Lang::En) => "{{ number }} is closed. Contact: {{ contact }}",
        (AppealOutcome, Lang::Zh) => "{{ number }} 申诉结果：{{ outcome }}。{{ note }}",
        (AppealOutcome, Lang::En) => "{{ number }} appeal: {{ outcome }}. {{ note }}",
        (Survey, Lang::Zh) => "请为 {{ number }} 的处理评分：{{ survey_url }}",
        (Survey, Lang::En) => "Rate how we handled {{ number }}: {{ survey_url }}",
        (Nps, Lang::Zh) => "您会向朋友推荐我们吗？0-10 分：{{ survey_url }}",
        (Nps, Lang::En) => "Would you recommend us? 0-10: {{ survey_url }}",
    }
}

/// Every required element appears in every built-in template (checked literally here; the
/// server's validation parses them).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_templates_carry_every_required_element() {
        for &event in Event::ALL {
            for &lang in Lang::ALL {
                for &channel in NoticeChannel::ALL {
                    let t = default_template(event, lang, channel);
                    for var in event.required() {
                        assert!(
                            t.body.contains(&format!("{{{{ {var} }}}}")),
                            "{event} {lang} {channel} lacks {var}"
                        );
                        assert!(event.offers(var));
                    }
                    if channel == NoticeChannel::Email {
                        assert!(t.subject.contains("{{ number }}"), "{event} {lang}");
                    }
                }
            }
        }
    }

    #[test]
    fn language_of_text() {
        assert_eq!(Lang::of_text("快递丢了"), Lang::Zh);
        assert_eq!(Lang::of_text("我的訂單還沒到"), Lang::Zh);
        assert_eq!(Lang::of_text("My parcel is lost"), Lang::En);
        assert_eq!(Lang::of_text("订单 12345 still missing"), Lang::Zh);
    }

    #[test]
    fn events_name_their_variables() {
        assert!(Event::Result.offers("confirm_url"));
        assert!(Event::Result.offers("number"));
        assert!(!Event::Received.offers("confirm_url"));
        assert!(!Event::Survey.offers("solution"));
    }
}
