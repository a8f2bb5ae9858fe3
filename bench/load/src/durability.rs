//! Nothing acknowledged is ever lost: clients create tickets with `Idempotency-Key`s and retry
//! every failed attempt with the same key (on the next instance, as a load balancer would) while
//! an instance is SIGKILLed, or the database restarts. Afterwards every ticket answered 2xx is
//! looked up in the database by the key written into its description.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::instance::{Deployment, Instance};
use crate::pg::PrivateCluster;
use crate::stats::OpStats;
use crate::{Result, fail};

pub const CHANNELS: &[&str] = &["web", "widget", "chat", "phone", "api", "offline"];

/// Bilingual descriptions touching several rows of the routing matrix.
pub const DESCRIPTIONS: &[&str] = &[
    "页面一直加载不出来，点击提交按钮没有反应，已经重试了三次。",
    "The order page will not load and the submit button does nothing after I click it.",
    "没有下单却被扣费了 58.00 元，请尽快退款。",
    "I was charged twice for one order and the refund has been delayed for a week.",
    "无法登录账号，重置密码的短信一直收不到。",
    "I cannot log in: the password reset email never arrives and my profile data changed.",
    "客服回复太慢，态度也不好，问题两天了还没解决。",
    "Support took two days to answer and the proposed solution was unreasonable.",
    "建议增加夜间模式，并且支持导出订单记录。",
    "Suggestion: please add a dark mode and let me export my order history as CSV.",
    "快递显示已签收但是我没有收到包裹，体验很差。",
    "The parcel is marked as delivered but it never arrived; the courier does not answer.",
];

#[derive(Clone, Debug)]
pub struct Plan {
    pub clients: usize,
    /// Clients start new tickets for this long; a ticket under way is still retried to the end.
    pub create_for: Duration,
    /// When the fault happens, from the start.
    pub fault_at: Duration,
    /// How long the killed instance or the database stays down.
    pub down_for: Duration,
    /// The clients' own limit per attempt: an answer slower than this counts as a hang.
    pub attempt_timeout: Duration,
    /// A ticket whose attempts all failed for this long is given up (reported, not lost).
    pub give_up_after: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            clients: 64,
            create_for: Duration::from_secs(20),
            fault_at: Duration::from_secs(6),
            down_for: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(30),
            give_up_after: Duration::from_secs(90),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Ack {
    pub key: String,
    pub number: String,
    pub attempts: u32,
    pub body: Value,
    /// When the 2xx came, from the start of the run.
    pub at: Duration,
}

#[derive(Default, Debug)]
pub struct Ledger {
    pub acks: Vec<Ack>,
    /// Keys whose ticket was never answered 2xx.
    pub given_up: Vec<String>,
    /// Every attempt: latencies of the 2xx, counts of the rest.
    pub attempts: OpStats,
    /// 503 answers without a `Retry-After` header.
    pub unavailable_without_retry_after: u64,
    /// Answers that are neither 2xx nor retryable (4xx other than 429): a bug, counted.
    pub refused: Vec<String>,
}

fn classify(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() { "timeout" } else { "conn" }
}

/// Runs `plan.clients` clients against `targets` (base URLs) until `plan.create_for` has passed
/// and every ticket under way is answered or given up.
pub async fn create_tickets(targets: &[String], token: &str, tag: &str, plan: &Plan) -> Ledger {
    let http = reqwest::Client::builder()
        .timeout(plan.attempt_timeout)
        .pool_max_idle_per_host(plan.clients)
        .build()
        .unwrap_or_default();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..plan.clients {
        let (http, ledger, plan) = (http.clone(), ledger.clone(), plan.clone());
        let (targets, token, tag) = (targets.to_vec(), token.to_owned(), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut mine = Ledger::default();
            let mut target = c % targets.len();
            let mut seq = 0usize;
            while start.elapsed() < plan.create_for {
                seq += 1;
                let key = format!("{tag}-c{c}-n{seq}");
                let body = json!({
                    "channel": CHANNELS[(c + seq) % CHANNELS.len()],
                    "description": format!("{} [{key}]", DESCRIPTIONS[(c * 7 + seq) % DESCRIPTIONS.len()]),
                });
                let first = Instant::now();
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let t = Instant::now();
                    let sent = http
                        .post(format!("{}/api/v1/tickets", targets[target]))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&body)
                        .send()
                        .await;
                    let mut pause = Duration::from_millis(200);
                    match sent {
                        Ok(resp) if resp.status().is_success() => {
                            let took = t.elapsed();
                            let number = resp
                                .json::<Value>()
                                .await
                                .ok()
                                .and_then(|v| v["number"].as_str().map(str::to_owned));
                            if let Some(number) = number {
                                mine.attempts.ok(took);
                                mine.acks.push(Ack {
                                    key: key.clone(),
                                    number,
                                    attempts,
                                    body: body.clone(),
                                    at: start.elapsed(),
                                });
                                break;
                            }
                            // The body was cut off: the answer did not arrive; retry.
                            mine.attempts.failed("cut", took);
                        }
                        Ok(resp) => {
                            let status = resp.status();
                            mine.attempts.failed(status.as_str(), t.elapsed());
                            let retry_after = resp
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse::<u64>().ok());
                            if status.as_u16() == 503 && retry_after.is_none() {
                                mine.unavailable_without_retry_after += 1;
                            }
                            if let Some(s) = retry_after {
                                pause = Duration::from_secs(s.min(2));
                            }
                            if !(status.is_server_error() || status.as_u16() == 429) {
                                let text = resp.text().await.unwrap_or_default();
                                mine.refused.push(format!("{key}: {status} {text}"));
                                break;
                            }
                        }
                        Err(e) => mine.attempts.failed(classify(&e), t.elapsed()),
                    }
                    if first.elapsed() > plan.give_up_after {
                        mine.given_up.push(key.clone());
                        break;
                    }
                    // Fail over, as the load balancer would.
                    target = (target + 1) % targets.len();
                    tokio::time::sleep(pause).await;
                }
            }
            let mut all = ledger.lock().await;
            all.acks.extend(mine.acks);
            all.given_up.extend(mine.given_up);
            all.attempts.merge(mine.attempts);
            all.unavailable_without_retry_after += mine.unavailable_without_retry_after;
            all.refused.extend(mine.refused);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut out = ledger.lock().await;
    std::mem::take(&mut *out)
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub acked: usize,
    /// Acknowledged numbers missing from the database, or holding another key's ticket.
    pub lost: Vec<String>,
    /// Keys stored more than once.
    pub duplicated: Vec<String>,
    /// Tickets whose creation was retried at least once.
    pub retried: usize,
    /// Retried keys that, sent again, answered another number than the acknowledged one.
    pub replay_mismatch: Vec<String>,
    /// Stored tickets whose key was never answered 2xx (their client gave up): not lost.
    pub stored_unacknowledged: usize,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.replay_mismatch.is_empty()
    }
}

/// Looks every acknowledged ticket up in the database, and sends every retried key once more.
pub async fn verify(
    database_url: &str,
    ledger: &Ledger,
    tag: &str,
    replay: (&str, &str),
) -> Result<Verdict> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(database_url).await?;
    let rows = sqlx::query("SELECT number, description FROM tickets WHERE description LIKE $1")
        .bind(format!("%[{tag}-%"))
        .fetch_all(&mut db)
        .await?;
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows {
        let number: String = r.try_get(0)?;
        let description: String = r.try_get(1)?;
        let key = description
            .rsplit_once('[')
            .and_then(|(_, k)| k.strip_suffix(']'))
            .ok_or_else(|| fail(format!("no key in {description:?}")))?;
        stored.entry(key.to_owned()).or_default().push(number);
    }
    let mut v = Verdict {
        acked: ledger.acks.len(),
        ..Verdict::default()
    };
    for (key, numbers) in &stored {
        if numbers.len() > 1 {
            v.duplicated.push(format!("{key}: {}", numbers.join(", ")));
        }
    }
    let acked: HashMap<&str, &Ack> = ledger.acks.iter().map(|a| (a.key.as_str(), a)).collect();
    v.stored_unacknowledged = stored
        .keys()
        .filter(|k| !acked.contains_key(k.as_str()))
        .count();
    for a in &ledger.acks {
        if !stored.get(&a.key).is_some_and(|n| n.contains(&a.number)) {
            v.lost.push(format!("{} ({})", a.number, a.key));
        }
    }
    let (base, token) = replay;
    let http = reqwest::Client::new();
    for a in ledger.acks.iter().filter(|a| a.attempts > 1) {
        v.retried += 1;
        let again: Value = http
            .post(format!("{base}/api/v1/tickets"))
            .bearer_auth(token)
            .header("Idempotency-Key", &a.key)
            .json(&a.body)
            .send()
            .await?
            .json()
            .await?;
        if again["number"].as_str() != Some(a.number.as_str()) {
            v.replay_mismatch
                .push(format!("{}: {} then {}", a.key, a.number, again["number"]));
        }
    }
    Ok(v)
}

/// What a run did and found.
#[derive(Debug)]
pub struct Report {
    pub name: String,
    pub ledger: Ledger,
    pub verdict: Verdict,
    pub events: Vec<String>,
    /// Wall time of the creation phase.
    pub seconds: f64,
    /// What else this kind of fault must show, each with whether it held.
    pub checks: Vec<(String, bool)>,
}

impl Report {
    pub fn print(&self) {
        let l = &self.ledger;
        println!("== {} ==", self.name);
        for e in &self.events {
            println!("  {e}");
        }
        println!(
            "  tickets answered 2xx: {} in {:.1} s; retried: {}; given up: {}; stored without an answer: {}",
            self.verdict.acked,
            self.seconds,
            self.verdict.retried,
            l.given_up.len(),
            self.verdict.stored_unacknowledged
        );
        println!(
            "  failed attempts: {}; 503 without Retry-After: {}; slowest attempt: {:.2} s",
            l.attempts.failure_summary(),
            l.unavailable_without_retry_after,
            l.attempts.slowest.as_secs_f64()
        );
        println!(
            "  lost/duplicated: {}/{}; replayed keys answering another number: {}",
            self.verdict.lost.len(),
            self.verdict.duplicated.len(),
            self.verdict.replay_mismatch.len()
        );
        for (what, held) in &self.checks {
            println!("  {}: {what}", if *held { "ok" } else { "FAILED" });
        }
        for x in self
            .verdict
            .lost
            .iter()
            .chain(&self.verdict.duplicated)
            .chain(&self.verdict.replay_mismatch)
            .chain(&l.refused)
            .take(20)
        {
            println!("    {x}");
        }
    }

    /// Every acknowledged ticket exactly once, every retry answered the same ticket, no request
    /// refused as if it were wrong, no ticket given up.
    pub fn passed(&self) -> bool {
        self.verdict.passed()
            && self.ledger.refused.is_empty()
            && self.ledger.given_up.is_empty()
            && self.checks.iter().all(|(_, held)| *held)
    }
}

/// What goes wrong during the run.
pub enum Fault<'a> {
    /// SIGKILL instance `index`, start it again `down_for` later on the same port.
    KillInstance(usize),
    /// Stop the database (fast shutdown: sessions terminated), start it again `down_for` later.
    RestartDatabase(&'a PrivateCluster),
}

/// Starts `instances` instances of `deployment`, runs the clients, injects `fault` and checks
/// the outcome.
pub async fn run(
    name: &str,
    deployment: &Deployment,
    instances: usize,
    fault: Fault<'_>,
    plan: &Plan,
) -> Result<Report> {
    let token = deployment.prepare().await?;
    let mut running: Vec<Instance> = Vec::new();
    for i in 0..instances {
        running.push(deployment.start(&format!("instance-{}", i + 1)).await?);
    }
    let targets: Vec<String> = running.iter().map(Instance::base).collect();
    let tag = format!("dur{}", crate::stamp());
    let start = Instant::now();
    let clients = {
        let (targets, token, tag, plan) =
            (targets.clone(), token.clone(), tag.clone(), plan.clone());
        tokio::spawn(async move { create_tickets(&targets, &token, &tag, &plan).await })
    };
    let mut events = Vec::new();
    tokio::time::sleep(plan.fault_at).await;
    match &fault {
        Fault::KillInstance(i) => {
            running[*i].kill().await?;
            events.push(format!(
                "{:.1} s: SIGKILL {} ({})",
                start.elapsed().as_secs_f64(),
                running[*i].name,
                targets[*i]
            ));
            tokio::time::sleep(plan.down_for).await;
            running[*i].restart().await?;
            events.push(format!(
                "{:.1} s: {} answers again",
                start.elapsed().as_secs_f64(),
                running[*i].name
            ));
        }
        Fault::RestartDatabase(cluster) => {
            cluster.stop().await?;
            events.push(format!(
                "{:.1} s: PostgreSQL stopped (fast shutdown)",
                start.elapsed().as_secs_f64()
            ));
            tokio::time::sleep(plan.down_for).await;
            cluster.start().await?;
            events.push(format!(
                "{:.1} s: PostgreSQL accepting connections again",
                start.elapsed().as_secs_f64()
            ));
        }
    }
    let back_at = start.elapsed();
    let ledger = clients.await.map_err(|e| fail(e.to_string()))?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(first) = ledger
        .acks
        .iter()
        .filter(|a| a.at > back_at)
        .map(|a| a.at)
        .min()
    {
        events.push(format!(
            "first ticket answered after recovery: {:.2} s after it",
            (first - back_at).as_secs_f64()
        ));
    }
    let verdict = verify(&deployment.url(), &ledger, &tag, (&targets[0], &token)).await?;
    for mut i in running {
        i.kill().await?;
    }
    Ok(Report {
        name: name.into(),
        ledger,
        verdict,
        events,
        seconds,
        checks: Vec::new(),
    })
}

/// The single SQLite instance, killed and restarted.
pub async fn sqlite_kill(bin: &Path, root: &Path, plan: &Plan) -> Result<Report> {
    let d = Deployment::new(bin, root, None);
    run(
        "SQLite, one instance, SIGKILLed mid-run",
        &d,
        1,
        Fault::KillInstance(0),
        plan,
    )
    .await
}

/// Three instances on one PostgreSQL database; the first is killed and restarted.
pub async fn postgres_kill(bin: &Path, root: &Path, url: &str, plan: &Plan) -> Result<Report> {
    let d = Deployment::new(bin, root, Some(url.to_owned()));
    run(
        "PostgreSQL, three instances, one SIGKILLed mid-run",
        &d,
        3,
        Fault::KillInstance(0),
        plan,
    )
    .await
}

/// Three instances on a private PostgreSQL cluster that is stopped and started mid-run. With
/// `database_timeout_ms` the instances' limit for a database wait.
pub async fn postgres_restart(
    bin: &Path,
    root: &Path,
    database_timeout_ms: u64,
    plan: &Plan,
) -> Result<Report> {
    let cluster = PrivateCluster::create(&root.join("pg")).await?;
    let url = cluster.create_database("closedloop").await?;
    let d = Deployment::new(bin, root, Some(url)).setting(
        "CLOSEDLOOP_DATABASE_TIMEOUT_MS",
        &database_timeout_ms.to_string(),
    );
    let report = run(
        "PostgreSQL, three instances, the database restarted mid-run",
        &d,
        3,
        Fault::RestartDatabase(&cluster),
        plan,
    )
    .await;
    cluster.destroy().await;
    let mut report = report?;
    let a = &report.ledger.attempts;
    // A request waits for the database at most `database_timeout_ms` per statement it starts;
    // one that got a connection just before the stop may wait once more for its next one.
    let bound = Duration::from_millis(2 * database_timeout_ms + 1000);
    report.checks = vec![
        (
            "requests during the outage were answered 503".into(),
            a.failures.get("503").is_some_and(|n| *n > 0),
        ),
        (
            format!("every failed attempt was a 503 ({})", a.failure_summary()),
            a.failures.keys().all(|k| k == "503"),
        ),
        (
            "every 503 carried Retry-After".into(),
            report.ledger.unavailable_without_retry_after == 0,
        ),
        (
            format!(
                "no attempt took longer than {:.1} s (slowest {:.2} s)",
                bound.as_secs_f64(),
                a.slowest.as_secs_f64()
            ),
            a.slowest <= bound,
        ),
    ];
    Ok(report)
}
