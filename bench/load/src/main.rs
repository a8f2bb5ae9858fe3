//! `closedloop-load`: the mixed load and the durability runs of issue 10 (see bench/README.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use closedloop_load::durability::{self, Plan};
use closedloop_load::instance::Deployment;
use closedloop_load::mix::{self, MixPlan};
use closedloop_load::stats::cpu;
use closedloop_load::{Result, pg};

#[derive(Parser)]
#[command(
    name = "closedloop-load",
    about = "Load and fault runs against closedloop serve"
)]
struct Cli {
    /// The closedloop binary to run.
    #[arg(long, default_value = "target/release/closedloop")]
    bin: PathBuf,
    /// PostgreSQL server for the postgres runs (a fresh database is made there and dropped).
    #[arg(
        long,
        env = "CLOSEDLOOP_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// How long the clients send (seconds).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Fault {
    /// SQLite, its only instance SIGKILLed and restarted.
    SqliteKill,
    /// Three instances on PostgreSQL, one SIGKILLed and restarted.
    PostgresKill,
    /// Three instances on a private PostgreSQL cluster that is stopped and started.
    PostgresRestart,
    All,
}

#[derive(Subcommand)]
enum Cmd {
    /// Creation with Idempotency-Keys through a fault; prints lost/duplicated (must be 0/0).
    Durability {
        #[arg(long, value_enum, default_value = "all")]
        fault: Fault,
        /// When the fault comes (seconds from the start).
        #[arg(long, default_value_t = 6)]
        fault_at: u64,
        /// How long the instance or the database stays down (seconds).
        #[arg(long, default_value_t = 3)]
        down_for: u64,
        /// The instances' database_timeout_ms in the restart run.
        #[arg(long, default_value_t = 2000)]
        database_timeout_ms: u64,
    },
    /// 70% creation, 20% agent reads and lists, 10% transitions and replies; with the same-run
    /// /healthz ceiling. Prints a Markdown table.
    Mix {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, default_value_t = 1)]
        instances: usize,
        /// Use this PostgreSQL database (kept afterwards) rather than a fresh one (dropped).
        #[arg(long)]
        database_url: Option<String>,
        /// Run PostgreSQL as a cluster of the run's own with pg_stat_statements, and print the
        /// statements the database spent its time on.
        #[arg(long)]
        private_pg: bool,
        /// A setting for every instance, as `CLOSEDLOOP_KEY=VALUE` (repeatable); the caller's
        /// own `CLOSEDLOOP_*` environment never reaches them.
        #[arg(long = "setting", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Fixed ports for the instances (comma-separated), e.g. for a load balancer in front.
        #[arg(long, value_delimiter = ',')]
        ports: Vec<u16>,
        /// Send the load here (a load balancer) instead of straight to the instances.
        #[arg(long)]
        via: Option<String>,
        #[arg(long, default_value_t = 10)]
        healthz_seconds: u64,
        /// Keep the working folder (and print where it is).
        #[arg(long)]
        keep: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<bool> {
    let bin = std::fs::canonicalize(&cli.bin).map_err(|e| {
        format!(
            "{}: {e} (build it: cargo build --release)",
            cli.bin.display()
        )
    })?;
    let work = tempfile::Builder::new()
        .prefix("closedloop-load")
        .tempdir()?;
    let (clients, seconds, pg_url) = (cli.clients, cli.seconds, cli.pg.clone());
    match cli.command {
        Cmd::Durability {
            fault,
            fault_at,
            down_for,
            database_timeout_ms,
        } => {
            let plan = Plan {
                clients,
                create_for: Duration::from_secs(seconds),
                fault_at: Duration::from_secs(fault_at),
                down_for: Duration::from_secs(down_for),
                ..Plan::default()
            };
            let mut ok = true;
            if matches!(fault, Fault::SqliteKill | Fault::All) {
                let r = durability::sqlite_kill(&bin, &work.path().join("sqlite"), &plan).await?;
                r.print();
                ok &= r.passed();
            }
            if matches!(fault, Fault::PostgresKill | Fault::All) {
                let url = pg::fresh_database(&pg_url, "closedloop_durability").await?;
                let r = durability::postgres_kill(&bin, &work.path().join("pg-kill"), &url, &plan)
                    .await;
                pg::drop_database(&pg_url, &url).await;
                let r = r?;
                r.print();
                ok &= r.passed();
            }
            if matches!(fault, Fault::PostgresRestart | Fault::All) {
                let r = durability::postgres_restart(
                    &bin,
                    &work.path().join("pg-restart"),
                    database_timeout_ms,
                    &plan,
                )
                .await?;
                r.print();
                ok &= r.passed();
            }
            println!("RESULT: {}", if ok { "PASS" } else { "FAIL" });
            Ok(ok)
        }
        Cmd::Mix {
            backend,
            instances,
            database_url,
            private_pg,
            settings,
            ports,
            via,
            healthz_seconds,
            keep,
        } => {
            let fresh = backend == Backend::Postgres && database_url.is_none() && !private_pg;
            let mut cluster = None;
            let url = match (backend, database_url) {
                (Backend::Sqlite, _) => None,
                (Backend::Postgres, Some(u)) => Some(u),
                (Backend::Postgres, None) if private_pg => {
                    let c = pg::PrivateCluster::create_with(
                        &work.path().join("pg"),
                        "shared_preload_libraries = 'pg_stat_statements'",
                    )
                    .await?;
                    let u = c.create_database("closedloop").await?;
                    cluster = Some(c);
                    Some(u)
                }
                (Backend::Postgres, None) => {
                    Some(pg::fresh_database(&pg_url, "closedloop_load").await?)
                }
            };
            let mut d = Deployment::new(&bin, work.path(), url.clone());
            for s in &settings {
                let (k, v) = s
                    .split_once('=')
                    .filter(|(k, _)| k.starts_with("CLOSEDLOOP_"))
                    .ok_or_else(|| format!("--setting {s}: expected CLOSEDLOOP_KEY=VALUE"))?;
                d = d.setting(k, v);
            }
            let plan = MixPlan {
                clients,
                duration: Duration::from_secs(seconds),
                ..MixPlan::default()
            };
            let layout = Layout {
                instances,
                ports,
                via,
            };
            let outcome = mix_run(&d, &layout, healthz_seconds, &plan, private_pg).await;
            if let (true, Some(url)) = (fresh, &url) {
                pg::drop_database(&pg_url, url).await;
            }
            if let Some(c) = cluster {
                c.destroy().await;
            }
            if keep {
                println!("working folder kept: {}", work.keep().display());
            }
            outcome.map(|()| true)
        }
    }
}

/// How many instances, on which ports, and what the clients talk to.
struct Layout {
    instances: usize,
    ports: Vec<u16>,
    via: Option<String>,
}

async fn mix_run(
    d: &Deployment,
    layout: &Layout,
    healthz_seconds: u64,
    plan: &MixPlan,
    statements: bool,
) -> Result<()> {
    let Layout {
        instances,
        ports,
        via,
    } = layout;
    let (instances, clients) = (*instances, plan.clients);
    let token = d.prepare().await?;
    let mut running = Vec::new();
    for i in 0..instances {
        let port = ports.get(i).copied().unwrap_or(0);
        running.push(d.start_on(&format!("instance-{}", i + 1), port).await?);
    }
    let targets: Vec<String> = match &via {
        Some(v) => vec![v.trim_end_matches('/').to_owned()],
        None => running.iter().map(|i| i.base()).collect(),
    };
    let actors = mix::actors(d, &running[0].base(), &token).await?;
    let health = mix::healthz(&targets, clients, Duration::from_secs(healthz_seconds)).await?;
    let health_rate = health.count() as f64 / healthz_seconds as f64;
    let pids: Vec<u32> = running.iter().filter_map(|i| i.pid()).collect();
    let instances_cpu = || pids.iter().map(|p| cpu::seconds(*p)).sum::<f64>();
    let before = (
        instances_cpu(),
        cpu::seconds_named("postgres"),
        cpu::seconds(std::process::id()),
    );
    if statements && let Some(url) = &d.database_url {
        pg::statements::reset(url).await?;
    }
    let report = mix::run(&targets, &actors, plan).await?;
    let used = (
        instances_cpu() - before.0,
        cpu::seconds_named("postgres") - before.1,
        cpu::seconds(std::process::id()) - before.2,
    );
    let rate = report.total() as f64 / report.seconds;
    println!(
        "\n{} instance(s) on {}{}, {} clients, {:.0} s\n",
        instances,
        if d.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        via.as_deref()
            .map(|v| format!(" behind {v}"))
            .unwrap_or_default(),
        clients,
        report.seconds
    );
    print!("{}", report.table());
    println!(
        "\nmixed {rate:.0} req/s; /healthz {health_rate:.0} req/s (p99 {:.1} ms); ratio {:.3}",
        health.percentile_ms(99.0),
        rate / health_rate
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let share = |s: f64| 100.0 * s / (cores * report.seconds);
    println!(
        "CPU during the mix ({cores:.0} cores × {:.0} s): instances {:.1} s ({:.0}%), PostgreSQL {:.1} s ({:.0}%), load generator {:.1} s ({:.0}%)",
        report.seconds,
        used.0,
        share(used.0),
        used.1,
        share(used.1),
        used.2,
        share(used.2)
    );
    if statements && let Some(url) = &d.database_url {
        println!("\n{}", pg::statements::top(url, 10).await?);
    }
    for i in &running {
        if let Some((rss, hwm)) = i.rss_kib() {
            println!(
                "{}: VmRSS {:.0} MiB, VmHWM {:.0} MiB",
                i.name,
                rss as f64 / 1024.0,
                hwm as f64 / 1024.0
            );
        }
    }
    for mut i in running {
        i.kill().await?;
    }
    Ok(())
}
