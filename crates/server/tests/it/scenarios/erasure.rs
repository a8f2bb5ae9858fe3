//! One person's data: erasure (planted everywhere it can live, then proved gone by a scan of the
//! whole database, the attachment folder and the search index, with the reports unchanged) and
//! export as one archive.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::mail::{bearer, post_mail};
use crate::harness::{Backend, TestApp, spawn_with};

const NAME: &str = "Zhang Sanfeng";
const NAME_ZH: &str = "张三丰";
const EMAIL: &str = "zhang.sanfeng@example.cn";
const MOBILE: &str = "13912345678";
const RESIDENT_ID: &str = "11010519491231002X";
const ORDER: &str = "TB20261122778899";
/// Another customer's data, which must survive the erasure.
const OTHER_MOBILE: &str = "13698765432";

/// What must not remain anywhere after the erasure.
const PERSONAL: &[&str] = &[NAME, NAME_ZH, EMAIL, MOBILE, RESIDENT_ID, ORDER];

/// `table: needle` for each table in which a column of a row holds a needle (ignoring ASCII case):
/// the full scan, done by the database over every table it has.
async fn tables_holding(app: &TestApp, needles: &[&str]) -> Vec<String> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let url = app.database_url();
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
    let sqlite = url.starts_with("sqlite:");
    let tables_sql = if sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    } else {
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
    };
    let tables: Vec<String> = sqlx::query_scalar(tables_sql)
        .fetch_all(&mut conn)
        .await
        .expect("tables");
    let mut holding = Vec::new();
    for table in tables {
        let columns: Vec<String> = if sqlite {
            sqlx::query(&format!("PRAGMA table_info({table})"))
                .fetch_all(&mut conn)
                .await
                .expect("columns")
                .iter()
                .map(|r| r.get::<String, _>(1))
                .collect()
        } else {
            sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1",
            )
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .expect("columns")
        };
        for needle in needles {
            let n = needle.to_ascii_lowercase();
            let tests: Vec<String> = columns
                .iter()
                .map(|c| {
                    if sqlite {
                        // Byte-wise, so blobs are searched too.
                        format!("instr(lower(\"{c}\"), '{n}') > 0")
                    } else {
                        format!("strpos(lower(\"{c}\"::text), '{n}') > 0")
                    }
                })
                .collect();
            let sql = format!(
                "SELECT COUNT(*) FROM \"{table}\" WHERE {}",
                tests.join(" OR ")
            );
            let n: i64 = sqlx::query_scalar(&sql)
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            if n > 0 {
                holding.push(format!("{table}: {needle}"));
            }
        }
    }
    holding.sort();
    holding
}

/// Files under `dir` whose bytes hold any of `needles`.
fn files_holding(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needles));
        } else if let Ok(bytes) = std::fs::read(&path) {
            for n in needles {
                if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                    found.push(format!("{}: {n}", path.display()));
                }
            }
        }
    }
    found
}

fn mail_with_text_file(from: &str) -> Vec<u8> {
    use base64::Engine as _;
    let file = format!("收款人 {NAME_ZH}\n手机 {MOBILE}\n身份证 {RESIDENT_ID}\n");
    format!(
        "From: {NAME} <{from}>\r\nTo: support@shop.example\r\nSubject: 发票抬头 invoice\r\n\
         Message-ID: <erase-1@example.cn>\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         发票开给{NAME_ZH}，电话{MOBILE}。Please invoice {NAME}.\r\n\
         --b1\r\nContent-Type: text/plain; name=\"details.txt\"\r\nContent-Disposition: attachment; filename=\"details.txt\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        base64::engine::general_purpose::STANDARD.encode(file.as_bytes()),
    )
    .into_bytes()
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    let users = app.get(&app.admin, "/api/v1/users").await;
    users
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == email)
        .and_then(|u| u["id"].as_i64())
        .expect("user listed")
}

/// The report numbers an erasure must leave as they were.
async fn totals(app: &TestApp) -> Value {
    let period = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z";
    let r = app
        .get(&app.admin, &format!("/api/v1/reports/service?{period}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

pub async fn erasure_leaves_nothing_of_the_person_and_the_reports_unchanged(backend: Backend) {
    // The worker's own schedule is out of the way: the test runs its passes. Mail over 1,500
    // bytes is quarantined, so a long one from the person waits there.
    let app = spawn_with(backend, |c| {
        c.privacy.erasure_poll_ms = 3_600_000;
        c.mail.max_bytes = 1_500;
    })
    .await;
    let agent = app.user("pay@shop.example", "agent", &["payment"]).await;
    let customer = app
        .user_named(EMAIL, &format!("{NAME_ZH} {NAME}"), "customer", &[])
        .await;
    let other = app.user("li.lei@example.org", "customer", &[]).await;
    let id = user_id(&app, EMAIL).await;

    // Planted: a web ticket and a reply, a social ticket logged by staff (masked, original kept
    // aside), a mail with an attachment, an agent's note and a category correction (a training
    // example), notices to the person.
    let web = app
        .create(
            &customer,
            json!({"channel": "web", "category": "payment", "order_number": ORDER,
                   "description": format!("我是{NAME_ZH}（{NAME}），退款没到账。手机{MOBILE}，身份证{RESIDENT_ID}，邮箱 {EMAIL}")}),
        )
        .await;
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{web}/replies"),
            json!({"body": format!("还没到，请打 {MOBILE} 找我")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let social = app
        .create(
            &app.admin,
            json!({"channel": "social", "requester_email": EMAIL, "category": "payment",
                   "description": format!("微博：{NAME_ZH} 说退款没到，手机{MOBILE}")}),
        )
        .await;
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{social}/replies"),
            json!({"body": format!("{NAME_ZH}您好，我们会打 {MOBILE} 联系您")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = post_mail(&app, Some(&bearer(&app.admin)), mail_with_text_file(EMAIL)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mailed = r.str("ticket");
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{web}/notes"),
            json!({"body": format!("核对了身份证 {RESIDENT_ID}，是本人")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .patch(
            &app.admin,
            &format!("/api/v1/tickets/{web}"),
            json!({"category": "logistics"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A knowledge article drafted from the person's resolved ticket quotes it.
    for step in ["accept", "start", "propose_solution", "resolve"] {
        let r = app.act(&app.admin, &social, step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.body);
    }
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{social}/article"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A long mail from them waits in quarantine.
    let long = super::mail::message(
        "erase-2@example.cn",
        EMAIL,
        "还是没到",
        "",
        &format!("{NAME_ZH}：退款还是没到，电话{MOBILE}。").repeat(40),
    );
    let r = post_mail(&app, Some(&bearer(&app.admin)), long).await;
    assert_eq!(r.str("outcome"), "quarantined", "{}", r.body);
    let quarantine = app.data_dir().join("quarantine");
    assert!(!files_holding(&quarantine, &[MOBILE]).is_empty());
    let kept = app
        .create(
            &other,
            json!({"channel": "web", "description": format!("快递丢了，电话{OTHER_MOBILE}")}),
        )
        .await;
    app.state
        .search
        .catch_up(app.store.as_ref())
        .await
        .expect("indexed");

    // The planting reached every place the erasure must clean.
    let before = tables_holding(&app, PERSONAL).await;
    for table in [
        "tickets",
        "timeline",
        "personal_data",
        "triage_examples",
        "users",
        "mail_messages",
        "ticket_participants",
        "notices",
        "kb_articles",
        "kb_revisions",
    ] {
        assert!(
            before.iter().any(|h| h.starts_with(&format!("{table}: "))),
            "nothing planted in {table}: {before:?}"
        );
    }
    let attachments = app.data_dir().join("attachments");
    assert!(
        !files_holding(&attachments, &[MOBILE]).is_empty(),
        "the attachment holds the number"
    );
    assert!(
        !app.state
            .search
            .index()
            .find_anywhere(PERSONAL)
            .expect("scan")
            .is_empty()
    );
    let reports = totals(&app).await;
    let db_files = |app: &TestApp| {
        files_holding(app.data_dir(), PERSONAL)
            .into_iter()
            .filter(|f| f.contains("closedloop.db"))
            .collect::<Vec<_>>()
    };
    if backend == Backend::Sqlite {
        assert!(
            !db_files(&app).is_empty(),
            "the raw scan sees the planted data"
        );
    }

    // Who may ask: the person and administrators; staff accounts are not erased.
    let path = format!("/api/v1/users/{id}/erasure");
    assert_eq!(
        app.post(&agent, &path, json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    let admin_id = user_id(&app, crate::harness::ADMIN_EMAIL).await;
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/users/{admin_id}/erasure"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_field(), Some("user_id"));
    let asked = app.post(&customer, &path, json!({})).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let again = app.post(&app.admin, &path, json!({})).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "asking again returns the open request"
    );
    assert_eq!(again.body["id"], asked.body["id"]);
    let due = chrono::DateTime::parse_from_rfc3339(&asked.str("due_at")).expect("due_at");
    assert_eq!(due.to_utc() - app.clock_now(), chrono::Duration::hours(72));

    let done = closedloop_server::erasure::pass(&app.state)
        .await
        .expect("pass");
    assert_eq!(done, 1);

    // Nothing of the person is left in the database, the files or the index.
    let after = tables_holding(&app, PERSONAL).await;
    assert!(after.is_empty(), "personal data left in {after:?}");
    assert!(files_holding(&attachments, PERSONAL).is_empty());
    assert!(
        files_holding(&quarantine, PERSONAL).is_empty(),
        "quarantined mail deleted"
    );
    if backend == Backend::Sqlite {
        // The database file and its log themselves, free pages included.
        let db = db_files(&app);
        assert!(db.is_empty(), "{db:?}");
    }
    let mut index_left = Vec::new();
    for _ in 0..100 {
        index_left = app
            .state
            .search
            .index()
            .find_anywhere(PERSONAL)
            .expect("scan");
        if index_left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        index_left.is_empty(),
        "the search index still holds {index_left:?}"
    );
    assert!(files_holding(&app.data_dir().join("search"), &[MOBILE, RESIDENT_ID]).is_empty());

    // What statistics count stays: the tickets, their categories and the report numbers.
    assert_eq!(totals(&app).await, reports);
    for number in [&web, &social, &mailed] {
        let t = app
            .get(&app.admin, &format!("/api/v1/tickets/{number}"))
            .await;
        assert_eq!(t.status, StatusCode::OK);
        assert!(
            t.str("description").contains("退款") || number == &mailed,
            "{}",
            t.body
        );
    }
    let t = app.get(&app.admin, &format!("/api/v1/tickets/{web}")).await;
    assert_eq!(t.str("category"), "logistics");
    // The other customer is untouched.
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{kept}"))
        .await;
    assert!(t.str("description").contains(OTHER_MOBILE));
    // The person's sign-in is gone; the request records what was done.
    assert_eq!(
        app.get(&customer, "/api/v1/tickets").await.status,
        StatusCode::UNAUTHORIZED
    );
    let record = app.get(&app.admin, &path).await;
    assert_eq!(record.status, StatusCode::OK);
    assert!(
        record.body[0]["completed_at"].is_string(),
        "{}",
        record.body
    );
    assert_eq!(record.body[0]["summary"]["tickets"], 3);
    assert_eq!(record.body[0]["summary"]["attachments"], 1);
}

pub async fn overdue_erasures_alert_administrators_once(backend: Backend) {
    let app = spawn_with(backend, |c| c.privacy.erasure_poll_ms = 3_600_000).await;
    let customer = app.user("late@example.org", "customer", &[]).await;
    let id = user_id(&app, "late@example.org").await;
    let r = app
        .post(&customer, &format!("/api/v1/users/{id}/erasure"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // A worker that claimed it and died holds it for its lease.
    let stuck = app
        .store
        .claim_erasure(chrono::Duration::hours(100))
        .await
        .expect("claim");
    assert!(stuck.is_some());

    app.clock.advance(chrono::Duration::hours(71));
    assert_eq!(
        closedloop_server::erasure::pass(&app.state)
            .await
            .expect("pass"),
        0
    );
    let alerts = |n: &Value| {
        n.as_array()
            .expect("notifications")
            .iter()
            .filter(|x| x["kind"] == "erasure_overdue")
            .count()
    };
    assert_eq!(
        alerts(&app.get(&app.admin, "/api/v1/notifications").await.body),
        0
    );

    app.clock.advance(chrono::Duration::hours(2));
    closedloop_server::erasure::pass(&app.state)
        .await
        .expect("pass");
    closedloop_server::erasure::pass(&app.state)
        .await
        .expect("pass");
    let n = app.get(&app.admin, "/api/v1/notifications").await;
    assert_eq!(alerts(&n.body), 1, "alerted once: {}", n.body);
    let list = app.get(&app.admin, "/api/v1/erasures").await;
    assert!(list.body[0]["alerted_at"].is_string(), "{}", list.body);
    assert!(list.body[0]["completed_at"].is_null());
    assert_eq!(
        app.get(&customer, "/api/v1/erasures").await.status,
        StatusCode::FORBIDDEN
    );

    // Once the dead worker's lease is over, the next pass does it.
    app.clock.advance(chrono::Duration::hours(100));
    assert_eq!(
        closedloop_server::erasure::pass(&app.state)
            .await
            .expect("pass"),
        1
    );
    let list = app.get(&app.admin, "/api/v1/erasures").await;
    assert!(list.body[0]["completed_at"].is_string(), "{}", list.body);
}

pub async fn a_customer_downloads_all_their_data_as_one_archive(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let agent = app.user("pay@shop.example", "agent", &["payment"]).await;
    let customer = app.user_named(EMAIL, NAME, "customer", &[]).await;
    let other = app.user("li.lei@example.org", "customer", &[]).await;
    let id = user_id(&app, EMAIL).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "category": "payment", "description": "退款没到账 refund missing"}),
        )
        .await;
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/replies"),
            json!({"body": "还在等"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/notes"),
            json!({"body": "内部：怀疑重复申请"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    for step in ["accept", "start", "propose_solution", "resolve"] {
        assert_eq!(
            app.act(&app.admin, &number, step).await.status,
            StatusCode::OK,
            "{step}"
        );
    }
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/survey"),
            json!({"stars": 4, "comment": "还行"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = post_mail(&app, Some(&bearer(&app.admin)), mail_with_text_file(EMAIL)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mailed = r.str("ticket");
    let theirs = app
        .create(
            &other,
            json!({"channel": "web", "description": "别人的工单 someone else's"}),
        )
        .await;

    let path = format!("/api/v1/users/{id}/export");
    assert_eq!(app.get(&other, &path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&agent, &path).await.status, StatusCode::FORBIDDEN);
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&customer)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .starts_with("attachment")
    );
    let bytes = res.bytes().await.expect("bytes");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip file");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut content).expect("read");
        files.insert(f.name().to_owned(), content);
    }
    let text = |name: &str| {
        String::from_utf8(
            files
                .get(name)
                .unwrap_or_else(|| panic!("{name} in {:?}", files.keys()))
                .clone(),
        )
        .expect("utf-8")
    };
    assert!(text("README.txt").contains(EMAIL));
    let profile: Value = serde_json::from_str(&text("profile.json")).expect("json");
    assert_eq!(
        (profile["email"].as_str(), profile["name"].as_str()),
        (Some(EMAIL), Some(NAME))
    );
    let ticket: Value =
        serde_json::from_str(&text(&format!("tickets/{number}/ticket.json"))).expect("json");
    assert_eq!(ticket["status"], "resolved");
    let messages = text(&format!("tickets/{number}/messages.json"));
    assert!(messages.contains("还在等"), "{messages}");
    assert!(!messages.contains("怀疑重复申请"), "staff notes stay out");
    let survey: Value =
        serde_json::from_str(&text(&format!("tickets/{number}/survey.json"))).expect("json");
    assert_eq!(
        (survey["stars"].as_i64(), survey["comment"].as_str()),
        (Some(4), Some("还行"))
    );
    let attachment = files
        .iter()
        .find(|(name, _)| {
            name.starts_with(&format!("tickets/{mailed}/attachments/"))
                && name.ends_with("details.txt")
        })
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .expect("the mailed file");
    assert!(attachment.contains(MOBILE));
    assert!(
        files.keys().all(|k| !k.contains(&theirs)),
        "another customer's ticket"
    );

    // An administrator may download it on the person's behalf; staff accounts are not exported.
    assert_eq!(app.get(&app.admin, &path).await.status, StatusCode::OK);
    let agent_id = user_id(&app, "pay@shop.example").await;
    let r = app
        .get(&app.admin, &format!("/api/v1/users/{agent_id}/export"))
        .await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("user_id"))
    );
}

pub async fn from_settings_people_change_their_password_and_customers_take_or_erase_their_data(
    backend: Backend,
) {
    use super::console::Session;
    let app = spawn_with(backend, |c| c.privacy.erasure_poll_ms = 3_600_000).await;
    let token = app.user("wang@example.cn", "customer", &[]).await;
    let id = user_id(&app, "wang@example.cn").await;
    let laptop = Session::sign_in(&app, "wang@example.cn").await;
    let phone = Session::sign_in(&app, "wang@example.cn").await;

    // The policy and the current password are checked; the form says which field is wrong.
    let (status, _, page) = laptop
        .post(
            &app,
            "/settings/password",
            &[
                ("current_password", "password-123"),
                ("new_password", "12345678"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("new_password"), "names the field");
    let (status, _, page) = laptop
        .post(
            &app,
            "/settings/password",
            &[
                ("current_password", "not-it-at-all"),
                ("new_password", "river-lamp-27"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("current_password"));
    let (status, location, _) = laptop
        .post(
            &app,
            "/settings/password",
            &[
                ("current_password", "password-123"),
                ("new_password", "river-lamp-27"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/settings?saved=password")
    );
    // This browser stays signed in; the other one is signed out; the API token still works.
    assert_eq!(laptop.get(&app, "/settings").await.0, StatusCode::OK);
    assert_eq!(phone.get(&app, "/settings").await.0, StatusCode::SEE_OTHER);
    let login = |password: &'static str| {
        app.http
            .post(format!("{}/api/v1/auth/login", app.base))
            .json(&json!({"email": "wang@example.cn", "password": password}))
            .send()
    };
    assert_eq!(
        login("password-123").await.expect("login").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("river-lamp-27").await.expect("login").status(),
        StatusCode::OK
    );
    // The same over the API.
    let r = app
        .post(
            &token,
            "/api/v1/me/password",
            json!({"current_password": "river-lamp-27", "new_password": "quiet-harbour-9"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .post(
            &token,
            "/api/v1/me/password",
            json!({"current_password": "quiet-harbour-9", "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("new_password"))
    );

    // A customer's settings offer their data and its erasure.
    let me = Session::sign_in_with(&app, "wang@example.cn", "quiet-harbour-9").await;
    let (_, page) = me.get(&app, "/settings").await;
    assert!(
        page.contains(&format!("/api/v1/users/{id}/export")),
        "download link"
    );
    let download = me
        .http
        .get(format!("{}/api/v1/users/{id}/export", app.base))
        .header("cookie", &me.cookies)
        .send()
        .await
        .expect("get");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "application/zip");
    let (status, _, _) = me.post(&app, "/settings/erase", &[]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the box must be ticked"
    );
    assert!(
        app.store
            .erasure_requests(Some(id), 10)
            .await
            .expect("list")
            .is_empty()
    );
    let (status, location, _) = me.post(&app, "/settings/erase", &[("confirm", "on")]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/settings?saved=erase")
    );
    let (_, page) = me.get(&app, "/settings").await;
    assert!(
        page.contains("erasure-requested") && !page.contains("id=\"erase-data\""),
        "{page}"
    );
    assert_eq!(
        closedloop_server::erasure::pass(&app.state)
            .await
            .expect("pass"),
        1
    );
    assert_eq!(
        me.get(&app, "/settings").await.0,
        StatusCode::SEE_OTHER,
        "signed out for good"
    );

    // Staff have no data section: their work is the organisation's record.
    app.user("staff@shop.example", "agent", &["payment"]).await;
    let staff = Session::sign_in(&app, "staff@shop.example").await;
    let (_, page) = staff.get(&app, "/settings").await;
    assert!(page.contains("change-password") && !page.contains("erase-data"));
}

pub async fn closed_tickets_are_anonymised_after_the_retention_period(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.privacy.erasure_poll_ms = 3_600_000;
        c.privacy.retention_months = 12;
    })
    .await;
    let customer = app.user_named(EMAIL, NAME, "customer", &[]).await;
    let close = |number: String| {
        let app = &app;
        async move {
            for step in ["accept", "start", "propose_solution", "resolve", "close"] {
                let r = app.act(&app.admin, &number, step).await;
                assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.body);
            }
        }
    };
    let old = app
        .create(
            &customer,
            json!({"channel": "web", "order_number": ORDER,
            "description": format!("{NAME}：退款没到，电话 {MOBILE}")}),
        )
        .await;
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{old}/replies"),
            json!({"body": format!("身份证 {RESIDENT_ID}")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    close(old.clone()).await;
    app.clock.advance(chrono::Duration::days(330));
    let recent = app
        .create(
            &customer,
            json!({"channel": "web", "description": format!("又一次：电话 {OTHER_MOBILE}")}),
        )
        .await;
    close(recent.clone()).await;
    let open = app
        .create(
            &customer,
            json!({"channel": "web", "description": "还开着的工单 still open: 13500001111"}),
        )
        .await;
    app.clock.advance(chrono::Duration::days(60));
    app.state
        .search
        .catch_up(app.store.as_ref())
        .await
        .expect("indexed");
    let index = app.state.search.index();
    assert!(
        !index
            .find_anywhere(&[MOBILE, OTHER_MOBILE])
            .expect("scan")
            .is_empty()
    );

    assert_eq!(
        closedloop_server::erasure::pass(&app.state)
            .await
            .expect("pass"),
        0
    );
    // The ticket closed 13 months ago is anonymised; the person's name goes with it.
    let t = app.get(&app.admin, &format!("/api/v1/tickets/{old}")).await;
    let body = t.body.to_string();
    for gone in [NAME, MOBILE, ORDER] {
        assert!(!body.contains(gone), "{gone} in {body}");
    }
    assert!(
        t.str("description").contains("退款没到"),
        "the complaint itself stays"
    );
    assert_eq!(
        (t.str("status").as_str(), t.str("channel").as_str()),
        ("closed", "web")
    );
    let timeline = app
        .get(&app.admin, &format!("/api/v1/tickets/{old}/timeline"))
        .await;
    assert!(!timeline.body.to_string().contains(RESIDENT_ID));
    // The one closed 2 months ago and the open one are as they were; the account still works.
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{recent}"))
        .await;
    assert!(t.str("description").contains(OTHER_MOBILE));
    let t = app.get(&customer, &format!("/api/v1/tickets/{open}")).await;
    assert!(t.str("description").contains("13500001111"));
    // The search index loses the old text too, not only its results.
    let mut left = Vec::new();
    for _ in 0..100 {
        left = app
            .state
            .search
            .index()
            .find_anywhere(&[MOBILE, RESIDENT_ID])
            .expect("scan");
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(left.is_empty(), "{left:?}");
    assert!(
        !app.state
            .search
            .index()
            .find_anywhere(&[OTHER_MOBILE])
            .expect("scan")
            .is_empty()
    );
}
