//! Urgent signals (MISSION §2): account security, money loss, personal safety, outage and legal
//! threats. Each is a phrase list in simplified Chinese and English; traditional input matches
//! through folding. A negated phrase ("没有被盗", "not hacked") does not raise a flag.

use serde::{Deserialize, Serialize};

use crate::TriageError;
use crate::matcher::{PhraseMatch, PhraseMatcher};
use crate::text::{Folded, Nlp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyKind {
    AccountSecurity,
    MoneyLoss,
    PersonalSafety,
    Outage,
    LegalThreat,
}

impl UrgencyKind {
    pub fn code(self) -> &'static str {
        match self {
            UrgencyKind::AccountSecurity => "urgent_account_security",
            UrgencyKind::MoneyLoss => "urgent_money_loss",
            UrgencyKind::PersonalSafety => "urgent_personal_safety",
            UrgencyKind::Outage => "urgent_outage",
            UrgencyKind::LegalThreat => "urgent_legal_threat",
        }
    }
}

use UrgencyKind::*;

pub const DEFAULT_PHRASES: &[(UrgencyKind, &[&str])] = &[
    (
        AccountSecurity,
        &[
            "盗号",
            "被盗",
            "账号被盗",
            "被盗号",
            "异地登录",
            "陌生设备登录",
            "被人登录",
            "密码被改",
            "被改了密码",
            "被黑",
            "被入侵",
            "未经授权登录",
            "被别人登录",
            "hacked",
            "account hacked",
            "unauthorised login",
            "unauthorized login",
            "unauthorised access",
            "unauthorized access",
            "someone logged into",
            "someone logged in",
            "compromised",
            "stolen account",
            "account stolen",
            "password was changed",
            "password has been changed",
        ],
    ),
    (
        MoneyLoss,
        &[
            "扣款",
            "被扣款",
            "重复扣款",
            "扣了两次",
            "扣两次",
            "多扣",
            "乱扣费",
            "乱扣",
            "莫名扣费",
            "被骗",
            "诈骗",
            "骗钱",
            "钱没了",
            "资金损失",
            "钱被转走",
            "被转走",
            "盗刷",
            "被盗刷",
            "少了钱",
            "余额不见",
            "charged twice",
            "double charged",
            "charged two times",
            "lost money",
            "money stolen",
            "money was taken",
            "fraud",
            "scam",
            "scammed",
            "unauthorised charge",
            "unauthorized charge",
            "unauthorised transaction",
            "unauthorized transaction",
            "charged without",
            "missing money",
        ],
    ),
    (
        PersonalSafety,
        &[
            "起火",
            "着火",
            "失火",
            "爆炸",
            "炸了",
            "受伤",
            "触电",
            "漏电",
            "烫伤",
            "烧伤",
            "冒烟",
            "自燃",
            "中毒",
            "人身安全",
            "伤到",
            "住院",
            "fire",
            "caught fire",
            "on fire",
            "exploded",
            "explosion",
            "explode",
            "injury",
            "injured",
            "electric shock",
            "electrocuted",
            "smoke",
            "burned",
            "burnt",
            "poisoning",
            "hospital",
            "unsafe",
        ],
    ),
    (
        Outage,
        &[
            "打不开",
            "全部无法使用",
            "都用不了",
            "无法使用",
            "完全用不了",
            "宕机",
            "服务器挂了",
            "挂了",
            "瘫痪",
            "全站",
            "服务不可用",
            "登不上去",
            "所有功能",
            "崩了",
            "outage",
            "is down",
            "are down",
            "went down",
            "site down",
            "app down",
            "service unavailable",
            "not loading",
            "cannot access",
            "can't access",
            "nothing works",
            "completely broken",
            "503",
            "502",
        ],
    ),
    (
        LegalThreat,
        &[
            "起诉",
            "律师",
            "消协",
            "12315",
            "法院",
            "工商局",
            "市场监管局",
            "报警",
            "媒体曝光",
            "曝光",
            "维权",
            "打官司",
            "仲裁",
            "lawsuit",
            "lawyer",
            "sue",
            "suing",
            "legal action",
            "attorney",
            "court",
            "consumer protection",
            "report to the police",
            "small claims",
            "regulator",
        ],
    ),
];

/// One urgent signal found in the text.
#[derive(Debug, Clone)]
pub struct UrgentHit {
    pub kind: UrgencyKind,
    pub m: PhraseMatch<UrgencyKind>,
}

#[derive(Debug, Clone)]
pub struct UrgencyDetector {
    matcher: PhraseMatcher<UrgencyKind>,
}

impl UrgencyDetector {
    pub fn new(nlp: &Nlp, phrases: &[(UrgencyKind, Vec<String>)]) -> Result<Self, TriageError> {
        let all = phrases
            .iter()
            .flat_map(|(k, ps)| ps.iter().map(move |p| (*k, p.clone())));
        Ok(Self {
            matcher: PhraseMatcher::new(nlp, all)?,
        })
    }

    pub fn default_phrases() -> Vec<(UrgencyKind, Vec<String>)> {
        DEFAULT_PHRASES
            .iter()
            .map(|(k, ps)| (*k, ps.iter().map(|p| (*p).to_owned()).collect()))
            .collect()
    }

    /// The first non-negated match of each kind, in text order.
    pub fn detect(&self, folded: &Folded) -> Vec<UrgentHit> {
        let mut out: Vec<UrgentHit> = Vec::new();
        for m in self.matcher.find(folded) {
            if m.negated || out.iter().any(|h| h.kind == m.tag) {
                continue;
            }
            out.push(UrgentHit { kind: m.tag, m });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<UrgencyKind> {
        let nlp = match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let d = match UrgencyDetector::new(&nlp, &UrgencyDetector::default_phrases()) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        d.detect(&nlp.fold(s)).into_iter().map(|h| h.kind).collect()
    }

    #[test]
    fn each_kind_in_simplified_traditional_and_english() {
        assert_eq!(kinds("我的账号被盗了"), vec![AccountSecurity]);
        assert_eq!(kinds("我的帳號被盜了"), vec![AccountSecurity]);
        assert_eq!(kinds("Someone hacked my account"), vec![AccountSecurity]);
        assert_eq!(kinds("同一笔订单扣了两次钱"), vec![MoneyLoss]);
        assert_eq!(kinds("I was charged twice"), vec![MoneyLoss]);
        assert_eq!(kinds("充电器冒烟起火了"), vec![PersonalSafety]);
        assert_eq!(kinds("充電器冒煙起火了"), vec![PersonalSafety]);
        assert_eq!(kinds("the charger caught fire"), vec![PersonalSafety]);
        assert_eq!(kinds("APP完全打不开"), vec![Outage]);
        assert_eq!(kinds("the site is down for everyone"), vec![Outage]);
        assert_eq!(kinds("再不处理我就去12315投诉"), vec![LegalThreat]);
        assert_eq!(kinds("我會請律師起訴你們"), vec![LegalThreat]);
        assert_eq!(kinds("I will contact my lawyer"), vec![LegalThreat]);
    }

    #[test]
    fn negation_and_word_boundaries() {
        assert!(kinds("账号没有被盗，只是忘记密码").is_empty());
        assert!(kinds("my account was not hacked, I just forgot the password").is_empty());
        assert!(kinds("this issue is minor").is_empty());
        assert_eq!(kinds("我不小心被骗了"), vec![MoneyLoss]);
        assert_eq!(kinds("被盗了？没有办法登录"), vec![AccountSecurity]);
    }

    #[test]
    fn several_kinds_at_once() {
        let k = kinds("账号被盗，还被盗刷了5000元，我要报警");
        assert!(k.contains(&AccountSecurity) && k.contains(&MoneyLoss) && k.contains(&LegalThreat));
    }
}
