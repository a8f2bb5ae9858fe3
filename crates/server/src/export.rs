//! A person's data as one archive (MISSION §7): their profile and preferences, every ticket of
//! theirs with the messages they can see, the files attached to it and their survey answer,
//! and the messages the portal showed them. What goes in is what the person may see: the
//! tickets are read in their own scope, so staff notes and triage stay out.

use std::io::Write;

use closedloop_domain::Role;
use closedloop_store::{Cursor, Principal, StoreError, TicketFilter};
use serde::Serialize;
use zip::write::SimpleFileOptions;

use crate::AppState;
use crate::error::ApiError;

/// How many tickets are read per page.
const PAGE: u32 = 200;

/// The archive's bytes (a ZIP file).
pub async fn archive(state: &AppState, user_id: i64) -> Result<Vec<u8>, ApiError> {
    let person = state
        .store
        .principal(user_id)
        .await?
        .ok_or_else(|| ApiError::from(StoreError::NotFound("user")))?;
    if person.role != Role::Customer {
        return Err(ApiError::invalid(
            "user_id",
            "staff_account",
            "exports are of customers' own data; staff work is the organisation's record",
        ));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    files.push(("profile.json".into(), json(&Profile::of(&person))));
    let preferences = state.store.preferences(user_id).await?;
    files.push(("preferences.json".into(), json(&preferences)));
    let messages = state.store.customer_messages(user_id, u32::MAX).await?;
    files.push(("portal-messages.json".into(), json(&messages)));

    let dir = state.config.attachments_dir();
    let mut filter = TicketFilter {
        limit: PAGE,
        from_primary: true,
        ..TicketFilter::default()
    };
    let mut tickets = 0usize;
    loop {
        let page = state.store.list_tickets(&person, &filter).await?;
        for ticket in &page.items {
            tickets += 1;
            let at = format!("tickets/{}", ticket.number.as_str());
            files.push((format!("{at}/ticket.json"), json(ticket)));
            let timeline = state.store.public_timeline(ticket.id).await?;
            files.push((format!("{at}/messages.json"), json(&timeline)));
            if let Some(survey) = state.store.survey(&person, &ticket.number).await? {
                files.push((format!("{at}/survey.json"), json(&survey)));
            }
            for a in state.store.attachments(ticket.id).await? {
                let Some(path) = crate::attachments::path_of(&dir, &a.sha256) else {
                    continue;
                };
                match tokio::fs::read(&path).await {
                    Ok(bytes) => files.push((
                        format!("{at}/attachments/{}-{}", a.id, safe_name(&a.filename)),
                        bytes,
                    )),
                    Err(error) => {
                        tracing::error!(%error, attachment = a.id, "attachment missing on disk")
                    }
                }
            }
        }
        match page.next_cursor.as_deref().and_then(Cursor::decode) {
            Some(next) => filter.cursor = Some(next),
            None => break,
        }
    }
    files.insert(
        0,
        ("README.txt".into(), readme(&person, tickets).into_bytes()),
    );
    tokio::task::spawn_blocking(move || zip(files))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|error| {
            tracing::error!(%error, "cannot write an export archive");
            ApiError::internal()
        })
}

fn zip(files: Vec<(String, Vec<u8>)>) -> zip::result::ZipResult<Vec<u8>> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        out.start_file(name, options)?;
        out.write_all(&bytes)?;
    }
    Ok(out.finish()?.into_inner())
}

/// A file name kept to what every unzip tool accepts.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_start_matches('.').chars().take(100).collect()
}

fn readme(person: &Principal, tickets: usize) -> String {
    format!(
        "Closedloop: the data we hold about {email}\n\
         \n\
         profile.json          your account\n\
         preferences.json      how you asked to be notified\n\
         portal-messages.json  the messages the portal showed you\n\
         tickets/<number>/     each of your {tickets} tickets: ticket.json, messages.json (the\n\
         \x20                     conversation), survey.json (your rating) and attachments/\n\
         \n\
         您的账户、通知偏好、门户消息，以及每张工单（内容、往来消息、满意度评价与附件）。\n",
        email = person.email
    )
}

#[derive(Serialize)]
struct Profile<'a> {
    id: i64,
    email: &'a str,
    name: &'a str,
    lang: Option<String>,
    time_zone: Option<&'a str>,
}

impl<'a> Profile<'a> {
    fn of(p: &'a Principal) -> Self {
        Profile {
            id: p.user_id,
            email: &p.email,
            name: &p.name,
            lang: p.lang.map(|l| l.to_string()),
            time_zone: p.time_zone.as_deref(),
        }
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}
