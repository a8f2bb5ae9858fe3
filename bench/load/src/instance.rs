//! `closedloop serve` processes that can be SIGKILLed and restarted on the same port, and the
//! command-line calls that prepare their database.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::{Result, fail};

/// One database and the binary that serves it: where the instances' working folders live and
/// which settings they share.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub bin: PathBuf,
    /// Parent of every instance's working folder; the SQLite file is under `<root>/data`.
    pub root: PathBuf,
    /// `postgres://…`; `None`: SQLite under `<root>/data`.
    pub database_url: Option<String>,
    env: Vec<(String, String)>,
}

impl Deployment {
    pub fn new(bin: &Path, root: &Path, database_url: Option<String>) -> Self {
        Self {
            bin: bin.to_owned(),
            root: root.to_owned(),
            database_url,
            // Attachments must be shared by every instance of one database.
            env: vec![(
                "CLOSEDLOOP_ATTACHMENTS_DIR".into(),
                root.join("attachments").display().to_string(),
            )],
        }
    }

    /// A setting every instance gets (`CLOSEDLOOP_…`).
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The URL to read the database with directly (verification).
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}/data/closedloop.db", self.root.display()),
        }
    }

    fn command(&self, dir: &Path) -> Command {
        let mut c = Command::new(&self.bin);
        c.current_dir(dir).kill_on_drop(true);
        // Nothing from the caller's own configuration.
        for (k, _) in std::env::vars() {
            if k.starts_with("CLOSEDLOOP_") {
                c.env_remove(k);
            }
        }
        if let Some(url) = &self.database_url {
            c.env("CLOSEDLOOP_DATABASE_URL", url);
        } else {
            // Every instance's folder is its own, but the one SQLite database is the root's.
            c.env(
                "CLOSEDLOOP_DATABASE_URL",
                format!("{}?mode=rwc", self.url()),
            );
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Runs a command-line subcommand in the root folder; its standard output.
    pub async fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        std::fs::create_dir_all(self.root.join("data"))?;
        let mut c = self.command(&self.root);
        c.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn()?;
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            input.write_all(text.as_bytes()).await?;
        }
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            return Err(fail(format!(
                "closedloop {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Migrates, adds an administrator for the load and returns a Bearer token for it.
    pub async fn prepare(&self) -> Result<String> {
        self.cli(&["migrate"], None).await?;
        self.account("load-admin@closedloop.test", "Load admin", "admin", None)
            .await
    }

    /// Adds the account unless it exists (command line) and returns a new token for it.
    pub async fn account(
        &self,
        email: &str,
        name: &str,
        role: &str,
        department: Option<&str>,
    ) -> Result<String> {
        if !self.cli(&["user", "list"], None).await?.contains(email) {
            let mut args = vec![
                "user", "add", "--email", email, "--name", name, "--role", role,
            ];
            if let Some(code) = department {
                args.extend(["--department", code]);
            }
            args.push("--password-stdin");
            self.cli(&args, Some("bench-mark-Sesame-42\n")).await?;
        }
        let out = self
            .cli(&["token", "create", "--email", email], None)
            .await?;
        out.lines()
            .last()
            .map(|l| l.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail("token create printed nothing"))
    }

    /// Starts an instance named `name` (its own working folder: search index, logs) on a free
    /// port; returns once it answers.
    pub async fn start(&self, name: &str) -> Result<Instance> {
        self.start_on(name, 0).await
    }

    /// As [`Deployment::start`], on a given port (0: any free one).
    pub async fn start_on(&self, name: &str, port: u16) -> Result<Instance> {
        let mut i = Instance {
            name: name.into(),
            deployment: self.clone(),
            port,
            child: None,
        };
        i.spawn().await?;
        Ok(i)
    }
}

pub struct Instance {
    pub name: String,
    deployment: Deployment,
    pub port: u16,
    child: Option<Child>,
}

impl Instance {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    fn dir(&self) -> PathBuf {
        self.deployment.root.join(&self.name)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir().join("serve.log")
    }

    /// The last lines of the instance's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    async fn spawn(&mut self) -> Result<()> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let listen = format!("127.0.0.1:{}", self.port);
        let mut c = self.deployment.command(&dir);
        c.args(["serve", "--listen", &listen])
            .env("CLOSEDLOOP_LOG_FORMAT", "json")
            .env("CLOSEDLOOP_ADMIN_PASSWORD", "load-first-admin")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = c.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no standard output"))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await;
        let first = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = child.start_kill();
                return Err(fail(format!(
                    "{} did not start ({other:?}); its log ends:\n{}",
                    self.name,
                    self.log_tail(20)
                )));
            }
        };
        // "Closedloop is running at http://127.0.0.1:PORT/ …"
        let port = first
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| fail(format!("no address in {first:?}")))?;
        self.port = port;
        // Keep reading, as a terminal would.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no shutdown handler runs, as when the machine or the OOM killer ends it.
    pub async fn kill(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.start_kill()?;
            c.wait().await?;
        }
        Ok(())
    }

    /// Starts it again on the same port, so clients (and the load balancer) find it there.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill().await?;
        self.spawn().await
    }

    /// VmRSS and VmHWM in KiB.
    pub fn rss_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }
}
