//! This instance's search index and the work that keeps it in step with the database.
//!
//! The index is a cache: every instance (on one database) keeps its own, follows the
//! database's change feed (the timeline) every `search_poll_ms`, and before answering a search
//! catches up with whatever the feed holds at that moment, so a search made right after a
//! change — on this instance or another — sees it. A crash loses nothing: the index records
//! with each commit how far into the feed it is, and resumes there. An index that is missing,
//! of another version or empty while the database is not is rebuilt from the tickets directly
//! (`closedloop search reindex` does the same by hand).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use closedloop_domain::Role;
use closedloop_search::{Cursor, Doc, Scope, SearchIndex, Watermarks};
use closedloop_store::{ArticleDocument, Principal, Store, TicketDocument};
use tokio::sync::Mutex;

use crate::{AppState, Config};

/// Feed entries read per pass.
const FEED_BATCH: u32 = 2_000;
/// Tickets read per step of a rebuild.
const REBUILD_BATCH: u32 = 1_000;
/// Feed entries read again after a rebuild (those that may have committed during it).
const REBUILD_LOOKBACK: i64 = 10_000;
/// How long a skipped feed id may still commit (longer than any write transaction).
const GAP_PATIENCE_MS: i64 = 60_000;
/// A search waits at most this long for the index to catch up, then answers from what it has.
const FRESHNESS_WAIT: Duration = Duration::from_millis(1_500);

#[derive(Debug, thiserror::Error)]
pub enum SearchFailure {
    #[error(transparent)]
    Store(#[from] closedloop_store::StoreError),
    #[error(transparent)]
    Index(#[from] closedloop_search::SearchError),
    #[error("search indexing task failed: {0}")]
    Task(String),
}

/// Where the index stands in the two feeds: tickets (the timeline) and articles (their
/// revisions).
#[derive(Debug, Clone)]
struct Cursors {
    tickets: Cursor,
    articles: Cursor,
}

impl Cursors {
    fn at(marks: Watermarks) -> Self {
        Self {
            tickets: Cursor::at(marks.tickets),
            articles: Cursor::at(marks.articles),
        }
    }

    fn watermarks(&self) -> Watermarks {
        Watermarks {
            tickets: self.tickets.watermark(),
            articles: self.articles.watermark(),
        }
    }
}

pub struct Search {
    index: Arc<SearchIndex>,
    /// Held for a pass or a rebuild: one writer of the index at a time.
    cursor: Mutex<Cursors>,
    poll: Duration,
}

impl Search {
    pub fn open(config: &Config, nlp: Arc<closedloop_triage::Nlp>) -> Result<Search, String> {
        let root = config.search_dir();
        let index = SearchIndex::open(&root, nlp)
            .map_err(|e| format!("{e} (set search_dir to a directory of this instance's own)"))?;
        Ok(Search::with_index(index, config))
    }

    pub fn with_index(index: SearchIndex, config: &Config) -> Search {
        Search {
            cursor: Mutex::new(Cursors::at(index.watermarks())),
            index: Arc::new(index),
            poll: Duration::from_millis(config.search_poll_ms),
        }
    }

    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// Reads the feed until it is exhausted; how many tickets were (re)indexed.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<usize, SearchFailure> {
        let mut cursor = self.cursor.lock().await;
        let mut total = 0;
        loop {
            let (indexed, more) = self.pass(store, &mut cursor).await?;
            total += indexed;
            if !more {
                return Ok(total);
            }
        }
    }

    /// Catches up when the feed has moved since the last pass, waiting at most
    /// [`FRESHNESS_WAIT`] (also for a pass or a rebuild already running); past that, or on an
    /// error, the search answers from what is indexed. The catch-up runs as a task of its own,
    /// so a search that stops waiting never cuts a write to the index in half.
    pub async fn refresh(self: &Arc<Self>, store: Arc<dyn Store>) {
        let search = self.clone();
        let task = tokio::spawn(async move {
            let tickets = store.search_feed_head().await?;
            let articles = store.article_feed_head().await?;
            {
                let cursor = search.cursor.lock().await;
                if cursor.tickets.head() >= tickets && cursor.articles.head() >= articles {
                    return Ok(0);
                }
            }
            search.catch_up(store.as_ref()).await
        });
        match tokio::time::timeout(FRESHNESS_WAIT, task).await {
            Ok(Ok(Err(error))) => tracing::warn!(%error, "search index catch-up failed"),
            Ok(Err(error)) => tracing::warn!(%error, "search index catch-up task failed"),
            Err(_) => tracing::info!("search index is catching up; answering from what it has"),
            Ok(Ok(Ok(_))) => {}
        }
    }

    async fn pass(
        &self,
        store: &dyn Store,
        cursor: &mut Cursors,
    ) -> Result<(usize, bool), SearchFailure> {
        let now = chrono::Utc::now().timestamp_millis();
        let before = cursor.watermarks();
        // Work on a copy: the cursors move only once the documents are committed.
        let mut next = cursor.clone();
        let (tickets, more_tickets) = read_feed(
            &mut next.tickets,
            now,
            store.search_feed(cursor.tickets.head(), FEED_BATCH),
            |gaps| async move { store.search_feed_at(&gaps).await },
        )
        .await?;
        let (articles, more_articles) = read_feed(
            &mut next.articles,
            now,
            store.article_feed(cursor.articles.head(), FEED_BATCH),
            |gaps| async move { store.article_feed_at(&gaps).await },
        )
        .await?;
        let tickets = store.ticket_documents(&tickets).await?;
        let articles = store.article_documents(&articles).await?;
        if tickets.is_empty() && articles.is_empty() && next.watermarks() == before {
            *cursor = next;
            return Ok((0, false));
        }
        let indexed = tickets.len() + articles.len();
        self.write(tickets, articles, next.watermarks()).await?;
        *cursor = next;
        Ok((indexed, more_tickets || more_articles))
    }

    /// Puts and commits on a blocking thread: analysing text is CPU work.
    async fn write(
        &self,
        tickets: Vec<TicketDocument>,
        articles: Vec<ArticleDocument>,
        marks: Watermarks,
    ) -> Result<(), SearchFailure> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || {
            let docs: Vec<Doc<'_>> = tickets
                .iter()
                .map(Doc::Ticket)
                .chain(articles.iter().map(Doc::Article))
                .collect();
            index.put(&docs)?;
            index.commit(marks)
        })
        .await
        .map_err(|e| SearchFailure::Task(e.to_string()))??;
        Ok(())
    }

    /// Empties the index and indexes every ticket again, reporting (done, total) as it goes;
    /// changes made meanwhile are picked up from the feed afterwards.
    pub async fn rebuild(
        &self,
        store: &dyn Store,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, SearchFailure> {
        let mut cursor = self.cursor.lock().await;
        // Everything up to here is covered by reading the tickets themselves.
        let head = store.search_feed_head().await?;
        let total = store.count_tickets().await?.max(0) as u64;
        {
            let index = self.index.clone();
            tokio::task::spawn_blocking(move || {
                index.clear()?;
                // Until the rebuild ends, a restart must start from the beginning.
                index.commit(Watermarks::default())
            })
            .await
            .map_err(|e| SearchFailure::Task(e.to_string()))??;
        }
        let mut done = 0u64;
        let mut after = 0i64;
        loop {
            let docs = store.ticket_documents_after(after, REBUILD_BATCH).await?;
            let Some(last) = docs.last() else { break };
            after = last.id;
            done += docs.len() as u64;
            self.write(docs, Vec::new(), Watermarks::default()).await?;
            progress(done, total.max(done));
        }
        // On PostgreSQL a change with an id below `head` may still have been committing while
        // the tickets were read; the feed is read again from a little before it.
        // Articles are few: the next pass reads their whole feed.
        let resume = Watermarks {
            tickets: head.saturating_sub(REBUILD_LOOKBACK).max(0),
            articles: 0,
        };
        self.write(Vec::new(), Vec::new(), resume).await?;
        *cursor = Cursors::at(resume);
        Ok(done)
    }

    /// Rewrites the index files without the text that erasures replaced (see
    /// [`SearchIndex::purge`]); `erased` is how many erasures that covers.
    pub async fn purge(&self, erased: i64) -> Result<(), SearchFailure> {
        let _writing = self.cursor.lock().await;
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.purge(erased))
            .await
            .map_err(|e| SearchFailure::Task(e.to_string()))??;
        tracing::info!(erased, "search index purged of erased text");
        Ok(())
    }

    /// The scope a principal searches in: the store's rule for tickets, mirrored.
    pub fn scope_of(principal: &Principal) -> Scope {
        match principal.role {
            Role::Admin => Scope::Everything,
            Role::Agent | Role::Supervisor => Scope::Staff {
                user_id: principal.user_id,
                departments: principal.departments.clone(),
            },
            Role::Customer => Scope::Customer {
                user_id: principal.user_id,
            },
        }
    }
}

/// Reads one feed after `cursor`'s head and the gaps it remembers; the ids it names (tickets
/// or articles), and whether a full batch came (more may be waiting).
async fn read_feed<F, G, Fut>(
    cursor: &mut Cursor,
    now: i64,
    fresh: F,
    at: G,
) -> Result<(Vec<i64>, bool), SearchFailure>
where
    F: std::future::Future<Output = closedloop_store::Result<Vec<closedloop_store::FeedChange>>>,
    G: FnOnce(Vec<i64>) -> Fut,
    Fut: std::future::Future<Output = closedloop_store::Result<Vec<closedloop_store::FeedChange>>>,
{
    let fresh = fresh.await?;
    let gaps = cursor.gaps();
    let found = if gaps.is_empty() {
        Vec::new()
    } else {
        at(gaps).await?
    };
    let fresh_seqs: Vec<i64> = fresh.iter().map(|c| c.seq).collect();
    let found_seqs: Vec<i64> = found.iter().map(|c| c.seq).collect();
    cursor.advance(&fresh_seqs, now);
    cursor.fill(&found_seqs, now, GAP_PATIENCE_MS);
    let ids: BTreeSet<i64> = fresh.iter().chain(&found).map(|c| c.ticket_id).collect();
    Ok((
        ids.into_iter().collect(),
        fresh.len() == FEED_BATCH as usize,
    ))
}

/// What the index finds alike `ticket` (its title and the start of its description) among
/// `kind`, within the viewer's scope, best first; empty when the search fails (logged).
async fn alike(
    state: &AppState,
    viewer: &Principal,
    ticket: &closedloop_store::Ticket,
    kind: closedloop_search::Kind,
    statuses: Vec<String>,
    limit: usize,
) -> Vec<closedloop_search::DocKey> {
    state.search.refresh(state.store.clone()).await;
    let text: String = format!("{} {}", ticket.title, ticket.description)
        .chars()
        .take(120)
        .collect();
    let mut q = closedloop_search::SearchQuery::new(text, Search::scope_of(viewer));
    q.kind = Some(kind);
    q.statuses = statuses;
    q.limit = limit + 1;
    q.lenient = true;
    let search = state.search.clone();
    match tokio::task::spawn_blocking(move || search.index().search(&q)).await {
        Ok(Ok(hits)) => hits
            .hits
            .into_iter()
            .map(|h| h.key)
            .filter(|k| *k != closedloop_search::DocKey::Ticket(ticket.id))
            .take(limit)
            .collect(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "related documents: search failed");
            Vec::new()
        }
        Err(error) => {
            tracing::warn!(%error, "related documents: search task failed");
            Vec::new()
        }
    }
}

/// Resolved or closed tickets the viewer may see that read like `ticket`: answers given
/// before, for the workspace.
pub async fn similar_resolved(
    state: &AppState,
    viewer: &Principal,
    ticket: &closedloop_store::Ticket,
    limit: usize,
) -> Vec<closedloop_store::Ticket> {
    let statuses = vec!["resolved".into(), "closed".into()];
    let keys = alike(
        state,
        viewer,
        ticket,
        closedloop_search::Kind::Ticket,
        statuses,
        limit,
    )
    .await;
    let ids: Vec<i64> = keys
        .iter()
        .filter_map(|k| match k {
            closedloop_search::DocKey::Ticket(id) => Some(*id),
            closedloop_search::DocKey::Article(_) => None,
        })
        .collect();
    let mut found = match state.store.tickets_by_id(viewer, &ids).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "similar tickets: cannot read them");
            return Vec::new();
        }
    };
    // In the index's order, best first.
    found.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
    found
}

/// Knowledge-base articles that may answer `ticket`, for the workspace: (id, title).
pub async fn suggested_articles(
    state: &AppState,
    viewer: &Principal,
    ticket: &closedloop_store::Ticket,
    limit: usize,
) -> Vec<(i64, String)> {
    let keys = alike(
        state,
        viewer,
        ticket,
        closedloop_search::Kind::Article,
        Vec::new(),
        limit,
    )
    .await;
    let mut out = Vec::new();
    for key in keys {
        if let closedloop_search::DocKey::Article(id) = key
            && let Ok(a) = state.store.article(Some(viewer), id).await
        {
            out.push((a.id, a.title));
        }
    }
    out
}

/// Follows the feed for as long as the service runs. An index that is empty while the
/// database holds tickets is rebuilt first: reading the tickets is much faster than replaying
/// their history.
pub async fn follow(state: AppState) {
    let search = state.search.clone();
    let store = state.store.as_ref();
    if search.index().is_empty() && search.index().watermarks() == Watermarks::default() {
        match store.count_tickets().await {
            Ok(n) if n > 0 => {
                tracing::info!(tickets = n, "building the search index");
                let started = std::time::Instant::now();
                match search.rebuild(store, |_, _| {}).await {
                    Ok(done) => tracing::info!(
                        tickets = done,
                        seconds = started.elapsed().as_secs_f32(),
                        "search index built"
                    ),
                    Err(error) => tracing::error!(%error, "cannot build the search index"),
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot count tickets for the search index"),
        }
    }
    loop {
        // Read before catching up: the purges counted have their changes in the feed read next.
        let erased = store.purges().await;
        match search.catch_up(store).await {
            Err(error) => tracing::warn!(%error, "search index pass failed"),
            Ok(_) => match erased {
                Ok(n) if n > search.index().erased() => {
                    if let Err(error) = search.purge(n).await {
                        tracing::warn!(%error, "cannot purge erased text from the search index");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot count privacy purges"),
            },
        }
        tokio::time::sleep(search.poll).await;
    }
}
