#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory {path}: {source}")]
    Directory {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("every search index slot under {0} is held by another running instance")]
    AllSlotsBusy(String),
}

pub type Result<T> = std::result::Result<T, SearchError>;
