use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ADMIN_EMAIL, Backend, spawn};

pub async fn session_login_needs_csrf_header_for_changes(backend: Backend) {
    let app = spawn(backend).await;
    let url = |p: &str| format!("{}{p}", app.base);
    let wrong = app
        .http
        .post(url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": "nope-nope"}))
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = app
        .http
        .post(url("/api/v1/auth/login"))
        .json(&json!({"email": "ghost@example.com", "password": "nope-nope"}))
        .send()
        .await
        .expect("login");
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    let res = app
        .http
        .post(url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": "admin-password-1"}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
    let body: Value = res.json().await.expect("json");
    let csrf = body["csrf_token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(body["user"]["role"], "admin");

    let me = app
        .http
        .get(url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);
    let ticket = json!({"channel": "web", "description": "from the browser"});
    let no_csrf = app
        .http
        .post(url("/api/v1/tickets"))
        .header("cookie", &cookie)
        .json(&ticket)
        .send()
        .await
        .expect("post");
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let bad_csrf = app
        .http
        .post(url("/api/v1/tickets"))
        .header("cookie", &cookie)
        .header("x-csrf-token", "guess")
        .json(&ticket)
        .send()
        .await
        .expect("post");
    assert_eq!(bad_csrf.status(), StatusCode::FORBIDDEN);
    let ok = app
        .http
        .post(url("/api/v1/tickets"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&ticket)
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(
        app.count_visible_to_admin().await,
        1,
        "refused requests stored nothing"
    );

    let out = app
        .http
        .post(url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = app
        .http
        .get(url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("me");
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "the session is gone server-side"
    );
}

pub async fn tokens_can_be_revoked(backend: Backend) {
    let app = spawn(backend).await;
    let r = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "crm", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let token = r.str("token");
    let id = r.body["id"].as_i64().unwrap_or_default();
    assert_eq!(app.get(&token, "/api/v1/me").await.status, StatusCode::OK);
    let list = app.get(&app.admin, "/api/v1/tokens").await;
    assert!(
        !list.body.to_string().contains(&token),
        "secrets are never listed"
    );
    let del = app
        .call(
            reqwest::Method::DELETE,
            &app.admin,
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&token, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "x", "expires_in_days": 0}),
        )
        .await;
    assert_eq!(r.error_field(), Some("expires_in_days"));
    // Expiry is enforced.
    let short = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "short", "expires_in_days": 1}),
        )
        .await
        .str("token");
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(
        app.get(&short, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

pub async fn unauthenticated_requests_get_401(backend: Backend) {
    let app = spawn(backend).await;
    for path in [
        "/api/v1/tickets",
        "/api/v1/me",
        "/api/v1/departments",
        "/api/v1/tickets/FB-20261122-000001",
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    assert_eq!(
        app.get("cl_forged", "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let customer = app.user("c@example.com", "customer", &[]).await;
    assert_eq!(
        app.get(&customer, "/api/v1/users").await.status,
        StatusCode::FORBIDDEN
    );
    let agent = app.user("a@example.com", "agent", &["payment"]).await;
    let r = app
        .post(
            &agent,
            "/api/v1/departments",
            json!({"code": "x", "name": "X"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

pub async fn openapi_document_matches_the_router(backend: Backend) {
    let app = spawn(backend).await;
    let doc: Value = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 12, "{}", paths.len());
    for (path, ops) in paths {
        let concrete = path
            .replace("{number}", "FB-20261122-000001")
            .replace("{id}", "1");
        for method in ops.as_object().expect("ops").keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let res = app
                .http
                .request(m, format!("{}{concrete}", app.base))
                .send()
                .await
                .expect("send");
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["error"]["code"], "not_found_endpoint",
                "{method} {path}"
            );
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED
                    && body["error"]["message"] != "no such endpoint",
                "{method} {path} is documented but not routed"
            );
        }
    }
    for required in [
        "/api/v1/tickets",
        "/api/v1/tickets/{number}",
        "/api/v1/tickets/{number}/transitions",
        "/healthz",
    ] {
        assert!(paths.contains_key(required), "{required}");
    }
}

pub async fn accounts_lock_after_failed_sign_ins_in_a_row(backend: Backend) {
    let app = spawn(backend).await;
    // Weak passwords are refused when the account is made, with the reason.
    for (password, code) in [
        ("short", "too_short"),
        ("12345678", "weak_password"),
        ("woaini1314", "weak_password"),
        ("meiling-2026", "weak_password"),
    ] {
        let r = app
            .post(&app.admin, "/api/v1/users", json!({"email": "meiling@shop.example", "name": "Mei", "role": "agent", "password": password, "departments": ["payment"]}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{password}");
        assert_eq!(
            (r.error_field(), r.error_code()),
            (Some("password"), code),
            "{password}"
        );
    }
    app.user("mei@shop.example", "agent", &["payment"]).await;
    let login = |password: &'static str| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(format!("{}/api/v1/auth/login", app.base))
                .json(&json!({"email": "mei@shop.example", "password": password}))
                .send()
                .await
                .expect("login");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A success clears the count: four failures, a success, four more are still not five.
    for _ in 0..4 {
        assert_eq!(login("wrong-guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login("password-123").await.0, StatusCode::OK);
    for _ in 0..4 {
        assert_eq!(login("wrong-guess").await.0, StatusCode::UNAUTHORIZED);
    }
    // The fifth in a row locks, says so and until when; the right password is refused too.
    let (status, body) = login("wrong-guess").await;
    assert_eq!(status, StatusCode::LOCKED);
    assert_eq!(body["error"]["code"], "account_locked");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("2026-11-22 08:15"), "{message}");
    assert_eq!(login("password-123").await.0, StatusCode::LOCKED);
    // The sign-in page says it in words.
    let page = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("page");
    let csrf_cookie = super::console::cookie(&page, "cl_csrf").expect("csrf cookie");
    let csrf = super::console::field(&page.text().await.unwrap_or_default(), "csrf");
    let r = app
        .http
        .post(format!("{}/login", app.base))
        .header("cookie", csrf_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "mei@shop.example"),
            ("password", "password-123"),
        ])
        .send()
        .await
        .expect("form");
    assert_eq!(r.status(), StatusCode::LOCKED);
    let html = r.text().await.unwrap_or_default();
    assert!(
        html.contains("2026-11-22 08:15") && html.contains("role=\"alert\""),
        "{html}"
    );
    // Other accounts are not affected, and the lock ends by itself.
    let admin = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": ADMIN_EMAIL, "password": "admin-password-1"}))
        .send()
        .await
        .expect("admin");
    assert_eq!(admin.status(), StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(login("password-123").await.0, StatusCode::OK);
}

pub async fn read_only_tokens_read_and_cannot_change_or_escalate(backend: Backend) {
    let app = spawn(backend).await;
    let made = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "dashboard", "scope": "read"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["scope"], "read");
    let ro = made.str("token");
    let number = app
        .create(
            &app.admin,
            json!({"channel": "web", "description": "Charged twice.", "category": "payment"}),
        )
        .await;
    assert_eq!(
        app.get(&ro, &format!("/api/v1/tickets/{number}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.get(&ro, "/api/v1/tickets").await.status, StatusCode::OK);
    let before = app.timeline_len(&number).await;
    for (path, body) in [
        (
            "/api/v1/tickets".to_owned(),
            json!({"channel": "web", "description": "x"}),
        ),
        (
            format!("/api/v1/tickets/{number}/notes"),
            json!({"body": "hi"}),
        ),
        // Making itself a token that may write is a change like any other.
        (
            "/api/v1/tokens".to_owned(),
            json!({"name": "escalate", "scope": "all"}),
        ),
    ] {
        let r = app.post(&ro, &path, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(r.error_code(), "token_scope", "{path}");
    }
    let r = app
        .patch(
            &ro,
            &format!("/api/v1/tickets/{number}"),
            json!({"priority": "P1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.timeline_len(&number).await, before, "nothing changed");
    let list = app.get(&app.admin, "/api/v1/tokens").await;
    let names: Vec<(String, String)> = list
        .body
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["scope"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        names.contains(&("dashboard".into(), "read".into()))
            && !names.iter().any(|(n, _)| n == "escalate"),
        "{names:?}"
    );
    let bad = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "x", "scope": "admin"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_field(), Some("scope"));
}
