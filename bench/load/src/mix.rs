//! The realistic mixed load of issue 10: 70% ticket creation from several channels, 20% agent
//! reads (one ticket, or a filtered list), 10% transitions and replies, from `clients`
//! concurrent clients spread over the targets; and the plain `/healthz` rate as the ceiling.
//! Agents are one per department, each with its own token, so every read and change goes
//! through the department scoping a real agent's would.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng as _};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::durability::{CHANNELS, DESCRIPTIONS};
use crate::instance::Deployment;
use crate::stats::OpStats;
use crate::{Result, fail};

/// The operations and their shares of the mix, in percent.
pub const OPS: &[(&str, u32)] = &[
    ("create", 70),
    ("get", 10),
    ("list", 10),
    ("transition", 5),
    ("reply", 5),
];

#[derive(Clone, Debug)]
pub struct MixPlan {
    pub clients: usize,
    pub duration: Duration,
    /// Tickets created before the clock starts, so reads have something to read.
    pub warmup_tickets: usize,
}

impl Default for MixPlan {
    fn default() -> Self {
        Self {
            clients: 64,
            duration: Duration::from_secs(20),
            warmup_tickets: 300,
        }
    }
}

/// Who sends what: the integration token that files tickets, and one agent per department.
#[derive(Clone, Debug)]
pub struct Actors {
    pub creator: String,
    pub agents: HashMap<String, String>,
}

/// Adds an agent to every department (command line) and gives each a token.
pub async fn actors(deployment: &Deployment, base: &str, admin_token: &str) -> Result<Actors> {
    let departments: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/departments"))
        .bearer_auth(admin_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let codes: Vec<String> = departments
        .as_array()
        .ok_or_else(|| fail("departments: not a list"))?
        .iter()
        .filter_map(|d| d["code"].as_str().map(str::to_owned))
        .collect();
    let mut agents = HashMap::new();
    for code in codes {
        let email = format!("load-agent-{code}@closedloop.test");
        let name = format!("Agent {code}");
        let token = deployment
            .account(&email, &name, "agent", Some(&code))
            .await?;
        agents.insert(code, token);
    }
    Ok(Actors {
        creator: admin_token.to_owned(),
        agents,
    })
}

/// A ticket the clients know: its number, department and how far the agents moved it.
#[derive(Clone)]
struct Known {
    number: String,
    department: String,
    step: u8,
}

/// Tickets to read and move; the most recent ones, up to a bound.
#[derive(Default)]
struct Pool {
    tickets: Vec<Known>,
    next: usize,
}

const POOL_MAX: usize = 20_000;

impl Pool {
    fn add(&mut self, k: Known) {
        if self.tickets.len() < POOL_MAX {
            self.tickets.push(k);
        } else {
            self.tickets[self.next % POOL_MAX] = k;
            self.next += 1;
        }
    }

    fn peek(&self, r: usize) -> Option<Known> {
        (!self.tickets.is_empty()).then(|| self.tickets[r % self.tickets.len()].clone())
    }

    /// Takes one out, so no two clients move the same ticket at once.
    fn take(&mut self, r: usize) -> Option<Known> {
        (!self.tickets.is_empty()).then(|| self.tickets.swap_remove(r % self.tickets.len()))
    }
}

pub struct MixReport {
    pub ops: BTreeMap<&'static str, OpStats>,
    pub seconds: f64,
}

impl MixReport {
    pub fn total(&self) -> usize {
        self.ops.values().map(OpStats::count).sum()
    }

    /// Markdown table of the operations.
    pub fn table(&self) -> String {
        let total = self.total();
        let mut out = String::from(
            "| operation | share | ops/s | p50 ms | p99 ms | failed |\n|---|---:|---:|---:|---:|---|\n",
        );
        for (name, _) in OPS {
            if let Some(s) = self.ops.get(name) {
                out.push_str(&crate::stats::row(name, s, total, self.seconds));
                out.push('\n');
            }
        }
        let mut all = OpStats::default();
        for s in self.ops.values() {
            all.merge(s.clone());
        }
        out.push_str(&crate::stats::row("**all**", &all, total, self.seconds));
        out.push('\n');
        out
    }
}

fn channel_body(r: usize) -> Value {
    json!({
        "channel": CHANNELS[r % CHANNELS.len()],
        "description": format!("{} (load {r})", DESCRIPTIONS[r % DESCRIPTIONS.len()]),
    })
}

async fn create(http: &reqwest::Client, base: &str, token: &str, r: usize) -> Result<Known> {
    let resp = http
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(token)
        .json(&channel_body(r))
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(status.as_str().to_owned()));
    }
    let t: Value = resp.json().await?;
    Ok(Known {
        number: t["number"].as_str().unwrap_or_default().to_owned(),
        department: t["department"].as_str().unwrap_or_default().to_owned(),
        step: 0,
    })
}

/// One request: Ok on 2xx, else the status (or `conn`/`timeout`) as the error.
async fn send(req: reqwest::RequestBuilder) -> Result<(), String> {
    match req.send().await {
        Ok(r) if r.status().is_success() => {
            // Read the body: the answer is not complete before it.
            r.bytes().await.map(drop).map_err(|_| "cut".to_owned())
        }
        Ok(r) => Err(r.status().as_str().to_owned()),
        Err(e) if e.is_timeout() => Err("timeout".into()),
        Err(_) => Err("conn".into()),
    }
}

const LISTS: &[&str] = &[
    "limit=20",
    "status=received&limit=20",
    "priority=P2&limit=20",
    "status=accepted&limit=20",
];

/// Runs the mix for `plan.duration` and returns each operation's record.
pub async fn run(targets: &[String], actors: &Actors, plan: &MixPlan) -> Result<MixReport> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(plan.clients)
        .build()?;
    let pool = Arc::new(Mutex::new(Pool::default()));
    for i in 0..plan.warmup_tickets {
        let k = create(&http, &targets[i % targets.len()], &actors.creator, i).await?;
        pool.lock().await.add(k);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..plan.clients {
        let (http, pool, actors, plan) = (http.clone(), pool.clone(), actors.clone(), plan.clone());
        let base = targets[c % targets.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut ops: BTreeMap<&'static str, OpStats> = BTreeMap::new();
            let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
            let agent_of = |dept: &str| actors.agents.get(dept).cloned().unwrap_or_default();
            while start.elapsed() < plan.duration {
                let r: usize = rng.r#gen();
                let pick = rng.gen_range(0..100u32);
                let mut acc = 0;
                let op = OPS
                    .iter()
                    .find(|(_, share)| {
                        acc += share;
                        pick < acc
                    })
                    .map_or("create", |(name, _)| *name);
                let t = Instant::now();
                let outcome: Result<(), String> = match op {
                    "create" => match create(&http, &base, &actors.creator, r).await {
                        Ok(k) => {
                            pool.lock().await.add(k);
                            Ok(())
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    "get" => {
                        let Some(k) = pool.lock().await.peek(r) else {
                            continue;
                        };
                        send(
                            http.get(format!("{base}/api/v1/tickets/{}", k.number))
                                .bearer_auth(agent_of(&k.department)),
                        )
                        .await
                    }
                    "list" => {
                        let depts: Vec<&String> = actors.agents.keys().collect();
                        let token = actors.agents[depts[r % depts.len()]].clone();
                        send(
                            http.get(format!("{base}/api/v1/tickets?{}", LISTS[r % LISTS.len()]))
                                .bearer_auth(token),
                        )
                        .await
                    }
                    _ => {
                        let Some(mut k) = pool.lock().await.take(r) else {
                            continue;
                        };
                        let token = agent_of(&k.department);
                        let req = if op == "transition" && k.step < 2 {
                            let action = if k.step == 0 { "accept" } else { "start" };
                            http.post(format!("{base}/api/v1/tickets/{}/transitions", k.number))
                                .json(&json!({ "action": action }))
                        } else {
                            http.post(format!("{base}/api/v1/tickets/{}/replies", k.number))
                                .json(&json!({ "body": "我们正在处理 / we are looking into it" }))
                        };
                        let out = send(req.bearer_auth(token)).await;
                        if out.is_ok() && op == "transition" && k.step < 2 {
                            k.step += 1;
                        }
                        pool.lock().await.add(k);
                        out
                    }
                };
                let took = t.elapsed();
                let s = ops.entry(op).or_default();
                match outcome {
                    Ok(()) => s.ok(took),
                    Err(e) => s.failed(e, took),
                }
            }
            ops
        }));
    }
    let mut all: BTreeMap<&'static str, OpStats> = BTreeMap::new();
    for t in tasks {
        for (k, v) in t.await.map_err(|e| fail(e.to_string()))? {
            all.entry(k).or_default().merge(v);
        }
    }
    Ok(MixReport {
        ops: all,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// `GET /healthz` from `clients` clients for `duration`: the ceiling of the same run.
pub async fn healthz(targets: &[String], clients: usize, duration: Duration) -> Result<OpStats> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = http.clone();
        let url = format!("{}/healthz", targets[c % targets.len()]);
        tasks.push(tokio::spawn(async move {
            let mut s = OpStats::default();
            while start.elapsed() < duration {
                let t = Instant::now();
                match send(http.get(&url)).await {
                    Ok(()) => s.ok(t.elapsed()),
                    Err(e) => s.failed(e, t.elapsed()),
                }
            }
            s
        }));
    }
    let mut all = OpStats::default();
    for t in tasks {
        all.merge(t.await.map_err(|e| fail(e.to_string()))?);
    }
    Ok(all)
}
