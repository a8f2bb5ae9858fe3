//! Registering, reading and listing tickets.

use closedloop_domain::{
    ImpactScope, Nature, Priority, Role, RoutingMatrix, Severity, TicketNumber, Title,
};
use sqlx::{AnyConnection, Row};

use super::people::customer_by_email;
use super::rows::{self, TICKET_SELECT, attach_coordinators, scope};
use super::{Arg, Sql, SqlStore, department_id, parse_stored};
use crate::model::to_ms;
use crate::{
    EntryKind, IdempotencyKey, NewTicket, Page, Principal, Result, StoreError, Ticket, TicketFilter,
};

/// Where a new ticket goes: handling department and coordinators.
struct Route {
    department_id: i64,
    department_code: String,
    coordinators: Vec<i64>,
    nature: Option<Nature>,
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
        let now = self.clock.now();
        let now_ms = to_ms(now);
        // Routing reads configuration only, so it runs on a reader: on SQLite every statement
        // kept out of the single writer's transaction is throughput for everyone else.
        let route = {
            let mut read = self.read.acquire().await?;
            self.route(&mut read, new).await?
        };
        let mut tx = self.write.begin().await?;

        if let Some(k) = idem {
            let seen = sqlx::query("SELECT request_hash, ticket_id FROM idempotency_keys WHERE user_id = $1 AND key = $2")
                .bind(actor.user_id)
                .bind(&k.key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = seen {
                let hash: String = row.try_get(0)?;
                if hash != k.request_hash {
                    return Err(StoreError::IdempotencyMismatch);
                }
                let ticket = ticket_by_id(&mut tx, row.try_get(1)?).await?;
                return Ok((ticket, false));
            }
        }

        let requester_id = match (&new.requester_email, actor.role) {
            (_, Role::Customer) => Some(actor.user_id),
            (Some(email), _) => Some(customer_by_email(&mut tx, email, now_ms).await?),
            (None, _) => None,
        };

        let day = now.date_naive();
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_counters (day, value) VALUES ($1, 1) \
             ON CONFLICT (day) DO UPDATE SET value = ticket_counters.value + 1 RETURNING value",
        )
        .bind(TicketNumber::day_key(day))
        .fetch_one(&mut *tx)
        .await?;
        let number = TicketNumber::new(day, u64::try_from(seq).unwrap_or_default());

        let (title, generated) = match &new.title {
            Some(t) => (t.as_str().to_owned(), false),
            None => (
                Title::from_description(new.description.as_str()).into_string(),
                true,
            ),
        };
        let anonymous = requester_id.is_none();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tickets (number, channel, requester_id, requester_ip, requester_user_agent, title, \
             title_generated, description, evidence, order_number, expected_resolution, region, category, nature, \
             priority, severity, impact_scope, department_id, status, created_at, updated_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'received', $19, $19, $20) \
             RETURNING id",
        )
        .bind(number.as_str())
        .bind(new.channel.as_str())
        .bind(requester_id)
        .bind(new.requester_ip.as_deref().filter(|_| anonymous))
        .bind(new.requester_user_agent.as_deref().filter(|_| anonymous))
        .bind(title)
        .bind(i64::from(generated))
        .bind(new.description.as_str())
        .bind(serde_json::to_string(&new.evidence).unwrap_or_else(|_| "[]".into()))
        .bind(new.order_number.as_deref())
        .bind(new.expected_resolution.as_deref())
        .bind(new.region.as_deref())
        .bind(new.category.as_ref().map(|c| c.as_str()))
        .bind(new.nature.or(route.nature).map(Nature::as_str))
        .bind(new.priority.unwrap_or(Priority::P3).as_str())
        .bind(new.severity.unwrap_or(Severity::General).as_str())
        .bind(new.impact_scope.unwrap_or(ImpactScope::OneUser).as_str())
        .bind(route.department_id)
        .bind(now_ms)
        .bind(actor.user_id)
        .fetch_one(&mut *tx)
        .await?;
        for c in &route.coordinators {
            sqlx::query(
                "INSERT INTO ticket_coordinators (ticket_id, department_id) VALUES ($1, $2)",
            )
            .bind(id)
            .bind(c)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO timeline (ticket_id, kind, public, actor_id, body, field, new_value, created_at) \
             VALUES ($1, 'created', 1, $2, $3, NULL, NULL, $4), ($1, 'routed', 0, NULL, NULL, 'department', $5, $4)",
        )
        .bind(id)
        .bind(actor.user_id)
        .bind(new.channel.as_str())
        .bind(now_ms)
        .bind(&route.department_code)
        .execute(&mut *tx)
        .await?;
        if let Some(k) = idem {
            sqlx::query("INSERT INTO idempotency_keys (user_id, key, request_hash, ticket_id, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(actor.user_id)
                .bind(&k.key)
                .bind(&k.request_hash)
                .bind(id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let mut read = self.read.acquire().await?;
        Ok((ticket_by_id(&mut read, id).await?, true))
    }

    /// Routing by the category matrix (MISSION §2); staff may name the department instead;
    /// without either the ticket waits in the fallback department for manual triage.
    async fn route(&self, conn: &mut AnyConnection, new: &NewTicket) -> Result<Route> {
        let mut route = Route { department_id: 0, department_code: String::new(), coordinators: Vec::new(), nature: None };
        if let Some(cat) = &new.category {
            let row = sqlx::query(
                "SELECT c.handling_department_id, d.code, c.nature FROM categories c \
                 JOIN departments d ON d.id = c.handling_department_id WHERE c.code = $1",
            )
            .bind(cat.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::invalid("category", "unknown_category", format!("no category {cat}")))?;
            route.department_id = row.try_get(0)?;
            route.department_code = row.try_get(1)?;
            route.nature = Some(parse_stored(&row.try_get::<String, _>(2)?)?);
            route.coordinators = sqlx::query_scalar(
                "SELECT department_id FROM category_coordinators WHERE category = $1 ORDER BY department_id",
            )
            .bind(cat.as_str())
            .fetch_all(&mut *conn)
            .await?;
        }
        let explicit = new.department.as_deref().or(new.category.is_none().then_some(RoutingMatrix::FALLBACK_DEPARTMENT));
        if let Some(code) = explicit {
            route.department_id = department_id(conn, code).await?;
            route.department_code = code.to_owned();
        }
        route.coordinators.retain(|c| *c != route.department_id);
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
        if let Some(q) = f.q.as_deref().filter(|q| !q.trim().is_empty()) {
            let pattern = format!("%{}%", escape_like(q.trim()));
            let like = self.dialect.ilike();
            sql.push(&format!(" AND (t.title {like} "))
                .bind(Arg::Text(pattern.clone()))
                .push(" ESCAPE '\\'");
            sql.push(&format!(" OR t.description {like} "))
                .bind(Arg::Text(pattern.clone()))
                .push(" ESCAPE '\\'");
            sql.push(" OR t.number = ")
                .bind(Arg::Text(q.trim().to_owned()))
                .push(")");
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

        let mut conn = self.read.acquire().await?;
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
