//! Starting the real app on a random port against a fresh database, and a small HTTP client.

use std::path::Path;
use std::sync::Arc;

use chrono::TimeZone;
use closedloop_server::{App, Config, Secret};
use closedloop_store::FixedClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const ADMIN_EMAIL: &str = "admin@closedloop.test";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub admin: String,
    pub clock: Arc<FixedClock>,
    /// The app's own store, for driving what its background workers do on their schedule.
    pub store: Arc<dyn closedloop_store::Store>,
    /// The app's state, for running a background worker's pass at a chosen moment.
    pub state: closedloop_server::AppState,
    config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    dir: Arc<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A fresh PostgreSQL database on the test server, named uniquely for one test.
async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let base = std::env::var("CLOSEDLOOP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("the PostgreSQL suite needs a server at {base} (set CLOSEDLOOP_TEST_POSTGRES_URL): {e}"));
    let name = format!("closedloop_test_{}", uuid_like());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("database url has a path");
    format!("{prefix}/{name}")
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}_{:x}", nanos, std::process::id())
}

pub async fn spawn(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

/// [`spawn`] with the configuration adjusted first (tiny rate limits, say).
pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(Secret::new(fresh_postgres_database().await)),
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().join("data"),
        database_url,
        max_body_bytes: 64 * 1024,
        admin_email: ADMIN_EMAIL.into(),
        admin_password: Some(Secret::new("admin-password-1")),
        max_connections: 4,
        // Every test logs its users in from 127.0.0.1; the limits have a test of their own.
        rate_limit: closedloop_server::config::RateLimitConfig {
            login_burst: 1000,
            public_burst: 1000,
            webhook_burst: 1000,
            ..Default::default()
        },
        ..Config::default()
    };
    let mut config = config;
    configure(&mut config);
    let start = chrono::Utc
        .with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("time");
    start_app(config, Arc::new(FixedClock::new(start)), Arc::new(dir)).await
}

async fn start_app(config: Config, clock: Arc<FixedClock>, dir: Arc<tempfile::TempDir>) -> TestApp {
    let app = App::build_with_clock(config.clone(), clock.clone())
        .await
        .expect("app builds");
    let state = app.state().clone();
    let (admin_user, _) = state
        .store
        .user_credentials(ADMIN_EMAIL)
        .await
        .expect("store")
        .expect("admin exists");
    let (admin, _) = closedloop_server::http::issue_token(
        &state,
        admin_user.id,
        "tests",
        None,
        closedloop_store::TokenScope::All,
    )
    .await
    .expect("token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = app
            .run(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        admin,
        clock,
        store: state.store.clone(),
        state,
        config,
        shutdown: Some(tx),
        dir,
    }
}

impl TestApp {
    /// Where the app keeps its files (the SQLite database, attachments, the search index).
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    pub fn database_url(&self) -> String {
        self.config.database_url()
    }

    /// Another instance on the same database and data directory, configured differently (a
    /// fix deployed, say).
    pub async fn sibling(&self, configure: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.config.clone();
        configure(&mut config);
        start_app(config, self.clock.clone(), self.dir.clone()).await
    }
}

/// A response's status and JSON body (Null when it had none).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn str(&self, key: &str) -> String {
        self.body[key].as_str().unwrap_or_default().to_owned()
    }

    pub fn error_field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    pub async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body }
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use closedloop_store::Clock as _;
        self.clock.now()
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.call(Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call(Method::POST, token, path, Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, token, path, Some(body)).await
    }

    /// Creates an account through the API and returns a token for it.
    pub async fn user(&self, email: &str, role: &str, departments: &[&str]) -> String {
        let name = email.split('@').next().unwrap_or_default();
        self.user_named(email, name, role, departments).await
    }

    /// [`TestApp::user`] with a display name of its own.
    pub async fn user_named(
        &self,
        email: &str,
        name: &str,
        role: &str,
        departments: &[&str],
    ) -> String {
        let r = self
            .post(&self.admin, "/api/v1/users", json!({"email": email, "name": name, "role": role, "password": "password-123", "departments": departments}))
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create user {email}: {}",
            r.body
        );
        let login = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": "password-123"}))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), StatusCode::OK);
        let cookie = login
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let csrf = login.json::<Value>().await.expect("json")["csrf_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let res = self
            .http
            .post(format!("{}/api/v1/tokens", self.base))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .json(&json!({"name": "tests"}))
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.expect("json")["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn create(&self, token: &str, body: Value) -> String {
        let r = self.post(token, "/api/v1/tickets", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.str("number")
    }

    pub async fn act(&self, token: &str, number: &str, action: &str) -> Reply {
        self.post(
            token,
            &format!("/api/v1/tickets/{number}/transitions"),
            // Resolving, appeals and requests for information say why; every move here does.
            json!({"action": action, "reason": format!("{action}: reason given in the test")}),
        )
        .await
    }

    pub async fn count_visible_to_admin(&self) -> usize {
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/tickets?limit=200&cursor={c}"),
                None => "/api/v1/tickets?limit=200".to_owned(),
            };
            let r = self.get(&self.admin, &path).await;
            n += r.body["items"].as_array().map_or(0, Vec::len);
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return n,
            }
        }
    }

    pub async fn timeline_len(&self, number: &str) -> usize {
        self.get(&self.admin, &format!("/api/v1/tickets/{number}/timeline"))
            .await
            .body
            .as_array()
            .map_or(0, Vec::len)
    }
}

/// An SMTP server on loopback that accepts every message and keeps it: where the tests count
/// what Closedloop sends.
pub struct SmtpSink {
    pub addr: std::net::SocketAddr,
    received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::start_on("127.0.0.1:0").await
    }

    /// On a given address: a server that "comes back" where one was down.
    pub async fn start_on(addr: &str) -> SmtpSink {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind sink");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = received.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(smtp_session(conn, kept.clone()));
            }
        });
        SmtpSink { addr, received }
    }

    /// The messages received so far, as text.
    pub fn messages(&self) -> Vec<String> {
        self.received.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` messages have arrived (or 10 s), and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..500 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.messages()
    }
}

async fn smtp_session(conn: tokio::net::TcpStream, kept: Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = conn.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink\r\n",
            "DATA" => {
                if write.write_all(b"354 go on\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if let Ok(mut k) = kept.lock() {
                    k.push(data);
                }
                b"250 kept\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// A Dovecot IMAP server of the test's own (Debian's `dovecot-imapd`), plain IMAP on a free
/// loopback port, one mailbox `support` / `support-pw`. Stopped when dropped.
pub struct Dovecot {
    pub addr: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dovecot {
    pub const USER: &str = "support";
    pub const PASSWORD: &str = "support-pw";

    pub async fn start() -> Dovecot {
        use std::os::unix::fs::PermissionsExt;
        let binary = "/usr/sbin/dovecot";
        assert!(
            Path::new(binary).exists(),
            "the IMAP tests need Dovecot: apt-get install dovecot-imapd (.ci/run does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_owned();
        let root = root.as_path();
        // Dovecot's own processes run as its unprivileged users and must reach the mail.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::create_dir_all(root.join("run/state")).expect("run dir");
        std::fs::create_dir_all(root.join("mail")).expect("mail dir");
        std::fs::set_permissions(root.join("mail"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        std::fs::write(
            root.join("users"),
            format!("{}:{{PLAIN}}{}\n", Self::USER, Self::PASSWORD),
        )
        .expect("users");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let r = root.display();
        let config = format!(
            "base_dir = {r}/run\nstate_dir = {r}/run/state\ninstance_name = closedloop-test-{port}\n\
             protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nlog_path = {r}/run/dovecot.log\n\
             default_internal_user = dovecot\ndefault_internal_group = dovecot\ndefault_login_user = dovenull\n\
             mail_location = maildir:{r}/mail/%u\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  \
             inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={r}/mail/%u\n}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), config).expect("config");
        let child = std::process::Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start dovecot");
        let addr = format!("127.0.0.1:{port}");
        let dovecot = Dovecot {
            addr,
            child,
            _dir: dir,
        };
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(&dovecot.addr).await.is_ok() {
                return dovecot;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!(
            "dovecot did not start: {}",
            std::fs::read_to_string(root.join("run/dovecot.log")).unwrap_or_default()
        );
    }

    /// A session as the mailbox's owner, INBOX selected.
    pub async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .expect("connect");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting");
        let mut s = client
            .login(Self::USER, Self::PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .expect("login");
        s.select("INBOX").await.expect("select");
        s
    }

    /// Messages in the INBOX that Closedloop has not marked as filed.
    pub async fn unfiled(&self) -> usize {
        let mut s = self.session().await;
        let n = s
            .uid_search("NOT KEYWORD Closedloop")
            .await
            .expect("search")
            .len();
        let _ = s.logout().await;
        n
    }
}
