//! The erasure worker: carries out requests to erase a person's data within
//! `privacy.erasure_hours`, alerts administrators about any that are late, and anonymises
//! closed tickets `privacy.retention_months` after closing.
//!
//! Every instance runs it; the store's lease hands each request to one. The database part is
//! one transaction. Attachment files are removed before it (those attached then), so a crash
//! there is repaired by the next claim once the lease runs out; removing a file twice is
//! harmless. Files attached meanwhile and quarantined mail are removed after it: a crash in
//! that moment leaves them on disk (logged). Search indexes re-read the tickets from the feed
//! and then purge the old text from their files (`search::follow`).

use std::time::Duration;

use crate::AppState;

/// How long a claimed request is left to one worker before another may take it over.
const LEASE_MINUTES: i64 = 10;

pub async fn run(state: AppState) {
    let every = Duration::from_millis(state.config.privacy.erasure_poll_ms);
    loop {
        match pass(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(requests = n, "personal data erased"),
            Err(error) => tracing::warn!(%error, "erasure pass failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Works every claimable request, then reports overdue ones; how many were completed.
pub async fn pass(state: &AppState) -> Result<usize, closedloop_store::StoreError> {
    let dir = state.config.attachments_dir();
    let mut done = 0;
    while let Some(work) = state
        .store
        .claim_erasure(chrono::Duration::minutes(LEASE_MINUTES))
        .await?
    {
        let id = work.request.id;
        if let Err(error) = remove_files(&dir, &work.files).await {
            // Left claimed: retried when the lease ends, and alerted if that is too late.
            tracing::error!(request = id, %error, "cannot remove an erased person's files");
            continue;
        }
        // Known before the account is renamed: quarantined mail is matched by it below.
        let email = state
            .store
            .principal(work.request.user_id)
            .await?
            .map(|p| p.email);
        let erased = state.store.complete_erasure(id).await?;
        // The person's tokens are gone from the database; this instance forgets them now,
        // others within the cache's few seconds.
        state.tokens.forget();
        if let Err(error) = remove_files(&dir, &erased.attachments).await {
            tracing::error!(request = id, %error, "cannot remove an erased person's files");
        }
        if let Err(error) = remove_quarantined(state, &erased.quarantined_mail, email).await {
            tracing::error!(request = id, %error, "cannot remove an erased person's quarantined mail");
        }
        tracing::info!(
            request = id,
            user = work.request.user_id,
            "erasure completed"
        );
        done += 1;
    }
    retention(state).await?;
    for late in state.store.overdue_erasures().await? {
        tracing::error!(
            request = late.id,
            user = late.user_id,
            due = %late.due_at,
            "erasure request overdue; administrators notified"
        );
    }
    Ok(done)
}

/// Tickets anonymised per transaction: each batch is short, so the writer is not held long.
const RETENTION_BATCH: i64 = 200;

/// Anonymises every ticket closed longer ago than the retention period, a batch at a time.
/// Once a day (of all instances, the one that claims the day runs it): every run makes each
/// search index rewrite the segments that held the tickets, which is worth doing in bulk.
async fn retention(state: &AppState) -> Result<(), closedloop_store::StoreError> {
    let months = state.config.privacy.retention_months;
    if months == 0
        || !state
            .store
            .claim_run("privacy_retention_last_run", chrono::Duration::hours(24))
            .await?
    {
        return Ok(());
    }
    let now = state.clock.now();
    let before = now
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(now);
    let dir = state.config.attachments_dir();
    loop {
        let (n, files) = state
            .store
            .anonymise_closed(before, RETENTION_BATCH)
            .await?;
        if let Err(error) = remove_files(&dir, &files).await {
            tracing::error!(%error, "cannot remove the files of anonymised tickets");
        }
        if n > 0 {
            tracing::info!(tickets = n, months, "closed tickets anonymised");
        }
        if (n as i64) < RETENTION_BATCH {
            return Ok(());
        }
    }
}

/// Deletes the person's quarantined mail: what the store linked to their address, and any
/// other kept message that names it (one too large or broken to read has no sender on record).
async fn remove_quarantined(
    state: &AppState,
    linked: &[String],
    email: Option<String>,
) -> Result<(), closedloop_store::StoreError> {
    let dir = crate::mail_intake::quarantine_dir(&state.config.data_dir);
    let mut digests: Vec<String> = linked.to_vec();
    if let Some(email) = email.map(|e| e.to_ascii_lowercase())
        && let Ok(entries) = std::fs::read_dir(&dir)
    {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(digest) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".eml"))
            else {
                continue;
            };
            let names_them = std::fs::read(&path).is_ok_and(|raw| {
                raw.to_ascii_lowercase()
                    .windows(email.len())
                    .any(|w| w == email.as_bytes())
            });
            if names_them {
                digests.push(digest.to_owned());
            }
        }
    }
    for digest in digests {
        state
            .store
            .forget_quarantined(&format!("sha256:{digest}"))
            .await?;
        match std::fs::remove_file(dir.join(format!("{digest}.eml"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::error!(error = %e, "cannot remove quarantined mail");
            }
            _ => {}
        }
    }
    Ok(())
}

async fn remove_files(dir: &std::path::Path, files: &[String]) -> std::io::Result<()> {
    for sha256 in files {
        crate::attachments::remove(dir, sha256).await?;
    }
    Ok(())
}
