//! The public web form: a bilingual page without JavaScript, CSRF by double-submit cookie,
//! uploads checked by their content, and a private follow link per ticket.

use reqwest::multipart::{Form, Part};
use reqwest::{StatusCode, header};
use serde_json::json;

use crate::harness::{Backend, TestApp, spawn, spawn_with};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// A browser that opened the form: its CSRF cookie and the form's hidden value.
struct Browser {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

async fn open_form(app: &TestApp) -> (Browser, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = http
        .get(format!("{}/feedback", app.base))
        .send()
        .await
        .expect("get form");
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let html = res.text().await.expect("html");
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"");
    (Browser { http, cookie, csrf }, html)
}

fn between(haystack: &str, start: &str, end: &str) -> String {
    haystack
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default()
}

fn form(csrf: &str, fields: &[(&str, &str)], files: &[(&str, &[u8], &str)]) -> Form {
    let mut f = Form::new().text("csrf", csrf.to_owned());
    for (k, v) in fields {
        f = f.text((*k).to_owned(), (*v).to_owned());
    }
    for (name, bytes, claimed) in files {
        let part = Part::bytes(bytes.to_vec())
            .file_name((*name).to_owned())
            .mime_str(claimed)
            .expect("mime");
        f = f.part("evidence", part);
    }
    f
}

impl Browser {
    async fn submit(&self, app: &TestApp, form: Form) -> (StatusCode, String) {
        let res = self
            .http
            .post(format!("{}/feedback", app.base))
            .header(header::COOKIE, &self.cookie)
            .multipart(form)
            .send()
            .await
            .expect("post form");
        let status = res.status();
        (status, res.text().await.unwrap_or_default())
    }

    async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("get")
    }
}

/// Submits a valid form; returns the ticket number and the follow path.
async fn file_feedback(
    app: &TestApp,
    b: &Browser,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8], &str)],
) -> (String, String) {
    let (status, html) = b.submit(app, form(&b.csrf, fields, files)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let number = between(&html, "<strong id=\"number\">", "<");
    let follow = between(&html, "<a id=\"follow\" href=\"", "\"");
    assert!(number.starts_with("FB-"), "{html}");
    assert!(
        follow.starts_with("/t/") && follow.len() == 3 + 43,
        "{follow}"
    );
    (number, follow)
}

pub async fn web_form_speaks_the_readers_language_and_refuses_posts_without_its_csrf_token(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let (b, html) = open_form(&app).await;
    for label in [
        "问题描述",
        "发生时间",
        "重现步骤",
        "期望结果",
        "订单号",
        "联系邮箱",
        "enctype=\"multipart/form-data\"",
        "<option value=\"payment\"",
    ] {
        assert!(html.contains(label), "{label} missing");
    }
    // An English browser gets the English form.
    let en = app
        .http
        .get(format!("{}/feedback", app.base))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .expect("form")
        .text()
        .await
        .unwrap_or_default();
    for label in [
        "What happened *",
        "When it happened",
        "Steps to reproduce",
        "Contact e-mail",
    ] {
        assert!(
            en.contains(label) && !en.contains("问题描述"),
            "{label} missing"
        );
    }
    assert_eq!(b.csrf.len(), 43, "{html}");
    assert!(b.cookie.ends_with(&b.csrf), "{}", b.cookie);

    let fields = [("description", "扣款两次了")];
    // No cookie and no field; the cookie without the field; a wrong field.
    let bare = reqwest::Client::new()
        .post(format!("{}/feedback", app.base))
        .multipart(Form::new().text("description", "扣款两次了"))
        .send()
        .await
        .expect("post");
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    let (status, _) = b.submit(&app, form("", &fields, &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let wrong = "A".repeat(43);
    let (status, _) = b.submit(&app, form(&wrong, &fields, &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_visible_to_admin().await, 0);
}

pub async fn web_form_shows_field_errors_and_keeps_the_input(backend: Backend) {
    let app = spawn_with(backend, |c| c.max_attachment_bytes = 1024).await;
    let (b, _) = open_form(&app).await;

    let (status, html) = b
        .submit(
            &app,
            form(
                &b.csrf,
                &[("description", "  "), ("order_number", "SO-<778899>")],
                &[],
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("请描述发生了什么。"), "{html}");
    // Kept, and escaped.
    assert!(
        html.contains("value=\"SO-&#60;778899&#62;\"")
            || html.contains("value=\"SO-&lt;778899&gt;\""),
        "{html}"
    );

    let html_bytes: &[u8] = b"<html><script>alert(1)</script></html>";
    let (status, html) = b
        .submit(
            &app,
            form(
                &b.csrf,
                &[("description", "截图见附件")],
                &[("screenshot.png", html_bytes, "image/png")],
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("文件 screenshot.png 的类型不支持"), "{html}");
    assert!(html.contains("截图见附件"), "{html}");

    let big = vec![b'a'; 2048];
    let (status, html) = b
        .submit(
            &app,
            form(
                &b.csrf,
                &[("description", "日志太长")],
                &[("log.txt", &big, "text/plain")],
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("文件 log.txt 太大，每个文件不超过 1 KiB"),
        "{html}"
    );
    assert_eq!(app.count_visible_to_admin().await, 0);
}

pub async fn web_form_ticket_is_followed_through_its_private_link(backend: Backend) {
    let app = spawn(backend).await;
    let (b, _) = open_form(&app).await;
    let (number, follow) = file_feedback(
        &app,
        &b,
        &[
            ("description", "<script>alert(1)</script> 页面打不开"),
            ("occurred", "昨天下午"),
            ("steps", "1. 打开首页\n2. 点击登录"),
            ("expected", "能正常登录"),
            ("order_number", "SO-1001"),
        ],
        &[
            ("screen.png", PNG, "application/octet-stream"),
            ("receipt.pdf", PDF, "text/html"),
        ],
    )
    .await;

    // Staff see one ticket with labelled sections and the two files as evidence.
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}"))
        .await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(t.str("channel"), "web");
    assert_eq!(t.str("order_number"), "SO-1001");
    let description = t.str("description");
    assert!(
        description.contains("【重现步骤 / Steps to reproduce】\n1. 打开首页"),
        "{description}"
    );
    assert!(
        description.contains("【发生时间 / When it happened】\n昨天下午"),
        "{description}"
    );
    assert!(t.body["requester_ip"].is_string(), "anonymous: {}", t.body);
    let evidence: Vec<String> = t.body["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    assert_eq!(evidence.len(), 2, "{evidence:?}");
    let png_id = evidence[0].strip_prefix("attachment:").expect("reference");
    let pdf_id = evidence[1].strip_prefix("attachment:").expect("reference");

    // Served with the sniffed type, never the claimed one.
    let res = app
        .http
        .get(format!(
            "{}/api/v1/tickets/{number}/attachments/{png_id}",
            app.base
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], "sandbox");
    assert!(
        res.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap_or_default()
            .starts_with("inline")
    );
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), PNG);
    let res = b.get(&app, &format!("{follow}/attachments/{pdf_id}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/pdf");
    assert!(
        res.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap_or_default()
            .starts_with("attachment")
    );
    // Nobody without access to the ticket gets it.
    let stranger = app.user("stranger@example.cn", "customer", &[]).await;
    let r = app
        .get(
            &stranger,
            &format!("/api/v1/tickets/{number}/attachments/{png_id}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Staff answer publicly and note something internal.
    let department = t.str("department");
    let agent = app
        .user("agent@closedloop.test", "agent", &[department.as_str()])
        .await;
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/notes"),
            json!({"body": "INTERNAL-ONLY 用户可能是重复投诉"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{number}/replies"),
            json!({"body": "我们正在排查登录问题"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let res = b.get(&app, &follow).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.expect("html");
    assert!(page.contains(&number), "{page}");
    assert!(
        page.contains("data-status=\"received\">已登记</strong>"),
        "{page}"
    );
    assert!(page.contains("我们正在排查登录问题"), "{page}");
    assert!(!page.contains("INTERNAL-ONLY"), "{page}");
    assert!(!page.contains("<script>alert(1)</script>"), "{page}");
    assert!(
        page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("screen.png") && page.contains("receipt.pdf"),
        "{page}"
    );

    // A reply through the link lands on the timeline; without the CSRF value it is refused.
    let post = |csrf: String| {
        b.http
            .post(format!("{}{follow}", app.base))
            .header(header::COOKIE, &b.cookie)
            .form(&[
                ("csrf", csrf),
                ("body", "补充：换了浏览器也不行".to_owned()),
            ])
            .send()
    };
    assert_eq!(
        post(String::new()).await.expect("post").status(),
        StatusCode::FORBIDDEN
    );
    let res = post(b.csrf.clone()).await.expect("post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = b.get(&app, &follow).await.text().await.expect("html");
    assert!(page.contains("补充：换了浏览器也不行"), "{page}");
    let timeline = app
        .get(&app.admin, &format!("/api/v1/tickets/{number}/timeline"))
        .await;
    assert!(timeline.body.to_string().contains("补充：换了浏览器也不行"));

    // Another submitter's link reaches only their own ticket; unknown links are 404.
    let (other_number, other_follow) = file_feedback(
        &app,
        &b,
        &[("description", "发票抬头错了"), ("email", "li@example.cn")],
        &[],
    )
    .await;
    let t = app
        .get(&app.admin, &format!("/api/v1/tickets/{other_number}"))
        .await;
    assert_eq!(t.str("requester_name"), "li", "{}", t.body);
    assert!(t.body["requester_ip"].is_null(), "{}", t.body);
    let res = b
        .get(&app, &format!("{other_follow}/attachments/{png_id}"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = b.get(&app, &format!("/t/{}", "B".repeat(43))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = b.get(&app, "/t/short").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
