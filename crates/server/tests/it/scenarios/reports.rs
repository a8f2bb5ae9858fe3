use reqwest::StatusCode;
use serde_json::json;

use super::console::Session;
use crate::harness::{Backend, TestApp, spawn, spawn_with};

/// The report's numbers over a small, known history, scoped to the reader, as JSON, CSV and
/// the page with its charts.
pub async fn service_reports_count_what_happened_within_the_readers_scope(backend: Backend) {
    // The facts pass runs when the test says, so the first reports read every ticket live.
    let app = spawn_with(backend, |c| c.report_facts_poll_ms = 3_600_000).await;
    let agent = app
        .user("rep-agent@shop.example", "agent", &["payment"])
        .await;
    let lead = app
        .user("rep-lead@shop.example", "supervisor", &["payment"])
        .await;
    let customer = app.user("rep-c@example.cn", "customer", &[]).await;
    let paid = app
        .create(
            &customer,
            json!({"channel": "web", "description": "重复扣款两次。", "category": "payment"}),
        )
        .await;
    let shipped = app
        .create(
            &customer,
            json!({"channel": "email", "description": "快递没到。", "category": "logistics"}),
        )
        .await;
    // The payment ticket: answered after 30 minutes, resolved after 2 hours, closed by the
    // user with 5 stars. The logistics one stays open.
    app.clock.advance(chrono::Duration::minutes(30));
    let r = app
        .post(
            &agent,
            &format!("/api/v1/tickets/{paid}/replies"),
            json!({"body": "正在核实。"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    for action in ["accept", "start", "propose_solution"] {
        assert_eq!(
            app.act(&agent, &paid, action).await.status,
            StatusCode::OK,
            "{action}"
        );
    }
    app.clock.advance(chrono::Duration::minutes(90));
    assert_eq!(
        app.act(&agent, &paid, "resolve").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.act(&customer, &paid, "close").await.status,
        StatusCode::OK
    );
    let r = app
        .post(
            &customer,
            &format!("/api/v1/tickets/{paid}/survey"),
            json!({"stars": 5}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);

    let period = "from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z";
    let all = app
        .get(&app.admin, &format!("/api/v1/reports/service?{period}"))
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let b = &all.body;
    assert_eq!(b["total"], 2);
    assert_eq!(
        b["by_channel"],
        json!([{"key": "email", "count": 1}, {"key": "web", "count": 1}])
    );
    assert_eq!(b["first_response"]["count"], 1);
    assert_eq!(b["first_response"]["p50_minutes"], 30.0);
    assert_eq!(b["resolution"]["p50_minutes"], 120.0);
    assert_eq!(b["resolution"]["compliance_pct"], 100.0);
    assert_eq!(b["first_contact_resolution_pct"], 100.0);
    assert_eq!(b["satisfaction"]["average_stars"], 5.0);
    assert_eq!(b["backlog"][0], json!({"key": "<1d", "count": 1}));
    assert_eq!(b["departments"][0]["name"], "payment");
    assert_eq!(b["departments"][0]["rank"], 1);
    // Nothing was late; the overdue analysis lists its five stages with no time in them.
    assert_eq!(b["overdue"]["tickets"], 0);
    assert_eq!(b["overdue"]["stages"][1]["stage"], "acceptance");
    assert_eq!(b["overdue"]["stages"][1]["total_hours"], 0.0);
    // The supervisor of payment sees payment's ticket only.
    let mine = app
        .get(&lead, &format!("/api/v1/reports/service?{period}"))
        .await;
    assert_eq!(mine.body["total"], 1, "{}", mine.body);
    assert_eq!(mine.body["departments"].as_array().map(Vec::len), Some(1));
    // Agents and customers get no reports; bad periods name the field.
    assert_eq!(
        app.get(&agent, "/api/v1/reports/service").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&customer, "/api/v1/reports/service").await.status,
        StatusCode::FORBIDDEN
    );
    for (q, field) in [
        ("from=yesterday", "from"),
        ("from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z", "from"),
        ("from=2020-01-01T00:00:00Z&to=2026-11-22T00:00:00Z", "from"),
        ("format=xls", "format"),
    ] {
        let r = app
            .get(&app.admin, &format!("/api/v1/reports/service?{q}"))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{q}");
    }
    // CSV for a spreadsheet.
    let res = app
        .http
        .get(format!(
            "{}/api/v1/reports/service?format=csv&{period}",
            app.base
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap_or_default();
    assert!(text.starts_with("table,key,count,extra\n"), "{text}");
    assert!(text.contains("by_channel,web,1,"));
    assert!(text.contains("overdue_stage,investigation,0,,,0"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("department,payment,1,1,100,100,120,100,5,1")),
        "{text}"
    );

    // The same reports once the pass has stored every ticket's facts, and again after a
    // write makes one ticket stale: stored and live facts agree.
    let report = |token: String| {
        let app = &app;
        async move {
            app.get(&token, &format!("/api/v1/reports/service?{period}"))
                .await
                .body
        }
    };
    assert_eq!(refresh_all_facts(&app).await, 2);
    assert_eq!(report(app.admin.clone()).await, all.body);
    assert_eq!(report(lead.clone()).await, mine.body);
    let r = app
        .post(
            &app.admin,
            &format!("/api/v1/tickets/{shipped}/replies"),
            json!({"body": "Checking with the courier."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let live = report(app.admin.clone()).await;
    assert_eq!(live["first_response"]["count"], 2, "{live}");
    assert_eq!(refresh_all_facts(&app).await, 1);
    assert_eq!(report(app.admin.clone()).await, live);
}

/// Runs the report facts pass until it has nothing left; how many tickets it read.
async fn refresh_all_facts(app: &TestApp) -> usize {
    let mut total = 0;
    loop {
        let n = app.store.refresh_facts(1).await.expect("facts pass");
        if n == 0 {
            return total;
        }
        total += n;
    }
}

/// Nine weeks of a known history: one parcel complaint a week, then six in one week (an
/// emerging issue); three refund questions every week (steady, hot but not emerging). The hot
/// issues, the progress report and the public transparency report say so, each to its reader.
pub async fn hot_issues_progress_and_transparency_reports_tell_what_is_happening(backend: Backend) {
    let app = spawn(backend).await;
    app.user("hot-boss@shop.example", "supervisor", &["logistics"])
        .await;
    let lead = app
        .user("hot-lead2@shop.example", "supervisor", &["payment"])
        .await;
    let customer = app.user("hot-c@example.cn", "customer", &[]).await;
    let parcel = |i: usize| {
        json!({"channel": "web", "category": "logistics",
               "description": format!("快递包裹丢失了，物流一直不更新，客服也不回复，太差了！订单{i}")})
    };
    let refund = |i: usize| {
        json!({"channel": "email", "category": "payment",
               "description": format!("Refund not received: I cancelled the order and the refund never arrived ({i}).")})
    };
    let mut newest_parcels = Vec::new();
    for week in 0..9 {
        let parcels = if week == 8 { 6 } else { 1 };
        for i in 0..parcels {
            let n = app.create(&customer, parcel(week * 10 + i)).await;
            if week == 8 {
                newest_parcels.push(n);
            }
        }
        for i in 0..3 {
            app.create(&customer, refund(week * 10 + i)).await;
        }
        app.clock.advance(chrono::Duration::days(7));
    }
    // "Now" is a week after the last batch minus a day: that batch is this week's.
    app.clock.advance(chrono::Duration::days(-1));

    let hot = app.get(&app.admin, "/api/v1/reports/hot").await;
    assert_eq!(hot.status, StatusCode::OK, "{}", hot.body);
    let week = hot.body["week"].as_array().cloned().unwrap_or_default();
    let of = |list: &[serde_json::Value], category: &str| {
        list.iter()
            .find(|c| c["category"] == category)
            .cloned()
            .unwrap_or_default()
    };
    let of_cause = |list: &[serde_json::Value], cause: &str| {
        list.iter()
            .find(|c| c["cause"] == cause)
            .cloned()
            .unwrap_or_default()
    };
    let parcels = of(&week, "logistics");
    assert_eq!(parcels["count"], 6, "{}", hot.body);
    assert_eq!(parcels["previous"], 1);
    assert_eq!(parcels["growth_pct"], 500.0);
    assert_eq!(parcels["negative_pct"], 100.0, "the parcel texts are angry");
    let examples: Vec<String> = parcels["examples"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(examples.len(), 3);
    assert!(examples.iter().all(|n| newest_parcels.contains(n)));
    assert_eq!(of(&week, "payment")["count"], 3);
    let month = hot.body["month"].as_array().cloned().unwrap_or_default();
    assert_eq!(of(&month, "payment")["count"], 12, "four weeks of three");
    // Emerging: the parcels (eight weeks of 1, now 6), not the steady refunds.
    let emerging = hot.body["emerging"].as_array().cloned().unwrap_or_default();
    assert_eq!(emerging.len(), 1, "{}", hot.body);
    assert_eq!(emerging[0]["category"], "logistics");
    assert_eq!(
        emerging[0]["weekly_history"],
        json!([1, 1, 1, 1, 1, 1, 1, 1])
    );
    // Negative words are grouped under their cause.
    let negative = hot.body["negative"].as_array().cloned().unwrap_or_default();
    let words = of_cause(&negative, "logistics");
    assert_eq!(words["negative_docs"], 9, "{}", hot.body);
    assert!(!words["keywords"].as_array().is_none_or(Vec::is_empty));
    // A forecast per category with its error measured on past weeks.
    let forecast = hot.body["forecast"].as_array().cloned().unwrap_or_default();
    let refunds = of(&forecast, "payment");
    assert_eq!(
        refunds["history"],
        json!([3, 3, 3, 3, 3, 3, 3, 3, 3]),
        "{}",
        hot.body
    );
    assert_eq!(refunds["next"], json!([3.0, 3.0, 3.0, 3.0]));
    assert_eq!(refunds["mae"], 0.0);

    // A payment supervisor's hot issues hold payment's tickets only.
    let mine = app.get(&lead, "/api/v1/reports/hot").await;
    assert_eq!(mine.status, StatusCode::OK);
    let text = mine.body.to_string();
    assert!(
        !text.contains("logistics") && !text.contains(&newest_parcels[0]),
        "{text}"
    );
    assert_eq!(
        app.get(&customer, "/api/v1/reports/hot").await.status,
        StatusCode::FORBIDDEN
    );

    // The pages.
    let boss = Session::sign_in(&app, "hot-boss@shop.example").await;
    let (status, page) = boss.get(&app, "/agent/reports/hot").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("id=\"emerging\"") && page.contains(&newest_parcels[5]),
        "{page}"
    );
    assert!(page.contains("stroke-dasharray"), "the forecast is drawn");
    assert!(
        page.contains("<td>物流配送</td><td>6</td>"),
        "categories by name: {page}"
    );
    let (status, page) = boss
        .get(
            &app,
            "/agent/reports/period?from=2027-01-10&to=2027-01-22&lang=zh",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // 10-22 January holds the last two batches; logistics' supervisor counts its parcels
    // (1 + 6) and nothing of payment's; the 13 days before hold one parcel.
    assert!(
        page.contains("新增 7 件，较此前 13 天（1 件）增长 600.0%"),
        "{page}"
    );
    assert!(page.contains("按类别：物流配送 100.0%"), "{page}");
    let res = boss
        .http
        .get(format!(
            "{}/agent/reports/period?from=2027-01-10&to=2027-01-22&lang=en&download=1",
            app.base
        ))
        .header("cookie", &boss.cookies)
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.contains("closedloop-progress-2027-01-10-2027-01-22-en.html"),
        "{disposition}"
    );
    let doc = res.text().await.unwrap_or_default();
    assert!(
        doc.contains(
            "7 new items from 2027-01-10 to 2027-01-22, +600.0% on the 13 days before (1)."
        ),
        "{doc}"
    );
    assert!(
        !doc.contains("agent_nav") && !doc.contains("sign-out"),
        "the document stands alone"
    );

    // The public transparency report: counts, no text, no numbers of tickets.
    let res = app
        .http
        .get(format!("{}/transparency", app.base))
        .header("accept-language", "en")
        .send()
        .await
        .expect("transparency");
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap_or_default();
    assert!(page.contains("id=\"problems\""), "{page}");
    // 90 days back from now covers every ticket: 14 parcels and 27 refunds.
    assert!(page.contains("received 41 pieces of feedback"), "{page}");
    assert!(
        page.contains("<td>Logistics &#38; delivery</td><td>14</td>"),
        "{page}"
    );
    assert!(!page.contains("快递包裹") && !page.contains(&newest_parcels[0]));
}
