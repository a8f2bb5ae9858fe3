//! The security suite: records of other departments and other users asked for on every route
//! that takes an id, session fixation, CSRF, brute force and token scope escalation; each one
//! refused, nothing changed, and each refusal in the security log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, spawn};

/// The security log entries of one caller (admin view).
async fn refusals_of(app: &TestApp, actor_id: Option<i64>) -> Vec<Value> {
    let r = app.get(&app.admin, "/api/v1/security-log?limit=500").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["actor_id"].as_i64() == actor_id)
        .cloned()
        .collect()
}

async fn user_id(app: &TestApp, token: &str) -> i64 {
    app.get(token, "/api/v1/me").await.body["id"]
        .as_i64()
        .expect("id")
}

/// What an administrator sees of a ticket: anything a refused request changed shows here.
async fn everything_about(app: &TestApp, number: &str) -> Value {
    let mut all = serde_json::Map::new();
    // Not the notices: the outbox worker delivers them on its own schedule.
    for part in ["", "/timeline", "/solutions", "/appeals", "/survey", "/sla"] {
        let r = app
            .get(&app.admin, &format!("/api/v1/tickets/{number}{part}"))
            .await;
        all.insert(part.to_owned(), json!([r.status.as_u16(), r.body]));
    }
    Value::Object(all)
}

pub async fn every_ticket_route_refuses_other_departments_and_other_users_and_logs_it(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let pay = app.user("pay@shop.example", "agent", &["payment"]).await;
    let pay_boss = app
        .user("boss@pay.example", "supervisor", &["payment"])
        .await;
    let alice = app.user("alice@example.org", "customer", &[]).await;
    let bob = app.user("bob@example.org", "customer", &[]).await;
    // Alice's logistics ticket, worked by logistics: no business of payment's or of Bob's.
    let number = app
        .create(
            &alice,
            json!({"channel": "web", "category": "logistics", "description": "快递三天没动了 parcel stuck"}),
        )
        .await;
    let t = format!("/api/v1/tickets/{number}");
    let before = everything_about(&app, &number).await;

    let attempts: Vec<(Method, String, Value)> = vec![
        (Method::GET, t.clone(), Value::Null),
        (Method::PATCH, t.clone(), json!({"priority": "P1"})),
        (
            Method::POST,
            format!("{t}/transitions"),
            json!({"action": "accept", "reason": "x"}),
        ),
        (
            Method::POST,
            format!("{t}/replies"),
            json!({"body": "hello"}),
        ),
        (Method::POST, format!("{t}/notes"), json!({"body": "note"})),
        (Method::GET, format!("{t}/timeline"), Value::Null),
        (Method::GET, format!("{t}/sla"), Value::Null),
        (Method::GET, format!("{t}/attachments/1"), Value::Null),
        (
            Method::POST,
            format!("{t}/solutions"),
            json!({"kind": "explanation", "summary": "已处理"}),
        ),
        (Method::GET, format!("{t}/solutions"), Value::Null),
        (
            Method::POST,
            format!("{t}/solutions/1/decision"),
            json!({"decision": "approve"}),
        ),
        (Method::GET, format!("{t}/appeals"), Value::Null),
        (
            Method::POST,
            format!("{t}/appeals/escalate"),
            json!({"reason": "复核"}),
        ),
        (Method::POST, format!("{t}/survey"), json!({"stars": 5})),
        (Method::GET, format!("{t}/survey"), Value::Null),
        (Method::GET, format!("{t}/notices"), Value::Null),
        (Method::POST, format!("{t}/reveal"), Value::Null),
        (Method::POST, format!("{t}/article"), json!({})),
    ];
    for (who, token) in [
        ("agent of payment", &pay),
        ("supervisor of payment", &pay_boss),
        ("another customer", &bob),
    ] {
        let id = user_id(&app, token).await;
        for (method, path, body) in &attempts {
            let body = (!body.is_null()).then_some(body.clone());
            let r = app.call(method.clone(), token, path, body).await;
            assert!(
                matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {method} {path} answered {} {}",
                r.status,
                r.body
            );
        }
        let logged = refusals_of(&app, Some(id)).await;
        for (method, path, _) in &attempts {
            assert!(
                logged
                    .iter()
                    .any(|e| e["method"] == method.as_str() && e["path"] == path.as_str()),
                "{who}: {method} {path} not in the security log: {logged:?}"
            );
        }
    }
    assert_eq!(
        everything_about(&app, &number).await,
        before,
        "a refused request changed the ticket"
    );
    // The listing and search leak nothing either.
    let list = app.get(&pay, "/api/v1/tickets").await;
    assert!(!list.body.to_string().contains(&number));
    let found = app.get(&bob, "/api/v1/search?q=parcel").await;
    assert!(!found.body.to_string().contains(&number), "{}", found.body);

    // Other users' records by id: tokens, in-app messages, erasure requests.
    let alice_id = user_id(&app, &alice).await;
    let tokens = app.get(&alice, "/api/v1/tokens").await;
    let alice_token = tokens.body[0]["id"].as_i64().expect("token id");
    let bob_id = user_id(&app, &bob).await;
    for (method, path) in [
        (Method::DELETE, format!("/api/v1/tokens/{alice_token}")),
        (Method::POST, format!("/api/v1/users/{alice_id}/erasure")),
        (Method::GET, format!("/api/v1/users/{alice_id}/erasure")),
        (Method::GET, "/api/v1/access-log".to_owned()),
        (Method::GET, "/api/v1/security-log".to_owned()),
    ] {
        let r = app.call(method.clone(), &bob, &path, Some(json!({}))).await;
        assert!(
            matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{method} {path} answered {} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(
        app.get(&alice, "/api/v1/me").await.status,
        StatusCode::OK,
        "Alice's token still works"
    );
    assert!(refusals_of(&app, Some(bob_id)).await.len() >= attempts.len() + 5);
    // Nobody edits the log: no route takes another method.
    for method in [Method::POST, Method::DELETE, Method::PUT, Method::PATCH] {
        let r = app
            .call(method, &app.admin, "/api/v1/security-log", Some(json!({})))
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("closedloop_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": email, "password": password}));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("login")
}

async fn me_with(app: &TestApp, cookie: &str) -> StatusCode {
    app.http
        .get(format!("{}/api/v1/me", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("me")
        .status()
}

pub async fn sessions_rotate_on_sign_in_forms_need_csrf_and_guessing_locks_and_is_logged(
    backend: Backend,
) {
    let app = spawn(backend).await;
    app.user("carol@example.org", "customer", &[]).await;

    // Session fixation: a session id someone else holds (here a real session of the attacker's
    // own account, planted in Carol's browser) is never adopted, and it ends at her sign-in.
    app.user("mallory@example.org", "customer", &[]).await;
    let res = sign_in(&app, "mallory@example.org", "password-123", None).await;
    let planted = session_cookie(&res).expect("the attacker's session");
    assert_eq!(me_with(&app, &planted).await, StatusCode::OK);
    let invented = "closedloop_session=cl_invented_by_an_attacker";
    assert_eq!(me_with(&app, invented).await, StatusCode::UNAUTHORIZED);
    let res = sign_in(&app, "carol@example.org", "password-123", Some(&planted)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let first = session_cookie(&res).expect("a session");
    assert_ne!(first, planted);
    assert_eq!(me_with(&app, &planted).await, StatusCode::UNAUTHORIZED);
    let res = sign_in(&app, "carol@example.org", "password-123", Some(invented)).await;
    assert_ne!(session_cookie(&res).as_deref(), Some(invented));
    // Rotation: signing in again ends the session the browser came with.
    let res = sign_in(&app, "carol@example.org", "password-123", Some(&first)).await;
    let csrf = res.json::<Value>().await.expect("json")["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let res = sign_in(&app, "carol@example.org", "password-123", Some(&first)).await;
    let second = session_cookie(&res).expect("a session");
    let csrf2 = res.json::<Value>().await.expect("json")["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(csrf, csrf2);
    assert_eq!(
        me_with(&app, &first).await,
        StatusCode::UNAUTHORIZED,
        "the old session still works"
    );
    assert_eq!(me_with(&app, &second).await, StatusCode::OK);
    let carol = app
        .get(&app.admin, "/api/v1/users")
        .await
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "carol@example.org")
        .and_then(|u| u["id"].as_i64())
        .expect("carol");

    // CSRF: the cookie alone (what another site's form would send) creates nothing.
    let post = |token: Option<&str>| {
        let mut req = app
            .http
            .post(format!("{}/api/v1/tickets", app.base))
            .header("cookie", &second)
            .json(&json!({"channel": "web", "description": "csrf probe"}));
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    for token in [None, Some("wrong"), Some(csrf.as_str())] {
        let res = post(token).await.expect("post");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "with {token:?}");
    }
    assert_eq!(app.count_visible_to_admin().await, 0, "nothing was created");
    assert_eq!(
        post(Some(&csrf2)).await.expect("post").status(),
        StatusCode::CREATED
    );
    let logged = refusals_of(&app, Some(carol)).await;
    assert_eq!(
        logged
            .iter()
            .filter(|e| e["path"] == "/api/v1/tickets" && e["status"] == 403)
            .count(),
        3
    );

    // Brute force: guesses are refused, then the account locks; every one is logged.
    let before = refusals_of(&app, None).await.len();
    for attempt in 1..=5 {
        let res = sign_in(&app, "carol@example.org", "guess-guess-1", None).await;
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::LOCKED
        };
        assert_eq!(res.status(), expected, "guess {attempt}");
    }
    let res = sign_in(&app, "carol@example.org", "password-123", None).await;
    assert_eq!(
        res.status(),
        StatusCode::LOCKED,
        "locked even for the right password"
    );
    let anonymous = refusals_of(&app, None).await;
    assert_eq!(anonymous.len() - before, 6, "{anonymous:?}");
    assert!(anonymous[..2].iter().all(|e| e["code"] == "account_locked"));
    assert!(
        anonymous[2..6]
            .iter()
            .all(|e| e["code"] == "invalid_credentials")
    );
    assert!(
        !anonymous
            .iter()
            .any(|e| e.to_string().contains("guess-guess-1"))
    );

    // Token scope escalation: a read-only token cannot write or mint a stronger token.
    let r = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "reader", "scope": "read"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let reader = r.str("token");
    let r = app
        .post(
            &reader,
            "/api/v1/tokens",
            json!({"name": "escalate", "scope": "all"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "token_scope")
    );
    let admin_id = user_id(&app, &app.admin).await;
    assert!(
        refusals_of(&app, Some(admin_id))
            .await
            .iter()
            .any(|e| e["code"] == "token_scope")
    );

    // Security headers on every response, API and page.
    for path in ["/api/v1/me", "/login", "/api/v1/nope"] {
        let res = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("get");
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    let page = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("page");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
}

async fn login_with_code(app: &TestApp, email: &str, code: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"email": email, "password": "password-123"});
    if let Some(c) = code {
        body["totp"] = json!(c);
    }
    let res = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&body)
        .send()
        .await
        .expect("login");
    let status = res.status();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

pub async fn staff_can_require_a_one_time_code_at_sign_in_and_each_code_works_once(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let email = "pay@shop.example";
    let agent = app.user(email, "agent", &["payment"]).await;
    let customer = app.user("c@example.org", "customer", &[]).await;
    assert_eq!(
        app.post(&customer, "/api/v1/me/totp", json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .post(&agent, "/api/v1/me/totp/confirm", json!({"code": "123456"}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "no_totp_setup")
    );

    let setup = app.post(&agent, "/api/v1/me/totp", json!({})).await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let secret = setup.str("secret");
    assert!(
        setup
            .str("otpauth_url")
            .starts_with("otpauth://totp/Closedloop"),
        "{}",
        setup.body
    );
    // Until confirmed, nothing changes at sign-in.
    assert_eq!(login_with_code(&app, email, None).await.0, StatusCode::OK);
    let code_now =
        || closedloop_server::totp::code_at(&secret, email, app.clock_now()).expect("code");
    let wrong = |code: &str| format!("{:06}", (code.parse::<u32>().unwrap_or(0) + 1) % 1_000_000);
    let r = app
        .post(
            &agent,
            "/api/v1/me/totp/confirm",
            json!({"code": wrong(&code_now())}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_field()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("code"))
    );
    let confirming = code_now();
    let r = app
        .post(
            &agent,
            "/api/v1/me/totp/confirm",
            json!({"code": confirming}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        app.post(&agent, "/api/v1/me/totp", json!({})).await.status,
        StatusCode::CONFLICT
    );

    // Now a sign-in needs a code, and each code works once.
    let (status, body) = login_with_code(&app, email, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("totp_required"))
    );
    let (status, body) = login_with_code(&app, email, Some(&confirming)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("totp_invalid")),
        "reused"
    );
    app.clock.advance(chrono::Duration::seconds(30));
    let fresh = code_now();
    assert_eq!(
        login_with_code(&app, email, Some(&fresh)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        login_with_code(&app, email, Some(&fresh)).await.0,
        StatusCode::UNAUTHORIZED,
        "replayed"
    );
    app.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(
        login_with_code(&app, email, Some(&code_now())).await.0,
        StatusCode::OK
    );
    // The sign-in page asks for it too.
    let page = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("page");
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains("name=\"totp\"")
    );

    // The right password does not buy more guesses at the code: five wrong codes lock.
    for attempt in 1..=5 {
        let (status, _) = login_with_code(&app, email, Some(&wrong(&code_now()))).await;
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::LOCKED
        };
        assert_eq!(status, expected, "guess {attempt}");
    }
    app.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(
        login_with_code(&app, email, Some(&code_now())).await.0,
        StatusCode::LOCKED
    );

    // An administrator can turn it off for a lost phone; then the password alone works again.
    let agent_id = user_id(&app, &agent).await;
    assert_eq!(
        app.call(
            Method::DELETE,
            &customer,
            &format!("/api/v1/users/{agent_id}/totp"),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .call(
            Method::DELETE,
            &app.admin,
            &format!("/api/v1/users/{agent_id}/totp"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(login_with_code(&app, email, None).await.0, StatusCode::OK);

    // Turned on again, the user turns it off themselves with a code.
    let secret = app
        .post(&agent, "/api/v1/me/totp", json!({}))
        .await
        .str("secret");
    let code = closedloop_server::totp::code_at(&secret, email, app.clock_now()).expect("code");
    let r = app
        .post(&agent, "/api/v1/me/totp/confirm", json!({"code": code}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.clock.advance(chrono::Duration::seconds(30));
    let code = closedloop_server::totp::code_at(&secret, email, app.clock_now()).expect("code");
    // A stolen session cannot guess its way to turning it off: wrong codes lock the account.
    for attempt in 1..=5 {
        let r = app
            .post(
                &agent,
                "/api/v1/me/totp/disable",
                json!({"code": wrong(&code)}),
            )
            .await;
        let expected = if attempt < 5 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::LOCKED
        };
        assert_eq!(r.status, expected, "guess {attempt}: {}", r.body);
    }
    let r = app
        .post(&agent, "/api/v1/me/totp/disable", json!({"code": code}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::LOCKED,
        "even the right code, until the lock ends"
    );
    app.clock.advance(chrono::Duration::minutes(16));
    let code = closedloop_server::totp::code_at(&secret, email, app.clock_now()).expect("code");
    let r = app
        .post(&agent, "/api/v1/me/totp/disable", json!({"code": code}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(login_with_code(&app, email, None).await.0, StatusCode::OK);
    let r = app
        .post(&agent, "/api/v1/me/totp/disable", json!({"code": code}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::CONFLICT, "totp_off")
    );
}
