//! The `closedloop` command: parses arguments and calls into the library crates.

mod import;
mod ingest;
mod progress;
mod seed;
mod triage_cmd;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use closedloop_domain::{Category, Role};
use closedloop_server::config::LogFormat;
use closedloop_server::{App, Config, Overrides};
use closedloop_store::{SqlStore, Store, SystemClock};

use crate::progress::Progress;

#[derive(Parser)]
#[command(
    name = "closedloop",
    version,
    about = "Feedback and complaint handling, closed loop."
)]
struct Cli {
    /// Configuration file (default: ./closedloop.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…); default: SQLite under the data directory.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Data directory (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Create or upgrade the database and load the defaults, then exit.
    Migrate,
    /// Write a consistent copy of the SQLite database, also while the server runs, and check it.
    Backup {
        /// The new file (it must not exist yet).
        #[arg(long)]
        output: std::path::PathBuf,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage departments.
    #[command(subcommand)]
    Department(DepartmentCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage signed webhook sources (chat bots, social monitoring, hotline/CRM systems).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Import historical feedback from CSV (`.csv`) or JSON Lines. Bad records are reported by
    /// line and skipped; re-running the same file creates nothing twice.
    Import {
        file: std::path::PathBuf,
        /// Channel for records without a `channel` column.
        #[arg(long, default_value = "web")]
        channel: String,
    },
    /// Read one mail message (RFC 822/MIME) from standard input, as an MTA pipes it: prints the
    /// ticket number it opened or joined, or `ignored: RULE` for auto-generated mail, on the
    /// last line. A message that cannot be read is quarantined and the command fails.
    ///
    /// With `--dir`, every file in the folder is one message (a Maildir's `new/`, an export):
    /// one line per file with its outcome, then a summary. Unreadable messages are quarantined
    /// and the rest go on; running it again files nothing twice.
    IngestEmail {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The triage engine: evaluation, retraining, re-classification.
    #[command(subcommand)]
    Triage(TriageCommand),
    /// The full-text search index.
    #[command(subcommand)]
    Search(SearchCommand),
    /// SLA clocks: re-plan them after a policy change, or act on what is due now.
    #[command(subcommand)]
    Sla(SlaCommand),
    /// Bulk-generate synthetic tickets (for benchmarks and demos).
    Seed {
        #[arg(long)]
        tickets: u64,
        /// Spread creation times over this many days back from now.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Department code; repeat for several.
        #[arg(long)]
        department: Vec<String>,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
enum DepartmentCommand {
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        name_zh: String,
    },
    List,
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Add a source; prints its signing secret on the last line (shown once).
    Add {
        #[arg(long)]
        name: String,
        /// Channel of its tickets: chat, social, phone, ...
        #[arg(long)]
        channel: String,
    },
    /// List sources (never their secrets).
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a user; prints it on the last line.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand)]
enum SlaCommand {
    /// Derive every open ticket's clocks again with the configured policy (`sla_config`) and
    /// replace their pending deadlines. Moments already acted on are not repeated.
    Replan,
    /// Act on every SLA moment due now (as the servers' schedulers do), then print how many.
    Fire,
    /// Open, overdue and stuck tickets per department (for a daily cron mail, say).
    Backlog {
        /// Open tickets unchanged for this many days count as stuck.
        #[arg(long, default_value_t = 3)]
        stuck_days: u32,
    },
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Rebuild the search index from the database, with progress: every slot under
    /// `search_dir` that no running instance holds (a running instance keeps its own in step
    /// by itself). Prints the tickets indexed, the time taken and the size on disk.
    Reindex,
}

#[derive(Subcommand)]
enum TriageCommand {
    /// Train a fresh model on one TSV file and report on another (`label<TAB>text` for
    /// classification, `label<TAB>text_a<TAB>text_b` for duplicate pairs). The last line is
    /// `macro_f1=…` or `f1=…`.
    Eval {
        #[arg(long)]
        train: std::path::PathBuf,
        #[arg(long)]
        test: std::path::PathBuf,
    },
    /// Print the triage settings in use (thresholds, keyword rules) as TOML: a starting point
    /// for the file named by `triage_config`.
    Config,
    /// Retrain the category model on the built-in examples plus every category agents
    /// corrected; reports before/after on a held-out split and installs the new model (running
    /// servers switch to it without a restart) unless it scores lower.
    Retrain {
        /// Share of the examples held out for the comparison.
        #[arg(long, default_value_t = 0.2)]
        holdout: f32,
        /// Install the new model even if it scores lower.
        #[arg(long)]
        force: bool,
    },
    /// Read stored tickets again with the model in use and summarise what changes; `--apply`
    /// re-categorises (and re-routes) tickets nobody has handled yet.
    Reclassify {
        /// RFC 3339 time or YYYY-MM-DD (UTC).
        #[arg(long)]
        since: String,
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load and validate the configuration and print it (secrets hidden).
    Check,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: closedloop_domain::DomainError| e.message)
}

/// What a command failed with, as the operator should read it.
struct CliError(String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

type CliResult<T = ()> = Result<T, CliError>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: match &cli.command {
            Command::Serve { listen } => *listen,
            _ => None,
        },
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    let config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config, matches!(cli.command, Command::Serve { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config, serving: bool) {
    use tracing_subscriber::EnvFilter;
    // Commands print their own results; only the server logs requests by default.
    let default = if serving {
        "info,tower_http=info,sqlx=warn"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn run(command: Command, config: Config) -> CliResult {
    match command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            let store = closedloop_server::open_store(&config, Arc::new(SystemClock)).await?;
            println!("database ready: {}", redact_url(&config.database_url()));
            store.close().await;
            Ok(())
        }
        Command::Backup { output } => {
            if !config.uses_sqlite() {
                return Err(CliError(
                    "backup copies the SQLite database; on PostgreSQL use pg_dump or a base \
                     backup with WAL archiving (docs/deploy.md)"
                        .into(),
                ));
            }
            if output.exists() {
                return Err(CliError(format!(
                    "{} already exists; give a new file name",
                    output.display()
                )));
            }
            let store = closedloop_server::open_store(&config, Arc::new(SystemClock)).await?;
            let copy = store.backup_to(&output).await;
            store.close().await;
            let copy = copy?;
            println!(
                "backup written: {} ({} tickets, {:.1} MiB, integrity ok)",
                output.display(),
                copy.tickets,
                copy.bytes as f64 / (1024.0 * 1024.0)
            );
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            println!("configuration is valid");
            println!("{config:#?}");
            println!("database: {}", redact_url(&config.database_url()));
            Ok(())
        }
        Command::User(cmd) => user(cmd, config).await,
        Command::Department(cmd) => department(cmd, config).await,
        Command::Webhook(cmd) => webhook(cmd, config).await,
        Command::Token(TokenCommand::Create { email, name }) => {
            let app = App::build(config).await?;
            let store = &app.state().store;
            let (user, _) = store
                .user_credentials(&email)
                .await?
                .ok_or_else(|| CliError(format!("no user with email {email}")))?;
            let (token, _) = closedloop_server::http::issue_token(
                app.state(),
                user.id,
                &name,
                None,
                closedloop_store::TokenScope::All,
            )
            .await
            .map_err(|e| CliError(e.message))?;
            println!("token for {} ({}), shown once:", user.email, user.role);
            println!("{token}");
            Ok(())
        }
        Command::Import { file, channel } => {
            let channel = channel
                .parse()
                .map_err(|e: closedloop_domain::DomainError| {
                    CliError(format!("--channel: {}", e.message))
                })?;
            let report = with_store(&config, async |store| {
                import::run(store, &file, channel).await
            })
            .await?;
            for (line, reason) in &report.rejected {
                eprintln!("line {line}: {reason}");
            }
            println!(
                "imported {}, already imported {}, rejected {}",
                report.outcome.inserted,
                report.outcome.skipped,
                report.rejected.len()
            );
            if report.rejected.is_empty() {
                Ok(())
            } else {
                Err(CliError(format!(
                    "{} records rejected (listed above by line); the others were imported",
                    report.rejected.len()
                )))
            }
        }
        Command::IngestEmail { dir: None } => {
            let outcome =
                with_store(&config, async |store| ingest::run(store, &config).await).await?;
            println!("{outcome}");
            Ok(())
        }
        Command::IngestEmail { dir: Some(dir) } => {
            with_store(&config, async |store| {
                ingest::folder(store, &config, &dir).await
            })
            .await
        }
        Command::Sla(cmd) => with_store(&config, async |store| sla(store, cmd).await).await,
        Command::Search(SearchCommand::Reindex) => {
            with_store(&config, async |store| reindex(store, &config).await).await
        }
        Command::Triage(TriageCommand::Config) => {
            let engine =
                closedloop_server::triage::Engine::configured(&config).map_err(CliError)?;
            let text = toml::to_string_pretty(engine.current().config())
                .map_err(|e| CliError(format!("cannot print the settings: {e}")))?;
            print!("{text}");
            Ok(())
        }
        Command::Triage(TriageCommand::Retrain { holdout, force }) => {
            with_store(&config, async |store| {
                triage_cmd::retrain(store, &config, holdout, force).await
            })
            .await
        }
        Command::Triage(TriageCommand::Reclassify { since, apply }) => {
            let since = import::time("since", &since).map_err(CliError)?;
            with_store(&config, async |store| {
                triage_cmd::reclassify(store, &config, since, apply).await
            })
            .await
        }
        Command::Triage(TriageCommand::Eval { train, test }) => {
            let mut out = std::io::stdout().lock();
            closedloop_triage::eval::run(&train, &test, &mut out)?;
            Ok(())
        }
        Command::Seed { tickets, days } => {
            with_store(&config, async |store| seed::run(store, tickets, days).await).await
        }
    }
}

async fn serve(config: Config) -> CliResult {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let database = redact_url(&config.database_url());
    let app = App::build(config).await?;
    // Where to log in. Written without `println!`: a server whose stdout was closed (a
    // supervisor that read the first line and went away) must keep serving, not panic.
    let mut banner = format!(
        "Closedloop is running at http://{addr}/  (database: {database})\n  \
         API: http://{addr}/api/v1   OpenAPI: http://{addr}/api/v1/openapi.json\n"
    );
    if let Some(b) = &app.bootstrap {
        let how = match &b.generated_password {
            Some(p) => format!("with password {p}  (shown once; change it)"),
            None => "with the password from CLOSEDLOOP_ADMIN_PASSWORD".to_owned(),
        };
        banner.push_str(&format!(
            "  First start: log in as {} {how}\n  e.g. curl -c cookies -H 'content-type: application/json' -d '{{\"email\":\"{}\",\"password\":\"…\"}}' http://{addr}/api/v1/auth/login\n",
            b.email, b.email
        ));
    }
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    app.run(listener, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

/// The URL without its password, for printing.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Runs a command on the configured database and closes it (flushing SQLite's WAL) whatever
/// the command's outcome.
async fn with_store<T>(
    config: &Config,
    command: impl AsyncFnOnce(&SqlStore) -> CliResult<T>,
) -> CliResult<T> {
    let store = closedloop_server::open_store(config, Arc::new(SystemClock)).await?;
    let result = command(&store).await;
    store.close().await;
    result
}

async fn reindex(store: &SqlStore, config: &Config) -> CliResult {
    use closedloop_search::SearchIndex;
    use closedloop_server::search::Search;
    let nlp = Arc::new(
        closedloop_triage::Nlp::new().map_err(|e| CliError(format!("dictionaries: {e}")))?,
    );
    let root = config.search_dir();
    let mut slots = SearchIndex::slots(&root);
    if slots.is_empty() {
        slots.push(0);
    }
    let mut rebuilt = 0;
    for slot in slots {
        let index = SearchIndex::open_slot(&root, slot, nlp.clone())
            .map_err(|e| CliError(e.to_string()))?;
        let Some(index) = index else {
            eprintln!(
                "slot {slot}: held by a running instance, which keeps it in step by itself; skipped"
            );
            continue;
        };
        let search = Search::with_index(index, config);
        let started = std::time::Instant::now();
        let total = store.count_tickets().await?.max(0) as u64;
        let mut progress = Progress::new("indexed", total);
        let mut last = 0;
        let done = search
            .rebuild(store, |done, _| {
                progress.inc(done - last);
                last = done;
            })
            .await
            .map_err(|e| CliError(e.to_string()))?;
        progress.finish();
        let dir = search
            .index()
            .dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        println!(
            "slot {slot}: {done} tickets indexed in {:.1} s, {:.1} MiB on disk ({dir})",
            started.elapsed().as_secs_f64(),
            search.index().disk_bytes() as f64 / (1024.0 * 1024.0)
        );
        rebuilt += 1;
    }
    if rebuilt == 0 {
        return Err(CliError(
            "no slot could be rebuilt: every one is held by a running instance".into(),
        ));
    }
    Ok(())
}

async fn sla(store: &SqlStore, cmd: SlaCommand) -> CliResult {
    let started = std::time::Instant::now();
    match cmd {
        SlaCommand::Replan => {
            let mut progress = Progress::new("replanned", 0);
            let (mut after, mut total) = (0, 0);
            loop {
                let (n, last) = store.replan_open(after, 1_000).await?;
                progress.inc(n as u64);
                total += n;
                match last {
                    Some(id) => after = id,
                    None => break,
                }
            }
            progress.finish();
            println!(
                "replanned the clocks of {total} open tickets in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        SlaCommand::Fire => {
            let mut progress = Progress::new("acted on", 0);
            let (mut taken, mut fired) = (0, 0);
            loop {
                let report = store.fire_due(500).await?;
                progress.inc(report.taken as u64);
                taken += report.taken;
                fired += report.fired;
                if report.taken < 500 {
                    break;
                }
            }
            progress.finish();
            println!(
                "acted on {fired} SLA moments ({taken} taken) in {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
        SlaCommand::Backlog { stuck_days } => {
            let everyone = closedloop_store::Principal {
                user_id: 0,
                email: String::new(),
                name: "closedloop sla backlog".into(),
                role: Role::Admin,
                departments: Vec::new(),
                lang: None,
                time_zone: None,
            };
            let before = chrono::Utc::now() - chrono::Duration::days(i64::from(stuck_days));
            println!(
                "{:<20} {:>8} {:>8} {:>16} {:>11} {:>8}",
                "department", "open", "overdue", "first response", "resolution", "stuck"
            );
            for r in store.backlog(&everyone, before).await? {
                println!(
                    "{:<20} {:>8} {:>8} {:>16} {:>11} {:>8}",
                    r.department,
                    r.open,
                    r.overdue,
                    r.overdue_first_response,
                    r.overdue_resolution,
                    r.stuck
                );
            }
        }
    }
    Ok(())
}

async fn user(cmd: UserCommand, config: Config) -> CliResult {
    let store = closedloop_server::open_store(&config, Arc::new(SystemClock)).await?;
    match cmd {
        UserCommand::Add {
            email,
            name,
            role,
            department,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut input = String::new();
                std::io::stdin().read_to_string(&mut input)?;
                let line = input.lines().next().unwrap_or("").to_owned();
                if line.is_empty() {
                    return Err(CliError(
                        "--password-stdin: standard input held no password on its first line"
                            .into(),
                    ));
                }
                Some(line)
            } else {
                None
            };
            let new = closedloop_server::http::new_user(email, name, role, password, department)
                .await
                .map_err(|e| {
                    CliError(match e.field {
                        Some(f) => format!(
                            "--{}: {}",
                            f.replace('_', "-").trim_end_matches('s'),
                            e.message
                        ),
                        None => e.message,
                    })
                })?;
            let user = store
                .create_user(new)
                .await
                .map_err(|e| CliError(closedloop_server::error::ApiError::from(e).message))?;
            println!(
                "added {} <{}> as {} {}",
                user.name,
                user.email,
                user.role,
                user.departments.join(",")
            );
        }
        UserCommand::List => {
            for u in store.list_users().await? {
                println!(
                    "{:>5}  {:<32}  {:<10}  {:<24}  {}",
                    u.id,
                    u.email,
                    u.role,
                    u.departments.join(","),
                    u.name
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn webhook(cmd: WebhookCommand, config: Config) -> CliResult {
    let store = closedloop_server::open_store(&config, Arc::new(SystemClock)).await?;
    let result = match cmd {
        WebhookCommand::Add { name, channel } => match channel.parse() {
            Err(e @ closedloop_domain::DomainError { .. }) => {
                Err(CliError(format!("--channel: {}", e.message)))
            }
            Ok(channel) => closedloop_server::http::add_webhook_source(&store, &name, channel)
                .await
                .map(|(source, secret)| {
                    println!(
                        "added webhook source {} ({}), posting to /api/v1/intake/webhook/{} as {}",
                        source.name, source.channel, source.name, source.user_email
                    );
                    println!("signing secret, shown once:");
                    println!("{secret}");
                })
                .map_err(|e| CliError(format!("--{}: {}", e.field.unwrap_or_default(), e.message))),
        },
        WebhookCommand::List => store
            .list_webhook_sources()
            .await
            .map_err(CliError::from)
            .map(|sources| {
                for s in sources {
                    let state = if s.active { "active" } else { "inactive" };
                    println!(
                        "{:<24}  {:<8}  {:<8}  {}",
                        s.name, s.channel, state, s.user_email
                    );
                }
            }),
    };
    store.close().await;
    result
}

async fn department(cmd: DepartmentCommand, config: Config) -> CliResult {
    let store = closedloop_server::open_store(&config, Arc::new(SystemClock)).await?;
    match cmd {
        DepartmentCommand::Add {
            code,
            name,
            name_zh,
        } => {
            let code = Category::parse("code", &code)
                .map_err(|e| CliError(format!("--code: {}", e.message)))?;
            let d = store
                .create_department(code.as_str(), name.trim(), name_zh.trim())
                .await
                .map_err(|e| CliError(closedloop_server::error::ApiError::from(e).message))?;
            println!("added department {} ({})", d.code, d.name);
        }
        DepartmentCommand::List => {
            for d in store.list_departments().await? {
                println!("{:<20}  {:<28}  {}", d.code, d.name, d.name_zh);
            }
        }
    }
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_print_without_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://data/closedloop.db?mode=rwc"),
            "sqlite://data/closedloop.db?mode=rwc"
        );
    }

    #[test]
    fn cli_parses_the_fixed_contract() {
        assert!(Cli::try_parse_from(["closedloop", "serve", "--listen", "127.0.0.1:9999"]).is_ok());
        assert!(
            Cli::try_parse_from([
                "closedloop",
                "user",
                "add",
                "--email",
                "a@b.cn",
                "--name",
                "A",
                "--role",
                "agent",
                "--department",
                "payment",
                "--password-stdin"
            ])
            .is_ok()
        );
        assert!(
            Cli::try_parse_from([
                "closedloop",
                "user",
                "add",
                "--email",
                "a@b.cn",
                "--name",
                "A",
                "--role",
                "boss"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from(["closedloop", "token", "create", "--email", "a@b.cn"]).is_ok()
        );
        assert!(Cli::try_parse_from(["closedloop", "config", "check"]).is_ok());
    }
}
