//! The progress report (MISSION §6): "1,250 new items this quarter, +15%; product 40%,
//! logistics 30%; 850 product issues solved, 68%" — sentences a person reads, in Chinese or
//! English, from the service report of a period and of the same length of time before it.

use crate::notice::Lang;
use crate::report::Report;

/// How many categories the report names.
pub const TOP_CATEGORIES: usize = 3;

/// `1250` → `1,250`: both languages group digits this way in business writing.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(part: usize, whole: usize) -> f64 {
    crate::report::pct(part, whole).unwrap_or(0.0)
}

/// The paragraphs of the report. `name` gives a category's name in `lang`.
pub fn summary(
    current: &Report,
    previous: &Report,
    lang: Lang,
    name: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let zh = lang == Lang::Zh;
    let days = (current.to - current.from).num_days().max(1);
    let (from, to) = (
        current.from.date_naive(),
        (current.to - chrono::Duration::milliseconds(1)).date_naive(),
    );
    let mut out = Vec::new();

    let total = thousands(current.total);
    let before = thousands(previous.total);
    out.push(if previous.total == 0 {
        if zh {
            format!("{from} 至 {to} 新增 {total} 件；此前 {days} 天没有登记。")
        } else {
            format!(
                "{total} new items from {from} to {to}; none in the {days} days before."
            )
        }
    } else {
        let change = (current.total as f64 - previous.total as f64) * 100.0 / previous.total as f64;
        let change = (change * 10.0).round() / 10.0;
        if zh {
            let word = if change >= 0.0 { "增长" } else { "下降" };
            format!(
                "{from} 至 {to} 新增 {total} 件，较此前 {days} 天（{before} 件）{word} {:.1}%。",
                change.abs()
            )
        } else {
            format!(
                "{total} new items from {from} to {to}, {}{:.1}% on the {days} days before ({before}).",
                if change >= 0.0 { "+" } else { "−" },
                change.abs()
            )
        }
    });

    let top: Vec<_> = current
        .by_category
        .iter()
        .filter(|c| c.key != "-")
        .take(TOP_CATEGORIES)
        .collect();
    if !top.is_empty() {
        let mix: Vec<String> = top
            .iter()
            .map(|c| format!("{} {:.1}%", name(&c.key), pct(c.count, current.total)))
            .collect();
        out.push(if zh {
            format!("按类别：{}。", mix.join("，"))
        } else {
            format!("By category: {}.", mix.join(", "))
        });
    }

    let resolved = current.resolution.count;
    let per: Vec<String> = top
        .iter()
        .filter_map(|c| current.categories.iter().find(|k| k.name == c.key))
        .map(|k| {
            let (n, r) = (thousands(k.resolved), pct(k.resolved, k.received));
            if zh {
                format!("{} {n} 件（{r:.1}%）", name(&k.name))
            } else {
                format!(
                    "{} {n} of {} ({r:.1}%)",
                    name(&k.name),
                    thousands(k.received)
                )
            }
        })
        .collect();
    let all = pct(resolved, current.total);
    out.push(match (zh, per.is_empty()) {
        (true, true) => format!("已解决 {} 件（{all:.1}%）。", thousands(resolved)),
        (true, false) => format!(
            "已解决 {} 件（{all:.1}%），其中{}。",
            thousands(resolved),
            per.join("，")
        ),
        (false, true) => format!("{} resolved ({all:.1}%).", thousands(resolved)),
        (false, false) => format!(
            "{} resolved ({all:.1}%): {}.",
            thousands(resolved),
            per.join("; ")
        ),
    });

    let fr = current.first_response.compliance_pct;
    let res = current.resolution.compliance_pct;
    if fr.is_some() || res.is_some() {
        let v = |p: Option<f64>| p.map_or_else(|| "—".to_owned(), |p| format!("{p:.1}%"));
        let median = current
            .resolution
            .p50_minutes
            .map(|m| (m / 6.0).round() / 10.0);
        out.push(match (zh, median) {
            (true, Some(h)) => format!(
                "首次响应达标率 {}，按时解决率 {}（解决用时中位数 {h:.1} 小时）。",
                v(fr),
                v(res)
            ),
            (true, None) => format!("首次响应达标率 {}，按时解决率 {}。", v(fr), v(res)),
            (false, Some(h)) => format!(
                "First responses in time: {}; resolutions in time: {} (median {h:.1} h).",
                v(fr),
                v(res)
            ),
            (false, None) => format!(
                "First responses in time: {}; resolutions in time: {}.",
                v(fr),
                v(res)
            ),
        });
    }

    let s = &current.satisfaction;
    if let (Some(csat), Some(avg)) = (s.csat_pct, s.average_stars) {
        let answered = thousands(s.answered);
        out.push(if zh {
            format!("{answered} 份评价中 {csat:.1}% 为 4-5 星（平均 {avg:.1} 星）。")
        } else {
            format!("{csat:.1}% of {answered} ratings gave 4-5 stars (average {avg:.1}).")
        });
    }

    let open: usize = current.backlog.iter().map(|b| b.count).sum();
    let old: usize = current
        .backlog
        .iter()
        .filter(|b| matches!(b.key.as_str(), "7-30d" | ">30d"))
        .map(|b| b.count)
        .sum();
    out.push(if zh {
        format!(
            "仍未解决 {} 件，其中超过 7 天的 {} 件。",
            thousands(open),
            thousands(old)
        )
    } else {
        format!(
            "{} still open, {} of them older than 7 days.",
            thousands(open),
            thousands(old)
        )
    });

    if let Some(worst) = current
        .overdue
        .stages
        .iter()
        .filter(|s| s.share_pct.is_some_and(|p| p > 0.0))
        .max_by(|a, b| a.total_hours.total_cmp(&b.total_hours))
    {
        let share = worst.share_pct.unwrap_or(0.0);
        out.push(if zh {
            let stage = match worst.stage.as_str() {
                "assignment" => "分派",
                "acceptance" => "受理",
                "investigation" => "调查处理",
                "approval" => "审批",
                _ => "方案到解决",
            };
            format!(
                "{} 件工单超过解决时限，耗时最多的环节是{stage}（{share:.1}%）。",
                thousands(current.overdue.tickets)
            )
        } else {
            format!(
                "{} tickets ran past their resolution target; most of their time went to {} ({share:.1}%).",
                thousands(current.overdue.tickets),
                worst.stage
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::Status;
    use crate::report::{Row, compute};

    fn row(category: &str, resolved: bool) -> Row {
        let created = Utc
            .with_ymd_and_hms(2026, 10, 5, 8, 0, 0)
            .single()
            .unwrap_or_default();
        Row {
            channel: "web".into(),
            category: Some(category.into()),
            region: None,
            department: None,
            agent: None,
            status: if resolved {
                Status::Resolved
            } else {
                Status::Received
            },
            created_at: created,
            first_response_at: None,
            first_response_breached: false,
            resolved_at: resolved.then(|| created + chrono::Duration::hours(3)),
            resolution_breached: false,
            stars: None,
            appeals: 0,
            appeals_upheld: 0,
            appeals_revised: 0,
            customer_replies: 0,
            reopened: false,
            assigned_at: None,
            accepted_at: None,
            proposed_at: None,
            needs_approval: false,
            decided_at: None,
            resolution_due_at: None,
        }
    }

    fn day(m: u32, d: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, m, d, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// MISSION §6's example in small: 20 new items (+25% on 16), product 40%, logistics 30%;
    /// 6 of the 8 product items solved (75%).
    fn reports() -> (Report, Report) {
        let mut rows = Vec::new();
        rows.extend((0..8).map(|i| row("product_quality", i < 6)));
        rows.extend((0..6).map(|i| row("logistics", i < 3)));
        rows.extend((0..6).map(|_| row("payment", false)));
        let mut old: Vec<Row> = (0..16).map(|_| row("payment", true)).collect();
        for r in &mut old {
            r.created_at = day(7, 10);
        }
        let now = day(12, 2);
        (
            compute(&rows, day(10, 1), day(12, 1), now),
            compute(&old, day(8, 1), day(10, 1), now),
        )
    }

    fn names(code: &str) -> String {
        match code {
            "product_quality" => "商品质量".into(),
            "logistics" => "物流配送".into(),
            other => other.into(),
        }
    }

    #[test]
    fn the_sentences_of_mission_6_in_english() {
        let (cur, prev) = reports();
        let lines = summary(&cur, &prev, Lang::En, &|c| c.to_owned());
        assert_eq!(
            lines[0],
            "20 new items from 2026-10-01 to 2026-11-30, +25.0% on the 61 days before (16)."
        );
        assert_eq!(
            lines[1],
            "By category: product_quality 40.0%, logistics 30.0%, payment 30.0%."
        );
        assert_eq!(
            lines[2],
            "9 resolved (45.0%): product_quality 6 of 8 (75.0%); logistics 3 of 6 (50.0%); payment 0 of 6 (0.0%)."
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "11 still open, 11 of them older than 7 days.")
        );
    }

    #[test]
    fn the_same_in_chinese_with_category_names() {
        let (cur, prev) = reports();
        let lines = summary(&cur, &prev, Lang::Zh, &names);
        assert_eq!(
            lines[0],
            "2026-10-01 至 2026-11-30 新增 20 件，较此前 61 天（16 件）增长 25.0%。"
        );
        assert_eq!(
            lines[1],
            "按类别：商品质量 40.0%，物流配送 30.0%，payment 30.0%。"
        );
        assert!(lines[2].starts_with("已解决 9 件（45.0%），其中商品质量 6 件（75.0%）"));
    }

    #[test]
    fn a_fall_and_an_empty_past_are_said_plainly() {
        let (cur, prev) = reports();
        let lines = summary(&prev, &cur, Lang::En, &|c| c.to_owned());
        assert!(
            lines[0].contains("−20.0% on the 61 days before (20)"),
            "{}",
            lines[0]
        );
        let empty = compute(&[], day(6, 1), day(8, 1), day(12, 2));
        let lines = summary(&prev, &empty, Lang::Zh, &names);
        assert!(lines[0].ends_with("此前 61 天没有登记。"), "{}", lines[0]);
    }

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_250), "1,250");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
