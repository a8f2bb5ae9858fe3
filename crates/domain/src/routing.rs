//! Departments and the category → handling / coordinating department matrix (MISSION §2).
//! The defaults below are loaded into a new database; administrators change them afterwards.

use serde::Serialize;

use crate::{Category, Nature};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    pub code: &'static str,
    pub name: &'static str,
    pub name_zh: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutingRule {
    pub category: &'static str,
    pub name: &'static str,
    pub name_zh: &'static str,
    /// The nature a ticket of this category usually has, used when the submitter gives none.
    pub nature: Nature,
    pub handling: &'static str,
    pub coordinating: &'static [&'static str],
}

/// The routing defaults as a value, so the store seeds exactly what the domain tests check.
pub struct RoutingMatrix;

const fn d(code: &'static str, name: &'static str, name_zh: &'static str) -> Department {
    Department {
        code,
        name,
        name_zh,
    }
}

impl RoutingMatrix {
    pub const DEPARTMENTS: &'static [Department] = &[
        d("tech_support", "Technical support", "技术支持部"),
        d("product_dev", "Product development", "产品研发部"),
        d("account_mgmt", "Account management", "账户管理部"),
        d("security", "Security", "安全部"),
        d("content_review", "Content review", "内容审核部"),
        d("legal", "Legal & compliance", "法务合规部"),
        d("customer_service", "Customer service centre", "客服中心"),
        d("hr_training", "HR training", "人力资源培训部"),
        d("payment", "Payment & settlement", "支付结算部"),
        d("finance", "Finance", "财务部"),
        d("privacy", "Privacy team", "隐私保护小组"),
        d("user_research", "User research", "用户研究部"),
        d("quality", "Quality control", "质量管理部"),
        d("logistics", "Logistics", "物流部"),
        d("after_sales", "After-sales", "售后服务部"),
    ];

    pub const RULES: &'static [RoutingRule] = &[
        RoutingRule {
            category: "function_fault",
            name: "Function fault",
            name_zh: "功能故障",
            nature: Nature::Problem,
            handling: "tech_support",
            coordinating: &["product_dev"],
        },
        RoutingRule {
            category: "account",
            name: "Account",
            name_zh: "账户问题",
            nature: Nature::Problem,
            handling: "account_mgmt",
            coordinating: &["security"],
        },
        RoutingRule {
            category: "content",
            name: "Content dispute",
            name_zh: "内容争议",
            nature: Nature::Complaint,
            handling: "content_review",
            coordinating: &["legal"],
        },
        RoutingRule {
            category: "service",
            name: "Service attitude",
            name_zh: "服务态度",
            nature: Nature::Complaint,
            handling: "customer_service",
            coordinating: &["hr_training"],
        },
        RoutingRule {
            category: "payment",
            name: "Payment",
            name_zh: "支付问题",
            nature: Nature::Complaint,
            handling: "payment",
            coordinating: &["finance"],
        },
        RoutingRule {
            category: "privacy",
            name: "Privacy",
            name_zh: "隐私问题",
            nature: Nature::Complaint,
            handling: "privacy",
            coordinating: &["security"],
        },
        RoutingRule {
            category: "suggestion",
            name: "Suggestion",
            name_zh: "功能建议",
            nature: Nature::Suggestion,
            handling: "product_dev",
            coordinating: &["user_research"],
        },
        RoutingRule {
            category: "product_quality",
            name: "Product quality",
            name_zh: "商品质量",
            nature: Nature::Complaint,
            handling: "quality",
            coordinating: &["customer_service"],
        },
        RoutingRule {
            category: "logistics",
            name: "Logistics & delivery",
            name_zh: "物流配送",
            nature: Nature::Complaint,
            handling: "logistics",
            coordinating: &["customer_service"],
        },
        RoutingRule {
            category: "returns",
            name: "Returns & exchanges",
            name_zh: "退换货",
            nature: Nature::Problem,
            handling: "after_sales",
            coordinating: &["finance"],
        },
        RoutingRule {
            category: "consultation",
            name: "Consultation / other",
            name_zh: "咨询及其他",
            nature: Nature::Consultation,
            handling: "customer_service",
            coordinating: &[],
        },
    ];

    /// Where a ticket with no category yet goes: the customer service centre triages it by hand.
    pub const FALLBACK_DEPARTMENT: &'static str = "customer_service";

    pub fn rule(category: &Category) -> Option<&'static RoutingRule> {
        Self::RULES.iter().find(|r| r.category == category.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_known_departments_and_valid_codes() {
        let known = |code: &str| RoutingMatrix::DEPARTMENTS.iter().any(|d| d.code == code);
        for r in RoutingMatrix::RULES {
            assert!(
                Category::parse("category", r.category).is_ok(),
                "{}",
                r.category
            );
            assert!(known(r.handling), "{} → {}", r.category, r.handling);
            assert!(
                r.coordinating.iter().all(|c| known(c) && *c != r.handling),
                "{}",
                r.category
            );
        }
        assert!(known(RoutingMatrix::FALLBACK_DEPARTMENT));
        for dep in RoutingMatrix::DEPARTMENTS {
            assert!(Category::parse("code", dep.code).is_ok(), "{}", dep.code);
        }
    }

    #[test]
    fn mission_matrix_rows() {
        let route = |c: &str| {
            Category::parse("category", c)
                .ok()
                .and_then(|c| RoutingMatrix::rule(&c))
                .map(|r| (r.handling, r.coordinating))
        };
        assert_eq!(route("payment"), Some(("payment", &["finance"][..])));
        assert_eq!(route("account"), Some(("account_mgmt", &["security"][..])));
        assert_eq!(
            route("function_fault"),
            Some(("tech_support", &["product_dev"][..]))
        );
        assert_eq!(route("unknown"), None);
    }
}
