//! The index: one tantivy index per instance, in the first free *slot* under the configured
//! directory (several instances may share one data directory; each needs a writer of its own).
//!
//! Every query carries its reader's access scope as a filter inside the index, so hits, the
//! total and the highlights only ever come from documents the reader may see. Internal notes
//! are a field of their own, searched and quoted for staff only.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use closedloop_store::{ArticleDocument, TicketDocument};
use closedloop_triage::Nlp;
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::analyzer::{ANALYZER, Bilingual, query_words};
use crate::{Result, SearchError};

/// Bumped when the schema or the analyser changes: an index of another version is rebuilt.
const VERSION: u32 = 1;
const SLOTS: usize = 8;
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// Characters of body text quoted around the matches.
const SNIPPET_CHARS: usize = 240;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Ticket,
    Article,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Ticket => "ticket",
            Kind::Article => "article",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKey {
    Ticket(i64),
    Article(i64),
}

impl DocKey {
    fn encode(self) -> String {
        match self {
            DocKey::Ticket(id) => format!("t{id}"),
            DocKey::Article(id) => format!("a{id}"),
        }
    }

    fn decode(s: &str) -> Option<DocKey> {
        let (kind, id) = s.split_at_checked(1)?;
        let id = id.parse().ok()?;
        match kind {
            "t" => Some(DocKey::Ticket(id)),
            "a" => Some(DocKey::Article(id)),
            _ => None,
        }
    }
}

pub enum Doc<'a> {
    Ticket(&'a TicketDocument),
    Article(&'a ArticleDocument),
}

/// Whose documents a query may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Administrators.
    Everything,
    /// Agents and supervisors: tickets of their departments (handling or coordinating),
    /// assigned to them or registered by them — the store's rule — and every article.
    Staff { user_id: i64, departments: Vec<i64> },
    /// Their own tickets and published articles.
    Customer { user_id: i64 },
    /// Published articles only (the public help centre).
    Public,
}

impl Scope {
    fn sees_notes(&self) -> bool {
        matches!(self, Scope::Everything | Scope::Staff { .. })
    }
}

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub text: String,
    pub scope: Scope,
    pub kind: Option<Kind>,
    /// Any of these statuses (none: every status).
    pub statuses: Vec<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub limit: usize,
    pub offset: usize,
    /// Ranks texts sharing any third of the words instead of asking for most of them: for
    /// suggestions made from a whole question or a ticket's text, where the answer repeats few
    /// of its words.
    pub lenient: bool,
}

impl SearchQuery {
    pub fn new(text: impl Into<String>, scope: Scope) -> Self {
        Self {
            text: text.into(),
            scope,
            kind: None,
            statuses: Vec::new(),
            category: None,
            priority: None,
            created_from: None,
            created_to: None,
            limit: 20,
            offset: 0,
            lenient: false,
        }
    }
}

/// A piece of stored text and the byte ranges in it that matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Highlighted {
    pub text: String,
    pub highlights: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub key: DocKey,
    pub score: f32,
    pub title: Highlighted,
    pub snippet: Highlighted,
    /// The snippet comes from internal notes (staff only).
    pub in_notes: bool,
}

#[derive(Debug, Clone)]
pub struct Hits {
    /// Matching documents within the scope, all pages together.
    pub total: usize,
    pub hits: Vec<Hit>,
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    kind: Field,
    number: Field,
    title: Field,
    body: Field,
    notes: Field,
    status: Field,
    category: Field,
    priority: Field,
    lang: Field,
    visibility: Field,
    department: Field,
    requester: Field,
    assignee: Field,
    creator: Field,
    created: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        kind: b.add_text_field("kind", STRING),
        number: b.add_text_field("number", STRING),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text.clone()),
        notes: b.add_text_field("notes", text),
        status: b.add_text_field("status", STRING),
        category: b.add_text_field("category", STRING),
        priority: b.add_text_field("priority", STRING),
        lang: b.add_text_field("lang", STRING),
        visibility: b.add_text_field("visibility", STRING),
        department: b.add_i64_field("department", INDEXED),
        requester: b.add_i64_field("requester", INDEXED),
        assignee: b.add_i64_field("assignee", INDEXED),
        creator: b.add_i64_field("creator", INDEXED),
        created: b.add_i64_field("created", INDEXED | FAST),
    };
    (b.build(), fields)
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    analyzer: TextAnalyzer,
    dir: Option<PathBuf>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    version: u32,
    /// Ticket feed (timeline ids).
    watermark: i64,
    /// Article feed (revision ids).
    #[serde(default)]
    articles: i64,
    /// Completed erasures purged from the files (see [`SearchIndex::purge`]).
    #[serde(default)]
    erased: i64,
}

/// How far into each feed the last commit reaches: every change at or below is indexed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermarks {
    pub tickets: i64,
    pub articles: i64,
}

impl SearchIndex {
    /// Opens the first slot under `root` no other process holds (`root/0`, `root/1`, …),
    /// rebuilding it empty when it was made by another version.
    pub fn open(root: &Path, nlp: Arc<Nlp>) -> Result<SearchIndex> {
        for slot in 0..SLOTS {
            let dir = root.join(slot.to_string());
            match Self::open_dir(&dir, nlp.clone()) {
                Ok(index) => return Ok(index),
                Err(SearchError::Index(tantivy::TantivyError::LockFailure(..))) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(SearchError::AllSlotsBusy(root.display().to_string()))
    }

    /// The slots that exist under `root`, by number.
    pub fn slots(root: &Path) -> Vec<usize> {
        (0..SLOTS)
            .filter(|n| root.join(n.to_string()).is_dir())
            .collect()
    }

    /// Slot `slot` under `root`; `None` while a running instance holds it.
    pub fn open_slot(root: &Path, slot: usize, nlp: Arc<Nlp>) -> Result<Option<SearchIndex>> {
        match Self::open_dir(&root.join(slot.to_string()), nlp) {
            Ok(index) => Ok(Some(index)),
            Err(SearchError::Index(tantivy::TantivyError::LockFailure(..))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn open_dir(dir: &Path, nlp: Arc<Nlp>) -> Result<SearchIndex> {
        let io = |source: std::io::Error| SearchError::Directory {
            path: dir.display().to_string(),
            source: Box::new(source),
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let (schema, fields) = schema();
        let open = |nlp: Arc<Nlp>| -> Result<Index> {
            let directory = MmapDirectory::open(dir).map_err(|e| SearchError::Directory {
                path: dir.display().to_string(),
                source: Box::new(e),
            })?;
            let index = Index::open_or_create(directory, schema.clone())?;
            index
                .tokenizers()
                .register(ANALYZER, Bilingual::analyzer(nlp));
            Ok(index)
        };
        let mut index = match open(nlp.clone()) {
            Ok(index) => index,
            // Another schema: this index is a cache of the database, so start it again.
            Err(SearchError::Index(tantivy::TantivyError::SchemaError(_))) => {
                Self::wipe(dir).map_err(io)?;
                open(nlp.clone())?
            }
            Err(e) => return Err(e),
        };
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        if Self::payload_of(&index).is_some_and(|p| p.version != VERSION) {
            drop(writer);
            drop(index);
            Self::wipe(dir).map_err(io)?;
            index = open(nlp.clone())?;
            return Self::finish(index, fields, nlp, Some(dir.to_owned()));
        }
        Self::finish_with(index, writer, fields, nlp, Some(dir.to_owned()))
    }

    /// An index in memory (tests, and an instance told not to keep one on disk).
    pub fn in_memory(nlp: Arc<Nlp>) -> Result<SearchIndex> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        index
            .tokenizers()
            .register(ANALYZER, Bilingual::analyzer(nlp.clone()));
        Self::finish(index, fields, nlp, None)
    }

    fn finish(index: Index, fields: Fields, nlp: Arc<Nlp>, dir: Option<PathBuf>) -> Result<Self> {
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        Self::finish_with(index, writer, fields, nlp, dir)
    }

    fn finish_with(
        index: Index,
        writer: IndexWriter,
        fields: Fields,
        nlp: Arc<Nlp>,
        dir: Option<PathBuf>,
    ) -> Result<Self> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            analyzer: Bilingual::query_analyzer(nlp),
            dir,
        })
    }

    fn wipe(dir: &Path) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::remove_file(path)?;
            }
        }
        Ok(())
    }

    fn payload_of(index: &Index) -> Option<Payload> {
        let metas = index.load_metas().ok()?;
        serde_json::from_str(metas.payload.as_deref()?).ok()
    }

    /// Where the index lives (None: in memory).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The feed positions of the last commit.
    pub fn watermarks(&self) -> Watermarks {
        Self::payload_of(&self.index).map_or(Watermarks::default(), |p| Watermarks {
            tickets: p.watermark,
            articles: p.articles,
        })
    }

    /// Documents indexed and visible to queries.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the index takes on disk (0 in memory).
    pub fn disk_bytes(&self) -> u64 {
        let Some(dir) = &self.dir else { return 0 };
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        // A panic while holding the writer leaves it as usable as tantivy left it.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds or replaces documents (not visible until [`SearchIndex::commit`]).
    pub fn put(&self, docs: &[Doc<'_>]) -> Result<()> {
        let writer = self.writer();
        for doc in docs {
            let (key, document) = self.document(doc);
            writer.delete_term(Term::from_field_text(self.fields.key, &key.encode()));
            writer.add_document(document)?;
        }
        Ok(())
    }

    pub fn remove(&self, key: DocKey) {
        self.writer()
            .delete_term(Term::from_field_text(self.fields.key, &key.encode()));
    }

    /// Drops every document (a rebuild starts here).
    pub fn clear(&self) -> Result<()> {
        self.writer().delete_all_documents()?;
        Ok(())
    }

    /// Makes what was put visible and durable, recording the feed positions it covers.
    pub fn commit(&self, marks: Watermarks) -> Result<()> {
        let mut writer = self.writer();
        let mut prepared = writer.prepare_commit()?;
        let payload = serde_json::to_string(&Payload {
            version: VERSION,
            watermark: marks.tickets,
            articles: marks.articles,
            erased: self.erased(),
        })
        .unwrap_or_default();
        prepared.set_payload(&payload);
        prepared.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// How many completed erasures the files have been purged of.
    pub fn erased(&self) -> i64 {
        Self::payload_of(&self.index).map_or(0, |p| p.erased)
    }

    /// Rewrites the segments that hold replaced or deleted documents, so that their old text
    /// leaves the files (tantivy only marks a replaced document deleted), and records that
    /// `erased` erasures are now purged. Erasures are rare and worth a merge.
    pub fn purge(&self, erased: i64) -> Result<()> {
        let mut writer = self.writer();
        let dirty: Vec<_> = self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .filter(|s| s.num_deleted_docs() > 0)
            .map(|s| s.segment_id())
            .collect();
        if !dirty.is_empty() {
            writer.merge(&dirty).wait()?;
        }
        let mut payload = Self::payload_of(&self.index).unwrap_or(Payload {
            version: VERSION,
            watermark: 0,
            articles: 0,
            erased: 0,
        });
        payload.erased = erased;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&payload).unwrap_or_default());
        prepared.commit()?;
        writer.garbage_collect_files().wait()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Every place in the index where any of `needles` (compared ignoring ASCII case) still
    /// is: the stored text of every document, deleted ones included, and every indexed term.
    /// For proving an erasure; it reads the whole index.
    pub fn find_anywhere(&self, needles: &[&str]) -> Result<Vec<String>> {
        let needles: Vec<String> = needles.iter().map(|n| n.to_ascii_lowercase()).collect();
        let hit = |text: &str| {
            let text = text.to_ascii_lowercase();
            needles
                .iter()
                .find(|n| text.contains(String::as_str(n)))
                .cloned()
        };
        let schema = self.index.schema();
        let mut found = Vec::new();
        for segment in self.reader.searcher().segment_readers() {
            let store = segment
                .get_store_reader(1)
                .map_err(tantivy::TantivyError::from)?;
            for doc in store.iter::<TantivyDocument>(None) {
                for (field, value) in doc?.field_values() {
                    if let Some(needle) = value.as_str().and_then(hit) {
                        let name = schema.get_field_name(field);
                        found.push(format!("stored {name}: {needle}"));
                    }
                }
            }
            for (field, entry) in schema.fields() {
                if !entry.is_indexed() {
                    continue;
                }
                let index = segment.inverted_index(field)?;
                let mut terms = index
                    .terms()
                    .stream()
                    .map_err(tantivy::TantivyError::from)?;
                while terms.advance() {
                    if let Some(needle) = hit(&String::from_utf8_lossy(terms.key())) {
                        found.push(format!("term in {}: {needle}", entry.name()));
                    }
                }
            }
        }
        Ok(found)
    }

    fn document(&self, doc: &Doc<'_>) -> (DocKey, TantivyDocument) {
        let f = &self.fields;
        let mut d = TantivyDocument::default();
        match doc {
            Doc::Ticket(t) => {
                let key = DocKey::Ticket(t.id);
                d.add_text(f.key, key.encode());
                d.add_text(f.kind, Kind::Ticket.as_str());
                d.add_text(f.number, t.number.as_str());
                d.add_text(f.title, &t.title);
                let mut body = t.description.clone();
                if !t.replies.is_empty() {
                    body.push('\n');
                    body.push_str(&t.replies);
                }
                d.add_text(f.body, body);
                if !t.notes.is_empty() {
                    d.add_text(f.notes, &t.notes);
                }
                d.add_text(f.status, t.status.as_str());
                if let Some(c) = &t.category {
                    d.add_text(f.category, c);
                }
                d.add_text(f.priority, t.priority.as_str());
                for dept in &t.departments {
                    d.add_i64(f.department, *dept);
                }
                for (field, id) in [
                    (f.requester, t.requester_id),
                    (f.assignee, t.assignee_id),
                    (f.creator, t.created_by),
                ] {
                    if let Some(id) = id {
                        d.add_i64(field, id);
                    }
                }
                d.add_i64(f.created, t.created_at.timestamp_millis());
                (key, d)
            }
            Doc::Article(a) => {
                let key = DocKey::Article(a.id);
                d.add_text(f.key, key.encode());
                d.add_text(f.kind, Kind::Article.as_str());
                d.add_text(f.title, &a.title);
                d.add_text(f.body, &a.body);
                d.add_text(f.lang, &a.lang);
                if let Some(c) = &a.category {
                    d.add_text(f.category, c);
                }
                d.add_text(f.visibility, if a.public { "public" } else { "staff" });
                d.add_i64(f.created, a.created_at.timestamp_millis());
                (key, d)
            }
        }
    }

    fn term(&self, field: Field, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        ))
    }

    fn id_term(&self, field: Field, value: i64) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_i64(field, value),
            IndexRecordOption::Basic,
        ))
    }

    /// The scope as a filter; `None`: everything.
    fn scope_filter(&self, scope: &Scope) -> Option<Box<dyn Query>> {
        let f = &self.fields;
        let public_articles = || self.term(f.visibility, "public");
        match scope {
            Scope::Everything => None,
            Scope::Public => Some(public_articles()),
            Scope::Customer { user_id } => Some(Box::new(BooleanQuery::union(vec![
                Box::new(BooleanQuery::intersection(vec![
                    self.term(f.kind, Kind::Ticket.as_str()),
                    self.id_term(f.requester, *user_id),
                ])),
                public_articles(),
            ]))),
            Scope::Staff {
                user_id,
                departments,
            } => {
                let mut mine = vec![
                    self.id_term(f.assignee, *user_id),
                    self.id_term(f.creator, *user_id),
                ];
                mine.extend(departments.iter().map(|d| self.id_term(f.department, *d)));
                Some(Box::new(BooleanQuery::union(vec![
                    Box::new(BooleanQuery::intersection(vec![
                        self.term(f.kind, Kind::Ticket.as_str()),
                        Box::new(BooleanQuery::union(mine)),
                    ])),
                    self.term(f.kind, Kind::Article.as_str()),
                ])))
            }
        }
    }

    /// The text part: each term found in the title (weighted double), the body or — for
    /// staff — the notes. One or two words must all match; a longer query two of them or two
    /// fifths, whichever is more (a question typed in full has words no answer repeats), and
    /// the ranking puts the texts that hold more of them first. Single Chinese characters next
    /// to longer words are mostly particles (我, 的, 没, 了): they rank but are not required.
    /// A ticket number matches its ticket exactly. Also returns the query to highlight by.
    fn text_query(
        &self,
        text: &str,
        notes: bool,
        lenient: bool,
    ) -> Option<(Box<dyn Query>, Box<dyn Query>)> {
        let f = &self.fields;
        let mut analyzer = self.analyzer.clone();
        let words = query_words(&mut analyzer, text);
        let single_han = |w: &[String]| {
            let mut chars = w.first().map(|t| t.chars()).into_iter().flatten();
            w.len() == 1
                && matches!((chars.next(), chars.next()), (Some(c), None) if closedloop_triage::text::is_han(c))
        };
        let (particles, words): (Vec<Vec<String>>, Vec<Vec<String>>) =
            if words.iter().any(|w| !single_han(w)) {
                words.into_iter().partition(|w| single_han(w))
            } else {
                (Vec::new(), words)
            };
        let in_fields = |word: &[String]| -> Box<dyn Query> {
            let mut fields: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for t in word {
                fields.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(self.text_term(f.title, t), 2.0)),
                ));
                fields.push((Occur::Should, self.text_term(f.body, t)));
                if notes {
                    fields.push((Occur::Should, self.text_term(f.notes, t)));
                }
            }
            Box::new(BooleanQuery::new(fields))
        };
        let per_word: Vec<Box<dyn Query>> = words.iter().map(|w| in_fields(w)).collect();
        let n = per_word.len();
        let required: Option<Box<dyn Query>> = match n {
            0 => None,
            _ if lenient => Some(Box::new(BooleanQuery::union_with_minimum_required_clauses(
                per_word,
                (n / 3).max(1),
            ))),
            1 | 2 => Some(Box::new(BooleanQuery::intersection(per_word))),
            _ => Some(Box::new(BooleanQuery::union_with_minimum_required_clauses(
                per_word,
                (2 * n).div_ceil(5).max(2),
            ))),
        };
        let trimmed = text.trim();
        let number = trimmed
            .to_uppercase()
            .parse::<closedloop_domain::TicketNumber>()
            .ok()
            .map(|n| self.term(f.number, n.as_str()));
        let matching: Box<dyn Query> = match (required, number) {
            (Some(w), Some(n)) => Box::new(BooleanQuery::union(vec![w, n])),
            (Some(w), None) => w,
            (None, Some(n)) => n,
            (None, None) => return None,
        };
        if particles.is_empty() {
            return Some((matching.box_clone(), matching));
        }
        let mut ranked = vec![(Occur::Must, matching.box_clone())];
        ranked.extend(particles.iter().map(|p| (Occur::Should, in_fields(p))));
        Some((Box::new(BooleanQuery::new(ranked)), matching))
    }

    fn text_term(&self, field: Field, word: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, word),
            IndexRecordOption::WithFreqs,
        ))
    }

    pub fn search(&self, q: &SearchQuery) -> Result<Hits> {
        let f = self.fields;
        let notes = q.scope.sees_notes();
        let Some((text, highlight)) = self.text_query(&q.text, notes, q.lenient) else {
            return Ok(Hits {
                total: 0,
                hits: Vec::new(),
            });
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        if let Some(scope) = self.scope_filter(&q.scope) {
            clauses.push((Occur::Must, scope));
        }
        if let Some(kind) = q.kind {
            clauses.push((Occur::Must, self.term(f.kind, kind.as_str())));
        }
        if !q.statuses.is_empty() {
            let any = q.statuses.iter().map(|s| self.term(f.status, s)).collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::union(any))));
        }
        for (field, value) in [(f.category, &q.category), (f.priority, &q.priority)] {
            if let Some(v) = value {
                clauses.push((Occur::Must, self.term(field, v)));
            }
        }
        if q.created_from.is_some() || q.created_to.is_some() {
            let bound = |t: Option<DateTime<Utc>>, inclusive: bool| match t {
                None => Bound::Unbounded,
                Some(t) => {
                    let term = Term::from_field_i64(f.created, t.timestamp_millis());
                    if inclusive {
                        Bound::Included(term)
                    } else {
                        Bound::Excluded(term)
                    }
                }
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    bound(q.created_from, true),
                    bound(q.created_to, false),
                )),
            ));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = q.limit.clamp(1, 100);
        let (top, total) = searcher.search(
            &query,
            &(
                TopDocs::with_limit(limit)
                    .and_offset(q.offset)
                    .order_by_score(),
                Count,
            ),
        )?;
        // Highlights come from the words alone: no filter's terms, no particles.
        let mut title_snippets = SnippetGenerator::create(&searcher, &*highlight, f.title)?;
        title_snippets.set_max_num_chars(400);
        let mut body_snippets = SnippetGenerator::create(&searcher, &*highlight, f.body)?;
        body_snippets.set_max_num_chars(SNIPPET_CHARS);
        let notes_snippets = if notes {
            let mut g = SnippetGenerator::create(&searcher, &*highlight, f.notes)?;
            g.set_max_num_chars(SNIPPET_CHARS);
            Some(g)
        } else {
            None
        };
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(key) = doc
                .get_first(f.key)
                .and_then(|v| v.as_str())
                .and_then(DocKey::decode)
            else {
                continue;
            };
            let stored = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let title_text = stored(f.title);
            let mut title = highlighted(&title_snippets.snippet(&title_text));
            if title.text.is_empty() {
                title.text = title_text;
            }
            let mut snippet = highlighted(&body_snippets.snippet(&stored(f.body)));
            let mut in_notes = false;
            if snippet.highlights.is_empty()
                && let Some(g) = &notes_snippets
            {
                let from_notes = highlighted(&g.snippet(&stored(f.notes)));
                if !from_notes.highlights.is_empty() {
                    snippet = from_notes;
                    in_notes = true;
                }
            }
            if snippet.text.is_empty() {
                snippet.text = stored(f.body).chars().take(SNIPPET_CHARS / 2).collect();
            }
            hits.push(Hit {
                key,
                score,
                title,
                snippet,
                in_notes,
            });
        }
        Ok(Hits { total, hits })
    }
}

fn highlighted(s: &tantivy::snippet::Snippet) -> Highlighted {
    Highlighted {
        text: s.fragment().to_owned(),
        highlights: s.highlighted().iter().map(|r| (r.start, r.end)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use closedloop_domain::{Channel, Priority, Status, TicketNumber};

    use super::*;

    fn nlp() -> Arc<Nlp> {
        static NLP: std::sync::OnceLock<Arc<Nlp>> = std::sync::OnceLock::new();
        NLP.get_or_init(|| match Nlp::new() {
            Ok(n) => Arc::new(n),
            Err(e) => panic!("{e}"),
        })
        .clone()
    }

    fn ticket(
        id: i64,
        title: &str,
        description: &str,
        department: i64,
        requester: i64,
    ) -> TicketDocument {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
        TicketDocument {
            id,
            number: TicketNumber::new(day, id as u64),
            title: title.into(),
            description: description.into(),
            replies: String::new(),
            notes: String::new(),
            status: Status::Received,
            category: Some("logistics".into()),
            priority: Priority::P3,
            channel: Channel::Web,
            departments: vec![department],
            requester_id: Some(requester),
            assignee_id: None,
            created_by: Some(requester),
            created_at: DateTime::<Utc>::from_timestamp_millis(1_790_000_000_000 + id)
                .unwrap_or_default(),
        }
    }

    fn marks(tickets: i64) -> Watermarks {
        Watermarks {
            tickets,
            articles: 0,
        }
    }

    fn index(docs: &[TicketDocument]) -> SearchIndex {
        let index = match SearchIndex::in_memory(nlp()) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        };
        let docs: Vec<Doc<'_>> = docs.iter().map(Doc::Ticket).collect();
        index
            .put(&docs)
            .and_then(|_| index.commit(marks(7)))
            .unwrap_or_else(|e| panic!("{e}"));
        index
    }

    fn search(index: &SearchIndex, text: &str, scope: Scope) -> Hits {
        index
            .search(&SearchQuery::new(text, scope))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn ids(hits: &Hits) -> Vec<i64> {
        let mut ids: Vec<i64> = hits
            .hits
            .iter()
            .map(|h| match h.key {
                DocKey::Ticket(id) | DocKey::Article(id) => id,
            })
            .collect();
        ids.sort();
        ids
    }

    fn marked(h: &Highlighted) -> Vec<&str> {
        h.highlights.iter().map(|(a, b)| &h.text[*a..*b]).collect()
    }

    #[test]
    fn a_simplified_query_finds_traditional_text_and_highlights_what_was_written() {
        let index = index(&[
            ticket(1, "退款問題", "我的退款申請已經兩週了還沒有到帳", 1, 10),
            ticket(
                2,
                "Parcel late",
                "The courier never delivered my parcel",
                1,
                11,
            ),
        ]);
        let hits = search(&index, "退款申请", Scope::Everything);
        assert_eq!(ids(&hits), [1]);
        assert_eq!(hits.total, 1);
        let snippet = &hits.hits[0].snippet;
        assert!(marked(snippet).contains(&"申請"), "{snippet:?}");
        assert_eq!(marked(&hits.hits[0].title), ["退款"]);
        // And the other way round: a traditional query finds simplified text.
        let index = self::index(&[ticket(3, "物流", "快递员态度很差，包裹丢了", 1, 10)]);
        assert_eq!(ids(&search(&index, "快遞員態度", Scope::Everything)), [3]);
    }

    #[test]
    fn english_words_match_their_other_forms() {
        let index = index(&[
            ticket(
                1,
                "Refund",
                "I was never refunded for the broken charger",
                1,
                10,
            ),
            ticket(2, "Delivery", "Courier lost my parcel", 1, 10),
        ]);
        assert_eq!(ids(&search(&index, "refunds", Scope::Everything)), [1]);
        assert_eq!(
            ids(&search(&index, "BROKEN chargers", Scope::Everything)),
            [1]
        );
        assert!(
            search(&index, "refund parcel", Scope::Everything)
                .hits
                .is_empty()
        );
    }

    #[test]
    fn a_long_question_needs_some_of_its_words() {
        let index = index(&[
            ticket(1, "退款", "申请退款一直没有到账", 1, 10),
            ticket(2, "其他", "账号无法登录", 1, 10),
        ]);
        let hits = search(&index, "我的退款为什么一直没到账", Scope::Everything);
        assert_eq!(ids(&hits), [1]);
    }

    #[test]
    fn a_lenient_query_ranks_texts_sharing_a_third_of_its_words() {
        let index = index(&[
            ticket(1, "退款多久到账", "审核通过后原路退回", 1, 10),
            ticket(2, "其他", "账号无法登录", 1, 10),
        ]);
        let mut q = SearchQuery::new("我的退款申請怎麼還沒到帳", Scope::Everything);
        assert!(
            index
                .search(&q)
                .unwrap_or_else(|e| panic!("{e}"))
                .hits
                .is_empty()
        );
        q.lenient = true;
        assert_eq!(
            ids(&index.search(&q).unwrap_or_else(|e| panic!("{e}"))),
            [1]
        );
    }

    #[test]
    fn scopes_filter_hits_totals_and_notes() {
        let mut with_note = ticket(3, "退款", "退款没到", 2, 11);
        with_note.notes = "内部备注：客户曾经投诉过退款".into();
        with_note.assignee_id = Some(50);
        let index = index(&[
            ticket(1, "退款", "退款没到账", 1, 10),
            ticket(2, "退款", "退款太慢", 1, 11),
            with_note,
        ]);
        let customer = search(&index, "退款", Scope::Customer { user_id: 11 });
        assert_eq!((ids(&customer), customer.total), (vec![2, 3], 2));
        // Only a note says 投诉: customers never match it, staff of the department do.
        assert!(
            search(&index, "投诉", Scope::Customer { user_id: 11 })
                .hits
                .is_empty()
        );
        let dept2 = Scope::Staff {
            user_id: 99,
            departments: vec![2],
        };
        let staff = search(&index, "投诉", dept2.clone());
        assert_eq!(ids(&staff), [3]);
        assert!(staff.hits[0].in_notes);
        assert_eq!(marked(&staff.hits[0].snippet), ["投诉"]);
        let other = search(
            &index,
            "退款",
            Scope::Staff {
                user_id: 98,
                departments: vec![1],
            },
        );
        assert_eq!((ids(&other), other.total), (vec![1, 2], 2));
        // The assignee sees the ticket whatever its department.
        let assignee = search(
            &index,
            "退款",
            Scope::Staff {
                user_id: 50,
                departments: vec![],
            },
        );
        assert_eq!(ids(&assignee), [3]);
        assert!(search(&index, "退款", Scope::Public).hits.is_empty());
    }

    #[test]
    fn articles_are_public_when_published_and_drafts_are_for_staff() {
        let index = index(&[ticket(1, "退款", "退款没到账", 1, 10)]);
        let published = ArticleDocument {
            id: 1,
            title: "退款多久到账？".into(),
            body: "退款在审核通过后 3-5 个工作日内原路退回。".into(),
            lang: "zh".into(),
            category: None,
            public: true,
            created_at: Utc::now(),
        };
        let draft = ArticleDocument {
            id: 2,
            public: false,
            ..published.clone()
        };
        index
            .put(&[Doc::Article(&published), Doc::Article(&draft)])
            .and_then(|_| index.commit(marks(8)))
            .unwrap_or_else(|e| panic!("{e}"));
        let keys = |hits: Hits| hits.hits.iter().map(|h| h.key).collect::<Vec<_>>();
        assert_eq!(
            keys(search(&index, "退款到账", Scope::Public)),
            [DocKey::Article(1)]
        );
        let customer = keys(search(&index, "退款到账", Scope::Customer { user_id: 10 }));
        assert_eq!(
            customer.len(),
            2,
            "own ticket and the published article: {customer:?}"
        );
        assert!(!customer.contains(&DocKey::Article(2)));
        let staff = keys(search(
            &index,
            "退款",
            Scope::Staff {
                user_id: 1,
                departments: vec![],
            },
        ));
        assert!(staff.contains(&DocKey::Article(2)) && !staff.contains(&DocKey::Ticket(1)));
    }

    #[test]
    fn putting_a_document_again_replaces_it_and_a_ticket_number_finds_its_ticket() {
        let index = index(&[ticket(1, "旧标题", "物流太慢", 1, 10)]);
        let changed = ticket(1, "新标题", "已经解决", 1, 10);
        index
            .put(&[Doc::Ticket(&changed)])
            .and_then(|_| index.commit(marks(9)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(index.len(), 1);
        assert!(search(&index, "物流", Scope::Everything).hits.is_empty());
        assert_eq!(ids(&search(&index, "解决", Scope::Everything)), [1]);
        let number = changed.number.as_str().to_lowercase();
        assert_eq!(ids(&search(&index, &number, Scope::Everything)), [1]);
        assert_eq!(index.watermarks(), marks(9));
    }

    #[test]
    fn filters_narrow_the_hits() {
        let mut urgent = ticket(2, "退款", "退款没到", 1, 10);
        urgent.priority = Priority::P1;
        let index = index(&[ticket(1, "退款", "退款没到", 1, 10), urgent]);
        let mut q = SearchQuery::new("退款", Scope::Everything);
        q.priority = Some("P1".into());
        assert_eq!(
            ids(&index.search(&q).unwrap_or_else(|e| panic!("{e}"))),
            [2]
        );
        let mut q = SearchQuery::new("退款", Scope::Everything);
        q.created_from = DateTime::<Utc>::from_timestamp_millis(1_790_000_000_002);
        assert_eq!(
            ids(&index.search(&q).unwrap_or_else(|e| panic!("{e}"))),
            [2]
        );
    }

    #[test]
    fn the_watermark_survives_reopening_and_a_second_opener_takes_another_slot() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let index = SearchIndex::open(dir.path(), nlp()).unwrap_or_else(|e| panic!("{e}"));
            index
                .put(&[Doc::Ticket(&ticket(1, "物流", "快递丢了", 1, 10))])
                .and_then(|_| index.commit(marks(42)))
                .unwrap_or_else(|e| panic!("{e}"));
            let second = SearchIndex::open(dir.path(), nlp()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(second.dir(), Some(dir.path().join("1").as_path()));
            assert_eq!(second.watermarks(), marks(0));
        }
        let index = SearchIndex::open(dir.path(), nlp()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(index.dir(), Some(dir.path().join("0").as_path()));
        assert_eq!(index.watermarks(), marks(42));
        assert_eq!(ids(&search(&index, "快递", Scope::Everything)), [1]);
        assert!(index.disk_bytes() > 0);
    }
}
