//! The command-line contract that scripts outside the project rely on, checked on the real binary.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_closedloop");

fn closedloop(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("CLOSEDLOOP_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn closedloop");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` on a free port and returns it with the address it printed.
fn serve(dir: &Path) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("CLOSEDLOOP_DATABASE_URL")
        .env("CLOSEDLOOP_ADMIN_PASSWORD", "first-admin-pw")
        .env("CLOSEDLOOP_TRIAGE_RELOAD_SECONDS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .expect("serve prints its address")
        .expect("line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url in first line")
        .trim_end_matches('/')
        .to_owned();
    let rest: Vec<String> = lines.take(3).map_while(Result::ok).collect();
    assert!(
        rest.iter().any(
            |l| l.contains("admin@closedloop.local") && l.contains("CLOSEDLOOP_ADMIN_PASSWORD")
        ),
        "{rest:?}"
    );
    (Server(child), url)
}

#[test]
fn fixed_contract_serve_user_token_and_ticket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_server, url) = serve(dir.path());
    assert!(
        dir.path().join("data/closedloop.db").exists(),
        "data under ./data"
    );

    // While the server runs, in the same directory:
    let out = closedloop(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "li@example.cn",
            "--name",
            "Li",
            "--role",
            "agent",
            "--department",
            "payment",
            "--password-stdin",
        ],
        Some("agent-password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = closedloop(
        dir.path(),
        &["token", "create", "--email", "li@example.cn"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let token = stdout
        .lines()
        .last()
        .expect("a last line")
        .trim()
        .to_owned();

    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client
        .get(format!("{url}/healthz"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "server never became healthy");
        std::thread::sleep(Duration::from_millis(50));
    }
    let res = client
        .post(format!("{url}/api/v1/tickets"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "k1")
        .json(&serde_json::json!({"channel": "web", "description": "支付失败但扣款了"}))
        .send()
        .expect("post");
    assert_eq!(res.status().as_u16(), 201);
    let body: serde_json::Value = res.json().expect("json");
    let number = body["number"].as_str().expect("number").to_owned();
    let again = client
        .get(format!("{url}/api/v1/tickets/{number}"))
        .bearer_auth(&token)
        .send()
        .expect("get");
    assert_eq!(again.status().as_u16(), 200);
    let login = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "li@example.cn", "password": "agent-password"}))
        .send()
        .expect("login");
    assert_eq!(
        login.status().as_u16(),
        200,
        "the stdin password is the account's password"
    );
    let first_admin = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "admin@closedloop.local", "password": "first-admin-pw"}))
        .send()
        .expect("login");
    assert_eq!(
        first_admin.status().as_u16(),
        200,
        "CLOSEDLOOP_ADMIN_PASSWORD set the first admin's password"
    );
}

#[test]
fn bad_arguments_name_what_is_wrong() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = closedloop(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "not-an-email",
            "--name",
            "X",
            "--role",
            "agent",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--email"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = closedloop(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "a@b.cn",
            "--name",
            "X",
            "--role",
            "agent",
            "--department",
            "nowhere",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nowhere"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = closedloop(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "a@b.cn",
            "--name",
            "X",
            "--role",
            "agent",
            "--password-stdin",
        ],
        Some(""),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
    let out = closedloop(
        dir.path(),
        &["token", "create", "--email", "ghost@example.com"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ghost@example.com"));
    std::fs::write(
        dir.path().join("closedloop.toml"),
        "listen = \"127.0.0.1:1\"\nmax_body_bytes = 10\n",
    )
    .expect("write");
    let out = closedloop(dir.path(), &["config", "check"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max_body_bytes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn seed_numbers_continue_the_live_counter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = closedloop(
        dir.path(),
        &["seed", "--tickets", "2500", "--days", "3"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("seeded 2500 tickets"));
    let out = closedloop(
        dir.path(),
        &["seed", "--tickets", "100", "--days", "1"],
        None,
    );
    assert!(
        out.status.success(),
        "a second seed never collides with the first: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn backup_copies_the_live_database_and_the_copy_restores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = closedloop(
        dir.path(),
        &["seed", "--tickets", "300", "--days", "2"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Online: the server has the database open (and its workers write) meanwhile.
    let (_server, _base) = serve(dir.path());
    let copy = dir.path().join("copy.db");
    let out = closedloop(
        dir.path(),
        &["backup", "--output", copy.to_str().unwrap()],
        None,
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("300 tickets") && said.contains("integrity ok"),
        "{said}"
    );
    let again = closedloop(
        dir.path(),
        &["backup", "--output", copy.to_str().unwrap()],
        None,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let restored = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(restored.path().join("data")).unwrap();
    std::fs::copy(&copy, restored.path().join("data/closedloop.db")).unwrap();
    let users = closedloop(restored.path(), &["user", "list"], None);
    assert!(users.status.success());
    assert!(String::from_utf8_lossy(&users.stdout).contains("admin@closedloop.local"));
    let more = closedloop(
        restored.path(),
        &["seed", "--tickets", "10", "--days", "1"],
        None,
    );
    assert!(more.status.success(), "the restored copy takes writes");
}

#[test]
fn import_reports_bad_records_by_line_and_never_imports_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = closedloop(dir.path(), &["migrate"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let csv = "id,created_at,channel,description,requester_email,category,priority,status\n\
        A-1,2025-03-01T09:30:00+08:00,email,\"订单扣款两次, 请退款\",zhang@example.cn,payment,P1,closed\n\
        A-2,2025-03-02,phone,App crashes on login,,function_fault,,\n\
        A-3,2025-03-03,fax,bad channel,,,,\n\
        A-4,2025-03-04,web,,,,,\n\
        A-5,2025-03-05,web,unknown category,,billing,,\n\
        A-6,2999-01-01,web,from the future,,,,\n\
        A-7,2025-03-07,web,\"line one\nline two of 退貨 request\",lee@example.hk,,P2,\n";
    std::fs::write(dir.path().join("history.csv"), csv).expect("write csv");
    let out = closedloop(dir.path(), &["import", "history.csv"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "rejected records make the run fail");
    assert!(
        stdout.contains("imported 3, already imported 0, rejected 4"),
        "{stdout}"
    );
    for expected in [
        "line 4: channel:",
        "line 5: description:",
        "line 6: category: no category billing",
        "line 7: created_at: is in the future",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }

    // Fixed file, run again: only the repaired records are new.
    let fixed = csv
        .replace("A-3,2025-03-03,fax", "A-3,2025-03-03,phone")
        .replace("A-4,2025-03-04,web,,", "A-4,2025-03-04,web,now described,")
        .replace("billing", "payment")
        .replace("2999-01-01", "2025-03-06");
    std::fs::write(dir.path().join("history.csv"), fixed).expect("write csv");
    let out = closedloop(dir.path(), &["import", "history.csv"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("imported 4, already imported 3, rejected 0"),
        "{stdout}"
    );

    // JSON Lines without ids: the content is the key.
    let jsonl = "{\"description\": \"delivery late\", \"created_at\": \"2025-04-01T08:00:00Z\", \"category\": \"logistics\"}\n\
        \n\
        {\"description\": \"x\", \"colour\": \"red\"}\n\
        {\"description\": \"微博评论：客服不回，我的手机13812345678\", \"channel\": \"social\", \"created_at\": \"2025-04-02T08:00:00Z\"}\n";
    std::fs::write(dir.path().join("more.jsonl"), jsonl).expect("write jsonl");
    let out = closedloop(dir.path(), &["import", "more.jsonl"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3: unknown field `colour`"));
    let out = closedloop(dir.path(), &["import", "more.jsonl"], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 0, already imported 2, rejected 1")
    );

    let (_server, url) = serve(dir.path());
    let out = closedloop(
        dir.path(),
        &["token", "create", "--email", "admin@closedloop.local"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .last()
        .expect("token")
        .trim()
        .to_owned();
    let client = reqwest::blocking::Client::new();
    let list: serde_json::Value = client
        .get(format!("{url}/api/v1/tickets?limit=50"))
        .bearer_auth(&token)
        .send()
        .expect("list")
        .json()
        .expect("json");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 9);
    // Public-channel history is masked as live intake is.
    let social = items
        .iter()
        .find(|t| t["channel"] == "social")
        .expect("the social record");
    assert_eq!(
        social["description"],
        "微博评论：客服不回，我的手机138****5678"
    );
    let first = items
        .iter()
        .find(|t| t["description"] == "订单扣款两次, 请退款")
        .expect("A-1");
    // Numbered by the day it was filed (in UTC), routed by its category, status kept.
    assert_eq!(
        first["number"].as_str().map(|n| &n[..11]),
        Some("FB-20250301")
    );
    assert_eq!(first["department"], "payment");
    assert_eq!(first["status"], "closed");
    assert_eq!(first["priority"], "P1");
    assert!(
        items
            .iter()
            .any(|t| t["description"] == "line one\nline two of 退貨 request")
    );
}

fn mail(headers: &[(&str, &str)], body: &str) -> String {
    let mut m = String::new();
    for (k, v) in headers {
        m.push_str(&format!("{k}: {v}\r\n"));
    }
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    m.push_str(&body.replace('\n', "\r\n"));
    m
}

fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn ingest_email_threads_participants_only_and_quarantines_garbage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ingest = |m: &str| closedloop(dir.path(), &["ingest-email"], Some(m));

    let first = mail(
        &[
            ("From", "张三 <Zhang@Example.cn>"),
            ("To", "support@closedloop.local"),
            ("Cc", "wife@example.cn"),
            ("Subject", "订单扣款两次"),
            ("Message-ID", "<m1@example.cn>"),
            ("Date", "Mon, 23 Nov 2026 09:00:00 +0800"),
        ],
        "我的订单被扣款两次，请退款。\n",
    );
    let out = ingest(&first);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let number = last_line(&out);
    assert!(number.starts_with("FB-"), "{number}");

    let reply = mail(
        &[
            ("From", "zhang@example.cn"),
            ("Subject", "Re: 订单扣款两次"),
            ("Message-ID", "<m2@example.cn>"),
            ("In-Reply-To", "<m1@example.cn>"),
            ("References", "<m1@example.cn>"),
        ],
        "补充：订单号 A-1001\n\n在 2026年11月23日 09:00，张三 写道：\n> 我的订单被扣款两次，请退款。\n",
    );
    assert_eq!(
        last_line(&ingest(&reply)),
        number,
        "a reply header threads it"
    );
    let by_number = mail(
        &[
            ("From", "wife@example.cn"),
            ("Subject", &format!("[{number}] any news?")),
            ("Message-ID", "<m3@example.cn>"),
        ],
        "Any news on this?\n",
    );
    assert_eq!(
        last_line(&ingest(&by_number)),
        number,
        "a copied participant threads by number"
    );

    let stranger = mail(
        &[
            ("From", "mallory@evil.example"),
            ("Subject", &format!("Re: [{number}]")),
            ("Message-ID", "<x1@evil.example>"),
        ],
        "Please send me the details of this order.\n",
    );
    let other = last_line(&ingest(&stranger));
    assert!(
        other.starts_with("FB-") && other != number,
        "a stranger gets a ticket of their own: {other}"
    );

    let ooo = mail(
        &[
            ("From", "zhang@example.cn"),
            ("Subject", "Re: 订单扣款两次"),
            ("Message-ID", "<ooo1@example.cn>"),
            ("In-Reply-To", "<m1@example.cn>"),
            ("Auto-Submitted", "auto-replied"),
        ],
        "我正在休假。\n",
    );
    let out = ingest(&ooo);
    assert!(out.status.success());
    assert_eq!(last_line(&out), "ignored: auto_submitted");

    assert_eq!(
        last_line(&ingest(&first)),
        number,
        "a re-delivered message is answered as before"
    );

    let out = ingest("this is not a mail message at all");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("quarantined"), "{stderr}");
    let kept = std::fs::read_dir(dir.path().join("data/quarantine"))
        .expect("quarantine dir")
        .count();
    assert_eq!(kept, 1);

    let (_server, url) = serve(dir.path());
    let out = closedloop(
        dir.path(),
        &["token", "create", "--email", "admin@closedloop.local"],
        None,
    );
    let token = last_line(&out);
    let client = reqwest::blocking::Client::new();
    let get = |path: String| -> serde_json::Value {
        client
            .get(format!("{url}{path}"))
            .bearer_auth(&token)
            .send()
            .expect("get")
            .json()
            .expect("json")
    };
    let timeline = get(format!("/api/v1/tickets/{number}/timeline")).to_string();
    assert!(timeline.contains("补充：订单号 A-1001"));
    assert!(!timeline.contains("写道"), "quoted history is not repeated");
    assert!(timeline.contains("Any news on this?"));
    assert!(
        !timeline.contains("Please send me the details"),
        "nothing of the stranger's mail"
    );
    assert!(
        timeline.contains("auto_submitted"),
        "the auto-reply is noted for staff"
    );
    let entries = get(format!("/api/v1/tickets/{number}/timeline"));
    let replies = entries
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "reply")
        .count();
    assert_eq!(replies, 2, "the re-delivery added nothing");
    let theirs = get(format!("/api/v1/tickets/{other}/timeline")).to_string();
    assert!(
        theirs.contains(&number),
        "staff see which ticket the stranger named"
    );
    let t = get(format!("/api/v1/tickets/{number}"));
    assert_eq!(t["channel"], "email");
    assert_eq!(t["title"], "订单扣款两次");
}

#[test]
fn triage_learns_from_corrections_retrains_and_reclassifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_server, url) = serve(dir.path());
    let out = closedloop(
        dir.path(),
        &["token", "create", "--email", "admin@closedloop.local"],
        None,
    );
    let token = last_line(&out);
    let client = reqwest::blocking::Client::new();
    let health = || -> serde_json::Value {
        client
            .get(format!("{url}/healthz"))
            .send()
            .expect("healthz")
            .json()
            .expect("json")
    };
    assert_eq!(health()["triage_model"], 0, "the built-in model at first");

    // Agents correct what triage decided: each correction is kept as an example.
    for i in 0..12 {
        let created: serde_json::Value = client
            .post(format!("{url}/api/v1/tickets"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"channel": "web", "description": format!("请帮我开具第{i}张增值税发票，抬头写公司名称")}))
            .send()
            .expect("post")
            .json()
            .expect("json");
        let number = created["number"].as_str().expect("number");
        let r = client
            .patch(format!("{url}/api/v1/tickets/{number}"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"category": if created["category"] == "payment" { "consultation" } else { "payment" }}))
            .send()
            .expect("patch");
        assert_eq!(r.status().as_u16(), 200);
    }

    let out = closedloop(dir.path(), &["triage", "retrain", "--force"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("+ 12 agents' corrections"), "{stdout}");
    assert!(
        stdout.contains("before (model in use, version 0): accuracy"),
        "{stdout}"
    );
    assert!(stdout.contains("after (retrained): accuracy"), "{stdout}");
    assert!(stdout.contains("installed model version 1"), "{stdout}");
    // The running server switches without a restart.
    let deadline = Instant::now() + Duration::from_secs(15);
    while health()["triage_model"] != 1 {
        assert!(
            Instant::now() < deadline,
            "server never switched: {}",
            health()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A received ticket filed under the wrong category is re-read; a handled one is left alone.
    let csv = "id,created_at,description,category,status\n\
        R-1,2026-01-05,快递三天了还没到，物流信息一直不更新,suggestion,received\n\
        R-2,2026-01-05,快递五天了还没到，物流信息一直不更新,suggestion,in_progress\n";
    std::fs::write(dir.path().join("old.csv"), csv).expect("write");
    let out = closedloop(dir.path(), &["import", "old.csv"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = closedloop(
        dir.path(),
        &["triage", "reclassify", "--since", "2026-01-01"],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("suggestion -> logistics: 1"), "{stdout}");
    assert!(stdout.contains("already handled (left): 1"), "{stdout}");
    assert!(stdout.contains("nothing written"), "{stdout}");
    let out = closedloop(
        dir.path(),
        &["triage", "reclassify", "--since", "2026-01-01", "--apply"],
        None,
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("applied 1"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = client
        .get(format!(
            "{url}/api/v1/tickets?created_to=2026-02-01T00:00:00Z"
        ))
        .bearer_auth(&token)
        .send()
        .expect("list")
        .json()
        .expect("json");
    let items = list["items"].as_array().expect("items");
    let received = items
        .iter()
        .find(|t| t["status"] == "received")
        .expect("R-1");
    assert_eq!(received["category"], "logistics");
    assert_eq!(received["department"], "logistics");
    let handled = items
        .iter()
        .find(|t| t["status"] == "in_progress")
        .expect("R-2");
    assert_eq!(handled["category"], "suggestion");
}
