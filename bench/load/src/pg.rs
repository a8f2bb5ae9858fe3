//! A PostgreSQL cluster of the run's own (initdb in a folder, a free port on loopback), so a
//! test can stop and start the database without touching the machine's cluster. As root the
//! server programs run as the `postgres` account: PostgreSQL refuses to run as root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::{Result, fail};

pub struct PrivateCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
}

/// The newest installed server's programs (Debian keeps them out of PATH).
fn server_bin() -> Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            fail(format!(
                "no PostgreSQL server under /usr/lib/postgresql: {e}"
            ))
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| fail("no initdb under /usr/lib/postgresql/*/bin"))
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl PrivateCluster {
    /// initdb in `dir` and start the server.
    pub async fn create(dir: &Path) -> Result<Self> {
        Self::create_with(dir, "").await
    }

    /// As [`PrivateCluster::create`], with more `postgresql.conf` lines.
    pub async fn create_with(dir: &Path, settings: &str) -> Result<Self> {
        let c = PrivateCluster {
            dir: dir.to_owned(),
            bin: server_bin()?,
            port: free_port()?,
            run_as: is_root().then_some("postgres"),
        };
        std::fs::create_dir_all(dir)?;
        if c.run_as.is_some() {
            // The postgres account must reach the folder through its private parents.
            let tmp = std::env::temp_dir();
            for parent in dir.ancestors().skip(1) {
                if parent == tmp || !parent.starts_with(&tmp) {
                    break;
                }
                // Enough to pass through, not to list.
                std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))?;
            }
        }
        c.hand_over(dir).await?;
        let data = dir.join("data");
        c.server(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )
        .await?;
        c.configure(&data)?;
        if !settings.is_empty() {
            let path = data.join("postgresql.auto.conf");
            let mut text = std::fs::read_to_string(&path)?;
            text.push_str(settings);
            text.push('\n');
            std::fs::write(&path, text)?;
        }
        c.start().await?;
        Ok(c)
    }

    /// A streaming standby of this cluster in `dir` (pg_basebackup -R), started; it follows
    /// the primary until stopped.
    pub async fn standby(&self, dir: &Path) -> Result<PrivateCluster> {
        let c = PrivateCluster {
            dir: dir.to_owned(),
            bin: self.bin.clone(),
            port: free_port()?,
            run_as: self.run_as,
        };
        std::fs::create_dir_all(dir)?;
        c.hand_over(dir).await?;
        let data = dir.join("data");
        c.server(
            "pg_basebackup",
            &[
                "-D",
                &data.display().to_string(),
                "-R",
                // An immediate checkpoint: a spread one makes the copy wait minutes.
                "-c",
                "fast",
                "-X",
                "stream",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ],
        )
        .await?;
        c.configure(&data)?;
        c.start().await?;
        Ok(c)
    }

    /// Its own port and socket folder; the last setting in the file wins.
    fn configure(&self, data: &Path) -> Result<()> {
        let conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             max_connections = 100\n",
            self.port,
            self.dir.display()
        );
        let path = data.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&conf);
        Ok(std::fs::write(&path, text)?)
    }

    /// As root, gives `dir` to the account the server runs as.
    async fn hand_over(&self, dir: &Path) -> Result<()> {
        match self.run_as {
            Some(user) => {
                self.run(
                    Command::new("chown")
                        .arg("-R")
                        .arg(format!("{user}:{user}"))
                        .arg(dir),
                )
                .await
            }
            None => Ok(()),
        }
    }

    async fn run(&self, cmd: &mut Command) -> Result<()> {
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await?;
        if !out.status.success() {
            return Err(fail(format!(
                "{cmd:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    async fn server(&self, program: &str, args: &[&str]) -> Result<()> {
        let path = self.bin.join(program);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        cmd.args(args);
        self.run(&mut cmd).await
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<()> {
        let data = self.dir.join("data").display().to_string();
        let log = self.dir.join("server.log").display().to_string();
        let mut all = vec!["-D", &data, "-l", &log];
        all.extend_from_slice(args);
        self.server("pg_ctl", &all).await
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&self) -> Result<()> {
        self.pg_ctl(&["-w", "-t", "60", "start"]).await
    }

    /// Fast shutdown: open sessions are ended at once, as in a restart or fail-over.
    pub async fn stop(&self) -> Result<()> {
        self.pg_ctl(&["-w", "-t", "60", "-m", "fast", "stop"]).await
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub async fn create_database(&self, name: &str) -> Result<String> {
        use sqlx::Connection;
        let mut db = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut db)
            .await?;
        Ok(self.url(name))
    }

    /// Stops the server at once; the folder goes with the caller's temporary directory.
    pub async fn destroy(self) {
        let _ = self.pg_ctl(&["-w", "-m", "immediate", "stop"]).await;
    }
}

/// A run that fails half-way (a test's assertion, an error) must not leave a server running
/// on a folder that its temporary directory then deletes.
impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if !data.join("postmaster.pid").exists() {
            return;
        }
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(pg_ctl);
                c
            }
            None => std::process::Command::new(pg_ctl),
        };
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-w", "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The server the PostgreSQL tests use: `CLOSEDLOOP_TEST_POSTGRES_URL`, or the local one.
pub fn test_server_url() -> String {
    std::env::var("CLOSEDLOOP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty database on the server at `server_url` (a URL ending in `/postgres`); its URL.
pub async fn fresh_database(server_url: &str, prefix: &str) -> Result<String> {
    use sqlx::Connection;
    let name = format!("{prefix}_{}", crate::stamp());
    let mut db = sqlx::PgConnection::connect(server_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut db)
        .await?;
    let (server, _) = server_url
        .rsplit_once('/')
        .ok_or_else(|| fail("the server URL needs a database part"))?;
    Ok(format!("{server}/{name}"))
}

/// Drops the database of `url`, ending its sessions.
pub async fn drop_database(server_url: &str, url: &str) {
    use sqlx::Connection;
    let Some((_, name)) = url.rsplit_once('/') else {
        return;
    };
    if let Ok(mut db) = sqlx::PgConnection::connect(server_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut db)
            .await;
    }
}

/// `pg_stat_statements` of a database whose server preloads it: where its time goes.
pub mod statements {
    use sqlx::{Connection, PgConnection, Row};

    use crate::Result;

    /// Installs the extension in the database and forgets what it counted so far.
    pub async fn reset(url: &str) -> Result<()> {
        let mut db = PgConnection::connect(url).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&mut db)
            .await?;
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&mut db)
            .await?;
        Ok(())
    }

    /// The `n` statements that took the most time since [`reset`], as a Markdown table.
    pub async fn top(url: &str, n: i64) -> Result<String> {
        let mut db = PgConnection::connect(url).await?;
        let total: f64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(total_exec_time), 0)::float8 FROM pg_stat_statements",
        )
        .fetch_one(&mut db)
        .await?;
        let rows = sqlx::query(
            "SELECT calls, total_exec_time::float8, mean_exec_time::float8, \
             left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements \
             ORDER BY total_exec_time DESC LIMIT $1",
        )
        .bind(n)
        .fetch_all(&mut db)
        .await?;
        let mut out = format!(
            "database time in statements: {:.1} s\n\n| share | calls | total ms | mean ms | statement |\n|---:|---:|---:|---:|---|\n",
            total / 1000.0
        );
        for r in rows {
            let (calls, sum, mean, text): (i64, f64, f64, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            out.push_str(&format!(
                "| {:.1}% | {calls} | {sum:.0} | {mean:.2} | `{}` |\n",
                100.0 * sum / total.max(1e-9),
                text.replace('|', "\\|")
            ));
        }
        Ok(out)
    }
}
