//! The one typed configuration: defaults → `closedloop.toml` (or `--config`) → `CLOSEDLOOP_*`
//! environment variables (`__` between levels) → command-line flags. Validated before use.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A value that must never reach a log: `Debug` and `Display` hide it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the embedded database (and later attachments and indexes) live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; unset means SQLite at `<data_dir>/closedloop.db`.
    pub database_url: Option<Secret>,
    /// A PostgreSQL standby (streaming replica) for ticket lists and reports; everything else,
    /// and every write, goes to `database_url`.
    pub replica_url: Option<Secret>,
    /// Database connections (readers on SQLite; all on PostgreSQL).
    pub max_connections: u32,
    /// How long a request waits for a database connection before it is answered 503 with
    /// `Retry-After`: the most a request hangs while the database is down or restarting.
    pub database_timeout_ms: u64,
    /// Request bodies above this many bytes are refused with 413.
    pub max_body_bytes: usize,
    /// The first administrator, created on first start.
    pub admin_email: String,
    /// The first administrator's password; a random one is printed once when unset.
    pub admin_password: Option<Secret>,
    pub session_ttl_hours: i64,
    /// Failed sign-ins in a row that lock an account (guesses spread over many addresses get
    /// past the per-address limit); 0: never locked.
    pub login_max_failures: u32,
    /// How long such a lock lasts.
    pub login_lock_minutes: i64,
    /// `pretty` or `json` log lines.
    pub log_format: LogFormat,
    /// Behind a reverse proxy: take the client address from the last `X-Forwarded-For` entry.
    /// Leave off when clients reach the server directly, or they choose their own address.
    pub trust_forwarded_for: bool,
    /// How far a webhook's `X-Closedloop-Timestamp` may be from now, either way.
    pub webhook_max_skew_seconds: u64,
    /// How often each instance looks for a newly trained triage model (`closedloop triage retrain`).
    pub triage_reload_seconds: u64,
    /// A TOML file of triage settings (thresholds, keyword rules); unset: the built-in ones.
    pub triage_config: Option<PathBuf>,
    /// Check every new ticket against the open ones for duplicates (costs creation throughput,
    /// see BENCHMARKS.md).
    pub duplicate_detection: bool,
    /// Pair score (0-1) above which a new ticket is registered as a duplicate of an open one.
    pub duplicate_threshold: f32,
    /// New tickets are compared with the open tickets created in this many past days.
    pub duplicate_window_days: u32,
    /// At most this many open tickets are held for comparison (oldest dropped first); about
    /// 250 bytes each.
    pub duplicate_index_max: usize,
    /// A TOML file of SLA settings (`[policy]` targets, warnings and escalation chains;
    /// `[calendar]` working hours, time zone, holidays); unset: the defaults of MISSION §3.
    pub sla_config: Option<PathBuf>,
    /// How often each instance looks for SLA moments that have come due.
    pub sla_poll_ms: u64,
    /// Limits on the public (unauthenticated) endpoints.
    pub rate_limit: RateLimitConfig,
    /// Uploaded evidence, by content hash; unset: `<data_dir>/attachments`. Instances that
    /// share a database must share this directory too.
    pub attachments_dir: Option<PathBuf>,
    /// The full-text search index, a cache of the database; unset: `<data_dir>/search`. Each
    /// instance takes the first numbered slot under it that no other running instance holds,
    /// and keeps it in step with the database by itself.
    pub search_dir: Option<PathBuf>,
    /// How often each instance reads the database's change feed into its search index.
    pub search_poll_ms: u64,
    /// How often each instance, once caught up, looks for tickets whose report facts are
    /// stale. Reports are exact either way (stale tickets are read live); this decides how
    /// much of a report is read live.
    pub report_facts_poll_ms: u64,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>` (Prometheus'
    /// `authorization` setting); unset, it is open, like most exporters behind a firewall.
    pub metrics_token: Option<Secret>,
    /// Largest file the public form accepts (it takes at most 5 per submission), and the
    /// largest mail attachment kept.
    pub max_attachment_bytes: usize,
    /// Inbound mail: what counts as automatic, the largest message read.
    pub mail: closedloop_mail::AutoPolicy,
    /// Outgoing mail: the server and the acknowledgements.
    pub smtp: SmtpConfig,
    /// Approvals, results, appeals, surveys and the links in users' messages.
    #[serde(rename = "loop")]
    pub closing: LoopConfig,
    /// A mailbox whose messages become tickets, fetched over IMAP.
    pub imap: ImapConfig,
    /// The IANA time zone pages show dates in for users who chose none.
    pub time_zone: String,
    /// Personal data in text from public channels.
    pub privacy: PrivacyConfig,
    /// Machine translation of tickets in another language than the agents'.
    pub translation: TranslationConfig,
}

/// The translation hook (see `translate.rs`). Without a URL nothing is translated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TranslationConfig {
    /// A LibreTranslate-compatible `/translate` endpoint, e.g. `http://127.0.0.1:5000/translate`.
    pub url: Option<String>,
    pub api_key: Option<Secret>,
    /// The language the agents work in (`zh` or `en`): tickets in the other get a translation.
    pub to: String,
    pub poll_ms: u64,
    pub timeout_ms: u64,
}

impl Default for TranslationConfig {
    fn default() -> Self {
        Self {
            url: None,
            api_key: None,
            to: "zh".into(),
            poll_ms: 10_000,
            timeout_ms: 10_000,
        }
    }
}

/// Personal data in text from public channels (MISSION §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Channels whose tickets have phone, ID and card numbers, e-mail and postal addresses
    /// masked on intake; the originals are kept apart for reveals.
    pub mask_channels: Vec<closedloop_domain::Channel>,
    /// The lowest role that may reveal masked values (every reveal is logged).
    pub reveal_from: closedloop_domain::Role,
    /// Hours within which a request to erase a person's data must be done; administrators
    /// are alerted when one is not.
    pub erasure_hours: u32,
    /// How often (ms) the erasure worker looks for requests.
    pub erasure_poll_ms: u64,
    /// Closed tickets are anonymised this many months after closing (0: kept as they are).
    pub retention_months: u32,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            mask_channels: closedloop_store::PrivacyPolicy::default().mask_channels,
            reveal_from: closedloop_domain::Role::Supervisor,
            erasure_hours: 72,
            erasure_poll_ms: 60_000,
            retention_months: 0,
        }
    }
}

/// The mailbox the IMAP poller reads. Without a server nothing is polled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapConfig {
    /// `host:port`, e.g. `imap.example.com:993`.
    pub server: Option<String>,
    /// TLS from the first byte (port 993), checked against the public roots. Turn off only for
    /// a server on loopback or a trusted network (port 143).
    pub tls: bool,
    pub user: String,
    pub password: Option<Secret>,
    pub mailbox: String,
    /// Pause between polls.
    pub poll_ms: u64,
}

impl Default for ImapConfig {
    fn default() -> Self {
        Self {
            server: None,
            tls: true,
            user: String::new(),
            password: None,
            mailbox: "INBOX".into(),
            poll_ms: 60_000,
        }
    }
}

/// `host:port` split, for the mail relay and the IMAP server; `None` when it is not one.
pub fn host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    if host.is_empty() {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Outgoing mail. Without a URL nothing is sent and no mail is queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// `smtp://host:port` (plain, to a relay you run), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host` (TLS from the first byte, port 465); the
    /// environment variable `CLOSEDLOOP_SMTP_URL` sets it. A bare `host:port` means plain SMTP.
    pub url: Option<Secret>,
    /// The address our mail comes from (and that customers answer); `CLOSEDLOOP_SMTP_FROM`.
    pub from_address: String,
    pub from_name: String,
    /// Acknowledge each ticket a mail opens (never automatic mail, never replies).
    pub acknowledge: bool,
    /// At most this many acknowledgements to one address in any hour, so two automatic
    /// systems answering each other stop after this many.
    pub acknowledgements_per_address_per_hour: u32,
    /// How often each instance looks for queued notices.
    pub poll_ms: u64,
}

impl SmtpConfig {
    /// The URL lettre reads: a bare `host:port` is plain SMTP to that relay.
    pub fn transport_url(&self) -> Option<String> {
        let url = self.url.as_ref()?.expose();
        Some(if url.contains("://") {
            url.to_owned()
        } else {
            format!("smtp://{url}")
        })
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            url: None,
            from_address: "support@closedloop.local".into(),
            from_name: "Closedloop".into(),
            acknowledge: true,
            acknowledgements_per_address_per_hour: 5,
            poll_ms: 1_000,
        }
    }
}

/// Closing the loop with the user (MISSION §4-5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Which solutions need a supervisor's approval before the user is told.
    pub approval: closedloop_domain::solution::ApprovalPolicy,
    /// Days after the result in which the user may appeal (the result link works as long).
    pub appeal_days: i64,
    /// A result nobody confirmed or rejected closes after this many hours.
    pub auto_close_hours: i64,
    /// A survey answer with fewer stars reopens handling; 0: never.
    pub reopen_below_stars: u8,
    /// Where users reach the service (links in messages): `http://host:port`; unset: the
    /// listen address.
    pub public_url: Option<String>,
    /// What messages give as the contact; unset: the mail sender's address.
    pub contact: Option<String>,
    /// An HTTP endpoint that sends SMS (and chat replies): it gets `POST {"to","text","ticket"}`
    /// as JSON with `Authorization: Bearer <sms_token>`. Unset: no SMS.
    pub sms_url: Option<String>,
    pub sms_token: Option<Secret>,
    /// Ask a sample of the users with a ticket closed in the period the NPS question (0-10)
    /// every this many days; 0: never.
    pub nps_every_days: u32,
    /// Which share of them, in percent.
    pub nps_sample_percent: u8,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            approval: Default::default(),
            appeal_days: closedloop_domain::lifecycle::DEFAULT_APPEAL_WINDOW_DAYS,
            auto_close_hours: 72,
            reopen_below_stars: 3,
            public_url: None,
            contact: None,
            sms_url: None,
            sms_token: None,
            nps_every_days: 90,
            nps_sample_percent: 20,
        }
    }
}

/// Token buckets: `*_burst` requests at once, refilled at `*_per_minute`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Login attempts per client address.
    pub login_per_minute: u32,
    pub login_burst: u32,
    /// Other public requests (webhook intake, OpenAPI document) per client address.
    pub public_per_minute: u32,
    pub public_burst: u32,
    /// Messages per webhook source.
    pub webhook_per_minute: u32,
    pub webhook_burst: u32,
    /// Feedback posted through the widget, per site key (on top of the per-address limit).
    pub widget_per_minute: u32,
    pub widget_burst: u32,
    /// Addresses (or sources) tracked per limiter; bounds memory.
    pub max_tracked: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            login_per_minute: 20,
            login_burst: 10,
            public_per_minute: 600,
            public_burst: 120,
            webhook_per_minute: 1200,
            webhook_burst: 200,
            widget_per_minute: 600,
            widget_burst: 100,
            max_tracked: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            replica_url: None,
            max_connections: 8,
            database_timeout_ms: 5_000,
            max_body_bytes: 1024 * 1024,
            admin_email: "admin@closedloop.local".into(),
            admin_password: None,
            session_ttl_hours: 12,
            login_max_failures: 5,
            login_lock_minutes: 15,
            log_format: LogFormat::Pretty,
            trust_forwarded_for: false,
            webhook_max_skew_seconds: 300,
            triage_reload_seconds: 10,
            duplicate_threshold: 0.9,
            duplicate_detection: true,
            duplicate_window_days: 30,
            duplicate_index_max: 200_000,
            triage_config: None,
            sla_config: None,
            sla_poll_ms: 1_000,
            rate_limit: RateLimitConfig::default(),
            attachments_dir: None,
            search_dir: None,
            search_poll_ms: 1_000,
            report_facts_poll_ms: 2_000,
            metrics_token: None,
            max_attachment_bytes: 10 * 1024 * 1024,
            mail: closedloop_mail::AutoPolicy::default(),
            smtp: SmtpConfig::default(),
            closing: LoopConfig::default(),
            imap: ImapConfig::default(),
            time_zone: "Asia/Shanghai".into(),
            privacy: PrivacyConfig::default(),
            translation: TranslationConfig::default(),
        }
    }
}

/// Keys read from the environment. Others with the prefix (test or tool settings) are not ours.
const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "replica_url",
    "max_connections",
    "database_timeout_ms",
    "max_body_bytes",
    "admin_email",
    "admin_password",
    "session_ttl_hours",
    "login_max_failures",
    "login_lock_minutes",
    "log_format",
    "trust_forwarded_for",
    "webhook_max_skew_seconds",
    "triage_reload_seconds",
    "duplicate_threshold",
    "duplicate_detection",
    "duplicate_window_days",
    "duplicate_index_max",
    "triage_config",
    "sla_config",
    "sla_poll_ms",
    "rate_limit.login_per_minute",
    "rate_limit.login_burst",
    "rate_limit.public_per_minute",
    "rate_limit.public_burst",
    "rate_limit.webhook_per_minute",
    "rate_limit.webhook_burst",
    "rate_limit.widget_per_minute",
    "rate_limit.widget_burst",
    "rate_limit.max_tracked",
    "attachments_dir",
    "search_dir",
    "search_poll_ms",
    "report_facts_poll_ms",
    "metrics_token",
    "max_attachment_bytes",
    "mail.list_mail_is_auto",
    "mail.subject_fallback",
    "mail.max_bytes",
    "smtp.url",
    "smtp.from_address",
    "smtp.from_name",
    "smtp.acknowledge",
    "smtp.acknowledgements_per_address_per_hour",
    "smtp.poll_ms",
    "loop.appeal_days",
    "loop.auto_close_hours",
    "loop.reopen_below_stars",
    "loop.public_url",
    "loop.contact",
    "loop.sms_url",
    "loop.sms_token",
    "loop.nps_every_days",
    "loop.nps_sample_percent",
    "imap.server",
    "imap.tls",
    "imap.user",
    "imap.password",
    "imap.mailbox",
    "imap.poll_ms",
    "time_zone",
    "privacy.reveal_from",
    "privacy.erasure_hours",
    "privacy.erasure_poll_ms",
    "privacy.retention_months",
    "translation.url",
    "translation.api_key",
    "translation.to",
    "translation.poll_ms",
    "translation.timeout_ms",
];

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Command-line values that override every other source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Loads from `file` (if given, it must exist; otherwise `./closedloop.toml` if present),
    /// the environment and `overrides`, then validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Invalid {
                        key: "config",
                        message: format!("file {} does not exist", path.display()),
                    });
                }
                fig = fig.merge(Toml::file_exact(path));
            }
            None => fig = fig.merge(Toml::file("closedloop.toml")),
        }
        let config: Config = fig
            .merge(Env::prefixed("CLOSEDLOOP_").split("__").filter(|k| {
                ENV_KEYS
                    .iter()
                    .any(|known| k.as_str().eq_ignore_ascii_case(known))
            }))
            // The names scripts outside the project rely on (issue 6's contract).
            .merge(
                Env::raw()
                    .only(&["CLOSEDLOOP_SMTP_URL", "CLOSEDLOOP_SMTP_FROM"])
                    .map(|k| {
                        if k.as_str().eq_ignore_ascii_case("CLOSEDLOOP_SMTP_URL") {
                            "smtp.url".into()
                        } else {
                            "smtp.from_address".into()
                        }
                    }),
            )
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// The rules of the loop the store applies.
    pub fn loop_policy(&self) -> closedloop_store::LoopPolicy {
        let l = &self.closing;
        closedloop_store::LoopPolicy {
            approval: l.approval.clone(),
            appeal_window: chrono::Duration::days(l.appeal_days),
            reopen_below_stars: (l.reopen_below_stars > 0).then_some(l.reopen_below_stars),
            notify: true,
            email: self.smtp.url.is_some(),
            sms: l.sms_url.is_some(),
        }
    }

    /// Where users reach the service, for links in their messages.
    pub fn public_url(&self) -> String {
        match &self.closing.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The SLA settings: defaults, overlaid by `sla_config` if set, validated.
    pub fn sla(&self) -> Result<closedloop_domain::sla::Sla, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            key: "sla_config",
            message,
        };
        let sla = match &self.sla_config {
            None => closedloop_domain::sla::Sla::default(),
            Some(path) => {
                if !path.is_file() {
                    return Err(invalid(format!("{}: no such file", path.display())));
                }
                Figment::new()
                    .merge(Toml::file_exact(path))
                    .extract()
                    .map_err(|e| invalid(format!("{}: {e}", path.display())))?
            }
        };
        sla.validate()
            .map_err(|e| invalid(format!("{}: {}", e.field, e.message)))?;
        Ok(sla)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if !self.privacy.reveal_from.is_staff() {
            return bad("privacy.reveal_from", "must be agent, supervisor or admin");
        }
        if !(1..=24 * 30).contains(&self.privacy.erasure_hours) {
            return bad("privacy.erasure_hours", "must be from 1 to 720");
        }
        if !matches!(self.translation.to.as_str(), "zh" | "en") {
            return bad("translation.to", "must be zh or en");
        }
        if let Some(url) = &self.translation.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return bad("translation.url", "must be an http:// or https:// address");
        }
        if self.translation.poll_ms < 100 || self.translation.timeout_ms < 100 {
            return bad(
                "translation.poll_ms",
                "poll_ms and timeout_ms must be at least 100",
            );
        }
        if self.privacy.retention_months > 1200 {
            return bad("privacy.retention_months", "must be from 0 (off) to 1200");
        }
        if self.privacy.erasure_poll_ms < 100 {
            return bad("privacy.erasure_poll_ms", "must be at least 100");
        }
        if let Some(url) = &self.database_url {
            let u = url.expose();
            if !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://"))
            {
                return bad(
                    "database_url",
                    "must start with sqlite:, postgres:// or postgresql://",
                );
            }
        }
        if let Some(url) = &self.replica_url {
            let u = url.expose();
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                return bad(
                    "replica_url",
                    "must start with postgres:// or postgresql://",
                );
            }
            if self.uses_sqlite() {
                return bad("replica_url", "needs a PostgreSQL database_url");
            }
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return bad(
                "time_zone",
                "must be an IANA time zone such as Asia/Shanghai or Europe/London",
            );
        }
        if self.max_connections == 0 || self.max_connections > 1000 {
            return bad("max_connections", "must be between 1 and 1000");
        }
        if !(100..=600_000).contains(&self.database_timeout_ms) {
            return bad("database_timeout_ms", "must be from 100 to 600000");
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "must be at least 1024");
        }
        if !crate::http::valid_email(&self.admin_email) {
            return bad("admin_email", "must be an email address");
        }
        if self
            .admin_password
            .as_ref()
            .is_some_and(|p| p.expose().chars().count() < 8)
        {
            return bad("admin_password", "must be at least 8 characters");
        }
        if !(1..=24 * 60).contains(&self.login_lock_minutes) {
            return bad("login_lock_minutes", "must be between 1 and 1440");
        }
        if !(1..=24 * 90).contains(&self.session_ttl_hours) {
            return bad("session_ttl_hours", "must be between 1 and 2160");
        }
        if !(0.5..=1.0).contains(&self.duplicate_threshold) {
            return bad("duplicate_threshold", "must be between 0.5 and 1.0");
        }
        if !(10..=60_000).contains(&self.sla_poll_ms) {
            return bad("sla_poll_ms", "must be between 10 and 60000");
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().chars().count() < 16)
        {
            return bad("metrics_token", "must be at least 16 characters");
        }
        if !(10..=60_000).contains(&self.search_poll_ms) {
            return bad("search_poll_ms", "must be between 10 and 60000");
        }
        if !(10..=3_600_000).contains(&self.report_facts_poll_ms) {
            return bad("report_facts_poll_ms", "must be between 10 and 3600000");
        }
        if !(1..=3_650).contains(&self.duplicate_window_days) {
            return bad("duplicate_window_days", "must be between 1 and 3650");
        }
        if !(1_000..=50_000_000).contains(&self.duplicate_index_max) {
            return bad("duplicate_index_max", "must be between 1000 and 50000000");
        }
        if !(1..=3_600).contains(&self.triage_reload_seconds) {
            return bad("triage_reload_seconds", "must be between 1 and 3600");
        }
        if !(1..=86_400).contains(&self.webhook_max_skew_seconds) {
            return bad("webhook_max_skew_seconds", "must be between 1 and 86400");
        }
        let r = &self.rate_limit;
        for (key, value) in [
            ("rate_limit.login_per_minute", r.login_per_minute),
            ("rate_limit.login_burst", r.login_burst),
            ("rate_limit.public_per_minute", r.public_per_minute),
            ("rate_limit.public_burst", r.public_burst),
            ("rate_limit.webhook_per_minute", r.webhook_per_minute),
            ("rate_limit.webhook_burst", r.webhook_burst),
        ] {
            if !(1..=100_000_000).contains(&value) {
                return bad(key, "must be between 1 and 100000000");
            }
        }
        if !crate::http::valid_email(&self.smtp.from_address) {
            return bad("smtp.from_address", "must be an email address");
        }
        if let Some(url) = self.smtp.transport_url()
            && lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url).is_err()
        {
            return bad(
                "smtp.url",
                "use smtp://host:port, smtp://user:pass@host:587?tls=required or smtps://user:pass@host",
            );
        }
        let l = &self.closing;
        if !(1..=365).contains(&l.appeal_days) {
            return bad("loop.appeal_days", "must be between 1 and 365");
        }
        if !(1..=24 * 365).contains(&l.auto_close_hours) {
            return bad("loop.auto_close_hours", "must be between 1 and 8760");
        }
        if l.nps_sample_percent > 100 {
            return bad("loop.nps_sample_percent", "must be between 0 and 100");
        }
        if l.reopen_below_stars > 5 {
            return bad("loop.reopen_below_stars", "must be between 0 and 5");
        }
        if let Some(u) = &l.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad("loop.public_url", "must start with http:// or https://");
        }
        if let Some(u) = &l.sms_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad("loop.sms_url", "must start with http:// or https://");
        }
        if let Some(server) = &self.imap.server {
            if host_port(server).is_none() {
                return bad("imap.server", "use host:port, e.g. imap.example.com:993");
            }
            if self.imap.user.is_empty() || self.imap.password.is_none() {
                return bad("imap.user", "a mailbox needs a user and a password");
            }
        }
        if self.imap.poll_ms == 0 {
            return bad("imap.poll_ms", "must be at least 1");
        }
        if self.smtp.poll_ms == 0 {
            return bad("smtp.poll_ms", "must be at least 1");
        }
        if !(1..=1024 * 1024 * 1024).contains(&self.max_attachment_bytes) {
            return bad("max_attachment_bytes", "must be between 1 and 1073741824");
        }
        if !(16..=10_000_000).contains(&r.max_tracked) {
            return bad("rate_limit.max_tracked", "must be between 16 and 10000000");
        }
        self.sla()?;
        Ok(())
    }

    /// The database to use: the configured URL, or the SQLite file under `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("closedloop.db").display()
            ),
        }
    }

    /// Where the search index slots are.
    pub fn search_dir(&self) -> PathBuf {
        self.search_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("search"))
    }

    /// Where uploaded evidence is kept.
    pub fn attachments_dir(&self) -> PathBuf {
        self.attachments_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("attachments"))
    }

    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail fixes the closure's error type"
)]
mod tests {
    use super::*;

    /// The example in README.md ("SLA clocks") is a configuration that loads.
    #[test]
    #[allow(clippy::panic)]
    fn the_readme_sla_example_loads_and_overlays_the_defaults() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```toml\n[policy]")
            .map(|i| i + "```toml\n".len());
        let example = start
            .and_then(|s| readme[s..].find("```").map(|e| &readme[s..s + e]))
            .unwrap_or_default();
        assert!(example.contains("[calendar]"), "README example not found");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("sla.toml");
        std::fs::write(&path, example).unwrap_or_else(|e| panic!("{e}"));
        let config = Config {
            sla_config: Some(path),
            ..Config::default()
        };
        let sla = config.sla().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sla.policy.warn_at_percent, 80);
        assert!(sla.policy.escalation.p3.is_empty());
        // What the file does not name keeps its default.
        assert_eq!(
            sla.policy.escalation.p1,
            closedloop_domain::sla::SlaPolicy::default().escalation.p1
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[policy]\nwarn_at_percent = 150\n").unwrap_or_else(|e| panic!("{e}"));
        let err = Config {
            sla_config: Some(bad),
            ..Config::default()
        }
        .sla()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("sla_config") && err.contains("warn_at_percent"),
            "{err}"
        );
    }

    #[test]
    fn defaults_are_valid_and_use_sqlite_under_data() {
        let c = Config::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.database_url(), "sqlite://data/closedloop.db?mode=rwc");
    }

    #[test]
    fn an_unknown_time_zone_is_refused_naming_the_key() {
        let c = Config {
            time_zone: "Asia/Beijing".into(),
            ..Config::default()
        };
        let e = c.validate().expect_err("no such zone");
        assert!(e.to_string().contains("time_zone"), "{e}");
        let c = Config {
            time_zone: "Asia/Taipei".into(),
            ..Config::default()
        };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = Config {
            admin_password: Some(Secret::new("hunter2hunter2")),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "closedloop.toml",
                "listen = \"127.0.0.1:9000\"\nlisen = \"typo\"\n",
            )?;
            let err = Config::load(None, &Overrides::default())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("lisen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "closedloop.toml",
                "listen = \"127.0.0.1:9000\"\nmax_connections = 3\n",
            )?;
            jail.set_env("CLOSEDLOOP_MAX_CONNECTIONS", "5");
            jail.set_env("CLOSEDLOOP_TEST_SOMETHING", "ignored");
            let flags = Overrides {
                database_url: Some("postgres://db/x".into()),
                ..Overrides::default()
            };
            let c = Config::load(None, &flags).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.max_connections, 5);
            assert_eq!(c.database_url(), "postgres://db/x");
            Ok(())
        });
    }

    #[test]
    fn nested_rate_limits_come_from_file_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "closedloop.toml",
                "trust_forwarded_for = true\n[rate_limit]\nlogin_burst = 3\n",
            )?;
            jail.set_env("CLOSEDLOOP_RATE_LIMIT__LOGIN_PER_MINUTE", "7");
            let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert!(c.trust_forwarded_for);
            assert_eq!(c.rate_limit.login_burst, 3);
            assert_eq!(c.rate_limit.login_per_minute, 7);
            assert_eq!(
                c.rate_limit.public_burst,
                RateLimitConfig::default().public_burst
            );
            let zero = Config {
                rate_limit: RateLimitConfig {
                    webhook_burst: 0,
                    ..RateLimitConfig::default()
                },
                ..Config::default()
            };
            let err = zero
                .validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("rate_limit.webhook_burst"), "{err}");
            Ok(())
        });
    }

    /// The fixed contract of issue 6: outgoing mail from `CLOSEDLOOP_SMTP_URL` and
    /// `CLOSEDLOOP_SMTP_FROM`; the loop's settings from the file.
    #[test]
    fn smtp_contract_variables_and_loop_settings_are_read() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "closedloop.toml",
                "[loop]\nappeal_days = 10\n[loop.approval]\ncompensation_above = 5000\n",
            )?;
            jail.set_env(
                "CLOSEDLOOP_SMTP_URL",
                "smtps://help%40shop.example:pw@mail.shop.example",
            );
            jail.set_env("CLOSEDLOOP_SMTP_FROM", "help@shop.example");
            let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                c.smtp.transport_url().as_deref(),
                Some("smtps://help%40shop.example:pw@mail.shop.example")
            );
            assert_eq!(c.smtp.from_address, "help@shop.example");
            assert_eq!(c.closing.appeal_days, 10);
            let policy = c.loop_policy();
            assert_eq!(policy.approval.compensation_above, Some(5000));
            assert!(policy.approval.refunds);
            assert!(policy.email);
            assert_eq!(policy.appeal_window, chrono::Duration::days(10));
            // A bare host:port is plain SMTP to a relay.
            jail.set_env("CLOSEDLOOP_SMTP_URL", "127.0.0.1:2525");
            let c = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                c.smtp.transport_url().as_deref(),
                Some("smtp://127.0.0.1:2525")
            );
            jail.set_env("CLOSEDLOOP_SMTP_URL", "ftp://nope");
            let err = Config::load(None, &Overrides::default())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("smtp.url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_replica_needs_postgres_on_both_sides_and_the_timeout_a_sane_range() {
        let named = |c: Config| {
            c.validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let pg = Some(Secret::new("postgres://db1/closedloop"));
        let ok = Config {
            database_url: pg.clone(),
            replica_url: Some(Secret::new("postgres://db2/closedloop")),
            ..Config::default()
        };
        assert!(ok.validate().is_ok());
        let on_sqlite = Config {
            replica_url: Some(Secret::new("postgres://db2/closedloop")),
            ..Config::default()
        };
        assert!(named(on_sqlite).contains("replica_url"));
        let not_pg = Config {
            database_url: pg,
            replica_url: Some(Secret::new("sqlite://x.db")),
            ..Config::default()
        };
        assert!(named(not_pg).contains("replica_url"));
        for ms in [0, 99, 600_001] {
            let c = Config {
                database_timeout_ms: ms,
                ..Config::default()
            };
            assert!(named(c).contains("database_timeout_ms"), "{ms}");
        }
    }

    #[test]
    fn invalid_values_name_their_key() {
        let c = Config {
            database_url: Some(Secret::new("mysql://x")),
            ..Config::default()
        };
        assert!(
            c.validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("database_url")
        );
        let c = Config {
            admin_password: Some(Secret::new("short")),
            ..Config::default()
        };
        assert!(
            c.validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("admin_password")
        );
    }
}
