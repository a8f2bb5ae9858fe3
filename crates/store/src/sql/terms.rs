//! Each ticket's keywords and sentiment, filled in by a background pass, and what hot-issue
//! analysis reads of them.

use closedloop_domain::hot::{Doc, Series};
use sqlx::Row as _;

use super::rows::scope;
use super::{Arg, Sql, SqlStore};
use crate::model::{from_ms, to_ms};
use crate::{PendingTerms, Principal, Result, Terms};

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

impl SqlStore {
    pub(crate) async fn pending_terms_impl(&self, limit: u32) -> Result<Vec<PendingTerms>> {
        let mut sql = Sql::new(
            "SELECT id, title, description FROM tickets WHERE keywords IS NULL ORDER BY id LIMIT ",
        );
        sql.bind(Arg::Int(i64::from(limit)));
        let mut out = Vec::new();
        for r in sql.query().fetch_all(&self.read).await? {
            out.push(PendingTerms {
                id: r.try_get(0)?,
                title: r.try_get(1)?,
                description: r.try_get(2)?,
            });
        }
        Ok(out)
    }

    pub(crate) async fn save_terms_impl(&self, terms: &[Terms]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for t in terms {
            let mut sql = Sql::new("UPDATE tickets SET keywords = ");
            sql.bind(Arg::Text(t.keywords.join(" ")))
                .push(", sentiment = ")
                .bind(Arg::Int(t.sentiment_milli))
                .push(" WHERE id = ")
                .bind(Arg::Int(t.id))
                // Another instance may have got there first; the result is the same.
                .push(" AND keywords IS NULL AND title = ")
                .bind(Arg::Text(t.title.clone()))
                .push(" AND description = ")
                .bind(Arg::Text(t.description.clone()));
            sql.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn hot_docs_impl(
        &self,
        actor: &Principal,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Doc>> {
        let mut sql = Sql::new(
            "SELECT t.number, t.created_at, t.category, t.sentiment, t.keywords FROM tickets t \
             WHERE t.keywords IS NOT NULL AND t.created_at >= ",
        );
        sql.bind(Arg::Int(to_ms(from)))
            .push(" AND t.created_at < ")
            .bind(Arg::Int(to_ms(to)));
        scope(&mut sql, actor);
        let mut out = Vec::new();
        for r in sql.query().fetch_all(&self.replica).await? {
            let keywords: String = r.try_get(4)?;
            out.push(Doc {
                number: r.try_get(0)?,
                created_at: from_ms(r.try_get(1)?),
                category: r.try_get(2)?,
                sentiment: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0) as f32 / 1000.0,
                keywords: keywords
                    .split(' ')
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
        Ok(out)
    }

    pub(crate) async fn weekly_counts_impl(
        &self,
        actor: &Principal,
        from: chrono::DateTime<chrono::Utc>,
        weeks: u32,
    ) -> Result<Vec<Series>> {
        let start = to_ms(from);
        let mut sql = Sql::new("SELECT COALESCE(t.category, '-'), (t.created_at - ");
        sql.bind(Arg::Int(start))
            .push(") / ")
            .bind(Arg::Int(WEEK_MS))
            .push(", COUNT(*) FROM tickets t WHERE t.created_at >= ")
            .bind(Arg::Int(start))
            .push(" AND t.created_at < ")
            .bind(Arg::Int(start + i64::from(weeks) * WEEK_MS));
        scope(&mut sql, actor);
        sql.push(" GROUP BY 1, 2");
        let mut series: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
        for r in sql.query().fetch_all(&self.replica).await? {
            let week = usize::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0);
            let weeks_of = series
                .entry(r.try_get(0)?)
                .or_insert_with(|| vec![0; weeks as usize]);
            if let Some(w) = weeks_of.get_mut(week) {
                *w = u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(u32::MAX);
            }
        }
        Ok(series
            .into_iter()
            .map(|(category, weeks)| Series { category, weeks })
            .collect())
    }
}
