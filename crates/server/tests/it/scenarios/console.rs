//! The web console beyond its first pages: language and time zone, bulk actions, the board's
//! moves, live counts, canned responses, and evidence added in the portal.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, spawn_with};

/// A browser's cookies and the session's CSRF token, for form posts.
pub(crate) struct Session {
    pub(crate) http: reqwest::Client,
    pub(crate) cookies: String,
    csrf: String,
}

impl Session {
    pub(crate) async fn sign_in(app: &TestApp, email: &str) -> Session {
        // The harness's administrator has a password of their own; the users it makes share one.
        let password = if email == crate::harness::ADMIN_EMAIL {
            "admin-password-1"
        } else {
            "password-123"
        };
        Self::sign_in_with(app, email, password).await
    }

    pub(crate) async fn sign_in_with(app: &TestApp, email: &str, password: &str) -> Session {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let page = http
            .get(format!("{}/login", app.base))
            .send()
            .await
            .expect("login page");
        let csrf_cookie = cookie(&page, "cl_csrf").expect("csrf cookie");
        let csrf = field(&page.text().await.unwrap_or_default(), "csrf");
        let res = http
            .post(format!("{}/login", app.base))
            .header("cookie", &csrf_cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{email} signs in");
        let session = cookie(&res, "closedloop_session").expect("session cookie");
        let mut s = Session {
            http,
            cookies: format!("{csrf_cookie}; {session}"),
            csrf: String::new(),
        };
        let (_, page) = s.get(app, "/settings").await;
        s.csrf = field(&page, "csrf");
        s
    }

    pub(crate) async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let res = self
            .http
            .get(format!("{}{path}", app.base))
            .header("cookie", &self.cookies)
            .send()
            .await
            .expect("get");
        (res.status(), res.text().await.unwrap_or_default())
    }

    /// A form post with the session's token; the status, the `Location` and the body.
    pub(crate) async fn post(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let res = self
            .http
            .post(format!("{}{path}", app.base))
            .header("cookie", &self.cookies)
            .form(&form)
            .send()
            .await
            .expect("post");
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, location, res.text().await.unwrap_or_default())
    }
}

pub(crate) fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// The value of the first hidden field with this name.
pub(crate) fn field(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

async fn status_of(app: &TestApp, number: &str) -> Value {
    app.get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await
        .body
}

pub async fn the_console_speaks_the_readers_language_and_time_zone(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    // The fixed contract: the sign-in page in the browser's language, and a policy without
    // inline script on every HTML page.
    for (accept, expected, absent) in [
        ("zh-CN,zh;q=0.9", "登录", "Sign in"),
        ("en-US,en;q=0.9", "Sign in", "登录"),
    ] {
        let res = app
            .http
            .get(format!("{}/login", app.base))
            .header("accept-language", accept)
            .send()
            .await
            .expect("login");
        let csp = res
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline'; script")
                && !csp
                    .split(';')
                    .any(|d| d.contains("script-src") && d.contains("unsafe-inline")),
            "{csp}"
        );
        let html = res.text().await.unwrap_or_default();
        assert!(
            html.contains(expected) && !html.contains(absent),
            "{accept}: {html}"
        );
    }
    app.user("li@example.cn", "agent", &["payment"]).await;
    let customer = app.user("c@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "扣款两次。", "category": "payment"}),
        )
        .await;
    let agent = Session::sign_in(&app, "li@example.cn").await;
    // Switching to English is remembered for the user: a new sign-in from a Chinese browser
    // still gets English.
    let (status, to, _) = agent
        .post(&app, "/lang", &[("lang", "en"), ("next", "/agent")])
        .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/agent"));
    let again = Session::sign_in(&app, "li@example.cn").await;
    let (_, inbox) = again.get(&app, "/agent").await;
    assert!(
        inbox.contains("<html lang=\"en\">") && inbox.contains("Open in my departments"),
        "{inbox}"
    );
    // An unknown time zone is refused naming the field; a known one changes every date shown.
    let (status, _, body) = again
        .post(
            &app,
            "/settings",
            &[("lang", "zh"), ("time_zone", "Mars/Olympus")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("time_zone"), "{body}");
    let (_, page) = again.get(&app, &format!("/agent/tickets/{number}")).await;
    assert!(
        page.contains(" CST") && page.contains("Received"),
        "Shanghai time, English"
    );
    let (status, _, _) = again
        .post(
            &app,
            "/settings",
            &[("lang", "zh"), ("time_zone", "Europe/London")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = again.get(&app, &format!("/agent/tickets/{number}")).await;
    assert!(
        page.contains(" GMT") && !page.contains(" CST"),
        "London time"
    );
    assert!(
        page.contains("<html lang=\"zh-Hans\">") && page.contains("处理记录"),
        "Chinese again"
    );
    // A forged switch (no token) is refused.
    let forged = reqwest::Client::new()
        .post(format!("{}/lang", app.base))
        .form(&[("lang", "en"), ("csrf", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

pub async fn bulk_actions_change_what_the_rules_allow_and_report_the_rest(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.user("li@example.cn", "agent", &["payment"]).await;
    app.user("wu@example.cn", "agent", &["payment"]).await;
    let customer = app.user("c@example.cn", "customer", &[]).await;
    let mut ours = Vec::new();
    for text in ["第一次扣款两次。", "第二笔退款没到。", "第三次被重复扣费。"]
    {
        ours.push(
            app.create(
                &customer,
                json!({"channel": "web", "description": text, "category": "payment"}),
            )
            .await,
        );
    }
    let theirs = app
        .create(
            &customer,
            json!({"channel": "web", "description": "快递丢了。", "category": "logistics"}),
        )
        .await;
    let agent = Session::sign_in(&app, "li@example.cn").await;
    let (status, inbox) = agent.get(&app, "/agent").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ours.iter().all(|n| inbox.contains(n.as_str())) && !inbox.contains(&theirs));

    // Assign two of ours and the other department's ticket to a colleague with priority P1:
    // ours change, theirs is refused as not found and stays as it was.
    let (status, to, _) = agent
        .post(
            &app,
            "/agent/bulk",
            &[
                ("n", &ours[0]),
                ("n", &ours[1]),
                ("n", &theirs),
                ("assignee", "wu@example.cn"),
                ("priority", "P1"),
                ("back", "/agent?view=department"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.contains("changed=2") && to.contains("of=3"), "{to}");
    assert!(to.contains(&theirs), "the refusal names the ticket: {to}");
    for n in &ours[..2] {
        let t = status_of(&app, n).await;
        assert_eq!(t["priority"], "P1", "{t}");
        assert_eq!(t["assignee_name"], "wu", "{t}");
    }
    let t = status_of(&app, &theirs).await;
    assert_eq!(t["priority"], "P3", "{t}");
    assert!(t["assignee_name"].is_null(), "{t}");
    let (_, page) = agent.get(&app, &to).await;
    assert!(
        page.contains("2/3") || page.contains("2 of 3"),
        "the inbox says what happened"
    );

    // Merge the third into the first: it becomes a duplicate of it.
    let (_, to, _) = agent
        .post(
            &app,
            "/agent/bulk",
            &[("n", &ours[2]), ("merge_into", &ours[0])],
        )
        .await;
    assert!(to.contains("changed=1"), "{to}");
    let t = status_of(&app, &ours[2]).await;
    assert_eq!(t["status"], "duplicate");
    assert_eq!(t["duplicate_of"], ours[0].as_str());
    // Without the session's token nothing happens.
    let forged = reqwest::Client::new()
        .post(format!("{}/agent/bulk", app.base))
        .header("cookie", &agent.cookies)
        .form(&[
            ("n", ours[1].as_str()),
            ("priority", "P3"),
            ("csrf", "wrong"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&app, &ours[1]).await["priority"], "P1");
}

pub async fn the_board_moves_what_the_rules_allow_and_explains_refusals(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.user("li@example.cn", "agent", &["payment"]).await;
    app.user("wang@example.cn", "supervisor", &["payment"])
        .await;
    app.user("zhao@example.cn", "agent", &["logistics"]).await;
    let customer = app.user("c@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "扣款两次。", "category": "payment"}),
        )
        .await;
    let agent = Session::sign_in(&app, "li@example.cn").await;
    let (status, board) = agent.get(&app, "/agent/board").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        board.contains(&format!("id=\"card-{number}\"")),
        "the card is on the board"
    );
    assert!(
        !board.contains("group=department"),
        "agents have no department lanes"
    );

    // A drop on "accepted" accepts; a drop that skips the work is refused with the reason.
    let (status, _, body) = agent
        .post(
            &app,
            "/agent/board/move",
            &[("number", &number), ("to", "accepted")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let j: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(j["status"], "accepted");
    assert_eq!(status_of(&app, &number).await["status"], "accepted");
    let (status, _, body) = agent
        .post(
            &app,
            "/agent/board/move",
            &[("number", &number), ("to", "closed")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let j: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(j["ok"], false);
    assert!(j["message"].as_str().unwrap_or_default().len() > 10, "{j}");
    assert_eq!(status_of(&app, &number).await["status"], "accepted");
    // Another department's agent cannot move it (it does not exist for them).
    let other = Session::sign_in(&app, "zhao@example.cn").await;
    let (status, _, _) = other
        .post(
            &app,
            "/agent/board/move",
            &[("number", &number), ("to", "in_progress")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, &number).await["status"], "accepted");
    // The plain form on the card (no script) goes back to the board.
    let (status, to, _) = agent
        .post(
            &app,
            &format!("/agent/tickets/{number}/move"),
            &[("action", "start"), ("back", "/agent/board")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.starts_with("/agent/board?moved="), "{to}");
    assert_eq!(status_of(&app, &number).await["status"], "in_progress");
    // Supervisors may see lanes per department.
    let sup = Session::sign_in(&app, "wang@example.cn").await;
    let (_, lanes) = sup.get(&app, "/agent/board?group=department").await;
    assert!(
        lanes.contains("class=\"lane\"") && lanes.contains("payment"),
        "{lanes}"
    );

    // Live updates: the inbox's count of tickets that arrived after it was drawn.
    app.clock.advance(chrono::Duration::minutes(1));
    let since = app.clock_now().timestamp_millis();
    let (_, j) = agent
        .get(&app, &format!("/agent/live?view=department&since={since}"))
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&j).expect("json")["count"],
        0,
        "{j}"
    );
    app.clock.advance(chrono::Duration::seconds(5));
    app.create(
        &customer,
        json!({"channel": "web", "description": "又扣了一次。", "category": "payment"}),
    )
    .await;
    app.create(
        &customer,
        json!({"channel": "web", "description": "包裹丢了。", "category": "logistics"}),
    )
    .await;
    let (_, j) = agent
        .get(&app, &format!("/agent/live?view=department&since={since}"))
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&j).expect("json")["count"],
        1,
        "only the new ticket of the agent's department: {j}"
    );
}

pub async fn canned_responses_are_kept_by_supervisors_and_used_by_agents(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.user("li@example.cn", "agent", &["payment"]).await;
    app.user("wang@example.cn", "supervisor", &["payment"])
        .await;
    app.user("zhao@example.cn", "agent", &["logistics"]).await;
    let customer = app.user("c@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "扣款两次。", "category": "payment"}),
        )
        .await;
    let agent = Session::sign_in(&app, "li@example.cn").await;
    let (status, _, _) = agent
        .post(
            &app,
            "/agent/canned",
            &[
                ("title", "退款说明"),
                ("lang", "zh"),
                ("body", "x"),
                ("department", "payment"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "agents do not edit them");
    let sup = Session::sign_in(&app, "wang@example.cn").await;
    let (status, _, body) = sup
        .post(
            &app,
            "/agent/canned",
            &[
                ("title", "退款说明"),
                ("lang", "zh"),
                ("body", "退款将在 3-5 个工作日原路退回。"),
                ("department", ""),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "shared ones need an admin: {body}"
    );
    let (status, _, _) = sup
        .post(
            &app,
            "/agent/canned",
            &[
                ("title", "退款说明"),
                ("lang", "zh"),
                ("body", "退款将在 3-5 个工作日原路退回。"),
                ("department", "payment"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, body) = sup
        .post(
            &app,
            "/agent/canned",
            &[
                ("title", " "),
                ("lang", "zh"),
                ("body", "y"),
                ("department", "payment"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("must not be empty"), "{body}");
    // The payment agent is offered it on the ticket; the logistics agent is not.
    let (_, page) = agent.get(&app, &format!("/agent/tickets/{number}")).await;
    assert!(page.contains("id=\"canned\"") && page.contains("退款将在 3-5 个工作日原路退回。"));
    let other = Session::sign_in(&app, "zhao@example.cn").await;
    let (_, list) = other.get(&app, "/agent/canned").await;
    assert!(!list.contains("退款说明"), "{list}");
}

pub async fn customers_add_evidence_to_their_ticket_in_the_portal(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    let customer = app.user("c@example.cn", "customer", &[]).await;
    let number = app
        .create(
            &customer,
            json!({"channel": "web", "description": "收到的商品破损。", "category": "payment"}),
        )
        .await;
    let s = Session::sign_in(&app, "c@example.cn").await;
    let (_, page) = s.get(&app, &format!("/portal/tickets/{number}")).await;
    let csrf = field(&page, "csrf");
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";
    let post = |parts: reqwest::multipart::Form| {
        s.http
            .post(format!("{}/portal/tickets/{number}", app.base))
            .header("cookie", &s.cookies)
            .multipart(parts)
            .send()
    };
    // A file that is not an accepted type: refused, nothing added.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("action", "reply")
        .text("text", "见附件")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"MZ\x90\0binary".to_vec()).file_name("a.exe"),
        );
    let res = post(form).await.expect("post");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let tl = app
        .get(&customer, &format!("/api/v1/tickets/{number}/timeline"))
        .await;
    assert!(
        !tl.body.to_string().contains("见附件"),
        "nothing half-written"
    );
    // A photo with the reply: kept as the ticket's evidence and listed on the page.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("action", "reply")
        .text("text", "补充照片")
        .part(
            "files",
            reqwest::multipart::Part::bytes(png.to_vec()).file_name("破损.png"),
        );
    let res = post(form).await.expect("post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let t = app
        .get(&customer, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(
        t.body["evidence"].as_array().map(Vec::len),
        Some(1),
        "{}",
        t.body
    );
    let (_, page) = s.get(&app, &format!("/portal/tickets/{number}")).await;
    assert!(
        page.contains("补充照片") && page.contains("破损.png"),
        "{page}"
    );
}

pub async fn administrators_manage_people_departments_templates_and_channels(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.user("li@example.cn", "agent", &["payment"]).await;
    let agent = Session::sign_in(&app, "li@example.cn").await;
    for page in [
        "/admin/users",
        "/admin/organisation",
        "/admin/templates",
        "/admin/channels",
    ] {
        assert_eq!(
            agent.get(&app, page).await.0,
            StatusCode::FORBIDDEN,
            "{page}"
        );
    }
    let (status, _, _) = agent
        .post(
            &app,
            "/admin/users",
            &[
                ("email", "x@example.cn"),
                ("name", "x"),
                ("role", "admin"),
                ("password", "password-123"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an agent makes no admins");
    let admin = Session::sign_in(&app, "admin@closedloop.test").await;

    // People: a bad address is refused naming the field, with what was typed kept.
    let (status, _, body) = admin
        .post(
            &app,
            "/admin/users",
            &[
                ("email", "not-an-address"),
                ("name", "Zhou"),
                ("role", "agent"),
                ("department", "payment"),
                ("password", "password-123"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("email: must be an email address") && body.contains("value=\"Zhou\""),
        "{body}"
    );
    assert!(
        !body.contains("password-123"),
        "the password is never sent back"
    );
    let (status, to, _) = admin
        .post(
            &app,
            "/admin/users",
            &[
                ("email", "zhou@example.cn"),
                ("name", "Zhou"),
                ("role", "agent"),
                ("department", "payment"),
                ("password", "password-123"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    let zhou = Session::sign_in(&app, "zhou@example.cn").await;
    assert_eq!(zhou.get(&app, "/agent").await.0, StatusCode::OK);
    // Deactivated: signed out at once, and cannot sign in again.
    let (_, users) = admin.get(&app, "/admin/users").await;
    let id = users
        .split("zhou@example.cn")
        .nth(1)
        .and_then(|r| r.split("/admin/users/").nth(1))
        .and_then(|r| r.split('/').next())
        .expect("zhou's row has a deactivate form")
        .to_owned();
    let (status, _, _) = admin
        .post(
            &app,
            &format!("/admin/users/{id}/active"),
            &[("active", "0")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        zhou.get(&app, "/agent").await.0,
        StatusCode::SEE_OTHER,
        "back to sign-in"
    );

    // Departments: a bad code is refused; a good one is listed and can be given to people.
    let (status, _, body) = admin
        .post(
            &app,
            "/admin/organisation",
            &[
                ("code", "After Sales!"),
                ("name_en", "After-sales"),
                ("name_zh", "售后"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("code:"), "{body}");
    let (status, _, _) = admin
        .post(
            &app,
            "/admin/organisation",
            &[
                ("code", "vip_care"),
                ("name_en", "VIP care"),
                ("name_zh", "贵宾服务"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, org) = admin.get(&app, "/admin/organisation").await;
    assert!(
        org.contains("vip_care") && org.contains("贵宾服务"),
        "listed"
    );
    assert!(
        org.contains("id=\"matrix\"") && org.contains("payment"),
        "the matrix is shown"
    );

    // Templates: a broken one is refused with the reason and the typed text kept; a good one
    // is saved and marked changed; reset brings the built-in back.
    let path = "/admin/templates/received/en/email";
    let (status, _, body) = admin
        .post(
            &app,
            path,
            &[
                ("subject", "[{{ number }}] Got it"),
                ("body", "Hello {{ name }, we got {{ number }}"),
                ("op", "save"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("id=\"form-error\"") && body.contains("Hello {{ name }, we got"),
        "{body}"
    );
    let templates = app.get(&app.admin, "/api/v1/templates").await;
    let custom = |t: &Value| {
        t.as_array()
            .into_iter()
            .flatten()
            .find(|x| x["event"] == "received" && x["lang"] == "en" && x["channel"] == "email")
            .map(|x| x["custom"].clone())
    };
    assert_eq!(custom(&templates.body), Some(json!(false)));
    let full = app.get(&app.admin, "/api/v1/templates").await;
    let built_in = full
        .body
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["event"] == "received" && x["lang"] == "en" && x["channel"] == "email")
        .cloned()
        .expect("template");
    let new_body = format!(
        "{}\nThanks for writing.",
        built_in["body"].as_str().unwrap_or_default()
    );
    let (status, to, _) = admin
        .post(
            &app,
            path,
            &[
                ("subject", built_in["subject"].as_str().unwrap_or_default()),
                ("body", &new_body),
                ("op", "save"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert_eq!(
        custom(&app.get(&app.admin, "/api/v1/templates").await.body),
        Some(json!(true))
    );
    admin.post(&app, path, &[("op", "reset")]).await;
    assert_eq!(
        custom(&app.get(&app.admin, "/api/v1/templates").await.body),
        Some(json!(false))
    );

    // Channels: a widget site needs proper origins; a webhook source's secret is shown once.
    let (status, _, body) = admin
        .post(
            &app,
            "/admin/channels/sites",
            &[("name", "Shop"), ("origins", "shop.example")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("origins:"), "{body}");
    let (status, _, _) = admin
        .post(
            &app,
            "/admin/channels/sites",
            &[
                ("name", "Shop"),
                ("origins", "https://shop.example\nhttps://m.shop.example"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, body) = admin
        .post(
            &app,
            "/admin/channels/webhooks",
            &[("name", "weibo"), ("channel", "social")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let secret = body
        .split("id=\"secret-value\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_default()
        .to_owned();
    assert!(secret.len() >= 32, "{body}");
    let (_, listed) = admin.get(&app, "/admin/channels").await;
    assert!(listed.contains("https://m.shop.example") && listed.contains("weibo"));
    assert!(!listed.contains(&secret), "the secret is not shown again");

    // The rules in force: the SLA policy as its file writes it, and the keyword rules.
    let (status, rules) = admin.get(&app, "/admin/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        rules.contains("id=\"sla\"") && rules.contains("calendar"),
        "{rules}"
    );
    assert!(
        rules.contains("id=\"category-rules\"") && rules.contains("<td>payment</td>"),
        "{rules}"
    );
    assert_eq!(
        agent.get(&app, "/admin/rules").await.0,
        StatusCode::FORBIDDEN
    );
}

pub async fn the_workspace_suggests_resolved_tickets_that_read_alike(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.user("pay-ws@shop.example", "agent", &["payment"]).await;
    let customer = app.user("he@example.cn", "customer", &[]).await;
    let make = |text: &'static str, category: &'static str| json!({"channel": "web", "description": text, "category": category});
    let answered = app
        .create(
            &customer,
            make("同一笔订单被重复扣款两次，请退款。", "payment"),
        )
        .await;
    let unrelated = app
        .create(&customer, make("发票抬头开错了，需要重开。", "payment"))
        .await;
    let elsewhere = app
        .create(&customer, make("订单被重复扣款了两次。", "logistics"))
        .await;
    for n in [&answered, &unrelated, &elsewhere] {
        for action in ["accept", "start", "propose_solution", "resolve"] {
            let r = app.act(&app.admin, n, action).await;
            assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
        }
    }
    // Another customer, so the requester's history does not list the others.
    let other = app.user("lo@example.hk", "customer", &[]).await;
    let open = app
        .create(&other, make("訂單重複扣款兩次了！", "payment"))
        .await;
    let session = Session::sign_in(&app, "pay-ws@shop.example").await;
    let (status, page) = session.get(&app, &format!("/agent/tickets/{open}")).await;
    assert_eq!(status, StatusCode::OK);
    // Found across scripts; a resolved ticket about something else is not offered, nor one
    // of a department the agent cannot see.
    assert!(page.contains(&answered), "{page}");
    assert!(!page.contains(&unrelated));
    assert!(!page.contains(&elsewhere));
}

pub async fn agents_draft_articles_from_answers_and_see_them_suggested(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.user("kb-ws@shop.example", "agent", &["logistics"])
        .await;
    app.user("kb-boss@shop.example", "supervisor", &["logistics"])
        .await;
    let customer = app.user("kb-c@example.cn", "customer", &[]).await;
    let make = |text: &str| json!({"channel": "web", "description": text, "category": "logistics"});
    let answered = app
        .create(&customer, make("快递显示已签收但我没有收到包裹。"))
        .await;
    for action in ["accept", "start", "propose_solution", "resolve"] {
        assert_eq!(
            app.act(&app.admin, &answered, action).await.status,
            StatusCode::OK
        );
    }
    let agent = Session::sign_in(&app, "kb-ws@shop.example").await;
    let (_, page) = agent.get(&app, &format!("/agent/tickets/{answered}")).await;
    assert!(
        page.contains("id=\"draft-article\""),
        "resolved tickets offer a draft"
    );
    let (status, _, _) = agent
        .post(
            &app,
            &format!("/agent/tickets/{answered}/article"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location, _) = agent
        .post(&app, &format!("/agent/tickets/{answered}/article"), &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/agent/articles/"), "{location}");
    let (_, editor) = agent.get(&app, &location).await;
    assert!(
        editor.contains("快递显示已签收但我没有收到包裹"),
        "{editor}"
    );
    assert!(editor.contains(&answered), "the source ticket is named");
    // An agent's attempt to publish is refused with the reason, and the typed text stays.
    let fields = [
        ("title", "显示签收但没收到包裹怎么办？"),
        (
            "body",
            "请先联系快递员确认投递位置；48 小时内仍未找到，我们为您补发或退款。",
        ),
        ("lang", "zh"),
        ("kind", "faq"),
        ("status", "published"),
        ("category", "logistics"),
    ];
    let (status, _, body) = agent.post(&app, &location, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("48 小时内仍未找到"), "typed text kept");
    let boss = Session::sign_in(&app, "kb-boss@shop.example").await;
    let (status, _, _) = boss.post(&app, &location, &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, list) = agent.get(&app, "/agent/articles").await;
    assert!(list.contains("显示签收但没收到包裹怎么办"), "{list}");
    // A new ticket about the same problem, in traditional script, gets the article offered.
    let other = app.user("kb-d@example.hk", "customer", &[]).await;
    let open = app
        .create(&other, make("物流顯示已簽收，可是我沒有收到包裹！"))
        .await;
    let (_, page) = agent.get(&app, &format!("/agent/tickets/{open}")).await;
    assert!(page.contains(&location), "the article is suggested: {page}");
    assert!(
        !page.contains("id=\"draft-article\""),
        "an open ticket has no answer to draft from"
    );
}

pub async fn the_report_page_draws_charts_for_supervisors_only(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.user("rp-agent@shop.example", "agent", &["payment"])
        .await;
    app.user("rp-lead@shop.example", "supervisor", &["payment"])
        .await;
    let customer = app.user("rp-c@example.cn", "customer", &[]).await;
    app.create(&customer, json!({"channel": "web", "description": "重复扣款。<script>x</script>", "category": "payment"}))
        .await;
    let lead = Session::sign_in(&app, "rp-lead@shop.example").await;
    let (status, page) = lead
        .get(&app, "/agent/reports?from=2026-11-22&to=2026-11-22")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"total\">1<"), "{page}");
    assert_eq!(page.matches("<svg").count(), 5, "five charts");
    assert!(page.contains("id=\"overdue-stages\""));
    assert!(page.contains("<title>2026-11-22: 1</title>"));
    assert!(
        page.contains("id=\"departments\"") && page.contains("/api/v1/reports/service?format=csv")
    );
    let (status, _) = lead
        .get(&app, "/agent/reports?from=2026-11-23&to=2026-11-01")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let agent = Session::sign_in(&app, "rp-agent@shop.example").await;
    let (status, _) = agent.get(&app, "/agent/reports").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
