//! The embedded bilingual seed set: hand-written complaint and feedback sentences for every
//! category of the routing matrix (simplified and traditional Chinese, English), written for
//! this project. A fresh install trains its first model on it.

use closedloop_domain::{Category, Nature};

use crate::TriageError;

pub const SEED_TSV: &str = include_str!("../seed/categories.tsv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedExample {
    pub category: Category,
    pub nature: Nature,
    pub text: String,
}

/// Parses the seed file (`category<TAB>nature<TAB>text`, header first).
pub fn parse(tsv: &str) -> Result<Vec<SeedExample>, TriageError> {
    let mut out = Vec::new();
    for (i, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| TriageError::Data {
            path: "seed".into(),
            line: i + 1,
            message,
        };
        let f: Vec<&str> = line.splitn(3, '\t').collect();
        let [c, n, t] = f.as_slice() else {
            return Err(err("expected category<TAB>nature<TAB>text".into()));
        };
        out.push(SeedExample {
            category: Category::parse("category", c).map_err(|e| err(e.to_string()))?,
            nature: n
                .parse()
                .map_err(|e: closedloop_domain::DomainError| err(e.to_string()))?,
            text: (*t).to_owned(),
        });
    }
    Ok(out)
}

pub fn examples() -> Result<Vec<SeedExample>, TriageError> {
    parse(SEED_TSV)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_covers_every_category_in_three_forms() {
        let ex = match examples() {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        for rule in closedloop_domain::RoutingMatrix::RULES {
            let of: Vec<&SeedExample> = ex
                .iter()
                .filter(|e| e.category.as_str() == rule.category)
                .collect();
            assert!(of.len() >= 15, "{} has {}", rule.category, of.len());
            assert!(
                of.iter().any(|e| e.text.is_ascii()),
                "{} lacks English",
                rule.category
            );
        }
    }
}
