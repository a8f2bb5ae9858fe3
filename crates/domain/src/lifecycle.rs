//! The ticket state machine: which action moves a ticket from which status to which, and who may
//! take it. Everything not in [`RULES`] is illegal.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

use crate::ticket::text_enum;
use crate::{DomainError, Role};

text_enum!(
    /// Where a ticket stands in the closed loop (MISSION §4).
    Status, "status" {
        Received => "received",
        Accepted => "accepted",
        InProgress => "in_progress",
        WaitingOnUser => "waiting_on_user",
        SolutionProposed => "solution_proposed",
        Resolved => "resolved",
        Closed => "closed",
        Duplicate => "duplicate",
        Reopened => "reopened",
        Appeal => "appeal",
    }
);

impl Status {
    /// Still needs work from the organisation (counts in backlogs and SLA clocks).
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed | Status::Duplicate)
    }
}

text_enum!(
    /// Something a person (or the system) does to a ticket that changes its status.
    Action, "action" {
        Accept => "accept",
        Start => "start",
        RequestInfo => "request_info",
        Resume => "resume",
        ProposeSolution => "propose_solution",
        Rework => "rework",
        Resolve => "resolve",
        Close => "close",
        Reopen => "reopen",
        MarkDuplicate => "mark_duplicate",
        Appeal => "appeal",
        UpholdAppeal => "uphold_appeal",
        ReviseAppeal => "revise_appeal",
    }
);

/// Who may take an action: customers act on their own tickets only (the store's scoping makes
/// sure they never reach another's); staff from the given role upwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub customer: bool,
    pub min_staff: Role,
}

/// One legal move.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub action: Action,
    pub from: &'static [Status],
    pub to: Status,
    pub allowed: Allowed,
}

const STAFF: Allowed = Allowed {
    customer: false,
    min_staff: Role::Agent,
};
const CUSTOMER_OR_STAFF: Allowed = Allowed {
    customer: true,
    min_staff: Role::Agent,
};
const SUPERVISOR: Allowed = Allowed {
    customer: false,
    min_staff: Role::Supervisor,
};

use Status::*;

/// The whole state machine as data.
pub const RULES: &[Rule] = &[
    Rule {
        action: Action::Accept,
        from: &[Received, Reopened],
        to: Accepted,
        allowed: STAFF,
    },
    Rule {
        action: Action::Start,
        from: &[Accepted, Reopened],
        to: InProgress,
        allowed: STAFF,
    },
    Rule {
        action: Action::RequestInfo,
        from: &[InProgress],
        to: WaitingOnUser,
        allowed: STAFF,
    },
    // The user answering (through any channel) resumes work; staff can resume after hearing by phone.
    Rule {
        action: Action::Resume,
        from: &[WaitingOnUser],
        to: InProgress,
        allowed: CUSTOMER_OR_STAFF,
    },
    Rule {
        action: Action::ProposeSolution,
        from: &[InProgress],
        to: SolutionProposed,
        allowed: STAFF,
    },
    Rule {
        action: Action::Rework,
        from: &[SolutionProposed],
        to: InProgress,
        allowed: STAFF,
    },
    Rule {
        action: Action::Resolve,
        from: &[SolutionProposed],
        to: Resolved,
        allowed: STAFF,
    },
    // The user confirms the result, or staff close on the user's behalf.
    Rule {
        action: Action::Close,
        from: &[Resolved],
        to: Closed,
        allowed: CUSTOMER_OR_STAFF,
    },
    // The user rejects the result; a closed or duplicate ticket is only reopened by a supervisor.
    Rule {
        action: Action::Reopen,
        from: &[Resolved],
        to: Reopened,
        allowed: CUSTOMER_OR_STAFF,
    },
    Rule {
        action: Action::Reopen,
        from: &[Closed, Duplicate],
        to: Reopened,
        allowed: SUPERVISOR,
    },
    Rule {
        action: Action::MarkDuplicate,
        from: &[Received, Accepted, InProgress, WaitingOnUser, Reopened],
        to: Duplicate,
        allowed: STAFF,
    },
    Rule {
        action: Action::Appeal,
        from: &[Resolved, Closed],
        to: Appeal,
        allowed: CUSTOMER_OR_STAFF,
    },
    Rule {
        action: Action::UpholdAppeal,
        from: &[Appeal],
        to: Closed,
        allowed: SUPERVISOR,
    },
    Rule {
        action: Action::ReviseAppeal,
        from: &[Appeal],
        to: InProgress,
        allowed: SUPERVISOR,
    },
];

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("cannot {action} a ticket that is {from}")]
    Illegal {
        action: Action,
        from: Status,
        to: Option<Status>,
    },
    #[error("a {role} may not {action} a ticket")]
    Forbidden { action: Action, role: Role },
    #[error("the appeal period ended at {deadline}")]
    AppealWindowClosed { deadline: DateTime<Utc> },
}

/// What the rules need to know beyond the status.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub role: Role,
    pub now: DateTime<Utc>,
    /// When the result was given; starts the appeal period.
    pub resolved_at: Option<DateTime<Utc>>,
    pub appeal_window: Duration,
}

/// The default appeal period (MISSION §5).
pub const DEFAULT_APPEAL_WINDOW_DAYS: i64 = 7;

/// Decides the next status, or why not.
pub fn next_status(from: Status, action: Action, ctx: &Context) -> Result<Status, TransitionError> {
    let mut by_action = RULES.iter().filter(|r| r.action == action).peekable();
    let target = by_action.peek().map(|r| r.to);
    let rule = by_action
        .find(|r| r.from.contains(&from))
        .ok_or(TransitionError::Illegal {
            action,
            from,
            to: target,
        })?;
    let permitted = if ctx.role == Role::Customer {
        rule.allowed.customer
    } else {
        ctx.role >= rule.allowed.min_staff
    };
    if !permitted {
        return Err(TransitionError::Forbidden {
            action,
            role: ctx.role,
        });
    }
    if action == Action::Appeal {
        // A closed ticket without a resolution time (closed as duplicate, say) cannot be appealed late.
        if let Some(resolved) = ctx.resolved_at {
            let deadline = resolved + ctx.appeal_window;
            if ctx.now > deadline {
                return Err(TransitionError::AppealWindowClosed { deadline });
            }
        }
    }
    Ok(rule.to)
}

/// The move that takes a ticket from one status straight to another (a drag on the board),
/// among those that need nothing more than a reason: proposing a solution needs its content and
/// marking a duplicate its master, so those are never inferred.
pub fn action_between(from: Status, to: Status) -> Option<Action> {
    RULES
        .iter()
        .filter(|r| !matches!(r.action, Action::ProposeSolution | Action::MarkDuplicate))
        .find(|r| r.to == to && r.from.contains(&from))
        .map(|r| r.action)
}

/// Does a user's reply to a result ask for an appeal? Its first words say so ("申诉", "申訴",
/// "复议", "復議", "appeal"), so that answering the result mail is a way to appeal (MISSION §5)
/// while an ordinary "thank you" stays a reply.
pub fn asks_for_appeal(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let lower = first.to_lowercase();
    [
        "申诉",
        "申訴",
        "复议",
        "復議",
        "我要申诉",
        "我要申訴",
        "appeal",
        "i appeal",
        "i want to appeal",
    ]
    .iter()
    .any(|k| lower.starts_with(k))
}

/// The milestone timestamps a move sets or clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Milestones {
    pub set_accepted: bool,
    pub set_resolved: bool,
    pub set_closed: bool,
    /// Reopening clears the resolution and closing times; the timeline keeps the history.
    pub clear_outcome: bool,
}

pub fn milestones(action: Action, to: Status) -> Milestones {
    Milestones {
        set_accepted: action == Action::Accept,
        set_resolved: action == Action::Resolve,
        set_closed: to == Status::Closed,
        clear_outcome: matches!(to, Status::Reopened | Status::InProgress)
            && matches!(action, Action::Reopen | Action::ReviseAppeal),
    }
}

impl From<TransitionError> for DomainError {
    fn from(e: TransitionError) -> Self {
        DomainError::new("action", "invalid_transition", e.to_string())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_drag_between_columns_maps_to_the_one_move_between_them() {
        assert_eq!(
            action_between(Status::Received, Status::Accepted),
            Some(Action::Accept)
        );
        assert_eq!(
            action_between(Status::Accepted, Status::InProgress),
            Some(Action::Start)
        );
        assert_eq!(
            action_between(Status::WaitingOnUser, Status::InProgress),
            Some(Action::Resume)
        );
        // No move skips acceptance; solutions and duplicates need their own forms.
        assert_eq!(action_between(Status::Received, Status::Resolved), None);
        assert_eq!(
            action_between(Status::InProgress, Status::SolutionProposed),
            None
        );
        assert_eq!(action_between(Status::InProgress, Status::Duplicate), None);
        assert_eq!(action_between(Status::Closed, Status::Closed), None);
    }

    use super::*;
    use chrono::TimeZone;

    fn ctx(role: Role) -> Context {
        Context {
            role,
            now: Utc
                .with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
                .single()
                .unwrap_or_default(),
            resolved_at: None,
            appeal_window: Duration::days(DEFAULT_APPEAL_WINDOW_DAYS),
        }
    }

    #[test]
    fn happy_path_through_every_status() {
        let c = ctx(Role::Agent);
        let mut s = Received;
        for (action, expect) in [
            (Action::Accept, Accepted),
            (Action::Start, InProgress),
            (Action::RequestInfo, WaitingOnUser),
            (Action::Resume, InProgress),
            (Action::ProposeSolution, SolutionProposed),
            (Action::Resolve, Resolved),
            (Action::Close, Closed),
        ] {
            s = next_status(s, action, &c).unwrap_or(s);
            assert_eq!(s, expect, "after {action}");
        }
    }

    /// Every (status, action, role) combination: the answer is Ok exactly when a rule lists it.
    #[test]
    fn exhaustive_table_matches_rules() {
        for &from in Status::ALL {
            for &action in Action::ALL {
                for role in Role::ALL {
                    let got = next_status(from, action, &ctx(role));
                    let rule = RULES
                        .iter()
                        .find(|r| r.action == action && r.from.contains(&from));
                    match rule {
                        None => assert!(
                            matches!(got, Err(TransitionError::Illegal { .. })),
                            "{from} {action} {role}"
                        ),
                        Some(r) => {
                            let permitted = if role == Role::Customer {
                                r.allowed.customer
                            } else {
                                role >= r.allowed.min_staff
                            };
                            if permitted {
                                assert_eq!(got, Ok(r.to), "{from} {action} {role}");
                            } else {
                                assert_eq!(got, Err(TransitionError::Forbidden { action, role }));
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn no_two_rules_overlap() {
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                if a.action == b.action {
                    assert!(
                        a.from.iter().all(|s| !b.from.contains(s)),
                        "{} overlaps",
                        a.action
                    );
                }
            }
        }
    }

    #[test]
    fn illegal_move_names_from_and_to() {
        let err = next_status(Received, Action::Resolve, &ctx(Role::Admin));
        assert_eq!(
            err,
            Err(TransitionError::Illegal {
                action: Action::Resolve,
                from: Received,
                to: Some(Resolved)
            })
        );
    }

    #[test]
    fn customers_cannot_do_staff_work() {
        for action in [
            Action::Accept,
            Action::Start,
            Action::Resolve,
            Action::MarkDuplicate,
        ] {
            let from = RULES
                .iter()
                .find(|r| r.action == action)
                .map(|r| r.from[0])
                .unwrap_or(Received);
            assert!(matches!(
                next_status(from, action, &ctx(Role::Customer)),
                Err(TransitionError::Forbidden { .. })
            ));
        }
    }

    #[test]
    fn only_supervisors_decide_appeals_and_reopen_closed() {
        assert!(next_status(Appeal, Action::UpholdAppeal, &ctx(Role::Agent)).is_err());
        assert_eq!(
            next_status(Appeal, Action::UpholdAppeal, &ctx(Role::Supervisor)),
            Ok(Closed)
        );
        assert!(next_status(Closed, Action::Reopen, &ctx(Role::Customer)).is_err());
        assert_eq!(
            next_status(Resolved, Action::Reopen, &ctx(Role::Customer)),
            Ok(Reopened)
        );
        assert_eq!(
            next_status(Closed, Action::Reopen, &ctx(Role::Admin)),
            Ok(Reopened)
        );
    }

    #[test]
    fn appeal_allowed_within_seven_days_of_resolution_only() {
        let mut c = ctx(Role::Customer);
        c.resolved_at = Some(c.now - Duration::days(6));
        assert_eq!(next_status(Closed, Action::Appeal, &c), Ok(Appeal));
        c.resolved_at = Some(c.now - Duration::days(8));
        assert!(matches!(
            next_status(Closed, Action::Appeal, &c),
            Err(TransitionError::AppealWindowClosed { .. })
        ));
    }

    #[test]
    fn an_appeal_is_asked_for_in_the_first_words() {
        assert!(asks_for_appeal("申诉：退款金额不对"));
        assert!(asks_for_appeal("\n  申訴 金額錯了"));
        assert!(asks_for_appeal("Appeal: the refund is short by 5 yuan"));
        assert!(asks_for_appeal("I want to appeal this decision."));
        assert!(!asks_for_appeal("谢谢，已收到。我不会申诉"));
        assert!(!asks_for_appeal("Thanks! No need to appeal."));
        assert!(!asks_for_appeal(""));
    }

    #[test]
    fn closed_resolved_duplicate_are_not_open() {
        let open: Vec<_> = Status::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(open.len(), Status::ALL.len() - 3);
    }

    #[test]
    fn milestones_follow_actions() {
        assert!(milestones(Action::Accept, Accepted).set_accepted);
        assert!(milestones(Action::Resolve, Resolved).set_resolved);
        assert!(milestones(Action::Close, Closed).set_closed);
        assert!(milestones(Action::UpholdAppeal, Closed).set_closed);
        assert!(milestones(Action::Reopen, Reopened).clear_outcome);
        assert!(!milestones(Action::Resume, InProgress).clear_outcome);
    }
}
