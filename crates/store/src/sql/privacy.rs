//! Masking on intake, reveals and the access log.

use closedloop_domain::TicketNumber;
use sqlx::Row;

use super::tickets::load_scoped;
use super::{Arg, Sql, SqlStore};
use crate::model::{from_ms, to_ms};
use crate::{AccessEntry, AccessFilter, Principal, Result, RevealedField, SecurityEvent};

/// A field masked on intake: its original, kept apart for reveals.
pub(crate) struct Original {
    pub field: &'static str,
    pub text: String,
    pub kinds: String,
}

/// Masks the text fields of a ticket from a public channel, collecting the originals.
pub(crate) struct Masker {
    pub on: bool,
    pub originals: Vec<Original>,
}

impl Masker {
    fn mask(&self, text: &str) -> Option<closedloop_privacy::Masked> {
        self.on.then(|| closedloop_privacy::mask(text)).flatten()
    }

    pub fn text(&mut self, field: &'static str, text: &str) -> String {
        let Some(m) = self.mask(text) else {
            return text.to_owned();
        };
        self.originals.push(Original {
            field,
            text: text.to_owned(),
            kinds: m
                .kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(","),
        });
        m.text
    }

    /// Text derived from the fields (triage's verdict quotes the title and the phrases it
    /// read): masked alike, with nothing kept, since the fields' originals already are.
    pub fn derived(&self, text: &str) -> String {
        self.mask(text).map_or_else(|| text.to_owned(), |m| m.text)
    }
}

/// A reply from the requester's side on a ticket from a masked channel (a second comment in
/// the same social thread, say) is masked like the first message; the original is kept apart
/// under `reply:<entry id>`. Returns the text to store and what to keep.
pub(crate) fn mask_reply(on: bool, body: &str) -> (String, Option<(String, String)>) {
    match on.then(|| closedloop_privacy::mask(body)).flatten() {
        Some(m) => {
            let kinds = m
                .kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(",");
            (m.text, Some((body.to_owned(), kinds)))
        }
        None => (body.to_owned(), None),
    }
}

/// Keeps a masked reply's original (see [`mask_reply`]).
pub(crate) async fn keep_reply_original(
    conn: &mut sqlx::AnyConnection,
    ticket_id: i64,
    entry_id: i64,
    original: Option<(String, String)>,
) -> Result<()> {
    if let Some((text, kinds)) = original {
        sqlx::query(
            "INSERT INTO personal_data (ticket_id, field, original, kinds) VALUES ($1, $2, $3, $4)",
        )
        .bind(ticket_id)
        .bind(format!("reply:{entry_id}"))
        .bind(text)
        .bind(kinds)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Views by the same person of the same ticket within this time are one entry.
const VIEW_DEDUP_MS: i64 = 10 * 60 * 1000;

fn split_kinds(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Each kind once, in name order.
fn union(kinds: impl Iterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = kinds.collect();
    all.sort();
    all.dedup();
    all
}

impl SqlStore {
    pub(crate) async fn reveal_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<RevealedField>> {
        let mut tx = self.begin_write().await?;
        let ticket = load_scoped(&mut tx, actor, number, "").await?;
        let rows = sqlx::query(
            "SELECT field, original, kinds FROM personal_data WHERE ticket_id = $1 ORDER BY field",
        )
        .bind(ticket.id)
        .fetch_all(&mut *tx)
        .await?;
        let fields = rows
            .iter()
            .map(|r| {
                Ok(RevealedField {
                    field: r.try_get(0)?,
                    original: r.try_get(1)?,
                    kinds: split_kinds(&r.try_get::<String, _>(2)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let all = union(fields.iter().flat_map(|f| f.kinds.iter().cloned()));
        sqlx::query(
            "INSERT INTO access_log (at, actor_id, ticket_id, action, kinds) VALUES ($1, $2, $3, 'reveal', $4)",
        )
        .bind(to_ms(self.clock.now()))
        .bind(actor.user_id)
        .bind(ticket.id)
        .bind(all.join(","))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(fields)
    }

    pub(crate) async fn personal_kinds_impl(&self, ticket_id: i64) -> Result<Vec<String>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT kinds FROM personal_data WHERE ticket_id = $1")
                .bind(ticket_id)
                .fetch_all(&self.read)
                .await?;
        Ok(union(rows.iter().flat_map(|k| split_kinds(k))))
    }

    pub(crate) async fn log_view_impl(&self, actor: &Principal, ticket_id: i64) -> Result<()> {
        let now = to_ms(self.clock.now());
        // Most views repeat a recent one: a read finds that without queueing for the writer,
        // which on SQLite every write does. The insert re-checks, for two views at once.
        let recent: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM access_log WHERE ticket_id = $1 AND actor_id = $2 AND action = 'view' AND at > $3",
        )
        .bind(ticket_id)
        .bind(actor.user_id)
        .bind(now - VIEW_DEDUP_MS)
        .fetch_optional(&self.read)
        .await?;
        if recent.is_some() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO access_log (at, actor_id, ticket_id, action, kinds) \
             SELECT $1, $2, $3, 'view', '' WHERE NOT EXISTS (SELECT 1 FROM access_log \
             WHERE ticket_id = $4 AND actor_id = $5 AND action = 'view' AND at > $6)",
        )
        .bind(now)
        .bind(actor.user_id)
        .bind(ticket_id)
        .bind(ticket_id)
        .bind(actor.user_id)
        .bind(now - VIEW_DEDUP_MS)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn access_log_impl(&self, f: &AccessFilter) -> Result<Vec<AccessEntry>> {
        let mut sql = Sql::new(
            "SELECT a.id, a.at, a.actor_id, u.name, t.number, a.action, a.kinds FROM access_log a \
             JOIN users u ON u.id = a.actor_id JOIN tickets t ON t.id = a.ticket_id WHERE 1 = 1",
        );
        if let Some(n) = &f.ticket {
            sql.push(" AND a.ticket_id = (SELECT id FROM tickets WHERE number = ")
                .bind(Arg::Text(n.as_str().to_owned()))
                .push(")");
        }
        if let Some(id) = f.actor_id {
            sql.push(" AND a.actor_id = ").bind(Arg::Int(id));
        }
        if let Some(before) = f.before {
            sql.push(" AND a.id < ").bind(Arg::Int(before));
        }
        sql.push(" ORDER BY a.id DESC LIMIT ")
            .bind(Arg::Int(f.limit));
        sql.query()
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(AccessEntry {
                    id: r.try_get(0)?,
                    at: from_ms(r.try_get(1)?),
                    actor_id: r.try_get(2)?,
                    actor_name: r.try_get(3)?,
                    ticket: r.try_get(4)?,
                    action: r.try_get(5)?,
                    kinds: split_kinds(&r.try_get::<String, _>(6)?),
                })
            })
            .collect()
    }

    pub(crate) async fn record_security_event_impl(&self, e: &SecurityEvent) -> Result<()> {
        sqlx::query(
            "INSERT INTO security_events (at, actor_id, code, status, method, path) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(to_ms(e.at))
        .bind(e.actor_id)
        .bind(&e.code)
        .bind(e.status)
        .bind(&e.method)
        .bind(&e.path)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn security_events_impl(
        &self,
        actor_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SecurityEvent>> {
        let mut sql = Sql::new(
            "SELECT id, at, actor_id, code, status, method, path FROM security_events WHERE 1 = 1",
        );
        if let Some(id) = actor_id {
            sql.push(" AND actor_id = ").bind(Arg::Int(id));
        }
        if let Some(before) = before {
            sql.push(" AND id < ").bind(Arg::Int(before));
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(Arg::Int(limit));
        sql.query()
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(SecurityEvent {
                    id: r.try_get(0)?,
                    at: from_ms(r.try_get(1)?),
                    actor_id: r.try_get(2)?,
                    code: r.try_get(3)?,
                    status: r.try_get(4)?,
                    method: r.try_get(5)?,
                    path: r.try_get(6)?,
                })
            })
            .collect()
    }
}
