//! Reading rows into the store's types.

use closedloop_domain::{Category, Role};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Arg, Sql, parse_stored};
use crate::model::from_ms;
use crate::{EntryKind, Principal, Result, Ticket, TimelineEntry, User};

pub(crate) const TICKET_SELECT: &str = "SELECT t.id, t.number, t.channel, t.status, t.title, \
    t.title_generated, t.description, t.evidence, t.order_number, t.expected_resolution, t.region, \
    t.category, t.nature, t.priority, t.severity, t.impact_scope, d.code AS department, \
    t.assignee_id, a.name AS assignee_name, t.requester_id, r.name AS requester_name, \
    t.requester_ip, t.requester_user_agent, m.number AS duplicate_of, t.created_at, t.updated_at, \
    t.first_response_at, t.accepted_at, t.resolved_at, t.closed_at, t.first_response_due_at, \
    t.resolution_due_at \
    FROM tickets t \
    LEFT JOIN departments d ON d.id = t.department_id \
    LEFT JOIN users a ON a.id = t.assignee_id \
    LEFT JOIN users r ON r.id = t.requester_id \
    LEFT JOIN tickets m ON m.id = t.duplicate_of";

fn opt_ms(row: &AnyRow, col: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_ms))
}

fn opt_parse<T: std::str::FromStr<Err = closedloop_domain::DomainError>>(
    row: &AnyRow,
    col: &str,
) -> Result<Option<T>> {
    row.try_get::<Option<String>, _>(col)?
        .as_deref()
        .map(parse_stored)
        .transpose()
}

pub(crate) fn ticket(row: &AnyRow) -> Result<Ticket> {
    let evidence: String = row.try_get("evidence")?;
    Ok(Ticket {
        id: row.try_get("id")?,
        number: parse_stored(&row.try_get::<String, _>("number")?)?,
        channel: parse_stored(&row.try_get::<String, _>("channel")?)?,
        status: parse_stored(&row.try_get::<String, _>("status")?)?,
        title: row.try_get("title")?,
        title_generated: row.try_get::<i64, _>("title_generated")? != 0,
        description: row.try_get("description")?,
        evidence: serde_json::from_str(&evidence).unwrap_or_default(),
        order_number: row.try_get("order_number")?,
        expected_resolution: row.try_get("expected_resolution")?,
        region: row.try_get("region")?,
        category: row
            .try_get::<Option<String>, _>("category")?
            .map(|c| Category::parse("category", &c))
            .transpose()
            .map_err(|e| crate::StoreError::Database(sqlx::Error::Decode(Box::new(e))))?,
        nature: opt_parse(row, "nature")?,
        priority: parse_stored(&row.try_get::<String, _>("priority")?)?,
        severity: parse_stored(&row.try_get::<String, _>("severity")?)?,
        impact_scope: parse_stored(&row.try_get::<String, _>("impact_scope")?)?,
        department: row.try_get("department")?,
        coordinating_departments: Vec::new(),
        assignee_id: row.try_get("assignee_id")?,
        assignee_name: row.try_get("assignee_name")?,
        requester_id: row.try_get("requester_id")?,
        requester_name: row.try_get("requester_name")?,
        requester_ip: row.try_get("requester_ip")?,
        requester_user_agent: row.try_get("requester_user_agent")?,
        duplicate_of: opt_parse(row, "duplicate_of")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        first_response_at: opt_ms(row, "first_response_at")?,
        accepted_at: opt_ms(row, "accepted_at")?,
        resolved_at: opt_ms(row, "resolved_at")?,
        closed_at: opt_ms(row, "closed_at")?,
        first_response_due_at: opt_ms(row, "first_response_due_at")?,
        resolution_due_at: opt_ms(row, "resolution_due_at")?,
    })
}

/// Fills in the coordinating departments of a page of tickets with one query.
pub(crate) async fn attach_coordinators(
    conn: &mut AnyConnection,
    tickets: &mut [Ticket],
) -> Result<()> {
    if tickets.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(
        "SELECT tc.ticket_id, d.code FROM ticket_coordinators tc \
         JOIN departments d ON d.id = tc.department_id WHERE tc.ticket_id IN ",
    );
    sql.bind_list(tickets.iter().map(|t| t.id))
        .push(" ORDER BY d.code");
    for row in sql.query().fetch_all(conn).await? {
        let id: i64 = row.try_get(0)?;
        let code: String = row.try_get(1)?;
        if let Some(t) = tickets.iter_mut().find(|t| t.id == id) {
            t.coordinating_departments.push(code);
        }
    }
    Ok(())
}

/// Restricts a ticket query (aliased `t`) to what the actor may see (MISSION §4: no
/// over-privileged access). Agents and supervisors see their departments' tickets, whether
/// handling or coordinating, and tickets assigned to them or that they registered; customers
/// their own; admins all.
pub(crate) fn scope(sql: &mut Sql, actor: &Principal) {
    match actor.role {
        Role::Admin => {}
        Role::Customer => {
            sql.push(" AND t.requester_id = ")
                .bind(Arg::Int(actor.user_id));
        }
        Role::Agent | Role::Supervisor => {
            sql.push(" AND (t.assignee_id = ")
                .bind(Arg::Int(actor.user_id));
            sql.push(" OR t.created_by = ")
                .bind(Arg::Int(actor.user_id));
            if !actor.departments.is_empty() {
                sql.push(" OR t.department_id IN ")
                    .bind_list(actor.departments.iter().copied());
                sql.push(" OR EXISTS (SELECT 1 FROM ticket_coordinators sc WHERE sc.ticket_id = t.id AND sc.department_id IN ")
                    .bind_list(actor.departments.iter().copied())
                    .push(")");
            }
            sql.push(")");
        }
    }
}

pub(crate) fn entry(row: &AnyRow) -> Result<TimelineEntry> {
    let kind: String = row.try_get("kind")?;
    Ok(TimelineEntry {
        id: row.try_get("id")?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown timeline kind {kind}").into()))?,
        public: row.try_get::<i64, _>("public")? != 0,
        actor_id: row.try_get("actor_id")?,
        actor_name: row.try_get("actor_name")?,
        body: row.try_get("body")?,
        field: row.try_get("field")?,
        old_value: row.try_get("old_value")?,
        new_value: row.try_get("new_value")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

pub(crate) const ENTRY_SELECT: &str = "SELECT e.id, e.kind, e.public, e.actor_id, u.name AS actor_name, \
    e.body, e.field, e.old_value, e.new_value, e.created_at FROM timeline e LEFT JOIN users u ON u.id = e.actor_id";

pub(crate) fn user(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: parse_stored::<Role>(&row.try_get::<String, _>("role")?)?,
        active: row.try_get::<i64, _>("active")? != 0,
        departments: Vec::new(),
        created_at: from_ms(row.try_get("created_at")?),
    })
}
