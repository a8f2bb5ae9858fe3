//! The knowledge base. Agents write drafts; supervisors and administrators publish. Every save
//! appends a revision (the history, and the search index's feed for articles).

use closedloop_domain::{Role, Status, TicketNumber};
use sqlx::Row;

use super::rows::scope;
use super::{Arg, Sql, SqlStore, parse_stored};
use crate::model::{from_ms, to_ms};
use crate::{
    Article, ArticleDocument, ArticleFilter, ArticleInput, ArticleKind, ArticleStatus,
    DeflectionEvent, DeflectionReport, Principal, Result, StoreError,
};

const SELECT: &str = "SELECT a.id, a.lang, a.kind, a.status, a.title, a.body, a.category, \
    t.number, a.created_at, a.updated_at, a.published_at \
    FROM kb_articles a LEFT JOIN tickets t ON t.id = a.source_ticket_id";

const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 50_000;

fn article(r: &sqlx::any::AnyRow) -> Result<Article> {
    let decode = |what: &str, v: String| {
        StoreError::Database(sqlx::Error::Decode(
            format!("unknown article {what} {v}").into(),
        ))
    };
    let kind: String = r.try_get(2)?;
    let status: String = r.try_get(3)?;
    Ok(Article {
        id: r.try_get(0)?,
        lang: parse_stored(&r.try_get::<String, _>(1)?)?,
        kind: ArticleKind::parse(&kind).ok_or_else(|| decode("kind", kind.clone()))?,
        status: ArticleStatus::parse(&status).ok_or_else(|| decode("status", status.clone()))?,
        title: r.try_get(4)?,
        body: r.try_get(5)?,
        category: r.try_get(6)?,
        source_ticket: r.try_get(7)?,
        created_at: from_ms(r.try_get(8)?),
        updated_at: from_ms(r.try_get(9)?),
        published_at: r.try_get::<Option<i64>, _>(10)?.map(from_ms),
    })
}

/// Checks an article's fields: trimmed title and body, within their lengths.
fn checked(input: &ArticleInput) -> Result<(String, String, Option<String>)> {
    let title = input.title.trim();
    let body = input.body.trim();
    for (field, value, max) in [("title", title, MAX_TITLE), ("body", body, MAX_BODY)] {
        if value.is_empty() {
            return Err(StoreError::invalid(field, "required", "must not be empty"));
        }
        if value.chars().count() > max {
            return Err(StoreError::invalid(
                field,
                "too_long",
                format!("at most {max} characters"),
            ));
        }
    }
    let category = input
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    Ok((title.to_owned(), body.to_owned(), category))
}

/// Who may save an article in this state: any staff member a draft, supervisors and
/// administrators a published one.
fn may_save(actor: &Principal, status: ArticleStatus) -> Result<()> {
    match (actor.role, status) {
        (Role::Customer, _) => Err(StoreError::Forbidden("write knowledge-base articles")),
        (Role::Agent, ArticleStatus::Published) => Err(StoreError::Forbidden(
            "publish articles (supervisors and administrators do)",
        )),
        _ => Ok(()),
    }
}

impl SqlStore {
    pub(crate) async fn create_article_impl(
        &self,
        actor: &Principal,
        input: &ArticleInput,
        source_ticket: Option<i64>,
    ) -> Result<Article> {
        may_save(actor, input.status)?;
        let (title, body, category) = checked(input)?;
        let now = to_ms(self.clock.now());
        let published = (input.status == ArticleStatus::Published).then_some(now);
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO kb_articles (lang, kind, status, title, body, category, source_ticket_id, \
             created_by, created_at, updated_at, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
        )
        .bind(input.lang.as_str())
        .bind(input.kind.as_str())
        .bind(input.status.as_str())
        .bind(&title)
        .bind(&body)
        .bind(category.as_deref())
        .bind(source_ticket)
        .bind(actor.user_id)
        .bind(now)
        .bind(published)
        .fetch_one(&mut *tx)
        .await?;
        revision(&mut tx, id, actor.user_id, input.status, &title, &body, now).await?;
        tx.commit().await?;
        self.article_impl(Some(actor), id).await
    }

    pub(crate) async fn update_article_impl(
        &self,
        actor: &Principal,
        id: i64,
        input: &ArticleInput,
    ) -> Result<Article> {
        let before = self.article_impl(Some(actor), id).await?;
        may_save(actor, input.status)?;
        // Changing a published article changes what the public reads: the same rule.
        may_save(actor, before.status)?;
        let (title, body, category) = checked(input)?;
        let now = to_ms(self.clock.now());
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE kb_articles SET lang = $1, kind = $2, status = $3, title = $4, body = $5, \
             category = $6, updated_at = $7, \
             published_at = CASE WHEN $3 = 'published' THEN COALESCE(published_at, $7) ELSE NULL END \
             WHERE id = $8",
        )
        .bind(input.lang.as_str())
        .bind(input.kind.as_str())
        .bind(input.status.as_str())
        .bind(&title)
        .bind(&body)
        .bind(category.as_deref())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        revision(&mut tx, id, actor.user_id, input.status, &title, &body, now).await?;
        tx.commit().await?;
        self.article_impl(Some(actor), id).await
    }

    /// One article as `viewer` may see it: staff every one, anyone else a published FAQ.
    pub(crate) async fn article_impl(
        &self,
        viewer: Option<&Principal>,
        id: i64,
    ) -> Result<Article> {
        let row = sqlx::query(&format!("{SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("article"))?;
        let mut a = article(&row)?;
        let staff = viewer.is_some_and(|v| v.role.is_staff());
        if !staff {
            if !a.is_public() {
                return Err(StoreError::NotFound("article"));
            }
            a.source_ticket = None;
        }
        Ok(a)
    }

    pub(crate) async fn articles_impl(
        &self,
        viewer: Option<&Principal>,
        f: &ArticleFilter,
    ) -> Result<Vec<Article>> {
        let staff = viewer.is_some_and(|v| v.role.is_staff());
        let mut sql = Sql::new(SELECT);
        sql.push(" WHERE 1 = 1");
        if !staff {
            sql.push(" AND a.kind = 'faq' AND a.status = 'published'");
        }
        if let Some(s) = f.status {
            sql.push(" AND a.status = ")
                .bind(Arg::Text(s.as_str().into()));
        }
        if let Some(l) = f.lang {
            sql.push(" AND a.lang = ")
                .bind(Arg::Text(l.as_str().into()));
        }
        if let Some(c) = &f.category {
            sql.push(" AND a.category = ").bind(Arg::Text(c.clone()));
        }
        sql.push(" ORDER BY a.updated_at DESC, a.id DESC LIMIT ")
            .bind(Arg::Int(i64::from(f.limit.clamp(1, 500))));
        let mut out = sql
            .query()
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(article)
            .collect::<Result<Vec<_>>>()?;
        if !staff {
            for a in &mut out {
                a.source_ticket = None;
            }
        }
        Ok(out)
    }

    /// A draft FAQ from a resolved or closed ticket the actor may see: its title, the user's
    /// words, and what solved it (the newest solution and the staff's public replies).
    pub(crate) async fn draft_from_ticket_impl(
        &self,
        actor: &Principal,
        number: &TicketNumber,
    ) -> Result<Article> {
        if !actor.role.is_staff() {
            return Err(StoreError::Forbidden("write knowledge-base articles"));
        }
        let mut sql = Sql::new(
            "SELECT t.id, t.title, t.description, t.category, t.status FROM tickets t WHERE t.number = ",
        );
        sql.bind(Arg::Text(number.as_str().to_owned()));
        scope(&mut sql, actor);
        let row = sql
            .query()
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("ticket"))?;
        let id: i64 = row.try_get(0)?;
        let title: String = row.try_get(1)?;
        let description: String = row.try_get(2)?;
        let category: Option<String> = row.try_get(3)?;
        let status: Status = parse_stored(&row.try_get::<String, _>(4)?)?;
        if !matches!(status, Status::Resolved | Status::Closed) {
            return Err(StoreError::invalid(
                "number",
                "not_resolved",
                "only a resolved or closed ticket has an answer to draft an article from",
            ));
        }
        let solution: Option<String> = sqlx::query_scalar(
            "SELECT summary FROM solutions WHERE ticket_id = $1 \
             AND approval IN ('not_required', 'approved') ORDER BY id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        let replies: Vec<String> = sqlx::query_scalar(
            "SELECT e.body FROM timeline e JOIN users u ON u.id = e.actor_id \
             WHERE e.ticket_id = $1 AND e.kind = 'reply' AND e.public = 1 AND u.role <> 'customer' \
             AND e.body IS NOT NULL ORDER BY e.id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        let lang = closedloop_domain::notice::Lang::of_text(&format!("{title}{description}"));
        let (q, a) = match lang {
            closedloop_domain::notice::Lang::Zh => ("问题", "解答"),
            closedloop_domain::notice::Lang::En => ("Question", "Answer"),
        };
        let mut body = format!("{q}\n{description}\n\n{a}\n");
        for part in solution.iter().chain(&replies) {
            body.push_str(part);
            body.push('\n');
        }
        let input = ArticleInput {
            lang,
            kind: ArticleKind::Faq,
            status: ArticleStatus::Draft,
            title: title.chars().take(MAX_TITLE).collect(),
            body: body.chars().take(MAX_BODY).collect(),
            category,
        };
        self.create_article_impl(actor, &input, Some(id)).await
    }

    pub(crate) async fn article_documents_impl(&self, ids: &[i64]) -> Result<Vec<ArticleDocument>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(SELECT);
        sql.push(" WHERE a.id IN ").bind_list(ids.iter().copied());
        let rows = sql.query().fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                let a = article(r)?;
                Ok(ArticleDocument {
                    id: a.id,
                    public: a.is_public(),
                    title: a.title,
                    body: a.body,
                    lang: a.lang.as_str().to_owned(),
                    category: a.category,
                    created_at: a.created_at,
                })
            })
            .collect()
    }

    pub(crate) async fn record_deflection_impl(
        &self,
        visit: &str,
        event: DeflectionEvent,
        article_id: Option<i64>,
    ) -> Result<()> {
        let visit = visit.trim();
        if visit.len() < 16 || visit.len() > 64 || !visit.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(StoreError::invalid(
                "visit",
                "invalid",
                "16-64 letters and digits",
            ));
        }
        if let Some(id) = article_id {
            // Only a public article can have answered a visitor.
            self.article_impl(None, id).await?;
        }
        sqlx::query(
            "INSERT INTO kb_deflections (visit, event, article_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (visit, event) DO NOTHING",
        )
        .bind(visit)
        .bind(event.as_str())
        .bind(article_id)
        .bind(to_ms(self.clock.now()))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub(crate) async fn deflection_report_impl(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<DeflectionReport> {
        let since = to_ms(since);
        let mut counts = [0i64; 3];
        for row in sqlx::query(
            "SELECT event, COUNT(*) FROM kb_deflections WHERE created_at >= $1 GROUP BY event",
        )
        .bind(since)
        .fetch_all(&self.read)
        .await?
        {
            let event: String = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            match event.as_str() {
                "shown" => counts[0] = n,
                "answered" => counts[1] = n,
                "submitted" => counts[2] = n,
                _ => {}
            }
        }
        let top = sqlx::query(
            "SELECT a.id, a.title, COUNT(*) FROM kb_deflections d JOIN kb_articles a ON a.id = d.article_id \
             WHERE d.event = 'answered' AND d.created_at >= $1 \
             GROUP BY a.id, a.title ORDER BY COUNT(*) DESC, a.id LIMIT 10",
        )
        .bind(since)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<_>>>()?;
        let [shown, answered, submitted] = counts;
        Ok(DeflectionReport {
            shown,
            answered,
            submitted,
            rate: if shown > 0 {
                answered as f64 / shown as f64
            } else {
                0.0
            },
            top_articles: top,
        })
    }
}

async fn revision(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    article_id: i64,
    actor_id: i64,
    status: ArticleStatus,
    title: &str,
    body: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO kb_revisions (article_id, actor_id, status, title, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(article_id)
    .bind(actor_id)
    .bind(status.as_str())
    .bind(title)
    .bind(body)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
