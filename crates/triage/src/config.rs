//! Administrator-editable settings: thresholds and keyword rules. The defaults come from the
//! seed files embedded in the crate.

use closedloop_domain::{Category, Nature};
use serde::{Deserialize, Serialize};

use crate::TriageError;
use crate::urgency::{UrgencyDetector, UrgencyKind};

/// A keyword rule: when one of the phrases occurs (in either script, not negated) the ticket
/// gets this category, overriding the model unless the model already agrees with some rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryRule {
    pub category: Category,
    pub keywords: Vec<String>,
}

/// Nature rules add weight to a nature; they do not override (怎么 may open a complaint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatureRule {
    pub nature: Nature,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// Category confidence below this sends the ticket to the review queue.
    pub review_threshold: f32,
    /// Anger intensity (0..1) at or above this raises the priority one level.
    pub anger_threshold: f32,
    /// Whether "all users" in the text raises the priority one level.
    pub raise_on_all_users: bool,
    pub keywords_top_k: usize,
    pub category_rules: Vec<CategoryRule>,
    pub nature_rules: Vec<NatureRule>,
    pub urgency_phrases: Vec<(UrgencyKind, Vec<String>)>,
}

pub const SEED_RULES_TSV: &str = include_str!("../seed/rules.tsv");

impl Default for TriageConfig {
    fn default() -> Self {
        let (category_rules, nature_rules) = parse_rules(SEED_RULES_TSV).unwrap_or_default();
        Self {
            review_threshold: 0.45,
            anger_threshold: 0.6,
            raise_on_all_users: true,
            keywords_top_k: 5,
            category_rules,
            nature_rules,
            urgency_phrases: UrgencyDetector::default_phrases(),
        }
    }
}

/// Parses `kind<TAB>target<TAB>phrase|phrase|…` lines (header first); kind is `category` or
/// `nature`.
pub fn parse_rules(tsv: &str) -> Result<(Vec<CategoryRule>, Vec<NatureRule>), TriageError> {
    let mut cats = Vec::new();
    let mut natures = Vec::new();
    for (i, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| TriageError::Data {
            path: "rules".into(),
            line: i + 1,
            message,
        };
        let f: Vec<&str> = line.splitn(3, '\t').collect();
        let [kind, target, phrases] = f.as_slice() else {
            return Err(err("expected kind<TAB>target<TAB>phrases".into()));
        };
        let keywords: Vec<String> = phrases
            .split('|')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        match *kind {
            "category" => cats.push(CategoryRule {
                category: Category::parse("category", target).map_err(|e| err(e.to_string()))?,
                keywords,
            }),
            "nature" => natures.push(NatureRule {
                nature: target
                    .parse()
                    .map_err(|e: closedloop_domain::DomainError| err(e.to_string()))?,
                keywords,
            }),
            other => return Err(err(format!("unknown rule kind {other:?}"))),
        }
    }
    Ok((cats, natures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_rules_parse_and_cover_every_routing_category() {
        let (cats, natures) = match parse_rules(SEED_RULES_TSV) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        for rule in closedloop_domain::RoutingMatrix::RULES {
            assert!(
                cats.iter().any(|c| c.category.as_str() == rule.category),
                "{}",
                rule.category
            );
        }
        assert_eq!(natures.len(), 3);
        assert!(!TriageConfig::default().category_rules.is_empty());
    }

    #[test]
    fn config_round_trips_through_json_and_refuses_unknown_keys() {
        let c = TriageConfig::default();
        let json = serde_json::to_string(&c).unwrap_or_default();
        let back: Result<TriageConfig, _> = serde_json::from_str(&json);
        assert!(back.is_ok());
        let bad: Result<TriageConfig, _> = serde_json::from_str(r#"{"review_treshold": 0.2}"#);
        assert!(bad.is_err());
    }
}
