//! Full-text search over tickets (and knowledge-base articles): a tantivy index that is a cache
//! of the database, rebuilt from it at will and kept in step by the timeline feed.
//!
//! - [`analyzer`]: one analyser for Chinese (simplified and traditional) and English.
//! - [`index`]: the index — documents in, scoped and highlighted hits out.
//! - [`feed`]: where an index stands in the database's change feed.

pub mod analyzer;
mod error;
pub mod feed;
pub mod index;

pub use error::{Result, SearchError};
pub use feed::Cursor;
pub use index::{
    Doc, DocKey, Highlighted, Hit, Hits, Kind, Scope, SearchIndex, SearchQuery, Watermarks,
};
