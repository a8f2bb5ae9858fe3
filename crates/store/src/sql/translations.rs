//! Machine translations kept beside the tickets' own text, and the cursor of the worker that
//! asks for them.

use closedloop_domain::TicketNumber;
use sqlx::Row;

use super::SqlStore;
use super::tickets::load_scoped;
use crate::model::{from_ms, to_ms};
use crate::{Principal, Result, Translation};

/// Where the translation worker is in the tickets, by id.
const CURSOR: &str = "translation_cursor";

impl SqlStore {
    pub(crate) async fn translation_batch_impl(
        &self,
        limit: i64,
    ) -> Result<(i64, Vec<(i64, String, String)>)> {
        let after: i64 = self.setting_impl(CURSOR, "0").await?.parse().unwrap_or(0);
        let rows = sqlx::query(
            "SELECT id, title, description FROM tickets WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<_>>>()?;
        Ok((after, rows))
    }

    pub(crate) async fn advance_translation_cursor_impl(&self, from: i64, to: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value = $3")
            .bind(to.to_string())
            .bind(CURSOR)
            .bind(from.to_string())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn save_translation_impl(
        &self,
        ticket_id: i64,
        field: &str,
        source: &str,
        lang: &str,
        text: &str,
    ) -> Result<()> {
        // Only while the field still says what was translated: an erasure or an edit while the
        // provider was working must not get the old text back in.
        let column = if field == "title" {
            "title"
        } else {
            "description"
        };
        sqlx::query(&format!(
            "INSERT INTO translations (ticket_id, field, lang, text, created_at) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM tickets WHERE id = $6 \
             AND anonymised_at IS NULL AND {column} = $7) \
             ON CONFLICT (ticket_id, field, lang) DO NOTHING"
        ))
        .bind(ticket_id)
        .bind(column)
        .bind(lang)
        .bind(text)
        .bind(to_ms(self.clock.now()))
        .bind(ticket_id)
        .bind(source)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn translations_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Vec<Translation>> {
        let mut conn = self.read.acquire().await?;
        let ticket = load_scoped(&mut conn, actor, number, "").await?;
        sqlx::query(
            "SELECT field, lang, text, created_at FROM translations WHERE ticket_id = $1 \
             ORDER BY field DESC, lang",
        )
        .bind(ticket.id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(Translation {
                field: r.try_get(0)?,
                lang: r.try_get(1)?,
                text: r.try_get(2)?,
                created_at: from_ms(r.try_get(3)?),
            })
        })
        .collect()
    }
}
