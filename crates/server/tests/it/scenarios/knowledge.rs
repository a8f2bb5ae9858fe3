use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, spawn};

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn public_get(app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .expect("get");
    (res.status(), res.text().await.unwrap_or_default())
}

async fn answered(app: &TestApp, body: &Value, json: bool) -> StatusCode {
    let req = app.http.post(format!("{}/help/answered", app.base));
    let req = if json {
        req.json(body)
    } else {
        req.header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "visit={}&article={}",
                body["visit"], body["article"]
            ))
    };
    req.send().await.expect("answered").status()
}

pub async fn articles_are_drafted_from_answers_published_by_supervisors_and_found_by_users(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let agent = app
        .user("kb-agent@shop.example", "agent", &["payment"])
        .await;
    let supervisor = app
        .user("kb-lead@shop.example", "supervisor", &["payment"])
        .await;
    let customer = app.user("kb-user@example.tw", "customer", &[]).await;
    let number = app
        .create(&customer, json!({"channel": "web", "description": "退款申請後多久會到帳？", "category": "payment"}))
        .await;
    // Nothing to draft from before the ticket is answered.
    let early = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/article"),
            json!({}),
        )
        .await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        early.body
    );
    assert_eq!(early.error_field(), Some("number"));
    let reply = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/replies"),
            json!({"body": "退款审核通过后 3-5 个工作日原路退回。"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    for action in ["accept", "start", "propose_solution", "resolve"] {
        assert_eq!(
            app.act(&agent, &number, action).await.status,
            StatusCode::OK,
            "{action}"
        );
    }
    // Customers write no articles; agents draft, one click from the resolved ticket.
    let refused = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{number}/article"),
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let draft = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/article"),
            json!({}),
        )
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    let id = draft.body["id"].as_i64().expect("id");
    assert_eq!(draft.body["status"], "draft");
    assert_eq!(draft.body["source_ticket"], number.as_str());
    let body = draft.body["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("退款申請後多久會到帳") && body.contains("3-5 个工作日"),
        "{body}"
    );
    let path = format!("/api/v1/articles/{id}");
    assert_eq!(
        app.get(&customer, &path).await.status,
        StatusCode::NOT_FOUND,
        "a draft is staff-only"
    );
    assert_eq!(
        public_get(&app, &format!("/help/articles/{id}")).await.0,
        StatusCode::NOT_FOUND
    );

    // Agents may not publish; the supervisor does.
    let mut article = json!({"lang": "zh", "kind": "faq", "status": "published",
        "title": "退款多久到账？", "body": body, "category": "payment"});
    let r = app
        .call(reqwest::Method::PUT, &agent, &path, Some(article.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call(
            reqwest::Method::PUT,
            &supervisor,
            &path,
            Some(article.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["published_at"].is_string());
    let seen = app.get(&customer, &path).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(
        seen.body.get("source_ticket").is_none(),
        "customers do not see the source ticket"
    );

    // An SOP, published, stays with staff.
    article["kind"] = json!("sop");
    article["title"] = json!("退款到账查询流程（内部）");
    let sop = app
        .post(&supervisor, "/api/v1/articles", article.clone())
        .await;
    assert_eq!(sop.status, StatusCode::CREATED, "{}", sop.body);
    let sop_id = sop.body["id"].as_i64().expect("id");

    // Search: a customer asking in simplified Chinese finds the published FAQ (written with
    // a traditional question inside) and never the SOP; staff find both.
    let kinds = |body: &Value| -> Vec<i64> {
        body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["article_id"].as_i64())
            .collect()
    };
    let r = app
        .get(
            &customer,
            &format!("/api/v1/search?kind=article&q={}", enc("退款 到账")),
        )
        .await;
    assert_eq!(kinds(&r.body), [id], "{}", r.body);
    let r = app
        .get(
            &agent,
            &format!("/api/v1/search?kind=article&q={}", enc("退款 到账")),
        )
        .await;
    let mut staff = kinds(&r.body);
    staff.sort();
    assert_eq!(staff, [id, sop_id]);

    // The public help centre: list, search in traditional script, the article page.
    let (status, page) = public_get(&app, "/help").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("退款多久到账") && !page.contains("内部"),
        "{page}"
    );
    let (_, page) = public_get(&app, &format!("/help?q={}", enc("退款多久到帳"))).await;
    assert!(page.contains(&format!("/help/articles/{id}")), "{page}");
    assert!(!page.contains(&format!("/help/articles/{sop_id}")));
    let (status, page) = public_get(&app, &format!("/help/articles/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("3-5 个工作日"));
    assert_eq!(
        public_get(&app, &format!("/help/articles/{sop_id}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // The form's suggestions and the deflection record: two visits shown the article, one
    // answered by it (recorded once however often it is clicked).
    let (v1, v2) = (
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "0f9e8d7c6b5a49382716f5e4d3c2b1a0",
    );
    for v in [v1, v2] {
        let (status, json) = public_get(
            &app,
            &format!("/help/suggest?visit={v}&q={}", enc("退款什么时候到账")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let found: Value = serde_json::from_str(&json).expect("json");
        assert_eq!(found[0]["id"].as_i64(), Some(id), "{found}");
        assert!(
            found[0]["snippet_html"]
                .as_str()
                .unwrap_or_default()
                .contains("<mark>")
        );
    }
    let yes = json!({"visit": v1, "article": id});
    assert_eq!(
        answered(&app, &yes, false).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(answered(&app, &yes, true).await, StatusCode::NO_CONTENT);
    assert_eq!(answered(&app, &yes, true).await, StatusCode::NO_CONTENT);
    let sop_answer = json!({"visit": v2, "article": sop_id});
    assert_eq!(
        answered(&app, &sop_answer, true).await,
        StatusCode::NOT_FOUND
    );
    let bad_visit = json!({"visit": "x", "article": id});
    assert_eq!(
        answered(&app, &bad_visit, true).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get(&customer, "/api/v1/reports/deflection")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let report = app.get(&supervisor, "/api/v1/reports/deflection").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(
        (
            report.body["shown"].clone(),
            report.body["answered"].clone()
        ),
        (json!(2), json!(1))
    );
    assert_eq!(report.body["rate"], 0.5);
    assert_eq!(report.body["top_articles"][0][0].as_i64(), Some(id));

    // Bad input names the field; nothing is written.
    let before = app
        .get(&supervisor, "/api/v1/articles")
        .await
        .body
        .as_array()
        .map_or(0, Vec::len);
    for (body, field) in [
        (
            json!({"lang": "zh", "kind": "faq", "status": "draft", "title": " ", "body": "x"}),
            "title",
        ),
        (
            json!({"lang": "zh", "kind": "faq", "status": "draft", "title": "t", "body": ""}),
            "body",
        ),
        (
            json!({"lang": "fr", "kind": "faq", "status": "draft", "title": "t", "body": "b"}),
            "lang",
        ),
        (
            json!({"lang": "zh", "kind": "blog", "status": "draft", "title": "t", "body": "b"}),
            "kind",
        ),
    ] {
        let r = app
            .post(&supervisor, "/api/v1/articles", body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{body}: {}", r.body);
    }
    let after = app
        .get(&supervisor, "/api/v1/articles")
        .await
        .body
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(before, after);
    assert_eq!(
        app.post(&customer, "/api/v1/articles", article)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
