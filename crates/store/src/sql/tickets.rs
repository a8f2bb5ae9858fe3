//! Registering, reading and listing tickets.

use closedloop_domain::{
    Category, ImpactScope, Nature, Priority, Role, RoutingMatrix, Severity, Status, TicketNumber,
    Title,
};
use sqlx::{AnyConnection, Row};

use super::committer::Pending;
use super::people::customer_by_email;
use super::rows::{self, TICKET_SELECT, attach_coordinators, scope};
use super::{Arg, Sql, SqlStore};
use crate::model::{from_ms, to_ms};
use crate::{
    EntryKind, IdempotencyKey, NewTicket, Page, Principal, Result, StoreError, Ticket, TicketFilter,
};
use closedloop_domain::sla::{ClockEvent, TicketFacts, TimedEvent};

/// Where a new ticket goes: handling department and coordinators.
struct Route {
    department_id: i64,
    department_code: String,
    coordinators: Vec<i64>,
    coordinator_codes: Vec<String>,
    nature: Option<Nature>,
    /// Given by the submitter, or suggested by triage and known here.
    category: Option<Category>,
}

impl SqlStore {
    pub(crate) async fn create_ticket_impl(
        &self,
        actor: &Principal,
        new: NewTicket,
        idem: Option<IdempotencyKey>,
    ) -> Result<(Ticket, bool)> {
        // A concurrent request with the same key (PostgreSQL) fails on the key's primary key
        // after the first commits; the second attempt then finds and returns its ticket.
        match self.create_once(actor, &new, idem.as_ref()).await {
            Err(e) if idem.is_some() && e.is_unique_violation() => {
                self.create_once(actor, &new, idem.as_ref()).await
            }
            other => other,
        }
    }

    async fn create_once(
        &self,
        actor: &Principal,
        new: &NewTicket,
        idem: Option<&IdempotencyKey>,
    ) -> Result<(Ticket, bool)> {
        // Nothing here touches the single SQLite writer but the committer: every statement kept
        // off it is throughput for everyone else. A replay racing its original is caught by the
        // key's primary key when written (see `create_ticket_impl`).
        if let Some(k) = idem {
            let mut read = self.read.acquire().await?;
            let seen = sqlx::query("SELECT request_hash, ticket_id FROM idempotency_keys WHERE user_id = $1 AND key = $2")
                .bind(actor.user_id)
                .bind(&k.key)
                .fetch_optional(&mut *read)
                .await?;
            if let Some(row) = seen {
                let hash: String = row.try_get(0)?;
                if hash != k.request_hash {
                    return Err(StoreError::IdempotencyMismatch);
                }
                let ticket = ticket_by_id(&mut read, row.try_get(1)?).await?;
                return Ok((ticket, false));
            }
        }
        let now = from_ms(to_ms(self.clock.now()));
        let route = self.route(new).await?;
        let master = match &new.duplicate_of {
            Some(n) => Some((self.ticket_id(n).await?, n.clone())),
            None => None,
        };
        let requester = match (&new.requester_email, actor.role) {
            (_, Role::Customer) => Some((actor.user_id, actor.name.clone())),
            (Some(email), _) => Some(self.customer(email, to_ms(now)).await?),
            (None, _) => None,
        };

        let mut masker = super::privacy::Masker {
            on: self.privacy.mask_channels.contains(&new.channel),
            originals: Vec::new(),
        };
        let description = masker.text("description", new.description.as_str());
        let (title, title_generated) = match &new.title {
            Some(t) => (masker.text("title", t.as_str()), false),
            None => (Title::from_description(&description).into_string(), true),
        };
        let expected_resolution = new
            .expected_resolution
            .as_deref()
            .map(|e| masker.text("expected_resolution", e));
        let anonymous = requester.is_none();
        let mut ticket = Ticket {
            id: 0,
            number: TicketNumber::new(now.date_naive(), 1),
            channel: new.channel,
            status: if master.is_some() {
                Status::Duplicate
            } else {
                Status::Received
            },
            title,
            title_generated,
            description,
            evidence: new.evidence.clone(),
            order_number: new.order_number.clone(),
            expected_resolution,
            region: new.region.clone(),
            category: route.category.clone(),
            nature: new.nature.or(route.nature),
            priority: new.priority.unwrap_or(Priority::P3),
            severity: new.severity.unwrap_or(Severity::General),
            impact_scope: new.impact_scope.unwrap_or(ImpactScope::OneUser),
            department: Some(route.department_code.clone()),
            coordinating_departments: route.coordinator_codes,
            assignee_id: None,
            assignee_name: None,
            requester_id: requester.as_ref().map(|r| r.0),
            requester_name: requester.map(|r| r.1),
            requester_ip: new.requester_ip.clone().filter(|_| anonymous),
            requester_user_agent: new.requester_user_agent.clone().filter(|_| anonymous),
            duplicate_of: master.as_ref().map(|m| m.1.clone()),
            created_at: now,
            updated_at: now,
            first_response_at: None,
            accepted_at: None,
            resolved_at: None,
            closed_at: None,
            first_response_due_at: None,
            resolution_due_at: None,
        };
        // A new ticket's clocks follow from its first row alone; planned here so the committer
        // writes them with the ticket.
        let created = [TimedEvent {
            at: now,
            event: ClockEvent::StatusChanged { to: ticket.status },
        }];
        let clocks = self.sla.clocks(
            &TicketFacts {
                created_at: now,
                channel: ticket.channel,
                category: ticket.category.clone(),
                multi_department: !ticket.coordinating_departments.is_empty(),
            },
            ticket.priority,
            &created[..usize::from(ticket.status != Status::Received)],
            now,
        );
        let (first_response_due, resolution_due) = super::sla::due_columns(&clocks);
        ticket.first_response_due_at = first_response_due.map(from_ms);
        ticket.resolution_due_at = resolution_due.map(from_ms);
        let (id, number) = self
            .committer
            .commit(Pending {
                at: now,
                actor_id: actor.user_id,
                requester_id: ticket.requester_id,
                requester_ip: ticket.requester_ip.clone(),
                requester_user_agent: ticket.requester_user_agent.clone(),
                channel: new.channel.as_str(),
                title: ticket.title.clone(),
                title_generated,
                description: ticket.description.clone(),
                evidence: serde_json::to_string(&new.evidence).unwrap_or_else(|_| "[]".into()),
                order_number: new.order_number.clone(),
                expected_resolution: ticket.expected_resolution.clone(),
                region: new.region.clone(),
                category: route.category.as_ref().map(|c| c.as_str().to_owned()),
                nature: ticket.nature.map(Nature::as_str),
                priority: ticket.priority.as_str(),
                severity: ticket.severity.as_str(),
                impact_scope: ticket.impact_scope.as_str(),
                department_id: route.department_id,
                department_code: route.department_code,
                coordinators: route.coordinators,
                idempotency: idem.cloned(),
                triage: new.triage.as_deref().map(|t| masker.derived(t)),
                duplicate_of: master.map(|m| (m.0, m.1.as_str().to_owned())),
                due: self.sla.plan(&clocks),
                first_response_due,
                resolution_due,
                acknowledge: new.acknowledge && ticket.requester_id.is_some(),
                originals: masker.originals,
            })
            .await?;
        // The answer is what was written, so it is not read back: one query less per ticket.
        // `created_ticket_reads_back_identically` in the behaviour suite holds the two together.
        ticket.id = id;
        ticket.number = number;
        Ok((ticket, true))
    }

    async fn ticket_id(&self, number: &TicketNumber) -> Result<i64> {
        sqlx::query_scalar("SELECT id FROM tickets WHERE number = $1")
            .bind(number.as_str())
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::invalid("duplicate_of", "unknown_ticket", "no such ticket"))
    }

    /// The customer account (id, name) for an address staff typed in, created on first use.
    async fn customer(&self, email: &str, now_ms: i64) -> Result<(i64, String)> {
        let email = email.trim().to_lowercase();
        let known = sqlx::query("SELECT id, name FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.read)
            .await?;
        if let Some(row) = known {
            return Ok((row.try_get(0)?, row.try_get(1)?));
        }
        let mut write = self.write.acquire().await?;
        let id = customer_by_email(&mut write, &email, now_ms).await?;
        let name: String = sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *write)
            .await?;
        Ok((id, name))
    }

    /// Routing by the category matrix (MISSION §2); staff may name the department instead;
    /// without either the ticket waits in the fallback department for manual triage.
    async fn route(&self, new: &NewTicket) -> Result<Route> {
        let routing = self.routing().await?;
        let mut route = Route {
            department_id: 0,
            department_code: String::new(),
            coordinators: Vec::new(),
            coordinator_codes: Vec::new(),
            nature: None,
            category: None,
        };
        let category = match (&new.category, &new.suggested_category) {
            (Some(given), _) => Some(routing.category(given.as_str())?),
            (None, Some(suggested)) => routing.category(suggested.as_str()).ok(),
            (None, None) => None,
        };
        if let Some(c) = category {
            route.department_id = c.handling;
            route.nature = Some(c.nature);
            route.coordinators.clone_from(&c.coordinators);
            route.category = Some(c.code.clone());
        }
        let explicit = new.department.as_deref().or(category
            .is_none()
            .then_some(RoutingMatrix::FALLBACK_DEPARTMENT));
        if let Some(code) = explicit {
            route.department_id = routing.department_id(code)?;
        }
        route.department_code = routing.department_code(route.department_id).to_owned();
        route.coordinators.retain(|c| *c != route.department_id);
        route.coordinator_codes = route
            .coordinators
            .iter()
            .map(|c| routing.department_code(*c).to_owned())
            .collect();
        route.coordinator_codes.sort();
        Ok(route)
    }

    pub(crate) async fn get_ticket_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Ticket> {
        let mut conn = self.read.acquire().await?;
        load_scoped(&mut conn, actor, number, "").await
    }

    pub(crate) async fn list_tickets_impl(
        &self,
        actor: &Principal,
        f: &TicketFilter,
    ) -> Result<Page<Ticket>> {
        let pool = if f.from_primary {
            &self.read
        } else {
            &self.replica
        };
        let mut sql = Sql::new(TICKET_SELECT);
        sql.push(" WHERE 1 = 1");
        scope(&mut sql, actor);
        if !f.status.is_empty() {
            sql.push(" AND t.status IN (");
            for (i, s) in f.status.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(Arg::Text(s.as_str().into()));
            }
            sql.push(")");
        }
        if f.open {
            // Literal, exactly as the partial indexes `tickets_open*` are written.
            sql.push(" AND t.status NOT IN ('resolved', 'closed', 'duplicate')");
        }
        if let Some(p) = f.priority {
            sql.push(" AND t.priority = ")
                .bind(Arg::Text(p.as_str().into()));
        }
        if let Some(c) = &f.category {
            sql.push(" AND t.category = ")
                .bind(Arg::Text(c.as_str().into()));
        }
        if let Some(d) = &f.department {
            sql.push(" AND t.department_id = (SELECT id FROM departments WHERE code = ")
                .bind(Arg::Text(d.clone()))
                .push(")");
        }
        match f.assignee_id {
            Some(Some(id)) => {
                sql.push(" AND t.assignee_id = ").bind(Arg::Int(id));
            }
            Some(None) => {
                sql.push(" AND t.assignee_id IS NULL");
            }
            None => {}
        }
        if let Some(n) = &f.duplicate_of {
            sql.push(" AND t.duplicate_of = (SELECT id FROM tickets WHERE number = ")
                .bind(Arg::Text(n.as_str().to_owned()))
                .push(")");
        }
        if let Some(id) = f.requester_id {
            sql.push(" AND t.requester_id = ").bind(Arg::Int(id));
        }
        if let Some(due) = f.due_before {
            let at = to_ms(due);
            sql.push(" AND (t.first_response_due_at < ")
                .bind(Arg::Int(at))
                .push(" OR t.resolution_due_at < ")
                .bind(Arg::Int(at))
                .push(")");
        }
        if let Some(c) = f.channel {
            sql.push(" AND t.channel = ")
                .bind(Arg::Text(c.as_str().into()));
        }
        if let Some(from) = f.created_from {
            sql.push(" AND t.created_at >= ")
                .bind(Arg::Int(to_ms(from)));
        }
        if let Some(to) = f.created_to {
            sql.push(" AND t.created_at < ").bind(Arg::Int(to_ms(to)));
        }
        let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if let Some(number) = q.and_then(|q| q.parse::<TicketNumber>().ok()) {
            // A ticket number is looked up, not searched for in every text.
            sql.push(" AND t.number = ")
                .bind(Arg::Text(number.as_str().to_owned()));
        } else if let Some(q) = q {
            let pattern = format!("%{}%", escape_like(q));
            let like = self.dialect.ilike();
            sql.push(&format!(" AND (t.title {like} "))
                .bind(Arg::Text(pattern.clone()))
                .push(" ESCAPE '\\'");
            sql.push(&format!(" OR t.description {like} "))
                .bind(Arg::Text(pattern))
                .push(" ESCAPE '\\')");
        }
        if f.by_due {
            let limit = f.limit.clamp(1, 200);
            sql.push(
                " ORDER BY CASE WHEN t.first_response_due_at IS NULL \
                 AND t.resolution_due_at IS NULL THEN 1 ELSE 0 END, \
                 COALESCE(t.first_response_due_at, t.resolution_due_at), t.id LIMIT ",
            )
            .bind(Arg::Int(i64::from(limit)));
            let mut conn = pool.acquire().await?;
            let rows = sql.query().fetch_all(&mut *conn).await?;
            let mut items = rows.iter().map(rows::ticket).collect::<Result<Vec<_>>>()?;
            attach_coordinators(&mut conn, &mut items).await?;
            return Ok(Page {
                items,
                next_cursor: None,
            });
        }
        if let Some(c) = f.cursor {
            sql.push(" AND (t.created_at < ")
                .bind(Arg::Int(c.created_at_ms));
            sql.push(" OR (t.created_at = ")
                .bind(Arg::Int(c.created_at_ms));
            sql.push(" AND t.id < ").bind(Arg::Int(c.id)).push("))");
        }
        let limit = f.limit.clamp(1, 200);
        sql.push(" ORDER BY t.created_at DESC, t.id DESC LIMIT ")
            .bind(Arg::Int(i64::from(limit) + 1));

        let mut conn = pool.acquire().await?;
        let rows = sql.query().fetch_all(&mut *conn).await?;
        let mut items = rows.iter().map(rows::ticket).collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|t| {
                crate::Cursor {
                    created_at_ms: to_ms(t.created_at),
                    id: t.id,
                }
                .encode()
            })
        } else {
            None
        };
        attach_coordinators(&mut conn, &mut items).await?;
        Ok(Page { items, next_cursor })
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub(crate) async fn ticket_by_id(conn: &mut AnyConnection, id: i64) -> Result<Ticket> {
    let row = sqlx::query(&format!("{TICKET_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("ticket"))?;
    let mut t = [rows::ticket(&row)?];
    attach_coordinators(conn, &mut t).await?;
    let [t] = t;
    Ok(t)
}

/// A ticket the actor may see, optionally row-locked for a change; otherwise "not found".
pub(crate) async fn load_scoped(
    conn: &mut AnyConnection,
    actor: &Principal,
    number: &TicketNumber,
    lock: &str,
) -> Result<Ticket> {
    let mut sql = Sql::new(TICKET_SELECT);
    sql.push(" WHERE t.number = ")
        .bind(Arg::Text(number.as_str().to_owned()));
    scope(&mut sql, actor);
    sql.push(lock);
    let row = sql
        .query()
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("ticket"))?;
    let mut t = [rows::ticket(&row)?];
    attach_coordinators(conn, &mut t).await?;
    let [t] = t;
    Ok(t)
}

/// Appends one timeline entry; the timeline is never updated or deleted.
#[expect(
    clippy::too_many_arguments,
    reason = "one column each; a struct would only rename them"
)]
pub(crate) async fn append(
    conn: &mut AnyConnection,
    ticket_id: i64,
    kind: EntryKind,
    public: bool,
    actor_id: Option<i64>,
    body: Option<&str>,
    field: Option<&str>,
    new_value: Option<&str>,
    at_ms: i64,
) -> Result<i64> {
    append_change(
        conn, ticket_id, kind, public, actor_id, body, field, None, new_value, at_ms,
    )
    .await
}

/// A move the rules already allowed: the new status on the row and its public
/// `status_changed` entry (`body` is the reason the user sees).
pub(crate) async fn record_move(
    conn: &mut AnyConnection,
    ticket_id: i64,
    (from, to): (Status, Status),
    actor: Option<i64>,
    body: Option<&str>,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE tickets SET status = $1, updated_at = $2, version = version + 1 WHERE id = $3",
    )
    .bind(to.as_str())
    .bind(now_ms)
    .bind(ticket_id)
    .execute(&mut *conn)
    .await?;
    append_change(
        conn,
        ticket_id,
        EntryKind::StatusChanged,
        true,
        actor,
        body,
        Some("status"),
        Some(from.as_str()),
        Some(to.as_str()),
        now_ms,
    )
    .await?;
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one column each; a struct would only rename them"
)]
pub(crate) async fn append_change(
    conn: &mut AnyConnection,
    ticket_id: i64,
    kind: EntryKind,
    public: bool,
    actor_id: Option<i64>,
    body: Option<&str>,
    field: Option<&str>,
    old_value: Option<&str>,
    new_value: Option<&str>,
    at_ms: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO timeline (ticket_id, kind, public, actor_id, body, field, old_value, new_value, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(ticket_id)
    .bind(kind.as_str())
    .bind(i64::from(public))
    .bind(actor_id)
    .bind(body)
    .bind(field)
    .bind(old_value)
    .bind(new_value)
    .bind(at_ms)
    .fetch_one(conn)
    .await?)
}

impl SqlStore {
    /// A public reply from the requester's side (follow link, chat thread, mail): appended, and
    /// a ticket waiting on the user goes back to work, as a customer reply through the API
    /// does. Returns the entry's id.
    pub(crate) async fn append_requester_reply(
        &self,
        conn: &mut AnyConnection,
        ticket_id: i64,
        status: Status,
        actor: Option<i64>,
        body: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let channel: String = sqlx::query_scalar("SELECT channel FROM tickets WHERE id = $1")
            .bind(ticket_id)
            .fetch_one(&mut *conn)
            .await?;
        let masked = self
            .privacy
            .mask_channels
            .iter()
            .any(|c| c.as_str() == channel);
        let (text, original) = super::privacy::mask_reply(masked, body);
        let id = append(
            conn,
            ticket_id,
            EntryKind::Reply,
            true,
            actor,
            Some(&text),
            None,
            None,
            now_ms,
        )
        .await?;
        super::privacy::keep_reply_original(conn, ticket_id, id, original).await?;
        if matches!(status, Status::Resolved | Status::Closed)
            && super::closing::appeal_by_reply(conn, self, ticket_id, actor, &text, now_ms).await?
        {
            return Ok(id);
        }
        if status == Status::WaitingOnUser {
            let resumed = (Status::WaitingOnUser, Status::InProgress);
            record_move(conn, ticket_id, resumed, actor, None, now_ms).await?;
            // The clocks paused while waiting run again.
            super::sla::refresh(conn, self.dialect, &self.sla, ticket_id, from_ms(now_ms)).await?;
        } else {
            sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(ticket_id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use closedloop_domain::Status;

    /// `TicketFilter::open` is written as a literal list of the closed statuses (so the
    /// partial indexes apply); it must name exactly the statuses that are not open.
    #[test]
    fn the_open_filter_names_exactly_the_statuses_that_are_not_open() {
        let closed: Vec<&str> = Status::ALL
            .iter()
            .filter(|s| !s.is_open())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(closed, ["resolved", "closed", "duplicate"]);
    }
}
