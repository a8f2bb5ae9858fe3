//! The SQL implementation of [`crate::Store`] for SQLite and PostgreSQL.

mod bulk;
mod canned;
mod changes;
mod closing;
mod committer;
mod erasure;
mod knowledge;
mod learning;
mod links;
mod mail;
mod metrics;
mod notices;
mod people;
mod privacy;
mod reports;
mod routing;
mod rows;
mod search;
mod signin;
pub(crate) mod sla;
mod terms;
mod tickets;
mod translations;
mod webhooks;
mod widget;

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Connection as _, Executor as _};

use crate::{Clock, Result, StoreError};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The differences between the two backends, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Result<Dialect> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Dialect::Postgres)
        } else {
            Err(StoreError::invalid(
                "database_url",
                "unsupported_database",
                "use sqlite:// or postgres://",
            ))
        }
    }

    /// Row lock for read-modify-write of a ticket. SQLite needs none: its writes go through one
    /// connection (see [`SqlStore`]), so a write transaction already excludes every other.
    fn lock_ticket(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE OF t",
        }
    }

    /// Case-insensitive match (SQLite's LIKE already ignores ASCII case).
    fn ilike(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }
}

/// What [`SqlStore::backup_to`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct Backup {
    pub tickets: i64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Connections for reads (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SLA policy and working calendar: every change re-plans the ticket's clocks with it.
    pub sla: Arc<closedloop_domain::sla::Sla>,
    /// Approvals, the appeal window, surveys and notices.
    pub closing: Arc<crate::LoopPolicy>,
    /// Which channels' text is masked on intake.
    pub privacy: Arc<crate::PrivacyPolicy>,
    /// A PostgreSQL standby for list and report queries.
    pub replica_url: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            sla: Arc::default(),
            closing: Arc::default(),
            privacy: Arc::default(),
            replica_url: None,
        }
    }
}

/// SQLite allows one writer at a time; rather than let connections fight over the write lock
/// (and fail with SQLITE_BUSY when a reader upgrades), all writes go through a pool of exactly one
/// connection and reads through the others. On PostgreSQL both pools are the same pool.
pub struct SqlStore {
    pub(crate) read: AnyPool,
    /// Lists and reports: a PostgreSQL standby when one is configured, else `read`. A ticket
    /// just written may be missing from them for the standby's replication lag; everything
    /// that must see its own writes reads `read`.
    pub(crate) replica: AnyPool,
    pub(crate) write: AnyPool,
    pub(crate) dialect: Dialect,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sla: Arc<closedloop_domain::sla::Sla>,
    pub(crate) closing: Arc<crate::LoopPolicy>,
    pub(crate) privacy: Arc<crate::PrivacyPolicy>,
    committer: committer::Committer,
    routing: routing::RoutingCache,
}

/// Begins a write transaction. On SQLite it takes the write lock at `BEGIN IMMEDIATE`: a deferred
/// transaction that reads before it writes fails at once with SQLITE_BUSY, busy timeout or not,
/// when another process (the command line beside a running server) committed in between; an
/// immediate one waits for the lock instead. In this process the single write connection already
/// queues writers, so it costs nothing here.
pub(crate) async fn begin_write(
    pool: &AnyPool,
    dialect: Dialect,
) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    Ok(match dialect {
        Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Dialect::Postgres => pool.begin().await?,
    })
}

impl SqlStore {
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        begin_write(&self.write, self.dialect).await
    }

    pub async fn connect(
        url: &str,
        options: &ConnectOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(options.acquire_timeout)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if dialect == Dialect::Sqlite {
                            // WAL lets readers run beside the writer; NORMAL sync is durable across
                            // process crashes (only an OS crash can lose the last commits).
                            // secure_delete FAST zeroes the old copy of a changed row in its page
                            // at no extra I/O, so an erasure leaves no earlier text in the file.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                                 PRAGMA secure_delete = FAST;",
                            )
                            .await?;
                        } else {
                            // Every statement here is short and selective, but correlated
                            // subqueries and statistics not yet gathered after a bulk load
                            // inflate cost estimates past the JIT threshold: compiling then
                            // took 2 s for a report-facts batch that runs in 60 ms.
                            conn.execute("SET jit = off").await?;
                        }
                        Ok(())
                    })
                })
        };
        let (read, write) = match dialect {
            Dialect::Sqlite => {
                let write = pool(1).connect(url).await?;
                let read = pool(options.max_connections.max(1)).connect(url).await?;
                (read, write)
            }
            Dialect::Postgres => {
                let p = pool(options.max_connections.max(2)).connect(url).await?;
                (p.clone(), p)
            }
        };
        let replica = match &options.replica_url {
            Some(url) if dialect == Dialect::Postgres => {
                if Dialect::from_url(url)? != Dialect::Postgres {
                    return Err(StoreError::invalid(
                        "replica_url",
                        "unsupported_database",
                        "a replica must be a postgres:// URL",
                    ));
                }
                // Lazy: an instance starts, and writes, while its standby is still down.
                pool(options.max_connections.max(1)).connect_lazy(url)?
            }
            Some(_) => {
                return Err(StoreError::invalid(
                    "replica_url",
                    "unsupported_database",
                    "a replica needs a PostgreSQL database_url",
                ));
            }
            None => read.clone(),
        };
        Ok(SqlStore {
            committer: committer::Committer::start(
                write.clone(),
                dialect,
                options.closing.clone(),
                options.acquire_timeout * 2 + Duration::from_secs(10),
            ),
            replica,
            routing: routing::RoutingCache::default(),
            read,
            write,
            dialect,
            clock,
            sla: options.sla.clone(),
            closing: options.closing.clone(),
            privacy: options.privacy.clone(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Writes a consistent copy of the SQLite database to `path` (`VACUUM INTO`: one read
    /// transaction, so writers go on meanwhile), then opens the copy and checks its integrity.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<Backup> {
        if self.dialect != Dialect::Sqlite {
            return Err(StoreError::invalid(
                "database_url",
                "not_sqlite",
                "backup copies SQLite databases; use pg_dump on PostgreSQL",
            ));
        }
        let target = path.to_str().ok_or_else(|| {
            StoreError::invalid("output", "invalid_path", "the path must be UTF-8")
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.read)
            .await?;
        // Options rather than a URL: a file name may hold `?`, `#` or `%`.
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .read_only(true);
        let mut copy = sqlx::SqliteConnection::connect_with(&options).await?;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut copy)
            .await?;
        let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
            .fetch_one(&mut copy)
            .await?;
        copy.close().await?;
        if check != "ok" {
            return Err(StoreError::invalid(
                "output",
                "backup_damaged",
                format!("the copy failed its integrity check: {check}"),
            ));
        }
        Ok(Backup {
            tickets,
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or_default(),
        })
    }

    /// Applies the embedded migrations of this backend; safe to run on every start.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.write).await?;
        Ok(())
    }

    /// Loads the default departments and routing matrix into an empty database. Returns whether
    /// it did; a database that has any department is left as the administrators made it.
    pub async fn load_defaults(&self) -> Result<bool> {
        use closedloop_domain::RoutingMatrix;
        let mut tx = self.begin_write().await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments")
            .fetch_one(&mut *tx)
            .await?;
        if existing > 0 {
            return Ok(false);
        }
        let now = crate::model::to_ms(self.clock.now());
        for d in RoutingMatrix::DEPARTMENTS {
            sqlx::query(
                "INSERT INTO departments (code, name, name_zh, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(d.code)
            .bind(d.name)
            .bind(d.name_zh)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for r in RoutingMatrix::RULES {
            let handling = department_id(&mut tx, r.handling).await?;
            sqlx::query("INSERT INTO categories (code, name, name_zh, nature, handling_department_id) VALUES ($1, $2, $3, $4, $5)")
                .bind(r.category)
                .bind(r.name)
                .bind(r.name_zh)
                .bind(r.nature.as_str())
                .bind(handling)
                .execute(&mut *tx)
                .await?;
            for c in r.coordinating {
                let id = department_id(&mut tx, c).await?;
                sqlx::query(
                    "INSERT INTO category_coordinators (category, department_id) VALUES ($1, $2)",
                )
                .bind(r.category)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.routing.forget();
        Ok(true)
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
        self.replica.close().await;
    }
}

pub(crate) async fn department_id(conn: &mut AnyConnection, code: &str) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| {
            StoreError::invalid(
                "department",
                "unknown_department",
                format!("no department with code {code}"),
            )
        })
}

/// A bound value of a query assembled at run time.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

/// SQL text with numbered `$n` placeholders, which both backends accept, and its values.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    args: Vec<Arg>,
    /// `?` instead of `$n`: SQLite looks numbered parameters up in a list, so binding
    /// thousands of them (a multi-row insert) costs quadratic time.
    anonymous: bool,
    /// Not kept as a prepared statement: multi-row texts rarely repeat and would push the
    /// statements that do out of the connection's cache.
    one_off: bool,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
            anonymous: false,
            one_off: false,
        }
    }

    /// A multi-row statement built per batch.
    pub fn batch(text: &str, dialect: Dialect) -> Self {
        Self {
            anonymous: dialect == Dialect::Sqlite,
            one_off: true,
            ..Self::new(text)
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        if self.anonymous {
            self.text.push('?');
        } else {
            let _ = write!(self.text, "${}", self.args.len());
        }
        self
    }

    pub fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.bind(Arg::Int(v)),
            None => self.push("NULL"),
        }
    }

    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.bind(Arg::Text(v.to_owned())),
            None => self.push("NULL"),
        }
    }

    /// `(a, b, c)` placeholders for an IN list; never empty (an empty list matches nothing).
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = i64>) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for v in values {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(Arg::Int(v));
        }
        if first {
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text).persistent(!self.one_off);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(s) => q.bind(s.as_str()),
            };
        }
        q
    }
}

/// Parses text stored by this crate back into a domain value.
pub(crate) fn parse_stored<T: FromStr<Err = closedloop_domain::DomainError>>(s: &str) -> Result<T> {
    s.parse().map_err(|e: closedloop_domain::DomainError| {
        StoreError::Database(sqlx::Error::Decode(Box::new(e)))
    })
}

#[async_trait::async_trait]
impl crate::Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
    async fn create_user(&self, user: crate::NewUser) -> Result<crate::User> {
        self.create_user_impl(user).await
    }
    async fn list_users(&self) -> Result<Vec<crate::User>> {
        self.list_users_impl(false).await
    }
    async fn create_article(
        &self,
        actor: &crate::Principal,
        input: &crate::ArticleInput,
    ) -> Result<crate::Article> {
        self.create_article_impl(actor, input, None).await
    }
    async fn update_article(
        &self,
        actor: &crate::Principal,
        id: i64,
        input: &crate::ArticleInput,
    ) -> Result<crate::Article> {
        self.update_article_impl(actor, id, input).await
    }
    async fn article(&self, viewer: Option<&crate::Principal>, id: i64) -> Result<crate::Article> {
        self.article_impl(viewer, id).await
    }
    async fn articles(
        &self,
        viewer: Option<&crate::Principal>,
        filter: &crate::ArticleFilter,
    ) -> Result<Vec<crate::Article>> {
        self.articles_impl(viewer, filter).await
    }
    async fn draft_article_from_ticket(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<crate::Article> {
        self.draft_from_ticket_impl(actor, number).await
    }
    async fn article_feed(&self, after_seq: i64, limit: u32) -> Result<Vec<crate::FeedChange>> {
        self.feed_after(search::ARTICLE_FEED, after_seq, limit)
            .await
    }
    async fn article_feed_head(&self) -> Result<i64> {
        self.feed_head(search::ARTICLE_FEED).await
    }
    async fn article_feed_at(&self, seqs: &[i64]) -> Result<Vec<crate::FeedChange>> {
        self.feed_at(search::ARTICLE_FEED, seqs).await
    }
    async fn article_documents(&self, ids: &[i64]) -> Result<Vec<crate::ArticleDocument>> {
        self.article_documents_impl(ids).await
    }
    async fn record_deflection(
        &self,
        visit: &str,
        event: crate::DeflectionEvent,
        article_id: Option<i64>,
    ) -> Result<()> {
        self.record_deflection_impl(visit, event, article_id).await
    }
    async fn deflection_report(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::DeflectionReport> {
        self.deflection_report_impl(since).await
    }
    async fn report_rows(
        &self,
        actor: &crate::Principal,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<closedloop_domain::report::Row>> {
        self.report_rows_impl(actor, from, to).await
    }
    async fn refresh_facts(&self, limit: u32) -> Result<usize> {
        self.refresh_facts_impl(limit).await
    }
    async fn pending_terms(&self, limit: u32) -> Result<Vec<crate::PendingTerms>> {
        self.pending_terms_impl(limit).await
    }
    async fn save_terms(&self, terms: &[crate::Terms]) -> Result<()> {
        self.save_terms_impl(terms).await
    }
    async fn hot_docs(
        &self,
        actor: &crate::Principal,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<closedloop_domain::hot::Doc>> {
        self.hot_docs_impl(actor, from, to).await
    }
    async fn weekly_counts(
        &self,
        actor: &crate::Principal,
        from: chrono::DateTime<chrono::Utc>,
        weeks: u32,
    ) -> Result<Vec<closedloop_domain::hot::Series>> {
        self.weekly_counts_impl(actor, from, weeks).await
    }
    async fn metrics(&self) -> Result<crate::MetricsSnapshot> {
        self.metrics_impl().await
    }
    async fn search_feed(&self, after_seq: i64, limit: u32) -> Result<Vec<crate::FeedChange>> {
        self.feed_after(search::TICKET_FEED, after_seq, limit).await
    }
    async fn search_feed_at(&self, seqs: &[i64]) -> Result<Vec<crate::FeedChange>> {
        self.feed_at(search::TICKET_FEED, seqs).await
    }
    async fn search_feed_head(&self) -> Result<i64> {
        self.feed_head(search::TICKET_FEED).await
    }
    async fn ticket_documents(&self, ids: &[i64]) -> Result<Vec<crate::TicketDocument>> {
        self.ticket_documents_impl(ids).await
    }
    async fn ticket_documents_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<crate::TicketDocument>> {
        self.ticket_documents_after_impl(after_id, limit).await
    }
    async fn count_tickets(&self) -> Result<i64> {
        self.count_tickets_impl().await
    }
    async fn tickets_by_id(
        &self,
        actor: &crate::Principal,
        ids: &[i64],
    ) -> Result<Vec<crate::Ticket>> {
        self.tickets_by_id_impl(actor, ids).await
    }
    async fn list_staff(&self) -> Result<Vec<crate::User>> {
        self.list_users_impl(true).await
    }
    async fn set_user_active(&self, user_id: i64, active: bool) -> Result<crate::User> {
        self.set_user_active_impl(user_id, active).await
    }
    async fn count_admins(&self) -> Result<i64> {
        self.count_admins_impl().await
    }
    async fn user_credentials(&self, email: &str) -> Result<Option<(crate::User, Option<String>)>> {
        self.user_credentials_impl(email).await
    }
    async fn principal(&self, user_id: i64) -> Result<Option<crate::Principal>> {
        self.principal_impl(user_id).await
    }
    async fn create_department(
        &self,
        code: &str,
        name: &str,
        name_zh: &str,
    ) -> Result<crate::Department> {
        self.create_department_impl(code, name, name_zh).await
    }
    async fn list_departments(&self) -> Result<Vec<crate::Department>> {
        self.list_departments_impl().await
    }
    async fn list_categories(&self) -> Result<Vec<crate::CategoryRoute>> {
        self.list_categories_impl().await
    }
    async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        scope: crate::TokenScope,
    ) -> Result<crate::ApiToken> {
        self.create_api_token_impl(user_id, name, token_hash, expires_at, scope)
            .await
    }
    async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<crate::ApiToken>> {
        self.list_api_tokens_impl(user_id).await
    }
    async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> Result<()> {
        self.revoke_api_token_impl(user_id, token_id).await
    }
    async fn principal_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(crate::Principal, crate::TokenScope)>> {
        self.principal_by_token_impl(token_hash).await
    }
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        ttl: chrono::Duration,
    ) -> Result<()> {
        self.create_session_impl(token_hash, user_id, csrf_token, ttl)
            .await
    }
    async fn principal_by_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<(crate::Principal, String)>> {
        self.principal_by_session_impl(token_hash).await
    }
    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.delete_session_impl(token_hash).await
    }
    async fn create_ticket(
        &self,
        actor: &crate::Principal,
        ticket: crate::NewTicket,
        idempotency: Option<crate::IdempotencyKey>,
    ) -> Result<(crate::Ticket, bool)> {
        self.create_ticket_impl(actor, ticket, idempotency).await
    }
    async fn get_ticket(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<crate::Ticket> {
        self.get_ticket_impl(actor, number).await
    }
    async fn reveal_personal_data(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Vec<crate::RevealedField>> {
        self.reveal_impl(actor, number).await
    }
    async fn login_locked_until(
        &self,
        user_id: i64,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.login_locked_until_impl(user_id).await
    }
    async fn record_login_failure(
        &self,
        user_id: i64,
        max_failures: u32,
        lock_for: chrono::Duration,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.record_login_failure_impl(user_id, max_failures, lock_for)
            .await
    }
    async fn record_login_success(&self, user_id: i64) -> Result<()> {
        self.record_login_success_impl(user_id).await
    }
    async fn personal_kinds(&self, ticket_id: i64) -> Result<Vec<String>> {
        self.personal_kinds_impl(ticket_id).await
    }
    async fn log_view(&self, actor: &crate::Principal, ticket_id: i64) -> Result<()> {
        self.log_view_impl(actor, ticket_id).await
    }
    async fn access_log(&self, filter: &crate::AccessFilter) -> Result<Vec<crate::AccessEntry>> {
        self.access_log_impl(filter).await
    }
    async fn request_erasure(
        &self,
        user_id: i64,
        requested_by: i64,
        within: chrono::Duration,
    ) -> Result<(crate::ErasureRequest, bool)> {
        self.request_erasure_impl(user_id, requested_by, within)
            .await
    }
    async fn erasure_requests(
        &self,
        user_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<crate::ErasureRequest>> {
        self.erasure_requests_impl(user_id, limit).await
    }
    async fn claim_erasure(&self, lease: chrono::Duration) -> Result<Option<crate::ErasureWork>> {
        self.claim_erasure_impl(lease).await
    }
    async fn complete_erasure(&self, request_id: i64) -> Result<crate::ErasedFiles> {
        self.complete_erasure_impl(request_id).await
    }
    async fn overdue_erasures(&self) -> Result<Vec<crate::ErasureRequest>> {
        self.overdue_erasures_impl().await
    }
    async fn record_security_event(&self, event: &crate::SecurityEvent) -> Result<()> {
        self.record_security_event_impl(event).await
    }
    async fn security_events(
        &self,
        actor_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<crate::SecurityEvent>> {
        self.security_events_impl(actor_id, before, limit).await
    }
    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        keep_session: Option<&str>,
    ) -> Result<()> {
        self.set_password_impl(user_id, hash, keep_session).await
    }
    async fn totp(&self, user_id: i64) -> Result<crate::TotpState> {
        self.totp_impl(user_id).await
    }
    async fn set_totp(&self, user_id: i64, change: crate::TotpChange) -> Result<()> {
        self.set_totp_impl(user_id, change).await
    }
    async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        self.use_totp_step_impl(user_id, step).await
    }
    async fn translation_batch(&self, limit: i64) -> Result<(i64, Vec<(i64, String, String)>)> {
        self.translation_batch_impl(limit).await
    }
    async fn advance_translation_cursor(&self, from: i64, to: i64) -> Result<bool> {
        self.advance_translation_cursor_impl(from, to).await
    }
    async fn save_translation(
        &self,
        ticket_id: i64,
        field: &str,
        source: &str,
        lang: &str,
        text: &str,
    ) -> Result<()> {
        self.save_translation_impl(ticket_id, field, source, lang, text)
            .await
    }
    async fn translations(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Vec<crate::Translation>> {
        self.translations_impl(actor, number).await
    }
    async fn purges(&self) -> Result<i64> {
        self.purges_impl().await
    }
    async fn anonymise_closed(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<(usize, Vec<String>)> {
        self.anonymise_closed_impl(before, limit).await
    }
    async fn list_tickets(
        &self,
        actor: &crate::Principal,
        filter: &crate::TicketFilter,
    ) -> Result<crate::Page<crate::Ticket>> {
        self.list_tickets_impl(actor, filter).await
    }
    async fn update_ticket(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
        patch: crate::TicketPatch,
    ) -> Result<crate::Ticket> {
        self.update_ticket_impl(actor, number, patch).await
    }
    async fn transition(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
        request: crate::TransitionRequest,
    ) -> Result<crate::Ticket> {
        self.transition_impl(actor, number, request).await
    }
    async fn add_entry(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
        public: bool,
        body: &str,
        files: &[crate::NewAttachment],
    ) -> Result<crate::TimelineEntry> {
        self.add_entry_impl(actor, number, public, body, files)
            .await
    }
    async fn timeline(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Vec<crate::TimelineEntry>> {
        self.timeline_impl(actor, number).await
    }
    async fn bulk_insert(&self, tickets: &[crate::BulkTicket]) -> Result<crate::BulkOutcome> {
        self.bulk_insert_impl(tickets).await
    }
    async fn ticket_clocks(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Vec<closedloop_domain::sla::ClockState>> {
        self.ticket_clocks_impl(actor, number).await
    }
    async fn fire_due(&self, limit: u32) -> Result<sla::FireReport> {
        self.fire_due_impl(limit).await
    }
    async fn replan_open(&self, after_id: i64, limit: u32) -> Result<(usize, Option<i64>)> {
        self.replan_open_impl(after_id, limit).await
    }
    async fn backlog(
        &self,
        actor: &crate::Principal,
        stuck_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::BacklogRow>> {
        self.backlog_impl(actor, stuck_before).await
    }
    async fn notifications(&self, user_id: i64, limit: u32) -> Result<Vec<crate::Notification>> {
        self.notifications_impl(user_id, limit).await
    }
    async fn open_ticket_texts(
        &self,
        after_id: i64,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<(i64, chrono::DateTime<chrono::Utc>, String)>> {
        self.open_ticket_texts_impl(after_id, since, limit).await
    }
    async fn open_tickets_by_id(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, closedloop_domain::TicketNumber, String)>> {
        self.open_tickets_by_id_impl(ids).await
    }
    async fn triage_examples(&self, kind: &str) -> Result<Vec<(String, String)>> {
        self.triage_examples_impl(kind).await
    }
    async fn save_triage_model(&self, model: &str, report: &str) -> Result<i64> {
        self.save_triage_model_impl(model, report).await
    }
    async fn newer_triage_model(&self, than: i64) -> Result<Option<(i64, String)>> {
        self.newer_triage_model_impl(than).await
    }
    async fn triage_candidates(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<crate::TriageCandidate>> {
        self.triage_candidates_impl(since, after_id, limit).await
    }
    async fn reclassify(
        &self,
        ticket_id: i64,
        category: &closedloop_domain::Category,
        verdict: &str,
    ) -> Result<bool> {
        self.reclassify_impl(ticket_id, category, verdict).await
    }
    async fn ingest_mail(&self, mail: crate::InboundMail) -> Result<crate::MailOutcome> {
        self.ingest_mail_impl(mail).await
    }
    async fn quarantine_mail(
        &self,
        message_id: &str,
        from: &str,
        reason: &str,
        path: &str,
    ) -> Result<()> {
        self.quarantine_mail_impl(message_id, from, reason, path)
            .await
    }
    async fn forget_quarantined(&self, message_id: &str) -> Result<()> {
        self.forget_quarantined_impl(message_id).await
    }
    async fn mail_log(&self, filter: crate::MailLogFilter) -> Result<Vec<crate::MailLogEntry>> {
        self.mail_log_impl(filter).await
    }
    async fn mail_counts(&self) -> Result<Vec<crate::MailCount>> {
        self.mail_counts_impl().await
    }
    async fn claim_notices(
        &self,
        limit: u32,
        lease: chrono::Duration,
        message_id: crate::MessageIds,
    ) -> Result<Vec<crate::NoticeItem>> {
        self.claim_notices_impl(limit, lease, message_id).await
    }
    async fn notice_sent(&self, id: i64, subject: &str, body: &str) -> Result<()> {
        self.notice_sent_impl(id, subject, body).await
    }
    async fn notice_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()> {
        self.notice_failed_impl(id, error, retry_at).await
    }
    async fn customer_messages(
        &self,
        user_id: i64,
        limit: u32,
    ) -> Result<Vec<crate::CustomerMessage>> {
        self.customer_messages_impl(user_id, limit).await
    }
    async fn mark_message_read(&self, user_id: i64, id: i64) -> Result<()> {
        self.mark_message_read_impl(user_id, id).await
    }
    async fn ticket_notices(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Vec<crate::NoticeRecord>> {
        if !actor.role.is_staff() {
            return Err(StoreError::Forbidden("see delivery records"));
        }
        let mut conn = self.read.acquire().await?;
        let t = tickets::load_scoped(&mut conn, actor, number, "").await?;
        drop(conn);
        self.ticket_notices_impl(t.id).await
    }
    async fn templates(&self) -> Result<Vec<crate::TemplateOverride>> {
        self.templates_impl().await
    }
    async fn save_template(&self, actor_id: i64, template: &crate::TemplateOverride) -> Result<()> {
        self.save_template_impl(actor_id, template).await
    }
    async fn delete_template(
        &self,
        event: closedloop_domain::notice::Event,
        lang: closedloop_domain::notice::Lang,
        channel: closedloop_domain::notice::NoticeChannel,
    ) -> Result<()> {
        self.delete_template_impl(event, lang, channel).await
    }
    async fn setting(&self, key: &str, initial: &str) -> Result<String> {
        self.setting_impl(key, initial).await
    }
    async fn propose_solution(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
        solution: crate::NewSolution,
    ) -> Result<(crate::Ticket, crate::Solution)> {
        self.propose_solution_impl(actor, number, solution).await
    }
    async fn solutions(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Vec<crate::Solution>> {
        self.solutions_impl(actor, number).await
    }
    async fn decide_solution(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
        solution_id: i64,
        approve: bool,
        note: Option<String>,
    ) -> Result<(crate::Ticket, crate::Solution)> {
        self.decide_solution_impl(actor, number, solution_id, approve, note)
            .await
    }
    async fn pending_approvals(&self, actor: &crate::Principal) -> Result<Vec<crate::Solution>> {
        self.pending_approvals_impl(actor).await
    }
    async fn escalate_appeal(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
        reason: &str,
    ) -> Result<crate::Ticket> {
        self.escalate_appeal_impl(actor, number, reason).await
    }
    async fn appeals(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Vec<crate::Appeal>> {
        self.appeals_impl(actor, number).await
    }
    async fn link_view(&self, ticket_id: i64) -> Result<crate::LinkView> {
        self.link_view_impl(ticket_id).await
    }
    async fn link_action(
        &self,
        ticket_id: i64,
        action: crate::LinkAction,
    ) -> Result<crate::Ticket> {
        self.link_action_impl(ticket_id, action).await
    }
    async fn answer_survey(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
        stars: u8,
        comment: Option<String>,
    ) -> Result<crate::Ticket> {
        self.answer_survey_impl(actor, number, stars, comment).await
    }
    async fn survey(
        &self,
        actor: &crate::Principal,
        number: &closedloop_domain::TicketNumber,
    ) -> Result<Option<crate::SurveyAnswer>> {
        self.survey_impl(actor, number).await
    }
    async fn auto_close(&self, before: chrono::DateTime<chrono::Utc>, limit: u32) -> Result<usize> {
        self.auto_close_impl(before, limit).await
    }
    async fn queue_nps(
        &self,
        percent: u8,
        closed_since: chrono::DateTime<chrono::Utc>,
        not_asked_since: chrono::DateTime<chrono::Utc>,
        seed: i64,
        limit: u32,
    ) -> Result<usize> {
        self.queue_nps_impl(percent, closed_since, not_asked_since, seed, limit)
            .await
    }
    async fn nps_answered(&self, id: i64) -> Result<bool> {
        self.nps_answered_impl(id).await
    }
    async fn answer_nps(&self, id: i64, score: u8, comment: Option<String>) -> Result<()> {
        self.answer_nps_impl(id, score, comment).await
    }
    async fn nps_report(&self, since: chrono::DateTime<chrono::Utc>) -> Result<crate::NpsReport> {
        self.nps_report_impl(since).await
    }
    async fn claim_run(&self, key: &str, every: chrono::Duration) -> Result<bool> {
        self.claim_run_impl(key, every).await
    }
    async fn preferences(&self, user_id: i64) -> Result<crate::Preferences> {
        self.preferences_impl(user_id).await
    }
    async fn set_preferences(&self, user_id: i64, preferences: &crate::Preferences) -> Result<()> {
        self.set_preferences_impl(user_id, preferences).await
    }
    async fn canned_responses(
        &self,
        actor: &crate::Principal,
    ) -> Result<Vec<crate::CannedResponse>> {
        self.canned_responses_impl(actor).await
    }
    async fn add_canned_response(
        &self,
        actor: &crate::Principal,
        new: crate::NewCannedResponse,
    ) -> Result<crate::CannedResponse> {
        self.add_canned_response_impl(actor, new).await
    }
    async fn delete_canned_response(&self, actor: &crate::Principal, id: i64) -> Result<()> {
        self.delete_canned_response_impl(actor, id).await
    }
    async fn create_widget_site(
        &self,
        name: &str,
        site_key: &str,
        origins: &[String],
    ) -> Result<crate::WidgetSite> {
        self.create_widget_site_impl(name, site_key, origins).await
    }
    async fn list_widget_sites(&self) -> Result<Vec<crate::WidgetSite>> {
        self.list_widget_sites_impl().await
    }
    async fn widget_site(&self, site_key: &str) -> Result<Option<crate::WidgetSite>> {
        self.widget_site_impl(site_key).await
    }
    async fn create_webhook_source(
        &self,
        source: crate::NewWebhookSource,
    ) -> Result<crate::WebhookSource> {
        self.create_webhook_source_impl(source).await
    }
    async fn list_webhook_sources(&self) -> Result<Vec<crate::WebhookSource>> {
        self.list_webhook_sources_impl().await
    }
    async fn webhook_credentials(&self, name: &str) -> Result<Option<crate::WebhookCredentials>> {
        self.webhook_credentials_impl(name).await
    }
    async fn webhook_intake(
        &self,
        source: &crate::WebhookCredentials,
        message: crate::WebhookMessage,
    ) -> Result<crate::WebhookOutcome> {
        self.webhook_intake_impl(source, message).await
    }
    async fn create_web_ticket(&self, submission: crate::WebSubmission) -> Result<crate::Ticket> {
        self.create_web_ticket_impl(submission).await
    }
    async fn ticket_by_link(&self, link_hash: &str) -> Result<Option<crate::Ticket>> {
        self.ticket_by_link_impl(link_hash).await
    }
    async fn public_timeline(&self, ticket_id: i64) -> Result<Vec<crate::TimelineEntry>> {
        self.public_timeline_impl(ticket_id).await
    }
    async fn reply_by_link(&self, ticket_id: i64, body: &str) -> Result<crate::TimelineEntry> {
        self.reply_by_link_impl(ticket_id, body).await
    }
    async fn attachments(&self, ticket_id: i64) -> Result<Vec<crate::Attachment>> {
        self.attachments_impl(ticket_id).await
    }
}
