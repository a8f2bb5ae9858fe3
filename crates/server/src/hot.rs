//! Hot issues (MISSION §6): a background pass reads every ticket's keywords and sentiment
//! once (migration 0013), and the analysis groups the recent ones into clusters.

use closedloop_store::{PendingTerms, Terms};
use closedloop_triage::TicketText;

use crate::AppState;
use crate::error::ApiResult;

/// Tickets read per transaction.
const BATCH: u32 = 200;
/// Pause between passes once caught up.
const IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads one batch of tickets not read yet; returns how many. Several instances may read the
/// same batch: the store keeps the first answer, which is the same as the second.
pub async fn read_batch(state: &AppState) -> ApiResult<usize> {
    let pending = state.store.pending_terms(BATCH).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let engine = state.triage.current();
    let terms = tokio::task::spawn_blocking(move || read(&engine, pending))
        .await
        .map_err(|error| {
            tracing::error!(%error, "reading tickets' keywords panicked");
            crate::error::ApiError::internal()
        })?;
    state.store.save_terms(&terms).await?;
    Ok(terms.len())
}

fn read(engine: &closedloop_triage::Triage, pending: Vec<PendingTerms>) -> Vec<Terms> {
    pending
        .into_iter()
        .map(|p| {
            let (keywords, sentiment) = engine.terms(TicketText {
                title: Some(&p.title),
                description: &p.description,
            });
            Terms {
                id: p.id,
                keywords: keywords
                    .into_iter()
                    .filter(|k| !k.contains(char::is_whitespace))
                    .collect(),
                sentiment_milli: (sentiment.clamp(-1.0, 1.0) * 1000.0).round() as i64,
                title: p.title,
                description: p.description,
            }
        })
        .collect()
}

/// Catches up before a report is drawn, so it includes what was filed a second ago. Bounded:
/// after a large import the background pass does the rest.
pub async fn catch_up(state: &AppState) -> ApiResult<()> {
    for _ in 0..10 {
        if read_batch(state).await? < BATCH as usize {
            break;
        }
    }
    Ok(())
}

/// The background pass, on every instance.
pub async fn follow(state: AppState) {
    loop {
        match read_batch(&state).await {
            Ok(n) if n == BATCH as usize => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %error.message, "reading tickets' keywords failed")
            }
        }
        tokio::time::sleep(IDLE).await;
    }
}

/// Weeks of history the forecast learns from.
const FORECAST_HISTORY_WEEKS: u32 = 26;

/// Hot issues as of now within the actor's scope (supervisors: their departments; admins: all).
pub async fn report(
    state: &AppState,
    actor: &closedloop_store::Principal,
) -> ApiResult<closedloop_domain::hot::Hot> {
    use closedloop_domain::hot;
    crate::http::reports::may_read(actor)?;
    catch_up(state).await?;
    let now = closedloop_store::Clock::now(state.clock.as_ref());
    let week = chrono::Duration::days(7);
    let docs = state
        .store
        .hot_docs(actor, now - week * (hot::HISTORY_WEEKS as i32 + 1), now)
        .await?;
    let mut series = state
        .store
        .weekly_counts(
            actor,
            now - week * FORECAST_HISTORY_WEEKS as i32,
            FORECAST_HISTORY_WEEKS,
        )
        .await?;
    // Weeks before a category's first ticket are not a history of zero complaints.
    for s in &mut series {
        let first = s.weeks.iter().position(|w| *w > 0).unwrap_or(s.weeks.len());
        s.weeks.drain(..first);
    }
    tokio::task::spawn_blocking(move || hot::analyse(&docs, &series, now))
        .await
        .map_err(|error| {
            tracing::error!(%error, "hot-issue analysis panicked");
            crate::error::ApiError::internal()
        })
}
