//! Inbound mail: threading that never lets a stranger into someone else's ticket, and an
//! outcome recorded for every message so a re-delivery is answered as before.

use closedloop_domain::{Role, Status, TicketNumber};
use sqlx::Row;

use super::links::attach;
use super::notices::queue_acknowledgement;
use super::people::customer_by_email;
use super::tickets::append;
use super::{Arg, Sql, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{
    EntryKind, IdempotencyKey, InboundMail, MailCount, MailLogEntry, MailLogFilter, MailOutcome,
    Principal, Result, StoreError,
};

impl SqlStore {
    pub(crate) async fn ingest_mail_impl(&self, m: InboundMail) -> Result<MailOutcome> {
        if let Some(done) = self.earlier_outcome(&m.message_id).await? {
            return Ok(done);
        }
        let now = to_ms(self.clock.now());
        let named = self.named_ticket(&m).await?;
        let allowed = match &named {
            Some((id, _, _)) => self.may_add_to(*id, &m).await?,
            None => false,
        };

        if let Some(rule) = &m.auto {
            let mut tx = self.begin_write().await?;
            let ticket = named.as_ref().filter(|_| allowed).map(|(id, _, _)| *id);
            if !record(&mut tx, &m, ticket, "ignored", Some(rule), now).await? {
                return self.answered_before(&m.message_id).await;
            }
            if let Some(id) = ticket {
                let body = format!("Automatic mail from {} ignored ({rule}).", m.from);
                append(
                    &mut tx,
                    id,
                    EntryKind::Note,
                    false,
                    None,
                    Some(&body),
                    None,
                    None,
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(MailOutcome::Ignored { rule: rule.clone() });
        }

        // A participant adds to an open ticket; a closed one gets a new ticket that names it.
        if let Some((id, number, status)) = &named
            && allowed
            && !matches!(status, Status::Closed | Status::Duplicate)
        {
            let mut tx = self.begin_write().await?;
            if !record(&mut tx, &m, Some(*id), "threaded", None, now).await? {
                return self.answered_before(&m.message_id).await;
            }
            let sender = customer_by_email(&mut tx, &m.from, now).await?;
            self.append_requester_reply(&mut tx, *id, *status, Some(sender), &m.reply, now)
                .await?;
            add_participants(&mut tx, *id, m.cc.iter()).await?;
            attach(&mut tx, *id, &m.attachments, now).await?;
            tx.commit().await?;
            return Ok(MailOutcome::Threaded(number.clone()));
        }

        // A new ticket, made as its sender would make it through the API. The key makes a
        // retry after a crash between these steps find the ticket instead of making another.
        let sender = {
            let mut write = self.write.acquire().await?;
            customer_by_email(&mut write, &m.from, now).await?
        };
        let actor = self
            .principal_impl(sender)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let actor = Principal {
            role: Role::Customer,
            departments: Vec::new(),
            ..actor
        };
        let key = IdempotencyKey {
            key: format!("mail:{}", m.message_id),
            request_hash: format!("mail:{}", m.message_id),
        };
        let (ticket, _) = self
            .create_ticket_impl(&actor, m.ticket.clone(), Some(key))
            .await?;
        let mut tx = self.begin_write().await?;
        if !record(&mut tx, &m, Some(ticket.id), "created", None, now).await? {
            return self.answered_before(&m.message_id).await;
        }
        add_participants(&mut tx, ticket.id, std::iter::once(&m.from).chain(&m.cc)).await?;
        attach(&mut tx, ticket.id, &m.attachments, now).await?;
        if let Some(ack) = &m.acknowledge {
            let theirs = Some(m.message_id.as_str()).filter(|id| !id.starts_with("sha256:"));
            queue_acknowledgement(&mut tx, self.dialect, ticket.id, &m.from, theirs, ack, now)
                .await?;
        }
        if let Some((_, other, _)) = &named {
            // Named a ticket it may not join: say so to staff, show the sender nothing of it.
            let body = format!(
                "This mail named {other}, but its sender is not a participant there (or that ticket is closed); it was opened as a new ticket."
            );
            append(
                &mut tx,
                ticket.id,
                EntryKind::Note,
                false,
                None,
                Some(&body),
                None,
                None,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(MailOutcome::Created(ticket.number))
    }

    /// Keeps a message that could not be parsed on record (its raw bytes are in the quarantine
    /// folder), so it is counted and an administrator can retry it.
    pub(crate) async fn quarantine_mail_impl(
        &self,
        message_id: &str,
        from: &str,
        reason: &str,
        path: &str,
    ) -> Result<()> {
        let now = to_ms(self.clock.now());
        sqlx::query(
            "INSERT INTO mail_messages (message_id, direction, address, ticket_id, outcome, reason, path, created_at) \
             VALUES ($1, 'in', $2, NULL, 'quarantined', $3, $4, $5) \
             ON CONFLICT (message_id) DO UPDATE SET outcome = 'quarantined', reason = $3, created_at = $5",
        )
        .bind(message_id)
        .bind(from)
        .bind(reason)
        .bind(path)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn forget_quarantined_impl(&self, message_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM mail_messages WHERE message_id = $1 AND outcome = 'quarantined'")
            .bind(message_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub(crate) async fn mail_log_impl(&self, f: MailLogFilter) -> Result<Vec<MailLogEntry>> {
        let mut sql = Sql::new(
            "SELECT m.message_id, m.direction, m.address, t.number, m.outcome, m.reason, m.path, m.created_at \
             FROM mail_messages m LEFT JOIN tickets t ON t.id = m.ticket_id WHERE 1 = 1",
        );
        if let Some(o) = f.outcome {
            sql.push(" AND m.outcome = ").bind(Arg::Text(o));
        }
        if let Some(p) = f.path {
            sql.push(" AND m.path = ").bind(Arg::Text(p));
        }
        if let Some(b) = f.before {
            sql.push(" AND m.created_at < ").bind(Arg::Int(to_ms(b)));
        }
        sql.push(" ORDER BY m.created_at DESC, m.message_id DESC LIMIT ")
            .bind(Arg::Int(i64::from(f.limit.clamp(1, 500))));
        let rows = sql.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(MailLogEntry {
                    message_id: r.try_get(0)?,
                    direction: r.try_get(1)?,
                    address: r.try_get(2)?,
                    ticket: r.try_get(3)?,
                    outcome: r.try_get(4)?,
                    reason: r.try_get(5)?,
                    path: r.try_get(6)?,
                    at: from_ms(r.try_get(7)?),
                })
            })
            .collect()
    }

    pub(crate) async fn mail_counts_impl(&self) -> Result<Vec<MailCount>> {
        let rows = sqlx::query(
            "SELECT direction, path, outcome, CASE WHEN outcome = 'ignored' THEN COALESCE(reason, '') ELSE '' END AS rule, \
             COUNT(*) FROM mail_messages GROUP BY direction, path, outcome, rule ORDER BY direction, path, outcome, rule",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailCount {
                    direction: r.try_get(0)?,
                    path: r.try_get(1)?,
                    outcome: r.try_get(2)?,
                    rule: r.try_get(3)?,
                    count: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// What became of a message another delivery of it filed meanwhile.
    async fn answered_before(&self, message_id: &str) -> Result<MailOutcome> {
        self.earlier_outcome(message_id)
            .await?
            .ok_or(StoreError::NotFound("mail outcome"))
    }

    async fn earlier_outcome(&self, message_id: &str) -> Result<Option<MailOutcome>> {
        let row = sqlx::query(
            "SELECT m.outcome, m.reason, t.number FROM mail_messages m \
             LEFT JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = $1 AND m.direction = 'in'",
        )
        .bind(message_id)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let outcome: String = row.try_get(0)?;
        let number: Option<String> = row.try_get(2)?;
        let number = number
            .map(|n| parse_stored::<TicketNumber>(&n))
            .transpose()?;
        Ok(match (outcome.as_str(), number) {
            ("created", Some(n)) => Some(MailOutcome::Created(n)),
            ("threaded", Some(n)) => Some(MailOutcome::Threaded(n)),
            ("ignored", _) => Some(MailOutcome::Ignored {
                rule: row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
            }),
            // Quarantined before (or its ticket is gone): handle it afresh.
            _ => None,
        })
    }

    /// The ticket a message refers to: by its reply headers first, else by a number in its
    /// subject. (id, number, status).
    async fn named_ticket(&self, m: &InboundMail) -> Result<Option<(i64, TicketNumber, Status)>> {
        let mut conn = self.read.acquire().await?;
        if !m.references.is_empty() {
            let mut sql = Sql::new(
                "SELECT t.id, t.number, t.status FROM mail_messages mm JOIN tickets t ON t.id = mm.ticket_id \
                 WHERE mm.message_id IN (",
            );
            for (i, r) in m.references.iter().enumerate() {
                sql.push(if i == 0 { "" } else { ", " })
                    .bind(Arg::Text(r.clone()));
            }
            sql.push(") ORDER BY mm.created_at DESC LIMIT 1");
            if let Some(row) = sql.query().fetch_optional(&mut *conn).await? {
                return Ok(Some(ticket_row(&row)?));
            }
        }
        for n in &m.ticket_numbers {
            if let Some(row) =
                sqlx::query("SELECT id, number, status FROM tickets WHERE number = $1")
                    .bind(n.as_str())
                    .fetch_optional(&mut *conn)
                    .await?
            {
                return Ok(Some(ticket_row(&row)?));
            }
        }
        Ok(None)
    }

    /// Whether the sender may add to the ticket: a participant, a member of staff, or the
    /// addressee of a message we sent about it that this one answers.
    async fn may_add_to(&self, ticket_id: i64, m: &InboundMail) -> Result<bool> {
        let mut conn = self.read.acquire().await?;
        let participant: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM ticket_participants WHERE ticket_id = $1 AND address = $2 \
             UNION ALL SELECT 1 FROM users WHERE email = $2 AND role <> 'customer' AND active = 1",
        )
        .bind(ticket_id)
        .bind(&m.from)
        .fetch_optional(&mut *conn)
        .await?;
        if participant.is_some() || m.references.is_empty() {
            return Ok(participant.is_some());
        }
        let mut sql =
            Sql::new("SELECT 1 FROM mail_messages WHERE direction = 'out' AND ticket_id = ");
        sql.bind(Arg::Int(ticket_id))
            .push(" AND address = ")
            .bind(Arg::Text(m.from.clone()));
        sql.push(" AND message_id IN (");
        for (i, r) in m.references.iter().enumerate() {
            sql.push(if i == 0 { "" } else { ", " })
                .bind(Arg::Text(r.clone()));
        }
        sql.push(")");
        Ok(sql.query().fetch_optional(&mut *conn).await?.is_some())
    }
}

fn ticket_row(row: &sqlx::any::AnyRow) -> Result<(i64, TicketNumber, Status)> {
    Ok((
        row.try_get(0)?,
        parse_stored(&row.try_get::<String, _>(1)?)?,
        parse_stored(&row.try_get::<String, _>(2)?)?,
    ))
}

async fn add_participants<'a>(
    conn: &mut sqlx::AnyConnection,
    ticket_id: i64,
    addresses: impl Iterator<Item = &'a String>,
) -> Result<()> {
    for a in addresses {
        sqlx::query(
            "INSERT INTO ticket_participants (ticket_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(ticket_id)
        .bind(a.to_lowercase())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn record(
    conn: &mut sqlx::AnyConnection,
    m: &InboundMail,
    ticket_id: Option<i64>,
    outcome: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<bool> {
    // Only a quarantined record may be replaced: when another delivery of the same message got
    // here first, nothing changes and the caller rolls back and answers as that one did.
    let done = sqlx::query(
        "INSERT INTO mail_messages (message_id, direction, address, ticket_id, outcome, reason, path, created_at) \
         VALUES ($1, 'in', $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (message_id) DO UPDATE SET ticket_id = $3, outcome = $4, reason = $5, path = $6, created_at = $7 \
         WHERE mail_messages.outcome = 'quarantined'",
    )
    .bind(&m.message_id)
    .bind(&m.from)
    .bind(ticket_id)
    .bind(outcome)
    .bind(reason)
    .bind(m.path)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
