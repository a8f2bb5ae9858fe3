//! `closedloop import FILE`: historical feedback from CSV or JSON Lines.
//!
//! Every record is checked as the API would check it; a bad record is reported with its line
//! number and reason and the rest still go in. Records are written a batch at a time, each batch
//! one transaction, and each record is keyed (its `id` column, else a digest of its content), so
//! running the same file again — after a crash, or by mistake — creates nothing twice.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use closedloop_domain::{
    Category, Channel, Description, ImpactScope, Nature, Priority, Severity, Status, TextField,
    Title,
};
use closedloop_store::{BulkOutcome, BulkTicket, SqlStore, Store};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::progress::Progress;
use crate::{CliError, CliResult};

const BATCH: usize = 1_000;

/// One record as it appears in the file; every column but `description` is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    id: Option<String>,
    created_at: Option<String>,
    resolved_at: Option<String>,
    channel: Option<String>,
    title: Option<String>,
    description: Option<String>,
    requester_email: Option<String>,
    category: Option<String>,
    nature: Option<String>,
    priority: Option<String>,
    severity: Option<String>,
    impact_scope: Option<String>,
    department: Option<String>,
    status: Option<String>,
    order_number: Option<String>,
    region: Option<String>,
}

/// What the import needs to know about this installation to check a record.
struct Catalogue {
    /// Category → (handling department, nature).
    categories: HashMap<String, (String, Nature)>,
    departments: Vec<String>,
    default_channel: Channel,
    now: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub outcome: BulkOutcome,
    pub rejected: Vec<(u64, String)>,
}

pub async fn run(store: &SqlStore, path: &Path, default_channel: Channel) -> CliResult<Report> {
    let catalogue = Catalogue {
        categories: store
            .list_categories()
            .await?
            .into_iter()
            .map(|c| (c.code, (c.handling_department, c.nature)))
            .collect(),
        departments: store
            .list_departments()
            .await?
            .into_iter()
            .map(|d| d.code)
            .collect(),
        default_channel,
        now: Utc::now(),
    };
    let file = File::open(path).map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut progress = Progress::new("importing (bytes)", size);
    let mut report = Report::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut read = 0u64;
    for (line, record, offset) in records(path, file)? {
        progress.inc(offset.saturating_sub(read));
        read = offset;
        match record.and_then(|r| check(&r, &catalogue)) {
            Ok(t) => batch.push(t),
            Err(reason) => report.rejected.push((line, reason)),
        }
        if batch.len() == BATCH {
            add(&mut report.outcome, store.bulk_insert(&batch).await?);
            batch.clear();
        }
    }
    if !batch.is_empty() {
        add(&mut report.outcome, store.bulk_insert(&batch).await?);
    }
    progress.inc(size.saturating_sub(read));
    progress.finish();
    Ok(report)
}

fn add(total: &mut BulkOutcome, batch: BulkOutcome) {
    total.inserted += batch.inserted;
    total.skipped += batch.skipped;
}

type Item = (u64, Result<Record, String>, u64);

/// Records with the line they start on and the byte offset after them, for CSV (by extension
/// `.csv`) or JSON Lines (anything else whose first character is `{`).
fn records(path: &Path, file: File) -> CliResult<Box<dyn Iterator<Item = Item>>> {
    let mut reader = BufReader::new(file);
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let headers = csv
            .headers()
            .map_err(|e| CliError(format!("line 1: {e}")))?
            .clone();
        // Checked up front: a misspelt column would otherwise reject every row the same way.
        for h in &headers {
            if !RECORD_FIELDS.contains(&h.trim()) {
                return Err(CliError(format!(
                    "line 1: unknown column {h:?}; columns are {}",
                    RECORD_FIELDS.join(", ")
                )));
            }
        }
        if !headers.iter().any(|h| h.trim() == "description") {
            return Err(CliError(
                "line 1: the column description is required".into(),
            ));
        }
        let headers: Vec<String> = headers.iter().map(|h| h.trim().to_owned()).collect();
        let mut row = csv::StringRecord::new();
        let iter = std::iter::from_fn(move || {
            let line = csv.position().line();
            match csv.read_record(&mut row) {
                Ok(false) => None,
                Ok(true) => {
                    let fields: BTreeMap<&str, &str> = headers
                        .iter()
                        .map(String::as_str)
                        .zip(row.iter())
                        .filter(|(_, v)| !v.trim().is_empty())
                        .collect();
                    let record = serde_json::to_value(&fields)
                        .and_then(serde_json::from_value)
                        .map_err(|e| e.to_string());
                    Some((line, record, csv.position().byte()))
                }
                Err(e) => Some((line, Err(e.to_string()), csv.position().byte())),
            }
        });
        return Ok(Box::new(iter));
    }
    let peeked = reader.fill_buf().map(|b| b.first().copied());
    match peeked {
        Ok(Some(b'{')) | Ok(None) => {}
        Ok(Some(_)) => {
            return Err(CliError(format!(
                "{}: not CSV (by its .csv extension) nor JSON Lines (one object a line)",
                path.display()
            )));
        }
        Err(e) => return Err(CliError(format!("{}: {e}", path.display()))),
    }
    let mut line_no = 0u64;
    let mut offset = 0u64;
    let iter = std::iter::from_fn(move || {
        loop {
            let mut buf = Vec::new();
            let n = reader.read_until(b'\n', &mut buf).ok()?;
            if n == 0 {
                return None;
            }
            line_no += 1;
            offset += n as u64;
            let text = String::from_utf8_lossy(&buf);
            if text.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str::<Record>(text.trim()).map_err(|e| e.to_string());
            return Some((line_no, record, offset));
        }
    });
    Ok(Box::new(iter))
}

const RECORD_FIELDS: [&str; 16] = [
    "id",
    "created_at",
    "resolved_at",
    "channel",
    "title",
    "description",
    "requester_email",
    "category",
    "nature",
    "priority",
    "severity",
    "impact_scope",
    "department",
    "status",
    "order_number",
    "region",
];

/// A record as a ticket, or the reason it cannot be one (naming the field).
fn check(r: &Record, c: &Catalogue) -> Result<BulkTicket, String> {
    fn parse<T: std::str::FromStr<Err = closedloop_domain::DomainError>>(
        v: Option<&str>,
    ) -> Result<Option<T>, String> {
        v.map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|e| format!("{}: {}", e.field, e.message))
        })
        .transpose()
    }
    let description = Description::parse(r.description.as_deref().unwrap_or_default())
        .map_err(|e| format!("description: {}", e.message))?;
    let title = match r.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Title::parse(t).map_err(|e| format!("title: {}", e.message))?,
        None => Title::from_description(description.as_str()),
    };
    let category = r
        .category
        .as_deref()
        .map(|v| Category::parse("category", v.trim()))
        .transpose()
        .map_err(|e| format!("category: {}", e.message))?;
    let routed = match &category {
        Some(cat) => Some(
            c.categories
                .get(cat.as_str())
                .ok_or_else(|| format!("category: no category {cat}"))?,
        ),
        None => None,
    };
    let department = match r.department.as_deref().map(str::trim) {
        Some(d) if !c.departments.iter().any(|k| k == d) => {
            return Err(format!("department: no department with code {d}"));
        }
        Some(d) => Some(d.to_owned()),
        None => routed.map(|(d, _)| d.clone()),
    };
    let created_at = match r.created_at.as_deref() {
        Some(t) => time("created_at", t)?,
        None => c.now,
    };
    if created_at > c.now {
        return Err("created_at: is in the future".into());
    }
    let resolved_at = r
        .resolved_at
        .as_deref()
        .map(|t| time("resolved_at", t))
        .transpose()?;
    if resolved_at.is_some_and(|r| r < created_at) {
        return Err("resolved_at: is before created_at".into());
    }
    let email = r
        .requester_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if let Some(e) = email
        && !looks_like_email(e)
    {
        return Err(format!("requester_email: {e:?} is not an e-mail address"));
    }
    let key = match r.id.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        Some(id) => format!("id:{id}"),
        None => {
            let mut h = Sha256::new();
            for part in [
                r.created_at.as_deref(),
                r.channel.as_deref(),
                r.title.as_deref(),
                Some(description.as_str()),
                email,
                r.order_number.as_deref(),
            ] {
                h.update(part.unwrap_or_default().as_bytes());
                h.update([0]);
            }
            format!("sha256:{:x}", h.finalize())
        }
    };
    Ok(BulkTicket {
        channel: parse::<Channel>(r.channel.as_deref())?.unwrap_or(c.default_channel),
        title: title.into_string(),
        description: description.as_str().to_owned(),
        nature: parse::<Nature>(r.nature.as_deref())?.or(routed.map(|(_, n)| *n)),
        category: category.map(|c| c.as_str().to_owned()),
        priority: parse::<Priority>(r.priority.as_deref())?.unwrap_or(Priority::P3),
        severity: parse::<Severity>(r.severity.as_deref())?.unwrap_or(Severity::General),
        impact_scope: parse::<ImpactScope>(r.impact_scope.as_deref())?
            .unwrap_or(ImpactScope::OneUser),
        department: department.or(Some(
            closedloop_domain::RoutingMatrix::FALLBACK_DEPARTMENT.to_owned(),
        )),
        status: parse::<Status>(r.status.as_deref())?.unwrap_or(Status::Received),
        requester_email: email.map(str::to_lowercase),
        order_number: text("order_number", r.order_number.as_deref(), 64)?,
        region: text("region", r.region.as_deref(), 100)?,
        created_at,
        resolved_at,
        import_key: Some(key),
    })
}

fn text(field: &'static str, v: Option<&str>, max: usize) -> Result<Option<String>, String> {
    TextField::parse_optional(field, v, max)
        .map(|t| t.map(TextField::into_string))
        .map_err(|e| format!("{field}: {}", e.message))
}

/// RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DD` taken as UTC.
pub fn time(field: &str, v: &str) -> Result<DateTime<Utc>, String> {
    let v = v.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!(
        "{field}: {v:?} is not a time (use RFC 3339, e.g. 2026-03-01T09:30:00+08:00)"
    ))
}

fn looks_like_email(e: &str) -> bool {
    let mut parts = e.splitn(2, '@');
    matches!((parts.next(), parts.next()), (Some(l), Some(d)) if !l.is_empty() && d.contains('.') && !e.contains(char::is_whitespace))
}
