//! Changing tickets: field edits, assignment, transitions, replies and notes. Each change is one
//! transaction that locks the ticket, checks the rules, writes the row and appends the timeline.

use closedloop_domain::lifecycle::{self, Context};
use closedloop_domain::notice::Event;
use closedloop_domain::{Action, Role, Status, TicketNumber};
use sqlx::{AnyConnection, Row};

use super::rows::{self, ENTRY_SELECT};
use super::tickets::{append, append_change, load_scoped, record_move, ticket_by_id};
use super::{Arg, Sql, SqlStore, department_id};
use crate::model::{from_ms, to_ms};
use crate::{
    EntryKind, Principal, Result, StoreError, Ticket, TicketPatch, TimelineEntry, TransitionRequest,
};

/// Column assignments collected from a patch, with their timeline entries.
struct Changes {
    sets: Sql,
    entries: Vec<(EntryKind, &'static str, Option<String>, Option<String>)>,
}

impl Changes {
    fn new() -> Self {
        Self {
            sets: Sql::new("UPDATE tickets SET version = version + 1"),
            entries: Vec::new(),
        }
    }

    fn text(
        &mut self,
        column: &'static str,
        kind: EntryKind,
        old: Option<&str>,
        new: Option<&str>,
    ) {
        if old == new {
            return;
        }
        self.sets.push(&format!(", {column} = "));
        match new {
            Some(v) => self.sets.bind(Arg::Text(v.to_owned())),
            None => self.sets.push("NULL"),
        };
        self.entries
            .push((kind, column, old.map(str::to_owned), new.map(str::to_owned)));
    }

    fn id(
        &mut self,
        column: &'static str,
        kind: EntryKind,
        old: (Option<i64>, Option<String>),
        new: (Option<i64>, Option<String>),
    ) {
        if old.0 == new.0 {
            return;
        }
        self.sets.push(&format!(", {column} = "));
        match new.0 {
            Some(v) => self.sets.bind(Arg::Int(v)),
            None => self.sets.push("NULL"),
        };
        self.entries
            .push((kind, column.trim_end_matches("_id"), old.1, new.1));
    }
}

impl SqlStore {
    pub(crate) async fn update_ticket_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        patch: TicketPatch,
    ) -> Result<Ticket> {
        if !actor.role.is_staff() {
            return Err(StoreError::Forbidden("edit tickets"));
        }
        let now_ms = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let t = load_scoped(&mut tx, actor, number, self.dialect.lock_ticket()).await?;
        let mut c = Changes::new();

        if let Some(title) = &patch.title {
            c.text(
                "title",
                EntryKind::FieldChanged,
                Some(&t.title),
                Some(title.as_str()),
            );
            // Hot-issue analysis reads the new title again (migration 0013).
            c.sets.push(", title_generated = 0, keywords = NULL");
        }
        c.text(
            "nature",
            EntryKind::FieldChanged,
            t.nature.map(|n| n.as_str()),
            patch.nature.or(t.nature).map(|n| n.as_str()),
        );
        c.text(
            "priority",
            EntryKind::FieldChanged,
            Some(t.priority.as_str()),
            Some(patch.priority.unwrap_or(t.priority).as_str()),
        );
        c.text(
            "severity",
            EntryKind::FieldChanged,
            Some(t.severity.as_str()),
            Some(patch.severity.unwrap_or(t.severity).as_str()),
        );
        c.text(
            "impact_scope",
            EntryKind::FieldChanged,
            Some(t.impact_scope.as_str()),
            Some(patch.impact_scope.unwrap_or(t.impact_scope).as_str()),
        );
        for (column, old, new) in [
            ("region", &t.region, &patch.region),
            ("order_number", &t.order_number, &patch.order_number),
            (
                "expected_resolution",
                &t.expected_resolution,
                &patch.expected_resolution,
            ),
        ] {
            if let Some(new) = new {
                c.text(
                    column,
                    EntryKind::FieldChanged,
                    old.as_deref(),
                    new.as_deref(),
                );
            }
        }

        // A corrected category re-routes the ticket unless the same edit names a department.
        let mut department = patch.department.clone();
        let mut coordinators = patch.coordinating_departments.clone();
        if let Some(cat) = &patch.category {
            let old = t.category.as_ref().map(|c| c.as_str());
            if old != Some(cat.as_str()) {
                let row = sqlx::query("SELECT d.code FROM categories c JOIN departments d ON d.id = c.handling_department_id WHERE c.code = $1")
                    .bind(cat.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::invalid("category", "unknown_category", format!("no category {cat}")))?;
                c.text("category", EntryKind::FieldChanged, old, Some(cat.as_str()));
                department = department.or(Some(row.try_get(0)?));
                if coordinators.is_none() {
                    coordinators = Some(
                        sqlx::query_scalar("SELECT d.code FROM category_coordinators cc JOIN departments d ON d.id = cc.department_id WHERE cc.category = $1 ORDER BY d.code")
                            .bind(cat.as_str())
                            .fetch_all(&mut *tx)
                            .await?,
                    );
                }
            }
        }
        let old_department_id: Option<i64> =
            sqlx::query_scalar("SELECT department_id FROM tickets WHERE id = $1")
                .bind(t.id)
                .fetch_one(&mut *tx)
                .await?;
        let mut department_id_now = old_department_id;
        if let Some(code) = &department {
            let id = department_id(&mut tx, code).await?;
            department_id_now = Some(id);
            c.id(
                "department_id",
                EntryKind::Routed,
                (old_department_id, t.department.clone()),
                (Some(id), Some(code.clone())),
            );
        }

        if let Some(assignee) = &patch.assignee_email {
            let new = match assignee {
                None => (None, None),
                Some(email) => {
                    let (id, name) = assignable(&mut tx, email, department_id_now).await?;
                    (Some(id), Some(name))
                }
            };
            c.id(
                "assignee_id",
                EntryKind::Assigned,
                (t.assignee_id, t.assignee_name.clone()),
                new,
            );
        }

        if c.entries.is_empty() && coordinators.is_none() {
            return Ok(t);
        }
        c.sets
            .push(", updated_at = ")
            .bind(Arg::Int(now_ms))
            .push(" WHERE id = ")
            .bind(Arg::Int(t.id));
        c.sets.query().execute(&mut *tx).await?;
        for (kind, field, old, new) in &c.entries {
            append_change(
                &mut tx,
                t.id,
                *kind,
                false,
                Some(actor.user_id),
                None,
                Some(field),
                old.as_deref(),
                new.as_deref(),
                now_ms,
            )
            .await?;
        }
        for (_, field, _, new) in &c.entries {
            if let (&("category" | "priority"), Some(label)) = (field, new) {
                learn(&mut tx, &t, field, label, actor.user_id, now_ms).await?;
            }
        }
        if let Some(codes) = coordinators {
            replace_coordinators(&mut tx, &t, codes, department_id_now, actor.user_id, now_ms)
                .await?;
        }
        super::sla::refresh(&mut tx, self.dialect, &self.sla, t.id, from_ms(now_ms)).await?;
        let updated = ticket_by_id(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub(crate) async fn transition_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        req: TransitionRequest,
    ) -> Result<Ticket> {
        let mut tx = self.begin_write().await?;
        let t = load_scoped(&mut tx, actor, number, self.dialect.lock_ticket()).await?;
        self.apply_move(&mut tx, actor, &t, &req).await?;
        let updated = ticket_by_id(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// One move of a locked ticket inside the caller's transaction: the rules, the row, the
    /// timeline, what the user is told, and the re-planned clocks.
    pub(super) async fn apply_move(
        &self,
        tx: &mut AnyConnection,
        actor: &Principal,
        t: &Ticket,
        req: &TransitionRequest,
    ) -> Result<()> {
        let now = self.clock.now();
        let now_ms = to_ms(now);
        let ctx = Context {
            role: actor.role,
            now,
            resolved_at: t.resolved_at,
            appeal_window: self.closing.appeal_window,
        };
        let to = lifecycle::next_status(t.status, req.action, &ctx)?;
        super::closing::check_move(tx, actor, t, req, now_ms).await?;
        let mut sql = Sql::new("UPDATE tickets SET version = version + 1, status = ");
        sql.bind(Arg::Text(to.as_str().into()))
            .push(", updated_at = ")
            .bind(Arg::Int(now_ms));
        if req.action == Action::MarkDuplicate {
            let master_number = req.duplicate_of.as_ref().ok_or_else(|| {
                StoreError::invalid(
                    "duplicate_of",
                    "required",
                    "name the ticket this one duplicates",
                )
            })?;
            let master = load_scoped(tx, actor, master_number, "")
                .await
                .map_err(|_| {
                    StoreError::invalid("duplicate_of", "unknown_ticket", "no such ticket")
                })?;
            if master.id == t.id || master.status == Status::Duplicate {
                return Err(StoreError::invalid(
                    "duplicate_of",
                    "invalid_master",
                    "a ticket cannot duplicate itself or another duplicate",
                ));
            }
            sql.push(", duplicate_of = ").bind(Arg::Int(master.id));
            learn(
                &mut *tx,
                t,
                "duplicate",
                master.number.as_str(),
                actor.user_id,
                now_ms,
            )
            .await?;
        }
        let m = lifecycle::milestones(req.action, to);
        if m.set_accepted && t.accepted_at.is_none() {
            sql.push(", accepted_at = ").bind(Arg::Int(now_ms));
        }
        if m.set_resolved {
            sql.push(", resolved_at = ").bind(Arg::Int(now_ms));
        }
        if m.set_closed {
            sql.push(", closed_at = ").bind(Arg::Int(now_ms));
        }
        if m.clear_outcome {
            sql.push(", resolved_at = NULL, closed_at = NULL");
        }
        // Accepting a ticket nobody holds makes the acceptor its assignee.
        if req.action == Action::Accept && t.assignee_id.is_none() {
            sql.push(", assignee_id = ").bind(Arg::Int(actor.user_id));
        }
        sql.push(" WHERE id = ").bind(Arg::Int(t.id));
        sql.query().execute(&mut *tx).await?;

        append_change(
            &mut *tx,
            t.id,
            EntryKind::StatusChanged,
            true,
            Some(actor.user_id),
            req.reason.as_deref(),
            Some("status"),
            Some(t.status.as_str()),
            Some(to.as_str()),
            now_ms,
        )
        .await?;
        if req.action == Action::Accept && t.assignee_id.is_none() {
            append(
                &mut *tx,
                t.id,
                EntryKind::Assigned,
                false,
                Some(actor.user_id),
                None,
                Some("assignee"),
                Some(&actor.name),
                now_ms,
            )
            .await?;
        }
        super::closing::after_move(tx, &self.closing, actor, t, req, now_ms).await?;
        super::sla::refresh(tx, self.dialect, &self.sla, t.id, from_ms(now_ms)).await?;
        Ok(())
    }

    pub(crate) async fn add_entry_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
        public: bool,
        body: &str,
        files: &[crate::NewAttachment],
    ) -> Result<TimelineEntry> {
        if !public && !actor.role.is_staff() {
            return Err(StoreError::Forbidden("write internal notes"));
        }
        if !public && !files.is_empty() {
            return Err(StoreError::invalid(
                "files",
                "not_allowed",
                "files come with replies, not internal notes",
            ));
        }
        let now_ms = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        let t = load_scoped(&mut tx, actor, number, self.dialect.lock_ticket()).await?;
        if matches!(t.status, Status::Closed | Status::Duplicate) && actor.role == Role::Customer {
            return Err(StoreError::invalid(
                "body",
                "ticket_closed",
                "this ticket is closed; appeal or open a new one",
            ));
        }
        let kind = if public {
            EntryKind::Reply
        } else {
            EntryKind::Note
        };
        // The requester's own words on a public-channel ticket are masked like its first message.
        let masked =
            actor.role == Role::Customer && self.privacy.mask_channels.contains(&t.channel);
        let (text, original) = super::privacy::mask_reply(masked, body);
        let id = append(
            &mut tx,
            t.id,
            kind,
            public,
            Some(actor.user_id),
            Some(&text),
            None,
            None,
            now_ms,
        )
        .await?;
        super::privacy::keep_reply_original(&mut tx, t.id, id, original).await?;
        super::links::attach(&mut tx, t.id, files, now_ms).await?;
        if public && actor.role.is_staff() && t.first_response_at.is_none() {
            sqlx::query("UPDATE tickets SET first_response_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(t.id)
                .execute(&mut *tx)
                .await?;
        }
        // The user answering a request for information resumes the work (and, later, its clocks).
        if actor.role == Role::Customer && t.status == Status::WaitingOnUser {
            let resumed = (Status::WaitingOnUser, Status::InProgress);
            record_move(&mut tx, t.id, resumed, Some(actor.user_id), None, now_ms).await?;
        }
        let row = sqlx::query(&format!("{ENTRY_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let entry = rows::entry(&row)?;
        if public && actor.role.is_staff() {
            let message = serde_json::json!({ "message": body });
            super::notices::queue(
                &mut tx,
                &self.closing,
                t.id,
                Event::Progress,
                &message,
                false,
                now_ms,
            )
            .await?;
        }
        if public {
            // A staff answer stops the first-response clock; a customer's resumes paused ones.
            super::sla::refresh(&mut tx, self.dialect, &self.sla, t.id, from_ms(now_ms)).await?;
        }
        tx.commit().await?;
        Ok(entry)
    }

    pub(crate) async fn timeline_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<TimelineEntry>> {
        let mut conn = self.read.acquire().await?;
        let t = load_scoped(&mut conn, actor, number, "").await?;
        let public_only = if actor.role.is_staff() {
            ""
        } else {
            " AND e.public = 1"
        };
        let rows = sqlx::query(&format!(
            "{ENTRY_SELECT} WHERE e.ticket_id = $1{public_only} ORDER BY e.id"
        ))
        .bind(t.id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(rows::entry).collect()
    }
}

/// A staff member who may hold tickets of the department: admins anywhere, others only in
/// departments they belong to.
async fn assignable(
    conn: &mut AnyConnection,
    email: &str,
    department_id: Option<i64>,
) -> Result<(i64, String)> {
    let unknown = || {
        StoreError::invalid(
            "assignee",
            "unknown_assignee",
            "no active staff member with that email",
        )
    };
    let row = sqlx::query("SELECT id, name, role FROM users WHERE email = $1 AND active = 1")
        .bind(email.trim().to_lowercase())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(unknown)?;
    let (id, name, role): (i64, String, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let role: Role = super::parse_stored(&role)?;
    if !role.is_staff() {
        return Err(unknown());
    }
    if role != Role::Admin {
        let member: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM user_departments WHERE user_id = $1 AND department_id = $2",
        )
        .bind(id)
        .bind(department_id)
        .fetch_optional(&mut *conn)
        .await?;
        if member.is_none() {
            return Err(StoreError::invalid(
                "assignee",
                "not_in_department",
                "the assignee is not a member of the handling department",
            ));
        }
    }
    Ok((id, name))
}

async fn replace_coordinators(
    conn: &mut AnyConnection,
    t: &Ticket,
    codes: Vec<String>,
    handling: Option<i64>,
    actor: i64,
    now_ms: i64,
) -> Result<()> {
    let mut ids = Vec::new();
    for code in &codes {
        let id = department_id(conn, code).await?;
        if Some(id) != handling && !ids.contains(&id) {
            ids.push(id);
        }
    }
    sqlx::query("DELETE FROM ticket_coordinators WHERE ticket_id = $1")
        .bind(t.id)
        .execute(&mut *conn)
        .await?;
    for id in &ids {
        sqlx::query("INSERT INTO ticket_coordinators (ticket_id, department_id) VALUES ($1, $2)")
            .bind(t.id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let mut new: Vec<String> = codes
        .into_iter()
        .filter(|c| Some(c.as_str()) != t.department.as_deref())
        .collect();
    new.sort();
    new.dedup();
    if new != t.coordinating_departments {
        append_change(
            conn,
            t.id,
            EntryKind::Routed,
            false,
            Some(actor),
            None,
            Some("coordinating_departments"),
            Some(&t.coordinating_departments.join(",")),
            Some(&new.join(",")),
            now_ms,
        )
        .await?;
    }
    Ok(())
}

/// Keeps an agent's correction as a labelled example for `closedloop triage retrain`, with the
/// text as it was when the agent judged it.
async fn learn(
    conn: &mut AnyConnection,
    t: &Ticket,
    kind: &str,
    label: &str,
    actor_id: i64,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO triage_examples (ticket_id, kind, label, text, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.id)
    .bind(kind)
    .bind(label)
    .bind(format!("{}\n{}", t.title, t.description))
    .bind(actor_id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}
