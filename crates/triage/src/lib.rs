//! Closedloop triage: everything the server needs to know about a ticket's text, computed
//! synchronously and without I/O (apart from the evaluation helpers that read TSV files).
//!
//! Start with [`Triage::new`] (loads dictionaries, trains the bilingual seed models: ~250 ms) and call
//! [`Triage::analyse`]. Duplicate lookup lives in [`DuplicateIndex`]; pair scoring in
//! [`PairScorer`]. Models serialise to bytes with `to_bytes`/`from_bytes`.

pub mod config;
pub mod data;
pub mod dedup;
pub mod eval;
pub mod features;
pub mod keywords;
mod lexicon_data;
pub mod linear;
pub mod matcher;
pub mod pairs;
pub mod retrain;
pub mod scope;
pub mod seed;
pub mod sentiment;
pub mod text;
mod triage;
pub mod urgency;
pub mod verdict;

pub use config::{CategoryRule, NatureRule, TriageConfig};
pub use dedup::{Candidate, DuplicateIndex, IndexOptions, clusters};
pub use keywords::Keyword;
pub use linear::{LinearModel, TrainOptions};
pub use pairs::{PairOptions, PairScorer, PairText};
pub use retrain::{RetrainReport, retrain_category};
pub use sentiment::{Emotion, Emotions, Lexicon, Sentiment};
pub use text::{Language, Nlp};
pub use triage::{Models, Triage, seed_options as triage_seed_options};
pub use urgency::UrgencyKind;
pub use verdict::*;

/// Errors of the triage layer.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("cannot load the built-in dictionaries: {0}")]
    Dictionary(String),
    #[error("training failed: {0}")]
    Training(String),
    #[error("invalid model: {0}")]
    Model(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Data {
        path: String,
        line: usize,
        message: String,
    },
}
