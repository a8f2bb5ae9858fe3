//! SLA deadlines as rows. Whenever a ticket changes, its clocks are derived again from its
//! history (the domain's `sla::clocks`) and its pending moments replaced, in the transaction of
//! the change. The scheduler takes due moments in batches — on PostgreSQL with `FOR UPDATE
//! SKIP LOCKED`, so instances never take the same one; on SQLite through the single writer —
//! and marks each done in the transaction that applies it: a moment acts exactly once, and an
//! instance killed mid-batch leaves its batch to the next taker.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use closedloop_domain::sla::{
    ClockEvent, ClockKind, ClockState, Due, DueStage, Sla, TicketFacts, TimedEvent,
};
use closedloop_domain::{Category, Priority, Role, Status, TicketNumber};
use sqlx::{AnyConnection, Row};

use super::{Arg, Dialect, Sql, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{Principal, Result, StoreError};

/// Marks an automatic priority raise on the timeline: clocks are not re-targeted by it.
pub(crate) const ESCALATION_MARK: &str = "sla_escalation";

/// The ticket's clocks as of `now`, from its row and timeline.
pub(crate) async fn clock_states(
    conn: &mut AnyConnection,
    sla: &Sla,
    ticket_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<ClockState>> {
    let t = sqlx::query(
        "SELECT t.created_at, t.channel, t.category, t.priority, \
         (SELECT COUNT(*) FROM ticket_coordinators c WHERE c.ticket_id = t.id) \
         FROM tickets t WHERE t.id = $1",
    )
    .bind(ticket_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound("ticket"))?;
    let facts = TicketFacts {
        created_at: from_ms(t.try_get(0)?),
        channel: parse_stored(&t.try_get::<String, _>(1)?)?,
        category: t
            .try_get::<Option<String>, _>(2)?
            .and_then(|c| Category::parse("category", &c).ok()),
        multi_department: t.try_get::<i64, _>(4)? > 0,
    };
    let current: Priority = parse_stored(&t.try_get::<String, _>(3)?)?;
    let rows = sqlx::query(
        // A webhook source's service account is an agent, but what it posts are the
        // customers' messages: those are not staff answers.
        "SELECT e.id, e.kind, e.public, e.field, e.old_value, e.new_value, e.body, \
         CASE WHEN ws.id IS NULL THEN u.role END, e.created_at \
         FROM timeline e LEFT JOIN users u ON u.id = e.actor_id \
         LEFT JOIN webhook_sources ws ON ws.user_id = e.actor_id \
         WHERE e.ticket_id = $1 ORDER BY e.id",
    )
    .bind(ticket_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut initial = None;
    let mut events = Vec::with_capacity(rows.len());
    for r in &rows {
        let kind: String = r.try_get(1)?;
        let field: Option<String> = r.try_get(3)?;
        let new_value: Option<String> = r.try_get(5)?;
        let event = match kind.as_str() {
            "status_changed" => new_value
                .as_deref()
                .and_then(|v| v.parse::<Status>().ok())
                .map(|to| ClockEvent::StatusChanged { to }),
            "reply" => {
                let staff = r
                    .try_get::<Option<String>, _>(7)?
                    .and_then(|role| role.parse::<Role>().ok())
                    .is_some_and(Role::is_staff);
                (staff && r.try_get::<i64, _>(2)? != 0).then_some(ClockEvent::StaffPublicReply)
            }
            // Entries name the assignee; any name is someone, and each entry is a new assignment.
            "assigned" => Some(ClockEvent::Assigned {
                to: new_value
                    .is_some()
                    .then(|| r.try_get::<i64, _>(0))
                    .transpose()?,
            }),
            "field_changed" if field.as_deref() == Some("priority") => {
                let old: Option<String> = r.try_get(4)?;
                if initial.is_none() {
                    initial = old.as_deref().and_then(|p| p.parse::<Priority>().ok());
                }
                let by_escalation =
                    r.try_get::<Option<String>, _>(6)?.as_deref() == Some(ESCALATION_MARK);
                new_value
                    .as_deref()
                    .and_then(|v| v.parse::<Priority>().ok())
                    .map(|to| ClockEvent::PriorityChanged { to, by_escalation })
            }
            _ => None,
        };
        if let Some(event) = event {
            events.push(TimedEvent {
                at: from_ms(r.try_get(8)?),
                event,
            });
        }
    }
    Ok(sla.clocks(&facts, initial.unwrap_or(current), &events, now))
}

fn due_of(states: &[ClockState], kind: ClockKind) -> Option<i64> {
    states
        .iter()
        .find(|s| s.kind == kind && s.is_running())
        .and_then(|s| s.due_at)
        .map(to_ms)
}

/// The due columns of a ticket: first response and resolution.
pub(crate) fn due_columns(states: &[ClockState]) -> (Option<i64>, Option<i64>) {
    (
        due_of(states, ClockKind::FirstResponse),
        due_of(states, ClockKind::Resolution),
    )
}

/// Derives the ticket's clocks again and replaces its pending moments (moments already acted
/// on keep their rows, and the unique key keeps them from being planned twice).
pub(crate) async fn refresh(
    conn: &mut AnyConnection,
    dialect: Dialect,
    sla: &Sla,
    ticket_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    // Read the history under the ticket's lock (a no-op for callers that hold it already): a
    // plan made from a history someone is extending would replace the newer plan. SQLite's
    // single writer already serialises them, so no statement is spent there.
    if dialect == Dialect::Postgres {
        sqlx::query(&format!(
            "SELECT t.id FROM tickets t WHERE t.id = $1{}",
            dialect.lock_ticket()
        ))
        .bind(ticket_id)
        .fetch_optional(&mut *conn)
        .await?;
    }
    let states = clock_states(conn, sla, ticket_id, now).await?;
    let (first, resolution) = due_columns(&states);
    sqlx::query(
        "UPDATE tickets SET first_response_due_at = $1, resolution_due_at = $2 WHERE id = $3",
    )
    .bind(first)
    .bind(resolution)
    .bind(ticket_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM sla_due WHERE ticket_id = $1 AND done_at IS NULL")
        .bind(ticket_id)
        .execute(&mut *conn)
        .await?;
    let plan = sla.plan(&states);
    let rows: Vec<(i64, &Due)> = plan.iter().map(|d| (ticket_id, d)).collect();
    insert_due(conn, dialect, &rows).await
}

/// Writes planned moments; one already acted on (same ticket, clock, stage and cycle) is kept.
pub(crate) async fn insert_due(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rows: &[(i64, &Due)],
) -> Result<()> {
    let mut sql = Sql::batch(
        "INSERT INTO sla_due (ticket_id, clock, stage, cycle_start, due_at, priority) VALUES ",
        dialect,
    );
    let mut any = false;
    for &(ticket_id, d) in rows {
        sql.push(if any { ", (" } else { "(" })
            .bind(Arg::Int(ticket_id))
            .push(", ")
            .bind(Arg::Text(d.kind.as_str().into()))
            .push(", ")
            .bind(Arg::Text(d.stage.to_text()))
            .push(", ")
            .bind(Arg::Int(to_ms(d.cycle_start)))
            .push(", ")
            .bind(Arg::Int(to_ms(d.at)))
            .push(", ")
            .bind(Arg::Text(d.priority.as_str().into()))
            .push(")");
        any = true;
    }
    if any {
        sql.push(" ON CONFLICT (ticket_id, clock, stage, cycle_start) DO NOTHING");
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

struct DueRow {
    id: i64,
    ticket_id: i64,
    clock: ClockKind,
    stage: DueStage,
    cycle_start: i64,
    due_at: i64,
    clock_priority: Priority,
    priority: Priority,
    department_id: Option<i64>,
    assignee_id: Option<i64>,
    number: TicketNumber,
}

/// What one scheduler pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    /// Moments taken from the queue (all now done).
    pub taken: usize,
    /// Of those, moments that acted (the rest were warnings overtaken by their breach).
    pub fired: usize,
}

/// What one moment asks for beyond its timeline entry.
struct Outcome {
    /// The chain's role to tell.
    notify: String,
    /// The ticket's priority afterwards.
    priority: Priority,
    /// Hand the ticket to the first person told.
    reassign: bool,
}

/// The writes one scheduler pass makes, gathered.
#[derive(Default)]
struct Effects {
    /// (ticket, clock, body, stage) for the staff-only `sla` entries.
    entries: Vec<(i64, ClockKind, String, String)>,
    /// (ticket, from, to), in order; a ticket may rise twice in one pass.
    raises: Vec<(i64, Priority, Priority)>,
    /// (user, ticket, kind, text).
    notes: Vec<(i64, i64, &'static str, String)>,
    /// Ticket -> new assignee.
    reassign: HashMap<i64, i64>,
}

impl Effects {
    async fn write(
        &self,
        conn: &mut AnyConnection,
        dialect: Dialect,
        priorities: &HashMap<i64, Priority>,
        now_ms: i64,
    ) -> Result<()> {
        let raised: HashSet<i64> = self.raises.iter().map(|r| r.0).collect();
        for ticket in &raised {
            let Some(p) = priorities.get(ticket) else {
                continue;
            };
            sqlx::query(
                "UPDATE tickets SET priority = $1, updated_at = $2, version = version + 1 WHERE id = $3",
            )
            .bind(p.as_str())
            .bind(now_ms)
            .bind(*ticket)
            .execute(&mut *conn)
            .await?;
        }
        for (ticket, user) in &self.reassign {
            sqlx::query(
                "UPDATE tickets SET assignee_id = $1, updated_at = $2, version = version + 1 WHERE id = $3",
            )
            .bind(*user)
            .bind(now_ms)
            .bind(*ticket)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO timeline (ticket_id, kind, public, actor_id, body, field, old_value, new_value, created_at) \
                 SELECT $1, 'assigned', 0, NULL, $2, 'assignee', NULL, u.name, $3 FROM users u WHERE u.id = $4",
            )
            .bind(*ticket)
            .bind(ESCALATION_MARK)
            .bind(now_ms)
            .bind(*user)
            .execute(&mut *conn)
            .await?;
        }
        type Row<'a> = (
            i64,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(self.entries.len() + self.raises.len());
        for (ticket, clock, body, stage) in &self.entries {
            rows.push((
                *ticket,
                "sla",
                Some(body),
                Some(clock.as_str()),
                None,
                Some(stage),
            ));
        }
        for (ticket, from, to) in &self.raises {
            rows.push((
                *ticket,
                "field_changed",
                Some(ESCALATION_MARK),
                Some("priority"),
                Some(from.as_str()),
                Some(to.as_str()),
            ));
        }
        for chunk in rows.chunks(500) {
            let mut sql = Sql::batch(
                "INSERT INTO timeline (ticket_id, kind, public, actor_id, body, field, old_value, new_value, created_at) VALUES ",
                dialect,
            );
            for (i, (ticket, kind, body, field, old, new)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" })
                    .bind(Arg::Int(*ticket))
                    .push(", ")
                    .bind(Arg::Text((*kind).into()))
                    .push(", 0, NULL, ")
                    .opt_text(*body)
                    .push(", ")
                    .opt_text(*field)
                    .push(", ")
                    .opt_text(*old)
                    .push(", ")
                    .opt_text(*new)
                    .push(", ")
                    .bind(Arg::Int(now_ms))
                    .push(")");
            }
            sql.query().execute(&mut *conn).await?;
        }
        for chunk in self.notes.chunks(500) {
            let mut sql = Sql::batch(
                "INSERT INTO notifications (user_id, ticket_id, kind, body, created_at) VALUES ",
                dialect,
            );
            for (i, (user, ticket, kind, text)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" })
                    .bind(Arg::Int(*user))
                    .push(", ")
                    .bind(Arg::Int(*ticket))
                    .push(", ")
                    .bind(Arg::Text((*kind).into()))
                    .push(", ")
                    .bind(Arg::Text(text.clone()))
                    .push(", ")
                    .bind(Arg::Int(now_ms))
                    .push(")");
            }
            sql.query().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

impl SqlStore {
    /// Acts on up to `limit` due moments in one transaction.
    pub(crate) async fn fire_due_impl(&self, limit: u32) -> Result<FireReport> {
        let now = self.clock.now();
        let now_ms = to_ms(now);
        let mut tx = self.begin_write().await?;
        let lock = match self.dialect {
            // The tickets too: their priority and assignee are read here and written below,
            // and a ticket someone is changing right now waits for the next pass.
            Dialect::Postgres => " FOR UPDATE OF d, t SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "SELECT d.id, d.ticket_id, d.clock, d.stage, d.cycle_start, d.due_at, d.priority, \
             t.priority, t.department_id, t.assignee_id, t.number \
             FROM sla_due d JOIN tickets t ON t.id = d.ticket_id \
             WHERE d.done_at IS NULL AND d.due_at <= $1 ORDER BY d.due_at LIMIT $2{lock}"
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(FireReport::default());
        }
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let stage: String = r.try_get(3)?;
            due.push(DueRow {
                id: r.try_get(0)?,
                ticket_id: r.try_get(1)?,
                clock: parse_stored(&r.try_get::<String, _>(2)?)?,
                stage: DueStage::parse(&stage).ok_or_else(|| {
                    StoreError::invalid("stage", "unknown_stage", format!("stored stage {stage}"))
                })?,
                cycle_start: r.try_get(4)?,
                due_at: r.try_get(5)?,
                clock_priority: parse_stored(&r.try_get::<String, _>(6)?)?,
                priority: parse_stored(&r.try_get::<String, _>(7)?)?,
                department_id: r.try_get(8)?,
                assignee_id: r.try_get(9)?,
                number: parse_stored(&r.try_get::<String, _>(10)?)?,
            });
        }
        // A warning taken with its own breach (a scheduler catching up) says nothing new.
        let breaches: HashSet<(i64, ClockKind, i64)> = due
            .iter()
            .filter(|d| d.stage != DueStage::Warning)
            .map(|d| (d.ticket_id, d.clock, d.cycle_start))
            .collect();
        // Effects are gathered and written with a few multi-row statements: per-statement cost
        // dominates on both backends, and a catch-up after downtime can be tens of thousands.
        let mut priorities: HashMap<i64, Priority> = HashMap::new();
        let mut effects = Effects::default();
        let mut who: HashMap<(String, Option<i64>, Option<i64>), Vec<i64>> = HashMap::new();
        let mut fired = 0;
        for d in &due {
            if d.stage == DueStage::Warning
                && breaches.contains(&(d.ticket_id, d.clock, d.cycle_start))
            {
                continue;
            }
            let current = *priorities.entry(d.ticket_id).or_insert(d.priority);
            let outcome = self.effects_of(d, current, &mut effects);
            priorities.insert(d.ticket_id, outcome.priority);
            let key = (outcome.notify, d.department_id, d.assignee_id);
            if !who.contains_key(&key) {
                let found = recipients(&mut tx, &key.0, key.1, key.2).await?;
                who.insert(key.clone(), found);
            }
            if outcome.reassign
                && let Some(to) = who
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .find(|u| Some(**u) != d.assignee_id)
            {
                effects.reassign.insert(d.ticket_id, *to);
            }
            let kind = if d.stage == DueStage::Warning {
                "sla_warning"
            } else {
                "sla_escalation"
            };
            let text = format!(
                "{}: {}",
                d.number,
                effects.entries.last().map_or("", |e| e.2.as_str())
            );
            for user in who.get(&key).into_iter().flatten() {
                effects.notes.push((*user, d.ticket_id, kind, text.clone()));
            }
            fired += 1;
        }
        effects
            .write(&mut tx, self.dialect, &priorities, now_ms)
            .await?;
        let mut done = Sql::batch("UPDATE sla_due SET done_at = ", self.dialect);
        done.bind(Arg::Int(now_ms)).push(" WHERE id IN ");
        done.bind_list(due.iter().map(|d| d.id));
        done.query().execute(&mut *tx).await?;
        // A new assignee starts the acceptance clock; planned after the done marks, so this
        // batch's moments are not planned again.
        for ticket in effects.reassign.keys() {
            refresh(&mut tx, self.dialect, &self.sla, *ticket, now).await?;
        }
        tx.commit().await?;
        Ok(FireReport {
            taken: due.len(),
            fired,
        })
    }

    /// What one moment does: its timeline entry, a priority raise if the chain says so.
    fn effects_of(&self, d: &DueRow, priority: Priority, effects: &mut Effects) -> Outcome {
        let clock = d.clock.as_str().replace('_', " ");
        let due = from_ms(d.due_at).to_rfc3339();
        let step = self.sla.step(d.clock_priority, d.stage);
        let (body, notify) = match d.stage {
            DueStage::Warning => (
                format!(
                    "{clock}: {}% of the target used (warning at {due})",
                    self.sla.policy.warn_at_percent
                ),
                "assignee".to_owned(),
            ),
            DueStage::Breach => (
                format!("{clock}: target missed at {due}"),
                step.map_or_else(|| "team_lead".to_owned(), |s| s.notify.clone()),
            ),
            DueStage::Escalation(_) => {
                let to = step.map_or("management", |s| s.notify.as_str());
                (
                    format!("{clock}: still not met at {due}; escalated to {to}"),
                    to.to_owned(),
                )
            }
        };
        effects
            .entries
            .push((d.ticket_id, d.clock, body, d.stage.to_text()));
        let mut outcome = Outcome {
            notify,
            priority,
            reassign: step.is_some_and(|s| s.reassign),
        };
        if step.is_some_and(|s| s.raise_priority) && priority != Priority::P1 {
            outcome.priority = priority.raised();
            effects
                .raises
                .push((d.ticket_id, priority, outcome.priority));
        }
        outcome
    }

    /// Re-plans the clocks of up to `limit` open tickets after `after_id` (in id order, one
    /// transaction), e.g. after the policy changed. Returns how many and the last id.
    pub(crate) async fn replan_open_impl(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<(usize, Option<i64>)> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE id > $1 \
             AND status NOT IN ('resolved', 'closed', 'duplicate') ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        for id in &ids {
            refresh(&mut tx, self.dialect, &self.sla, *id, now).await?;
        }
        tx.commit().await?;
        Ok((ids.len(), ids.last().copied()))
    }

    pub(crate) async fn backlog_impl(
        &self,
        actor: &Principal,
        stuck_before: DateTime<Utc>,
    ) -> Result<Vec<crate::BacklogRow>> {
        let now = to_ms(self.clock.now());
        let mut sql = Sql::new("SELECT d.code, COUNT(*), SUM(CASE WHEN t.first_response_due_at < ");
        sql.bind(Arg::Int(now))
            .push(" OR t.resolution_due_at < ")
            .bind(Arg::Int(now))
            .push(" THEN 1 ELSE 0 END), SUM(CASE WHEN t.first_response_due_at < ")
            .bind(Arg::Int(now))
            .push(" THEN 1 ELSE 0 END), SUM(CASE WHEN t.resolution_due_at < ")
            .bind(Arg::Int(now))
            .push(" THEN 1 ELSE 0 END), SUM(CASE WHEN t.updated_at < ")
            .bind(Arg::Int(to_ms(stuck_before)))
            .push(
                " THEN 1 ELSE 0 END) FROM tickets t JOIN departments d ON d.id = t.department_id \
                 WHERE t.status NOT IN ('resolved', 'closed', 'duplicate')",
            );
        super::rows::scope(&mut sql, actor);
        sql.push(" GROUP BY d.code ORDER BY d.code");
        let rows = sql.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(crate::BacklogRow {
                    department: r.try_get(0)?,
                    open: r.try_get(1)?,
                    overdue: r.try_get(2)?,
                    overdue_first_response: r.try_get(3)?,
                    overdue_resolution: r.try_get(4)?,
                    stuck: r.try_get(5)?,
                })
            })
            .collect()
    }

    pub(crate) async fn notifications_impl(
        &self,
        user_id: i64,
        limit: u32,
    ) -> Result<Vec<crate::Notification>> {
        let rows = sqlx::query(
            "SELECT n.id, t.number, n.kind, n.body, n.created_at FROM notifications n \
             LEFT JOIN tickets t ON t.id = n.ticket_id WHERE n.user_id = $1 ORDER BY n.id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::Notification {
                    id: r.try_get(0)?,
                    ticket: r
                        .try_get::<Option<String>, _>(1)?
                        .as_deref()
                        .map(parse_stored)
                        .transpose()?,
                    kind: r.try_get(2)?,
                    body: r.try_get(3)?,
                    created_at: from_ms(r.try_get(4)?),
                })
            })
            .collect()
    }

    pub(crate) async fn ticket_clocks_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<ClockState>> {
        let ticket = self.get_ticket_impl(actor, number).await?;
        let mut conn = self.read.acquire().await?;
        clock_states(&mut conn, &self.sla, ticket.id, self.clock.now()).await
    }
}

/// Who a chain step's role means for this ticket. Team leads and department heads are the
/// department's supervisors; management are the administrators. Nobody in the role: the
/// administrators, so a breach is never told to no one.
async fn recipients(
    conn: &mut AnyConnection,
    role: &str,
    department_id: Option<i64>,
    assignee_id: Option<i64>,
) -> Result<Vec<i64>> {
    let mut found: Vec<i64> = match role {
        "assignee" if assignee_id.is_some() => assignee_id.into_iter().collect(),
        "management" | "admin" => Vec::new(),
        _ => {
            sqlx::query_scalar(
                "SELECT u.id FROM users u JOIN user_departments ud ON ud.user_id = u.id \
                 WHERE ud.department_id = $1 AND u.role = 'supervisor' AND u.active = 1 ORDER BY u.id",
            )
            .bind(department_id.unwrap_or_default())
            .fetch_all(&mut *conn)
            .await?
        }
    };
    if found.is_empty() {
        found = sqlx::query_scalar(
            "SELECT id FROM users WHERE role = 'admin' AND active = 1 ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
    }
    Ok(found)
}
