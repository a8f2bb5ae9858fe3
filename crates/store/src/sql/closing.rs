//! Closing the loop: solutions and their approval, what each move tells the user, appeals
//! reviewed by someone not involved before, satisfaction answers, confirmation by link and
//! the automatic close of results nobody answered.

use chrono::DateTime;
use closedloop_domain::lifecycle::{self, Context};
use closedloop_domain::notice::Event;
use closedloop_domain::solution::{self, Approval, Compensation, CompensationKind};
use closedloop_domain::{Action, Role, Status, TicketNumber};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::notices::queue;
use super::tickets::{append, append_change, load_scoped, record_move, ticket_by_id};
use super::{SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{
    Appeal, AppealOutcome, EntryKind, LinkAction, LoopPolicy, NewSolution, Preferences, Principal,
    Result, Solution, StoreError, SurveyAnswer, Ticket, TransitionRequest,
};

const SOLUTION_SELECT: &str = "SELECT s.id, t.number, s.kind, s.summary, s.compensation_kind, \
    s.compensation_amount, s.instructions, s.cause, s.improvement, s.apology, s.departments, \
    s.expected_by, s.proposed_by, s.proposed_at, s.approval, s.approval_reasons, s.decided_by, \
    s.decided_at, s.decision_note FROM solutions s JOIN tickets t ON t.id = s.ticket_id";

fn solution(r: &sqlx::any::AnyRow) -> Result<Solution> {
    let compensation = match r.try_get::<Option<String>, _>(4)? {
        Some(kind) => Some(Compensation {
            kind: parse_stored::<CompensationKind>(&kind)?,
            amount: r.try_get::<Option<i64>, _>(5)?.unwrap_or_default(),
        }),
        None => None,
    };
    let list = |s: String| -> Vec<String> {
        s.split(['\n', ','])
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Ok(Solution {
        id: r.try_get(0)?,
        ticket_number: parse_stored(&r.try_get::<String, _>(1)?)?,
        kind: parse_stored(&r.try_get::<String, _>(2)?)?,
        summary: r.try_get(3)?,
        compensation,
        instructions: r.try_get(6)?,
        cause: r.try_get(7)?,
        improvement: r.try_get(8)?,
        apology: r.try_get::<i64, _>(9)? != 0,
        departments: list(r.try_get(10)?),
        expected_by: r.try_get::<Option<i64>, _>(11)?.map(from_ms),
        proposed_by: r.try_get(12)?,
        proposed_at: from_ms(r.try_get(13)?),
        approval: parse_stored(&r.try_get::<String, _>(14)?)?,
        approval_reasons: r
            .try_get::<String, _>(15)?
            .split('\n')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect(),
        decided_by: r.try_get(16)?,
        decided_at: r.try_get::<Option<i64>, _>(17)?.map(from_ms),
        decision_note: r.try_get(18)?,
    })
}

async fn latest_solution(conn: &mut AnyConnection, ticket_id: i64) -> Result<Option<Solution>> {
    let row = sqlx::query(&format!(
        "{SOLUTION_SELECT} WHERE s.ticket_id = $1 ORDER BY s.id DESC LIMIT 1"
    ))
    .bind(ticket_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(solution).transpose()
}

/// What the result message says: the newest solution, or the note given with `resolve`.
fn result_params(
    latest: Option<&Solution>,
    reason: Option<&str>,
    policy: &LoopPolicy,
) -> serde_json::Value {
    let days = policy.appeal_window.num_days();
    match latest {
        Some(s) => json!({
            "solution": s.summary,
            "compensation": s.compensation.map(|c| match c.kind {
                CompensationKind::Coupon => format!("coupon {}.{:02}", c.amount / 100, c.amount % 100),
                CompensationKind::PartialRefund => format!("refund {}.{:02}", c.amount / 100, c.amount % 100),
                CompensationKind::ServiceExtension => format!("service extended by {} days", c.amount),
            }),
            "instructions": s.instructions,
            "cause": s.cause,
            "improvement": s.improvement,
            "apology": s.apology,
            "expected_by": s.expected_by.map(|d| d.format("%Y-%m-%d").to_string()),
            "appeal_days": days,
        }),
        None => json!({ "solution": reason.unwrap_or_default(), "appeal_days": days }),
    }
}

/// Has `user_id` handled the ticket before `before_ms` (proposed or decided a solution,
/// moved it other than as an appeal's reviewer, or answered the user)? Such a person does not
/// review its appeal.
async fn involved(
    conn: &mut AnyConnection,
    ticket_id: i64,
    user_id: i64,
    before_ms: i64,
) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM solutions WHERE ticket_id = $1 AND (proposed_by = $2 OR decided_by = $2)) + \
         (SELECT COUNT(*) FROM timeline WHERE ticket_id = $1 AND actor_id = $2 AND created_at < $3 \
          AND (kind = 'reply' OR (kind = 'status_changed' AND COALESCE(old_value, '') <> 'appeal')))",
    )
    .bind(ticket_id)
    .bind(user_id)
    .bind(before_ms)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// A reviewer for an appeal: a supervisor of the handling department (an administrator when
/// `level` is admin) who has not handled the ticket, the least busy with reviews first.
async fn pick_reviewer(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    role: Role,
    now_ms: i64,
) -> Result<Option<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT u.id, u.name FROM users u WHERE u.active = 1 AND u.role = $1 AND ($1 = 'admin' OR EXISTS \
         (SELECT 1 FROM user_departments ud JOIN tickets t ON t.department_id = ud.department_id \
          WHERE ud.user_id = u.id AND t.id = $2)) \
         ORDER BY (SELECT COUNT(*) FROM appeals a WHERE a.reviewer_id = u.id AND a.outcome IS NULL), u.id",
    )
    .bind(role.as_str())
    .bind(ticket.id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let id: i64 = r.try_get(0)?;
        if !involved(conn, ticket.id, id, now_ms).await? {
            return Ok(Some((id, r.try_get(1)?)));
        }
    }
    Ok(None)
}

/// Opens a review for an appeal and hands the ticket to its reviewer.
pub(super) async fn open_review(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    reason: &str,
    opened_by: Option<i64>,
    level: Role,
    now_ms: i64,
) -> Result<()> {
    let reviewer = pick_reviewer(conn, ticket, level, now_ms).await?;
    sqlx::query(
        "INSERT INTO appeals (ticket_id, reason, opened_by, opened_at, reviewer_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ticket.id)
    .bind(reason)
    .bind(opened_by)
    .bind(now_ms)
    .bind(reviewer.as_ref().map(|r| r.0))
    .execute(&mut *conn)
    .await?;
    append(
        conn,
        ticket.id,
        EntryKind::Appeal,
        true,
        opened_by,
        Some(reason),
        Some("appeal"),
        Some("opened"),
        now_ms,
    )
    .await?;
    match reviewer {
        Some((id, name)) => {
            sqlx::query("UPDATE tickets SET assignee_id = $1 WHERE id = $2")
                .bind(id)
                .bind(ticket.id)
                .execute(&mut *conn)
                .await?;
            append_change(
                conn,
                ticket.id,
                EntryKind::Assigned,
                false,
                None,
                Some("appeal review"),
                Some("assignee"),
                ticket.assignee_name.as_deref(),
                Some(&name),
                now_ms,
            )
            .await?;
        }
        None => {
            append(
                conn,
                ticket.id,
                EntryKind::Note,
                false,
                None,
                Some("No reviewer who has not handled this ticket is available; a supervisor must take the review."),
                None,
                None,
                now_ms,
            )
            .await?;
        }
    }
    Ok(())
}

/// Ends the open review with `outcome`, and tells the user.
async fn close_review(
    conn: &mut AnyConnection,
    policy: &LoopPolicy,
    ticket_id: i64,
    outcome: AppealOutcome,
    note: &str,
    actor_id: i64,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE appeals SET outcome = $1, note = $2, decided_by = $3, decided_at = $4 \
         WHERE ticket_id = $5 AND outcome IS NULL",
    )
    .bind(outcome.as_str())
    .bind(note)
    .bind(actor_id)
    .bind(now_ms)
    .bind(ticket_id)
    .execute(&mut *conn)
    .await?;
    append(
        conn,
        ticket_id,
        EntryKind::Appeal,
        true,
        Some(actor_id),
        Some(note),
        Some("appeal"),
        Some(outcome.as_str()),
        now_ms,
    )
    .await?;
    queue(
        conn,
        policy,
        ticket_id,
        Event::AppealOutcome,
        &json!({ "outcome": outcome.as_str(), "note": note }),
        false,
        now_ms,
    )
    .await
}

/// The checks a move must pass beyond the state machine, made before anything is written.
pub(super) async fn check_move(
    conn: &mut AnyConnection,
    actor: &Principal,
    ticket: &Ticket,
    req: &TransitionRequest,
    now_ms: i64,
) -> Result<()> {
    let reason = req.reason.as_deref().map(str::trim).unwrap_or_default();
    match req.action {
        Action::Resolve => {
            let latest = latest_solution(conn, ticket.id).await?;
            solution::may_resolve(latest.as_ref().map(|s| s.approval))?;
            if latest.is_none() && reason.is_empty() {
                return Err(StoreError::invalid(
                    "reason",
                    "required",
                    "say what was done for the user (or propose a solution first)",
                ));
            }
        }
        Action::Appeal if reason.is_empty() => {
            return Err(StoreError::invalid(
                "reason",
                "required",
                "say why you appeal",
            ));
        }
        Action::RequestInfo if req.checklist.is_empty() && reason.is_empty() => {
            return Err(StoreError::invalid(
                "checklist",
                "required",
                "list what the user should send (time, steps, screenshots, expected result)",
            ));
        }
        Action::UpholdAppeal | Action::ReviseAppeal => {
            if reason.is_empty() {
                return Err(StoreError::invalid(
                    "reason",
                    "required",
                    "explain the outcome to the user",
                ));
            }
            let opened: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(opened_at) FROM appeals WHERE ticket_id = $1 AND outcome IS NULL",
            )
            .bind(ticket.id)
            .fetch_one(&mut *conn)
            .await?;
            if involved(conn, ticket.id, actor.user_id, opened.unwrap_or(now_ms)).await? {
                return Err(StoreError::Forbidden(
                    "review an appeal on a ticket they handled",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// What a move does beyond the status: notices, appeal reviews.
pub(super) async fn after_move(
    conn: &mut AnyConnection,
    policy: &LoopPolicy,
    actor: &Principal,
    ticket: &Ticket,
    req: &TransitionRequest,
    now_ms: i64,
) -> Result<()> {
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match req.action {
        Action::RequestInfo => {
            let mut items: Vec<String> = req.checklist.iter().map(|i| format!("- {i}")).collect();
            if let Some(r) = reason {
                items.insert(0, r.to_owned());
            }
            let checklist = items.join("\n");
            queue(
                conn,
                policy,
                ticket.id,
                Event::NeedInfo,
                &json!({ "checklist": checklist }),
                false,
                now_ms,
            )
            .await
        }
        Action::Resolve => {
            let latest = latest_solution(conn, ticket.id).await?;
            let params = result_params(latest.as_ref(), reason, policy);
            queue(
                conn,
                policy,
                ticket.id,
                Event::Result,
                &params,
                false,
                now_ms,
            )
            .await
        }
        Action::Close => {
            queue(
                conn,
                policy,
                ticket.id,
                Event::Closed,
                &json!({}),
                false,
                now_ms,
            )
            .await?;
            queue(
                conn,
                policy,
                ticket.id,
                Event::Survey,
                &json!({}),
                true,
                now_ms,
            )
            .await
        }
        Action::Appeal => {
            let by = Some(actor.user_id);
            open_review(
                conn,
                ticket,
                reason.unwrap_or_default(),
                by,
                Role::Supervisor,
                now_ms,
            )
            .await
        }
        Action::UpholdAppeal | Action::ReviseAppeal => {
            let outcome = if req.action == Action::UpholdAppeal {
                AppealOutcome::Upheld
            } else {
                AppealOutcome::Revised
            };
            close_review(
                conn,
                policy,
                ticket.id,
                outcome,
                reason.unwrap_or_default(),
                actor.user_id,
                now_ms,
            )
            .await?;
            if outcome == AppealOutcome::Upheld {
                queue(
                    conn,
                    policy,
                    ticket.id,
                    Event::Survey,
                    &json!({}),
                    true,
                    now_ms,
                )
                .await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn clean(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(StoreError::invalid(
            field,
            "too_long",
            format!("at most {max} characters"),
        ));
    }
    Ok(Some(v.to_owned()))
}

impl SqlStore {
    pub(crate) async fn propose_solution_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        new: NewSolution,
    ) -> Result<(Ticket, Solution)> {
        if !actor.role.is_staff() {
            return Err(StoreError::Forbidden("propose solutions"));
        }
        let summary = clean("summary", Some(&new.summary), 5_000)?
            .ok_or_else(|| StoreError::invalid("summary", "required", "say what the user gets"))?;
        let instructions = clean("instructions", new.instructions.as_deref(), 2_000)?;
        let cause = clean("cause", new.cause.as_deref(), 2_000)?;
        let improvement = clean("improvement", new.improvement.as_deref(), 2_000)?;
        if let Some(c) = &new.compensation {
            c.validate()?;
        } else if new.kind == closedloop_domain::solution::SolutionKind::Compensation {
            return Err(StoreError::invalid(
                "compensation",
                "required",
                "a compensation names its kind and amount",
            ));
        }
        let now = self.clock.now();
        let now_ms = to_ms(now);
        let mut tx = self.begin_write().await?;
        let t = load_scoped(&mut tx, actor, number, self.dialect.lock_ticket()).await?;
        let ctx = Context {
            role: actor.role,
            now,
            resolved_at: t.resolved_at,
            appeal_window: self.closing.appeal_window,
        };
        let to = lifecycle::next_status(t.status, Action::ProposeSolution, &ctx)?;
        let mut departments = Vec::new();
        for code in &new.departments {
            let known: Option<i64> =
                sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?;
            if known.is_none() {
                return Err(StoreError::invalid(
                    "departments",
                    "unknown_department",
                    format!("no department {code}"),
                ));
            }
            if t.department.as_deref() != Some(code.as_str()) && !departments.contains(code) {
                departments.push(code.clone());
            }
        }
        let reasons = self
            .closing
            .approval
            .reasons(new.compensation.as_ref(), !departments.is_empty());
        let approval = if reasons.is_empty() {
            Approval::NotRequired
        } else {
            Approval::Pending
        };
        let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO solutions (ticket_id, kind, summary, compensation_kind, compensation_amount, instructions, \
             cause, improvement, apology, departments, expected_by, proposed_by, proposed_at, approval, approval_reasons) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(t.id)
        .bind(new.kind.as_str())
        .bind(&summary)
        .bind(new.compensation.map(|c| c.kind.as_str()))
        .bind(new.compensation.map(|c| c.amount))
        .bind(&instructions)
        .bind(&cause)
        .bind(&improvement)
        .bind(i64::from(new.apology))
        .bind(departments.join(","))
        .bind(new.expected_by.map(to_ms))
        .bind(actor.user_id)
        .bind(now_ms)
        .bind(approval.as_str())
        .bind(reasons.join("\n"))
        .fetch_one(&mut *tx)
        .await?;
        let moved = (t.status, to);
        record_move(&mut tx, t.id, moved, Some(actor.user_id), None, now_ms).await?;
        let note = if reasons.is_empty() {
            summary.clone()
        } else {
            format!("{summary}\n\nNeeds approval: {}", reasons.join("; "))
        };
        append(
            &mut tx,
            t.id,
            EntryKind::Solution,
            false,
            Some(actor.user_id),
            Some(&note),
            Some("approval"),
            Some(approval.as_str()),
            now_ms,
        )
        .await?;
        super::sla::refresh(&mut tx, self.dialect, &self.sla, t.id, from_ms(now_ms)).await?;
        let row = sqlx::query(&format!("{SOLUTION_SELECT} WHERE s.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let s = solution(&row)?;
        let ticket = ticket_by_id(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok((ticket, s))
    }

    pub(crate) async fn solutions_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<Solution>> {
        let mut conn = self.read.acquire().await?;
        let t = load_scoped(&mut conn, actor, number, "").await?;
        if !actor.role.is_staff() {
            return Err(StoreError::Forbidden(
                "see proposals before they are decided",
            ));
        }
        let rows = sqlx::query(&format!(
            "{SOLUTION_SELECT} WHERE s.ticket_id = $1 ORDER BY s.id"
        ))
        .bind(t.id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(solution).collect()
    }

    /// Approves (and so resolves the ticket: the user is told) or rejects (back to work).
    pub(crate) async fn decide_solution_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        solution_id: i64,
        approve: bool,
        note: Option<String>,
    ) -> Result<(Ticket, Solution)> {
        let note = clean("note", note.as_deref(), 2_000)?;
        if !approve && note.is_none() {
            return Err(StoreError::invalid(
                "note",
                "required",
                "say why the solution is rejected",
            ));
        }
        let now_ms = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let t = load_scoped(&mut tx, actor, number, self.dialect.lock_ticket()).await?;
        let latest = latest_solution(&mut tx, t.id)
            .await?
            .filter(|s| s.id == solution_id)
            .ok_or(StoreError::NotFound("solution"))?;
        solution::may_decide(
            latest.approval,
            latest.proposed_by,
            actor.user_id,
            actor.role,
        )?;
        let decision = if approve {
            Approval::Approved
        } else {
            Approval::Rejected
        };
        sqlx::query(
            "UPDATE solutions SET approval = $1, decided_by = $2, decided_at = $3, decision_note = $4 WHERE id = $5",
        )
        .bind(decision.as_str())
        .bind(actor.user_id)
        .bind(now_ms)
        .bind(&note)
        .bind(solution_id)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            t.id,
            EntryKind::Approval,
            false,
            Some(actor.user_id),
            note.as_deref(),
            Some("approval"),
            Some(decision.as_str()),
            now_ms,
        )
        .await?;
        let req = TransitionRequest {
            action: if approve {
                Action::Resolve
            } else {
                Action::Rework
            },
            // The note stays with the staff-only approval entry: the user sees the result.
            reason: None,
            duplicate_of: None,
            checklist: Vec::new(),
        };
        self.apply_move(&mut tx, actor, &t, &req).await?;
        let row = sqlx::query(&format!("{SOLUTION_SELECT} WHERE s.id = $1"))
            .bind(solution_id)
            .fetch_one(&mut *tx)
            .await?;
        let s = solution(&row)?;
        let ticket = ticket_by_id(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok((ticket, s))
    }

    /// Solutions waiting for a decision within the actor's scope, oldest first.
    pub(crate) async fn pending_approvals_impl(&self, actor: &Principal) -> Result<Vec<Solution>> {
        let mut sql = super::Sql::new(SOLUTION_SELECT);
        sql.push(" WHERE s.approval = 'pending'");
        super::rows::scope(&mut sql, actor);
        sql.push(" ORDER BY s.proposed_at LIMIT 200");
        let rows = sql.query().fetch_all(&self.read).await?;
        rows.iter().map(solution).collect()
    }

    pub(crate) async fn escalate_appeal_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        note: &str,
    ) -> Result<Ticket> {
        if actor.role < Role::Supervisor {
            return Err(StoreError::Forbidden("escalate appeals"));
        }
        let note = clean("reason", Some(note), 2_000)?
            .ok_or_else(|| StoreError::invalid("reason", "required", "say why it goes higher"))?;
        let now_ms = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let t = load_scoped(&mut tx, actor, number, self.dialect.lock_ticket()).await?;
        if t.status != Status::Appeal {
            return Err(StoreError::Conflict(closedloop_domain::DomainError::new(
                "action",
                "not_under_appeal",
                format!("the ticket is {}, not under appeal", t.status),
            )));
        }
        let check = TransitionRequest {
            action: Action::UpholdAppeal,
            reason: Some(note.clone()),
            duplicate_of: None,
            checklist: Vec::new(),
        };
        check_move(&mut tx, actor, &t, &check, now_ms).await?;
        let reason: String = sqlx::query_scalar(
            "SELECT reason FROM appeals WHERE ticket_id = $1 AND outcome IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(t.id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or_default();
        close_review(
            &mut tx,
            &self.closing,
            t.id,
            AppealOutcome::Escalated,
            &note,
            actor.user_id,
            now_ms,
        )
        .await?;
        open_review(&mut tx, &t, &reason, None, Role::Admin, now_ms).await?;
        sqlx::query("UPDATE tickets SET updated_at = $1, version = version + 1 WHERE id = $2")
            .bind(now_ms)
            .bind(t.id)
            .execute(&mut *tx)
            .await?;
        let ticket = ticket_by_id(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    pub(crate) async fn appeals_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<Appeal>> {
        let mut conn = self.read.acquire().await?;
        let t = load_scoped(&mut conn, actor, number, "").await?;
        let rows = sqlx::query(
            "SELECT a.id, a.reason, a.opened_at, a.reviewer_id, u.name, a.outcome, a.note, a.decided_at \
             FROM appeals a LEFT JOIN users u ON u.id = a.reviewer_id WHERE a.ticket_id = $1 ORDER BY a.id",
        )
        .bind(t.id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Appeal {
                    id: r.try_get(0)?,
                    reason: r.try_get(1)?,
                    opened_at: from_ms(r.try_get(2)?),
                    reviewer_id: r.try_get(3)?,
                    reviewer_name: r.try_get(4)?,
                    outcome: match r.try_get::<Option<String>, _>(5)?.as_deref() {
                        Some("upheld") => Some(AppealOutcome::Upheld),
                        Some("revised") => Some(AppealOutcome::Revised),
                        Some("escalated") => Some(AppealOutcome::Escalated),
                        _ => None,
                    },
                    note: r.try_get(6)?,
                    decided_at: r.try_get::<Option<i64>, _>(7)?.map(from_ms),
                })
            })
            .collect()
    }

    pub(crate) async fn link_view_impl(&self, ticket_id: i64) -> Result<crate::LinkView> {
        let mut conn = self.read.acquire().await?;
        let ticket = ticket_by_id(&mut conn, ticket_id).await?;
        let result: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE((SELECT summary FROM solutions WHERE ticket_id = $1 ORDER BY id DESC LIMIT 1), \
             (SELECT body FROM timeline WHERE ticket_id = $1 AND kind = 'status_changed' AND new_value = 'resolved' \
              ORDER BY id DESC LIMIT 1))",
        )
        .bind(ticket_id)
        .fetch_one(&mut *conn)
        .await?;
        let answered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM surveys WHERE ticket_id = $1")
            .bind(ticket_id)
            .fetch_one(&mut *conn)
            .await?;
        Ok(crate::LinkView {
            ticket,
            result: result.unwrap_or_default(),
            survey_answered: answered > 0,
        })
    }

    /// Acts for the ticket's requester with the authority of a signed link.
    pub(crate) async fn link_action_impl(
        &self,
        ticket_id: i64,
        action: LinkAction,
    ) -> Result<Ticket> {
        let requester: Option<i64> =
            sqlx::query_scalar("SELECT requester_id FROM tickets WHERE id = $1")
                .bind(ticket_id)
                .fetch_optional(&self.read)
                .await?
                .flatten();
        let principal = match requester {
            Some(id) => self.principal_impl(id).await?,
            None => None,
        }
        .filter(|p| p.role == Role::Customer)
        .ok_or(StoreError::NotFound("ticket"))?;
        let number: String = sqlx::query_scalar("SELECT number FROM tickets WHERE id = $1")
            .bind(ticket_id)
            .fetch_one(&self.read)
            .await?;
        let number: TicketNumber = parse_stored(&number)?;
        let (action, reason) = match action {
            LinkAction::Confirm => (Action::Close, None),
            LinkAction::Reject { reason } => (Action::Reopen, Some(reason)),
            LinkAction::Appeal { reason } => (Action::Appeal, Some(reason)),
            LinkAction::Survey { stars, comment } => {
                return self
                    .answer_survey_impl(&principal, &number, stars, comment)
                    .await;
            }
        };
        let req = TransitionRequest {
            action,
            reason,
            duplicate_of: None,
            checklist: Vec::new(),
        };
        self.transition_impl(&principal, &number, req).await
    }

    pub(crate) async fn answer_survey_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        stars: u8,
        comment: Option<String>,
    ) -> Result<Ticket> {
        if !(1..=5).contains(&stars) {
            return Err(StoreError::invalid(
                "stars",
                "out_of_range",
                "give 1 to 5 stars",
            ));
        }
        if actor.role != Role::Customer {
            return Err(StoreError::Forbidden("answer a customer's survey"));
        }
        let comment = clean("comment", comment.as_deref(), 2_000)?;
        let now = self.clock.now();
        let now_ms = to_ms(now);
        let mut tx = self.begin_write().await?;
        let t = load_scoped(&mut tx, actor, number, self.dialect.lock_ticket()).await?;
        if t.resolved_at.is_none() && t.closed_at.is_none() {
            return Err(StoreError::Conflict(closedloop_domain::DomainError::new(
                "stars",
                "not_resolved",
                "the survey opens when the ticket has a result",
            )));
        }
        let inserted = sqlx::query(
            "INSERT INTO surveys (ticket_id, stars, comment, answered_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (ticket_id) DO NOTHING",
        )
        .bind(t.id)
        .bind(i64::from(stars))
        .bind(&comment)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(closedloop_domain::DomainError::new(
                "stars",
                "already_answered",
                "this survey was answered already",
            )));
        }
        append(
            &mut tx,
            t.id,
            EntryKind::Survey,
            false,
            Some(actor.user_id),
            comment.as_deref(),
            Some("stars"),
            Some(&stars.to_string()),
            now_ms,
        )
        .await?;
        let unhappy = self
            .closing
            .reopen_below_stars
            .is_some_and(|below| stars < below);
        if unhappy && matches!(t.status, Status::Resolved | Status::Closed) {
            // An unsatisfied answer reopens handling, whatever the customer could do themselves.
            let note = format!("Reopened: the user rated the handling {stars}/5.");
            let moved = (t.status, Status::Reopened);
            record_move(&mut tx, t.id, moved, None, Some(&note), now_ms).await?;
            // Reopening clears the outcome, as a reopen move does.
            sqlx::query("UPDATE tickets SET resolved_at = NULL, closed_at = NULL WHERE id = $1")
                .bind(t.id)
                .execute(&mut *tx)
                .await?;
            super::sla::refresh(&mut tx, self.dialect, &self.sla, t.id, now).await?;
        }
        let ticket = ticket_by_id(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    pub(crate) async fn survey_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Option<SurveyAnswer>> {
        let mut conn = self.read.acquire().await?;
        let t = load_scoped(&mut conn, actor, number, "").await?;
        let row =
            sqlx::query("SELECT stars, comment, answered_at FROM surveys WHERE ticket_id = $1")
                .bind(t.id)
                .fetch_optional(&mut *conn)
                .await?;
        row.map(|r| {
            Ok(SurveyAnswer {
                stars: u8::try_from(r.try_get::<i64, _>(0)?).unwrap_or_default(),
                comment: r.try_get(1)?,
                answered_at: from_ms(r.try_get(2)?),
            })
        })
        .transpose()
    }

    /// Closes up to `limit` tickets resolved before `before` that nobody confirmed or rejected.
    pub(crate) async fn auto_close_impl(
        &self,
        before: DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<usize> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE status = 'resolved' AND resolved_at <= $1 ORDER BY resolved_at LIMIT $2",
        )
        .bind(to_ms(before))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        let mut closed = 0;
        for id in ids {
            let now = self.clock.now();
            let now_ms = to_ms(now);
            let mut tx = self.begin_write().await?;
            let mut sql = super::Sql::new("UPDATE tickets SET status = 'closed', closed_at = ");
            sql.bind(super::Arg::Int(now_ms))
                .push(", updated_at = ")
                .bind(super::Arg::Int(now_ms))
                .push(", version = version + 1 WHERE id = ")
                .bind(super::Arg::Int(id))
                .push(" AND status = 'resolved' AND resolved_at <= ")
                .bind(super::Arg::Int(to_ms(before)));
            // Another instance (or the user) got there first: nothing to do.
            if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
                continue;
            }
            append_change(
                &mut tx,
                id,
                EntryKind::StatusChanged,
                true,
                None,
                Some("Closed automatically: the result was not answered in time."),
                Some("status"),
                Some(Status::Resolved.as_str()),
                Some(Status::Closed.as_str()),
                now_ms,
            )
            .await?;
            queue(
                &mut tx,
                &self.closing,
                id,
                Event::Closed,
                &json!({}),
                false,
                now_ms,
            )
            .await?;
            queue(
                &mut tx,
                &self.closing,
                id,
                Event::Survey,
                &json!({}),
                true,
                now_ms,
            )
            .await?;
            super::sla::refresh(&mut tx, self.dialect, &self.sla, id, now).await?;
            tx.commit().await?;
            closed += 1;
        }
        Ok(closed)
    }

    pub(crate) async fn set_preferences_impl(&self, user_id: i64, p: &Preferences) -> Result<()> {
        let phone = clean("phone", p.phone.as_deref(), 32)?;
        if let Some(ph) = &phone {
            let digits = ph.chars().filter(char::is_ascii_digit).count();
            if digits < 6
                || !ph
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+- ()".contains(c))
            {
                return Err(StoreError::invalid(
                    "phone",
                    "invalid_phone",
                    "digits, spaces, + - ( ) only",
                ));
            }
        }
        if p.sms && phone.is_none() {
            return Err(StoreError::invalid(
                "phone",
                "required",
                "SMS needs a phone number",
            ));
        }
        let zone = clean("time_zone", p.time_zone.as_deref(), 64)?;
        if let Some(z) = &zone
            && z.parse::<chrono_tz::Tz>().is_err()
        {
            return Err(StoreError::invalid(
                "time_zone",
                "invalid_time_zone",
                "an IANA time zone such as Asia/Shanghai or Europe/London",
            ));
        }
        sqlx::query(
            "UPDATE users SET notify_email = $1, notify_sms = $2, phone = $3, lang = $4, \
             time_zone = $5 WHERE id = $6",
        )
        .bind(i64::from(p.email))
        .bind(i64::from(p.sms))
        .bind(&phone)
        .bind(p.lang.map(|l| l.as_str()))
        .bind(&zone)
        .bind(user_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn preferences_impl(&self, user_id: i64) -> Result<Preferences> {
        let r = sqlx::query(
            "SELECT notify_email, notify_sms, phone, lang, time_zone FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("user"))?;
        Ok(Preferences {
            email: r.try_get::<i64, _>(0)? != 0,
            sms: r.try_get::<i64, _>(1)? != 0,
            phone: r.try_get(2)?,
            lang: r
                .try_get::<Option<String>, _>(3)?
                .and_then(|l| l.parse().ok()),
            time_zone: r.try_get(4)?,
        })
    }
}

impl SqlStore {
    /// Asks a sample (`percent` of them, chosen by `seed`) of the customers with a ticket closed
    /// since `closed_since`, and not asked since `not_asked_since`, the NPS question.
    pub(crate) async fn queue_nps_impl(
        &self,
        percent: u8,
        closed_since: DateTime<chrono::Utc>,
        not_asked_since: DateTime<chrono::Utc>,
        seed: i64,
        limit: u32,
    ) -> Result<usize> {
        let now_ms = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        // A multiplicative hash of the id, shifted by the round's seed: a different, even
        // sample every round, reproducible for a given seed.
        let rows = sqlx::query(
            "SELECT u.id, (SELECT t.id FROM tickets t WHERE t.requester_id = u.id AND t.closed_at IS NOT NULL \
             ORDER BY t.closed_at DESC LIMIT 1) FROM users u WHERE u.role = 'customer' AND u.active = 1 \
             AND EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = u.id AND t.closed_at >= $1) \
             AND NOT EXISTS (SELECT 1 FROM nps_surveys n WHERE n.user_id = u.id AND n.asked_at >= $2) \
             AND (u.id * 7919 + $3) % 100 < $4 ORDER BY u.id LIMIT $5",
        )
        .bind(to_ms(closed_since))
        .bind(to_ms(not_asked_since))
        .bind(seed.rem_euclid(100))
        .bind(i64::from(percent))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut asked = 0;
        for r in rows {
            let Some(ticket_id) = r.try_get::<Option<i64>, _>(1)? else {
                continue;
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO nps_surveys (user_id, ticket_id, asked_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(r.try_get::<i64, _>(0)?)
            .bind(ticket_id)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            queue(
                &mut tx,
                &self.closing,
                ticket_id,
                Event::Nps,
                &json!({ "nps_id": id }),
                false,
                now_ms,
            )
            .await?;
            asked += 1;
        }
        tx.commit().await?;
        Ok(asked)
    }

    pub(crate) async fn nps_answered_impl(&self, id: i64) -> Result<bool> {
        let answered: Option<Option<i64>> =
            sqlx::query_scalar("SELECT answered_at FROM nps_surveys WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.read)
                .await?;
        answered
            .map(|a| a.is_some())
            .ok_or(StoreError::NotFound("survey"))
    }

    pub(crate) async fn answer_nps_impl(
        &self,
        id: i64,
        score: u8,
        comment: Option<String>,
    ) -> Result<()> {
        if score > 10 {
            return Err(StoreError::invalid("score", "out_of_range", "give 0 to 10"));
        }
        let comment = clean("comment", comment.as_deref(), 2_000)?;
        let done = sqlx::query(
            "UPDATE nps_surveys SET score = $1, comment = $2, answered_at = $3 WHERE id = $4 AND answered_at IS NULL",
        )
        .bind(i64::from(score))
        .bind(&comment)
        .bind(to_ms(self.clock.now()))
        .bind(id)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            self.nps_answered_impl(id).await?;
            return Err(StoreError::Conflict(closedloop_domain::DomainError::new(
                "score",
                "already_answered",
                "this question was answered already",
            )));
        }
        Ok(())
    }

    pub(crate) async fn nps_report_impl(
        &self,
        since: DateTime<chrono::Utc>,
    ) -> Result<crate::NpsReport> {
        let r = sqlx::query(
            "SELECT COUNT(*), COUNT(answered_at), \
             COALESCE(SUM(CASE WHEN score >= 9 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN score <= 6 THEN 1 ELSE 0 END), 0) \
             FROM nps_surveys WHERE asked_at >= $1",
        )
        .bind(to_ms(since))
        .fetch_one(&self.read)
        .await?;
        let (answered, promoters, detractors): (i64, i64, i64) =
            (r.try_get(1)?, r.try_get(2)?, r.try_get(4)?);
        Ok(crate::NpsReport {
            asked: r.try_get(0)?,
            answered,
            promoters,
            passives: r.try_get(3)?,
            detractors,
            nps: (answered > 0)
                .then(|| ((promoters - detractors) * 100 + answered / 2).div_euclid(answered)),
        })
    }

    /// Takes the periodic job `key` for this instance when its last run is `every` old or
    /// more: of several instances asking at once, one gets it.
    pub(crate) async fn claim_run_impl(&self, key: &str, every: chrono::Duration) -> Result<bool> {
        let now = to_ms(self.clock.now());
        let last = self.setting_impl(key, "0").await?;
        let Ok(last_ms) = last.parse::<i64>() else {
            return Ok(false);
        };
        if now - last_ms < every.num_milliseconds() {
            return Ok(false);
        }
        let done = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value = $3")
            .bind(now.to_string())
            .bind(key)
            .bind(&last)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A user's reply to a result that asks for an appeal (see
/// [`closedloop_domain::lifecycle::asks_for_appeal`]) opens one, inside the window; `false` when
/// the reply stays a reply.
pub(super) async fn appeal_by_reply(
    conn: &mut AnyConnection,
    store: &SqlStore,
    ticket_id: i64,
    actor: Option<i64>,
    body: &str,
    now_ms: i64,
) -> Result<bool> {
    if !lifecycle::asks_for_appeal(body) {
        return Ok(false);
    }
    let ticket = ticket_by_id(conn, ticket_id).await?;
    let ctx = Context {
        role: Role::Customer,
        now: from_ms(now_ms),
        resolved_at: ticket.resolved_at,
        appeal_window: store.closing.appeal_window,
    };
    if lifecycle::next_status(ticket.status, Action::Appeal, &ctx).is_err() {
        return Ok(false);
    }
    let moved = (ticket.status, Status::Appeal);
    record_move(conn, ticket_id, moved, actor, None, now_ms).await?;
    open_review(conn, &ticket, body.trim(), actor, Role::Supervisor, now_ms).await?;
    super::sla::refresh(conn, store.dialect, &store.sla, ticket_id, from_ms(now_ms)).await?;
    Ok(true)
}
