//! A batch of 1,000 messages with 50 unreadable ones in the middle, through the folder intake
//! (`ingest-email --dir`) and the HTTP endpoint: the same outcomes on both paths, nothing
//! blocked by a bad message, and nothing filed twice when the batch comes again.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_closedloop");
const TOTAL: usize = 1000;
const BAD: std::ops::Range<usize> = 475..525;

const SUBJECTS: [&str; 6] = [
    "订单一直没有发货",
    "Charged twice for one order",
    "无法登录账号",
    "The app crashes when I open my cart",
    "快递显示签收但没收到",
    "Please add an export of my invoices",
];

/// Message `i`: readable unless `i` is in [`BAD`], where five kinds of unreadable input take
/// turns (blank, no sender, binary noise, an empty sender, NUL bytes).
fn message(i: usize) -> Vec<u8> {
    if BAD.contains(&i) {
        // Each different: identical bytes would be one message delivered twice.
        return match i % 5 {
            0 => " ".repeat(i).into_bytes(),
            1 => {
                format!("Subject: no sender {i}\r\nMessage-ID: <bad{i}@batch>\r\n\r\nWho am I?\r\n")
                    .into_bytes()
            }
            2 => (0..400u32)
                .map(|b| ((b + i as u32).wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            3 => format!(
                "From: \r\nTo: support@shop.example\r\nSubject: empty sender {i}\r\n\r\nhello\r\n"
            )
            .into_bytes(),
            _ => format!("\0\0\0 {i}").into_bytes(),
        };
    }
    let subject = SUBJECTS[i % SUBJECTS.len()];
    format!(
        "From: User {i} <user{i}@example{}.com>\r\nTo: support@shop.example\r\nSubject: {subject} ({i})\r\n\
         Message-ID: <batch{i}@example.com>\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{subject}。第 {i} 封邮件 / message number {i}.\r\n",
        i % 13
    )
    .into_bytes()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("CLOSEDLOOP_DATABASE_URL")
        .env("CLOSEDLOOP_ADMIN_PASSWORD", "first-admin-pw");
    c
}

/// `serve` on a free port, with an admin token; waits until it answers.
fn serve(dir: &Path) -> (Server, String, String) {
    let mut child = command(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let first = BufReader::new(stdout)
        .lines()
        .next()
        .expect("serve prints its address")
        .expect("line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url")
        .trim_end_matches('/')
        .to_owned();
    let server = Server(child);
    let out = command(dir)
        .args(["token", "create", "--email", "admin@closedloop.local"])
        .output()
        .expect("token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .last()
        .expect("token line")
        .trim()
        .to_owned();
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{url}/healthz")).send().is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, url, token)
}

/// `outcome -> count` for one path, from `/metrics`.
fn counts(url: &str, token: &str, path: &str) -> std::collections::BTreeMap<String, u64> {
    let text = reqwest::blocking::Client::new()
        .get(format!("{url}/metrics"))
        .bearer_auth(token)
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    let mut out = std::collections::BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("closedloop_mail_messages{"))
    {
        if !line.contains(&format!("path=\"{path}\"")) {
            continue;
        }
        let outcome = line
            .split("outcome=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("outcome label")
            .to_owned();
        let n: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("count");
        *out.entry(outcome).or_default() += n;
    }
    out
}

fn expected() -> std::collections::BTreeMap<String, u64> {
    [("created".to_owned(), 950), ("quarantined".to_owned(), 50)].into()
}

fn quarantine_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("data/quarantine")).map_or(0, |d| d.count())
}

#[test]
fn a_thousand_messages_with_fifty_bad_ones_give_the_same_outcomes_on_every_path() {
    // The folder path.
    let work = tempfile::tempdir().expect("temp dir");
    let inbox = work.path().join("inbox");
    std::fs::create_dir(&inbox).expect("inbox");
    for i in 0..TOTAL {
        std::fs::write(inbox.join(format!("{i:04}.eml")), message(i)).expect("write");
    }
    let folder = work.path().join("folder");
    std::fs::create_dir(&folder).expect("dir");
    let run = || {
        let out = command(&folder)
            .args(["ingest-email", "--dir"])
            .arg(&inbox)
            .output()
            .expect("ingest");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    };
    let first = run();
    assert_eq!(first.lines().count(), TOTAL + 1);
    assert!(
        first.ends_with("1000 messages: 950 created, 0 threaded, 0 ignored, 50 quarantined\n"),
        "{}",
        first.lines().last().unwrap_or_default()
    );
    // The bad ones are where they were put, and the messages after them were filed.
    for line in first.lines().take(TOTAL) {
        let mut cols = line.split('\t');
        let i: usize = cols.next().unwrap()[..4].parse().unwrap();
        let outcome = cols.next().unwrap();
        let want = if BAD.contains(&i) {
            "quarantined"
        } else {
            "created"
        };
        assert_eq!(outcome, want, "{line}");
    }
    // Again, as after a restart: every message answered as before, nothing filed twice.
    let second = run();
    assert_eq!(second, first);
    assert_eq!(quarantine_files(&folder), 50);
    let (_a, url_a, token_a) = serve(&folder);
    assert_eq!(counts(&url_a, &token_a, "folder"), expected());
    assert_eq!(tickets(&url_a, &token_a), 950);

    // The HTTP path, on a database of its own.
    let http = work.path().join("http");
    std::fs::create_dir(&http).expect("dir");
    let (_b, url, token) = serve(&http);
    let client = reqwest::blocking::Client::new();
    let post = |i: usize| {
        client
            .post(format!("{url}/api/v1/intake/email"))
            .bearer_auth(&token)
            .header("content-type", "message/rfc822")
            .body(message(i))
            .send()
            .expect("post")
            .status()
            .as_u16()
    };
    for round in 0..2 {
        for i in 0..TOTAL {
            // A re-delivery is answered as the first time, writing nothing.
            let want = if BAD.contains(&i) { 202 } else { 201 };
            assert_eq!(post(i), want, "message {i}, round {round}");
        }
    }
    assert_eq!(counts(&url, &token, "http"), expected());
    assert_eq!(quarantine_files(&http), 50);
    assert_eq!(tickets(&url, &token), 950);
}

/// Tickets the admin sees, page by page.
fn tickets(url: &str, token: &str) -> usize {
    let client = reqwest::blocking::Client::new();
    let (mut n, mut cursor) = (0, String::new());
    loop {
        let page = client
            .get(format!("{url}/api/v1/tickets?limit=200{cursor}"))
            .bearer_auth(token)
            .send()
            .expect("list")
            .json::<serde_json::Value>()
            .expect("json");
        n += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return n,
        }
    }
}
