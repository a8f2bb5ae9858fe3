use closedloop_domain::{ImpactScope, Nature, Priority};
use closedloop_triage::{Field, Language, Source, TicketText, UrgencyKind, Verdict};

use crate::triage;

fn analyse(description: &str) -> Verdict {
    triage().analyse(TicketText {
        title: None,
        description,
    })
}

#[test]
fn simplified_payment_complaint_is_urgent_with_evidence() {
    let v = analyse("昨天同一笔订单被扣了两次钱，客服也不理人，太过分了！");
    assert_eq!(v.category.category.as_str(), "payment", "{v:#?}");
    assert_eq!(v.priority, Priority::P1);
    let flag = v.urgent.iter().find(|f| f.kind == UrgencyKind::MoneyLoss);
    assert!(flag.is_some(), "{:?}", v.urgent);
    assert!(v.reasons.iter().any(|r| r.code == "urgent_money_loss"));
    assert_eq!(v.language, Language::ZhHans);
    assert!(v.title_generated);
    assert!(v.sentiment.score < 0.0);
}

#[test]
fn traditional_account_theft_quotes_the_original_characters() {
    let original = "我的帳號被盜了，密碼也被改了，請盡快處理";
    let v = analyse(original);
    assert_eq!(v.language, Language::ZhHant);
    assert_eq!(v.category.category.as_str(), "account", "{v:#?}");
    let flag = v
        .urgent
        .iter()
        .find(|f| f.kind == UrgencyKind::AccountSecurity);
    let Some(flag) = flag else {
        panic!("{:?}", v.urgent)
    };
    assert_eq!(
        &original[flag.evidence.start..flag.evidence.end],
        flag.evidence.text
    );
    assert!(flag.evidence.text.contains('盜'), "{:?}", flag.evidence);
    assert_eq!(v.priority, Priority::P1);
}

#[test]
fn english_suggestion_is_low_priority() {
    let v = analyse("It would be great to have a dark mode in the mobile app.");
    assert_eq!(v.category.category.as_str(), "suggestion");
    assert_eq!(v.nature.nature, Nature::Suggestion);
    assert_eq!(v.priority, Priority::P3);
    assert!(v.urgent.is_empty());
    assert_eq!(v.language, Language::En);
}

#[test]
fn mixed_language_outage_affecting_everyone() {
    let v = analyse("今天早上开始 app 完全打不开，大家都登录不了，error 503");
    assert_eq!(v.language, Language::Mixed);
    assert!(
        v.urgent.iter().any(|f| f.kind == UrgencyKind::Outage),
        "{:?}",
        v.urgent
    );
    assert_eq!(v.impact.scope, ImpactScope::AllUsers);
    assert!(v.impact.evidence.is_some());
    assert_eq!(v.priority, Priority::P1);
}

#[test]
fn negated_security_words_do_not_raise_priority() {
    let v = analyse("账号没有被盗，只是想问一下怎么修改绑定的邮箱");
    assert!(v.urgent.is_empty(), "{:?}", v.urgent);
    assert_ne!(v.priority, Priority::P1);
    let en = analyse("My account was not hacked, I just want to change my email address");
    assert!(en.urgent.is_empty(), "{:?}", en.urgent);
}

#[test]
fn anger_raises_priority_with_a_reason() {
    let calm = analyse("快递还没到，麻烦查一下");
    let angry = analyse("快递还没到，什么垃圾服务，气死我了，骗子公司！！！");
    assert!(
        angry.sentiment.emotions.anger >= 0.6,
        "{:?}",
        angry.sentiment
    );
    assert!(angry.reasons.iter().any(|r| r.code == "anger_high"));
    assert_eq!(calm.priority, Priority::P2);
    assert_eq!(angry.priority, Priority::P1);
}

#[test]
fn user_title_is_kept_and_evidence_points_into_it() {
    let v = triage().analyse(TicketText {
        title: Some("帳號被盜"),
        description: "昨晚收到异地登录提醒",
    });
    assert_eq!(v.title, "帳號被盜");
    assert!(!v.title_generated);
    let f = &v.urgent[0].evidence;
    assert_eq!(f.field, Field::Title);
    assert_eq!(&"帳號被盜"[f.start..f.end], f.text);
}

#[test]
fn rules_override_the_model_and_say_so() {
    let v = analyse("收到的包裹被压坏了");
    assert_eq!(v.category.category.as_str(), "logistics");
    assert!(matches!(
        v.category.source,
        Source::Rule | Source::ModelAndRule
    ));
    assert!(
        v.reasons
            .iter()
            .any(|r| r.code.starts_with("category_") && r.evidence.is_some())
    );
}

#[test]
fn emoji_only_and_empty_need_review_without_panicking() {
    for text in ["", "   ", "😡😡😡", "？？？！！！", "\u{200b}"] {
        let v = analyse(text);
        assert!(
            v.needs_review || !v.urgent.is_empty() || v.sentiment.emotions.anger > 0.0,
            "{text:?}"
        );
        assert!(v.category.confidence >= 0.0 && v.category.confidence <= 1.0);
    }
    assert!(analyse("").reasons.iter().any(|r| r.code == "empty_text"));
    let angry = analyse("😡😡😡");
    assert!(angry.sentiment.emotions.anger > 0.5);
}

#[test]
fn huge_input_is_capped_and_fast() {
    let big = "支付失败了，钱被扣了。".repeat(10_000); // ~300 KB
    let start = std::time::Instant::now();
    let v = analyse(&big);
    assert!(v.truncated);
    assert!(v.reasons.iter().any(|r| r.code == "text_truncated"));
    assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());
    let latin = "a".repeat(100_000);
    let v = analyse(&latin);
    assert!(v.truncated);
}

#[test]
fn keywords_and_title_are_given() {
    let v = analyse("退款申请提交了十天，退款还是没有到账。订单号123456");
    assert_eq!(v.title, "退款申请提交了十天，退款还是没有到账");
    assert!(
        v.keywords.iter().any(|k| k.text == "退款"),
        "{:?}",
        v.keywords
    );
}

#[test]
fn legal_threat_in_three_forms() {
    for t in [
        "再不解决我就去12315投诉",
        "我會請律師起訴你們",
        "I will take legal action and call my lawyer",
    ] {
        let v = analyse(t);
        assert!(
            v.urgent.iter().any(|f| f.kind == UrgencyKind::LegalThreat),
            "{t}: {:?}",
            v.urgent
        );
    }
}

#[test]
fn verdict_serialises_to_json_and_back() {
    let v = analyse("充电器用的时候冒烟了，差点起火");
    assert!(
        v.urgent
            .iter()
            .any(|f| f.kind == UrgencyKind::PersonalSafety)
    );
    let json = serde_json::to_string(&v).unwrap_or_default();
    assert!(json.contains("\"urgent_personal_safety\"") || json.contains("\"personal_safety\""));
    let back: Result<Verdict, _> = serde_json::from_str(&json);
    assert_eq!(back.ok().as_ref(), Some(&v));
}

#[test]
fn triage_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<closedloop_triage::Triage>();
    let t = triage().clone();
    let h = std::thread::spawn(move || {
        t.analyse(TicketText {
            title: None,
            description: "App crashes on start",
        })
    });
    assert!(h.join().is_ok());
}

#[test]
fn terms_are_the_verdicts_keywords_and_sentiment() {
    for text in [
        "快遞三天還沒送到，物流一直不更新，客服也不回覆，太差了！",
        "Refund not received: I cancelled the order and the refund never arrived.",
    ] {
        let ticket = TicketText {
            title: None,
            description: text,
        };
        let v = triage().analyse(ticket);
        let (keywords, sentiment) = triage().terms(ticket);
        let expected: Vec<String> = v.keywords.iter().map(|k| k.text.clone()).collect();
        assert_eq!(keywords, expected, "{text}");
        assert!(!keywords.is_empty());
        assert!((sentiment - v.sentiment.score).abs() < 1e-6, "{text}");
    }
    // Traditional text is read in its simplified form, like every other feature.
    let (keywords, sentiment) = triage().terms(TicketText {
        title: None,
        description: "快遞三天還沒送到，物流一直不更新，客服也不回覆，太差了！",
    });
    assert!(
        keywords.iter().any(|k| k == "快递" || k == "物流"),
        "{keywords:?}"
    );
    assert!(sentiment < -0.2, "{sentiment}");
}
