//! The Closedloop service: configuration, HTTP API and authentication.
//!
//! [`App::build`] opens (and migrates) the database and prepares the router;
//! [`App::run`] serves on a listener the caller bound, until `shutdown` completes. Tests bind
//! port 0 and pass the listener in.

pub mod attachments;
pub mod auth;
pub mod config;
pub mod duplicates;
pub mod erasure;
pub mod error;
pub mod export;
pub mod hot;
pub mod http;
pub mod imap_poller;
pub mod mail_intake;
pub mod metrics;
pub mod notify;
pub mod rate_limit;
pub mod search;
pub mod security_log;
pub mod signature;
pub mod totp;
pub mod translate;
pub mod triage;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use closedloop_domain::Role;
use closedloop_store::{Clock, ConnectOptions, NewUser, SqlStore, Store, StoreError, SystemClock};
use tokio::net::TcpListener;

pub use config::{Config, ConfigError, Overrides, Secret};

/// What every handler reaches: no globals.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub tokens: Arc<auth::TokenCache>,
    pub limits: Arc<rate_limit::Limits>,
    pub triage: Arc<triage::Engine>,
    pub duplicates: Arc<duplicates::Duplicates>,
    pub links: Arc<notify::links::Links>,
    pub search: Arc<search::Search>,
    pub metrics: Arc<metrics::Metrics>,
    pub published: Arc<web::progress::Published>,
}

impl AppState {
    /// Mail intake as this server is configured.
    pub fn mail_intake(&self) -> mail_intake::MailIntake<'_> {
        mail_intake::MailIntake::configured(self.store.as_ref(), &self.triage, &self.config)
    }
}

/// The first administrator made on a fresh database; `password` is set when it was generated
/// and must be shown to the operator once.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub email: String,
    pub generated_password: Option<String>,
}

pub struct App {
    state: AppState,
    store: Arc<SqlStore>,
    pub bootstrap: Option<Bootstrap>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Api(String),
}

/// Opens the configured database, applies migrations and loads the default departments and
/// routing matrix into a new one. Used by `serve` and by every CLI command.
pub async fn open_store(config: &Config, clock: Arc<dyn Clock>) -> Result<SqlStore, StartError> {
    if config.uses_sqlite() && config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    }
    let options = ConnectOptions {
        max_connections: config.max_connections,
        acquire_timeout: std::time::Duration::from_millis(config.database_timeout_ms),
        replica_url: config.replica_url.as_ref().map(|u| u.expose().to_owned()),
        sla: Arc::new(config.sla().map_err(|e| StartError::Api(e.to_string()))?),
        closing: Arc::new(config.loop_policy()),
        privacy: Arc::new(closedloop_store::PrivacyPolicy {
            mask_channels: config.privacy.mask_channels.clone(),
        }),
    };
    let store = SqlStore::connect(&config.database_url(), &options, clock).await?;
    store.migrate().await?;
    store.load_defaults().await?;
    Ok(store)
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<App, StartError> {
        let store = Arc::new(open_store(&config, clock.clone()).await?);
        let bootstrap = ensure_admin(store.as_ref(), &config).await?;
        let triage = Arc::new(triage::Engine::configured(&config).map_err(StartError::Api)?);
        let links = Arc::new(notify::links::Links::load(store.as_ref()).await?);
        let search = Arc::new(
            search::Search::open(&config, triage.current().nlp_handle())
                .map_err(StartError::Api)?,
        );
        let state = AppState {
            search,
            metrics: Arc::default(),
            published: Arc::default(),
            links,
            store: store.clone(),
            limits: Arc::new(rate_limit::Limits::new(&config.rate_limit)),
            duplicates: Arc::new(duplicates::Duplicates::new(&config)),
            config: Arc::new(config),
            clock,
            tokens: Arc::default(),
            triage,
        };
        Ok(App {
            state,
            store,
            bootstrap,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self
            .router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let reload = tokio::spawn(reload_triage(self.state.clone()));
        let index = tokio::spawn(index_open_tickets(self.state.clone()));
        let sla = tokio::spawn(sla_scheduler(self.state.clone()));
        let mail = tokio::spawn(notify::worker::run(self.state.clone()));
        let auto_close = tokio::spawn(notify::worker::auto_close(self.state.clone()));
        let nps = tokio::spawn(notify::worker::nps(self.state.clone()));
        let imap = tokio::spawn(imap_poller::run(self.state.clone()));
        let search = tokio::spawn(search::follow(self.state.clone()));
        let terms = tokio::spawn(hot::follow(self.state.clone()));
        let facts = tokio::spawn(report_facts(self.state.clone()));
        let erasure = tokio::spawn(erasure::run(self.state.clone()));
        let translation = tokio::spawn(translate::run(self.state.clone()));
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        reload.abort();
        index.abort();
        sla.abort();
        mail.abort();
        auto_close.abort();
        nps.abort();
        imap.abort();
        search.abort();
        terms.abort();
        facts.abort();
        erasure.abort();
        translation.abort();
        self.store.close().await;
        result
    }
}

/// Keeps the triage engine on the newest retrained model: `closedloop triage retrain` stores
/// it in the database, so every instance on that database picks it up without a restart.
async fn reload_triage(state: AppState) {
    let every = std::time::Duration::from_secs(state.config.triage_reload_seconds);
    loop {
        if let Err(error) = state.triage.refresh(state.store.as_ref()).await {
            tracing::warn!(%error, "cannot look for a retrained triage model");
        }
        tokio::time::sleep(every).await;
    }
}

/// Acts on SLA moments as they come due. Every instance runs one; the store hands each moment
/// to one of them and marks it done with its effects, so nothing acts twice. After a restart
/// the first passes catch up on everything that came due meanwhile.
async fn sla_scheduler(state: AppState) {
    const BATCH: u32 = 500;
    let every = std::time::Duration::from_millis(state.config.sla_poll_ms);
    loop {
        match state.store.fire_due(BATCH).await {
            // A full batch: more may be waiting.
            Ok(report) if report.taken == BATCH as usize => {
                tracing::info!(fired = report.fired, "SLA moments acted on; more are due");
                continue;
            }
            Ok(report) if report.taken > 0 => {
                tracing::info!(fired = report.fired, "SLA moments acted on");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "SLA scheduler pass failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Keeps the tickets' report facts (migration 0014) in step with their writes, on every
/// instance; reports read the rest live, so this only decides how fast they are.
async fn report_facts(state: AppState) {
    const BATCH: u32 = 200;
    let idle = std::time::Duration::from_millis(state.config.report_facts_poll_ms);
    loop {
        match state.store.refresh_facts(BATCH).await {
            Ok(n) if n == BATCH as usize => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reading tickets' report facts failed"),
        }
        tokio::time::sleep(idle).await;
    }
}

/// Builds the duplicate index, then keeps adding the tickets other instances register (this
/// one's are added as they are made). A database that does not answer is asked again.
async fn index_open_tickets(state: AppState) {
    const FOLLOW: std::time::Duration = std::time::Duration::from_secs(5);
    let mut ready = false;
    loop {
        let started = std::time::Instant::now();
        let engine = state.triage.current();
        match state
            .duplicates
            .catch_up(&engine, state.store.as_ref(), state.clock.now())
            .await
        {
            Ok(n) if !ready => {
                ready = true;
                tracing::info!(
                    tickets = n,
                    seconds = started.elapsed().as_secs_f32(),
                    "duplicate index ready"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                %error,
                "reading tickets into the duplicate index failed; trying again"
            ),
        }
        tokio::time::sleep(FOLLOW).await;
    }
}

/// On a database without an administrator (new, or holding only imported customers), creates
/// the first one.
async fn ensure_admin(store: &dyn Store, config: &Config) -> Result<Option<Bootstrap>, StartError> {
    if store.count_admins().await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.expose().to_owned(), false),
        None => (auth::random_password(), true),
    };
    let hash = auth::hash_password(&password).map_err(|e| StartError::Api(e.message))?;
    let user = NewUser {
        email: config.admin_email.clone(),
        name: "Administrator".into(),
        role: Role::Admin,
        password_hash: Some(hash),
        departments: Vec::new(),
    };
    match store.create_user(user).await {
        // Another instance on the same database made it first.
        Err(StoreError::Taken { .. }) => Ok(None),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(Some(Bootstrap {
            email: config.admin_email.clone(),
            generated_password: generated.then_some(password),
        })),
    }
}
