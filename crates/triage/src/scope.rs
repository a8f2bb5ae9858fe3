//! Impact scope hints: does the text say many people are affected?

use closedloop_domain::ImpactScope;

use crate::TriageError;
use crate::matcher::{PhraseMatch, PhraseMatcher};
use crate::text::{Folded, Nlp};

const ALL_USERS: &[&str] = &[
    "所有人",
    "所有用户",
    "全部用户",
    "大家都",
    "大面积",
    "全国",
    "全部人",
    "每个人都",
    "全体用户",
    "所有客户",
    "everyone",
    "everybody",
    "all users",
    "all customers",
    "all of us",
    "nobody can",
    "no one can",
    "widespread",
    "everyone's",
    "for all users",
    "every user",
];
const SOME_USERS: &[&str] = &[
    "很多人",
    "不少人",
    "部分用户",
    "有些用户",
    "好几个人",
    "身边的人",
    "朋友也",
    "同事也",
    "其他人也",
    "别人也",
    "很多用户",
    "大量用户",
    "多个用户",
    "many users",
    "other users",
    "some users",
    "several people",
    "many people",
    "my colleagues",
    "my friends also",
    "not the only one",
    "others too",
    "other people",
    "lots of people",
    "multiple users",
];

#[derive(Debug, Clone)]
pub struct ScopeDetector {
    matcher: PhraseMatcher<ImpactScope>,
}

impl ScopeDetector {
    pub fn new(nlp: &Nlp) -> Result<Self, TriageError> {
        let all = ALL_USERS
            .iter()
            .map(|p| (ImpactScope::AllUsers, (*p).to_owned()))
            .chain(
                SOME_USERS
                    .iter()
                    .map(|p| (ImpactScope::SomeUsers, (*p).to_owned())),
            );
        Ok(Self {
            matcher: PhraseMatcher::new(nlp, all)?,
        })
    }

    /// The widest scope the text claims, with the phrase that says so; `None` means nothing
    /// suggests more than the submitter is affected.
    pub fn detect(&self, folded: &Folded) -> Option<PhraseMatch<ImpactScope>> {
        let mut best: Option<PhraseMatch<ImpactScope>> = None;
        for m in self.matcher.find(folded) {
            if m.negated {
                continue;
            }
            let wider = match (&best, m.tag) {
                (None, _) => true,
                (Some(b), ImpactScope::AllUsers) => b.tag != ImpactScope::AllUsers,
                _ => false,
            };
            if wider {
                best = Some(m);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> Option<ImpactScope> {
        let nlp = match Nlp::new() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let d = match ScopeDetector::new(&nlp) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        d.detect(&nlp.fold(s)).map(|m| m.tag)
    }

    #[test]
    fn scopes_in_three_forms() {
        assert_eq!(scope("大家都登录不了"), Some(ImpactScope::AllUsers));
        assert_eq!(scope("大面積無法使用"), Some(ImpactScope::AllUsers));
        assert_eq!(
            scope("Everyone in our office gets the error"),
            Some(ImpactScope::AllUsers)
        );
        assert_eq!(
            scope("我同事也遇到了，很多人都这样"),
            Some(ImpactScope::SomeUsers)
        );
        assert_eq!(
            scope("I'm not the only one, but everyone is affected"),
            Some(ImpactScope::AllUsers)
        );
        assert_eq!(scope("只有我的账号登录不了"), None);
        assert_eq!(scope(""), None);
    }
}
