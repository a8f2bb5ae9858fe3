//! `closedloop seed`: synthetic tickets written in bulk, for benchmarks and demos.

use chrono::{Duration, Utc};
use closedloop_domain::{Channel, ImpactScope, Priority, RoutingMatrix, Severity, Status};
use closedloop_store::{BulkTicket, SqlStore, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::progress::Progress;
use crate::{CliError, CliResult};

const BATCH: usize = 10_000;

const TEXTS: &[(&str, &str)] = &[
    (
        "function_fault",
        "页面一直加载不出来，点击提交按钮没有反应。",
    ),
    (
        "function_fault",
        "The checkout page shows a blank screen after I press pay.",
    ),
    (
        "account",
        "我的账号无法登录，提示密码错误，但我没有改过密码。",
    ),
    (
        "account",
        "I cannot log in since yesterday; the reset email never arrives.",
    ),
    ("payment", "订单没有成功却被扣款两次，请尽快退款。"),
    (
        "payment",
        "I was charged twice for one order and the refund is late.",
    ),
    ("service", "客服回复太慢了，等了三天都没人处理。"),
    ("content", "文章内容有错误，而且涉嫌抄袭我的作品。"),
    ("privacy", "我的个人信息被泄露，收到很多骚扰电话。"),
    ("suggestion", "建议增加夜间模式，晚上看屏幕太刺眼。"),
    (
        "suggestion",
        "Please add an export to CSV on the orders page.",
    ),
    ("logistics", "快递显示已签收，但我根本没有收到包裹。"),
    ("product_quality", "收到的商品有破损，质量太差了。"),
    ("returns", "申请退货一周了还没有审核通过。"),
];

/// Writes `count` tickets spread over the last `days` days, oldest first, in transactions of
/// 10,000. The store numbers them from the live per-day counters.
pub async fn run(store: &SqlStore, count: u64, days: i64) -> CliResult {
    if count == 0 || days <= 0 {
        return Err(CliError("--tickets and --days must be positive".into()));
    }
    let mut rng = StdRng::seed_from_u64(0xC105_ED10);
    let now = Utc::now();
    let start = now - Duration::days(days);
    let span_ms = (now - start).num_milliseconds().max(1);
    let step = span_ms as f64 / count as f64;
    let mut bar = Progress::new("seeding tickets", count);
    let statuses = [
        Status::Received,
        Status::Accepted,
        Status::InProgress,
        Status::WaitingOnUser,
        Status::Resolved,
        Status::Closed,
        Status::Closed,
        Status::Closed,
    ];
    let channels = [
        Channel::Web,
        Channel::Widget,
        Channel::Email,
        Channel::Chat,
        Channel::Phone,
        Channel::Social,
    ];
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..count {
        let created = start + Duration::milliseconds((i as f64 * step) as i64);
        let (category, text) = TEXTS[rng.gen_range(0..TEXTS.len())];
        let rule = RoutingMatrix::RULES.iter().find(|r| r.category == category);
        let status = statuses[rng.gen_range(0..statuses.len())];
        batch.push(BulkTicket {
            channel: channels[rng.gen_range(0..channels.len())],
            title: closedloop_domain::Title::from_description(text).into_string(),
            description: format!("{text} #{i}"),
            category: Some(category.to_owned()),
            nature: rule.map(|r| r.nature),
            priority: [
                Priority::P1,
                Priority::P2,
                Priority::P2,
                Priority::P3,
                Priority::P3,
                Priority::P3,
            ][rng.gen_range(0..6)],
            severity: [Severity::Minor, Severity::General, Severity::Serious][rng.gen_range(0..3)],
            impact_scope: [
                ImpactScope::OneUser,
                ImpactScope::OneUser,
                ImpactScope::SomeUsers,
                ImpactScope::AllUsers,
            ][rng.gen_range(0..4)],
            department: rule.map(|r| r.handling.to_owned()),
            status,
            requester_email: None,
            order_number: None,
            region: None,
            created_at: created,
            resolved_at: (!status.is_open()).then(|| created + Duration::days(1)),
            import_key: None,
        });
        if batch.len() == BATCH {
            store.bulk_insert(&batch).await?;
            bar.inc(batch.len() as u64);
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.bulk_insert(&batch).await?;
        bar.inc(batch.len() as u64);
    }
    bar.finish();
    println!("seeded {count} tickets over {days} days");
    Ok(())
}
