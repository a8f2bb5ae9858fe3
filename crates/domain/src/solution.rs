//! Solutions and their approval (MISSION §4): what the organisation offers the user, and which
//! offers a supervisor must approve before the user is told.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

use crate::ticket::text_enum;
use crate::{DomainError, Role};

text_enum!(
    /// What kind of answer the user gets.
    SolutionKind, "kind" {
        Fix => "fix",
        AccountRecovery => "account_recovery",
        ContentCorrection => "content_correction",
        Compensation => "compensation",
        Explanation => "explanation",
        SuggestionAdopted => "suggestion_adopted",
    }
);

text_enum!(
    /// What a compensation gives.
    CompensationKind, "compensation.kind" {
        Coupon => "coupon",
        ServiceExtension => "service_extension",
        PartialRefund => "partial_refund",
    }
);

text_enum!(
    /// Where a solution stands with its approver.
    Approval, "approval" {
        NotRequired => "not_required",
        Pending => "pending",
        Approved => "approved",
        Rejected => "rejected",
    }
);

/// A compensation: `amount` in the smallest unit of what is given (cents for a coupon or a
/// refund, days for a service extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Compensation {
    pub kind: CompensationKind,
    pub amount: i64,
}

impl Compensation {
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.amount <= 0 {
            return Err(DomainError::new(
                "compensation.amount",
                "invalid_value",
                "must be a positive amount (cents, or days for a service extension)",
            ));
        }
        Ok(())
    }
}

/// When a solution needs a supervisor's approval before the user is told. Defaults follow
/// MISSION §4: refunds, compensation and cross-department solutions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalPolicy {
    /// Every partial refund, whatever its amount.
    pub refunds: bool,
    /// Any compensation above this amount (0: every compensation); `None`: by amount never.
    pub compensation_above: Option<i64>,
    /// Solutions that involve another department than the handling one.
    pub cross_department: bool,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            refunds: true,
            compensation_above: Some(0),
            cross_department: true,
        }
    }
}

/// Why a solution waits for approval; shown to the approver and on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalReason {
    Refund,
    CompensationAbove(i64),
    CrossDepartment,
}

impl fmt::Display for ApprovalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApprovalReason::Refund => f.write_str("a refund"),
            ApprovalReason::CompensationAbove(limit) => {
                write!(f, "compensation above {limit}")
            }
            ApprovalReason::CrossDepartment => f.write_str("involves another department"),
        }
    }
}

impl ApprovalPolicy {
    /// Every rule the solution meets; empty when it needs no approval.
    pub fn reasons(
        &self,
        compensation: Option<&Compensation>,
        other_departments: bool,
    ) -> Vec<ApprovalReason> {
        let mut reasons = Vec::new();
        if let Some(c) = compensation {
            if self.refunds && c.kind == CompensationKind::PartialRefund {
                reasons.push(ApprovalReason::Refund);
            }
            if let Some(limit) = self.compensation_above
                && c.amount > limit
            {
                reasons.push(ApprovalReason::CompensationAbove(limit));
            }
        }
        if self.cross_department && other_departments {
            reasons.push(ApprovalReason::CrossDepartment);
        }
        reasons
    }
}

/// Why an approval decision or a resolution was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApprovalError {
    #[error("this solution is {0}, not waiting for a decision")]
    NotPending(Approval),
    #[error("nobody may approve their own proposal")]
    OwnProposal,
    #[error("only a supervisor or an administrator decides on approvals")]
    NotSupervisor,
    #[error("the solution waits for a supervisor's approval")]
    AwaitingApproval,
    #[error("the solution was rejected; propose another")]
    Rejected,
}

impl ApprovalError {
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalError::NotPending(_) => "not_pending",
            ApprovalError::OwnProposal => "own_proposal",
            ApprovalError::NotSupervisor => "not_supervisor",
            ApprovalError::AwaitingApproval => "approval_required",
            ApprovalError::Rejected => "solution_rejected",
        }
    }
}

/// May `decider` approve or reject a solution proposed by `proposer`?
pub fn may_decide(
    state: Approval,
    proposer_id: i64,
    decider_id: i64,
    decider_role: Role,
) -> Result<(), ApprovalError> {
    if decider_role < Role::Supervisor {
        return Err(ApprovalError::NotSupervisor);
    }
    if state != Approval::Pending {
        return Err(ApprovalError::NotPending(state));
    }
    if proposer_id == decider_id {
        return Err(ApprovalError::OwnProposal);
    }
    Ok(())
}

/// May the ticket be resolved (the user told) given its latest solution's approval?
pub fn may_resolve(latest: Option<Approval>) -> Result<(), ApprovalError> {
    match latest {
        Some(Approval::Pending) => Err(ApprovalError::AwaitingApproval),
        Some(Approval::Rejected) => Err(ApprovalError::Rejected),
        _ => Ok(()),
    }
}

impl From<ApprovalError> for DomainError {
    fn from(e: ApprovalError) -> Self {
        DomainError::new("solution", e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund(amount: i64) -> Compensation {
        Compensation {
            kind: CompensationKind::PartialRefund,
            amount,
        }
    }

    #[test]
    fn default_policy_follows_the_mission() {
        let p = ApprovalPolicy::default();
        assert_eq!(
            p.reasons(Some(&refund(100)), false),
            vec![ApprovalReason::Refund, ApprovalReason::CompensationAbove(0)]
        );
        let coupon = Compensation {
            kind: CompensationKind::Coupon,
            amount: 500,
        };
        assert_eq!(
            p.reasons(Some(&coupon), false),
            vec![ApprovalReason::CompensationAbove(0)]
        );
        assert!(p.reasons(None, false).is_empty());
        assert_eq!(p.reasons(None, true), vec![ApprovalReason::CrossDepartment]);
    }

    #[test]
    fn thresholds_are_configurable() {
        let p = ApprovalPolicy {
            refunds: false,
            compensation_above: Some(5_000),
            cross_department: false,
        };
        assert!(p.reasons(Some(&refund(5_000)), true).is_empty());
        assert_eq!(
            p.reasons(Some(&refund(5_001)), true),
            vec![ApprovalReason::CompensationAbove(5_000)]
        );
        let never = ApprovalPolicy {
            compensation_above: None,
            ..p
        };
        assert!(never.reasons(Some(&refund(1_000_000)), true).is_empty());
    }

    #[test]
    fn nobody_approves_their_own_proposal() {
        assert_eq!(
            may_decide(Approval::Pending, 7, 7, Role::Supervisor),
            Err(ApprovalError::OwnProposal)
        );
        assert_eq!(
            may_decide(Approval::Pending, 7, 7, Role::Admin),
            Err(ApprovalError::OwnProposal)
        );
        assert_eq!(
            may_decide(Approval::Pending, 7, 8, Role::Supervisor),
            Ok(())
        );
    }

    #[test]
    fn only_supervisors_decide_and_only_once() {
        for role in [Role::Customer, Role::Agent] {
            assert_eq!(
                may_decide(Approval::Pending, 7, 8, role),
                Err(ApprovalError::NotSupervisor)
            );
        }
        for state in [
            Approval::Approved,
            Approval::Rejected,
            Approval::NotRequired,
        ] {
            assert_eq!(
                may_decide(state, 7, 8, Role::Admin),
                Err(ApprovalError::NotPending(state))
            );
        }
    }

    #[test]
    fn resolution_waits_for_approval() {
        assert_eq!(
            may_resolve(Some(Approval::Pending)),
            Err(ApprovalError::AwaitingApproval)
        );
        assert_eq!(
            may_resolve(Some(Approval::Rejected)),
            Err(ApprovalError::Rejected)
        );
        assert_eq!(may_resolve(Some(Approval::Approved)), Ok(()));
        assert_eq!(may_resolve(Some(Approval::NotRequired)), Ok(()));
        assert_eq!(may_resolve(None), Ok(()));
    }

    #[test]
    fn compensation_needs_a_positive_amount() {
        assert!(refund(0).validate().is_err());
        assert!(refund(-5).validate().is_err());
        assert!(refund(1).validate().is_ok());
    }
}
