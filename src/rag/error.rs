//! Errors of the document index (RAG).
//!
//! Owns [`RagError`] and the module's [`Result`] alias. Plain data: `Send + Sync`.
//! A file that cannot be parsed is *not* an error here: ingest records it as
//! skipped with a reason and goes on (see [`super::ingest`]).

use std::path::PathBuf;

use crate::engine::EngineError;

/// What went wrong while indexing, searching or answering from documents.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    /// The embedding model could not be validated, loaded or run.
    #[error("embedding model: {0}")]
    Embedding(#[from] EngineError),
    /// An embedding model that pools nothing gives no sentence vectors.
    #[error("{} is not an embedding model: {reason}", path.display())]
    NotAnEmbeddingModel { path: PathBuf, reason: String },
    /// The embedding thread is gone (it panicked or the handle was dropped).
    #[error("the embedding thread has stopped")]
    EmbedderStopped,
    /// A text longer than the embedding model's window, where cutting it
    /// was not allowed (API requests).
    #[error("input {index} is {tokens} tokens; the embedding model takes at most {max}")]
    InputTooLong {
        index: usize,
        tokens: usize,
        max: usize,
    },
    /// A vector whose length does not match the index.
    #[error("vector of {found} dimensions where the index holds {expected}")]
    Dimension { expected: usize, found: usize },
    /// The usearch index refused an operation.
    #[error("vector index: {0}")]
    Vector(String),
    /// SQLite failure (locked past the busy timeout, disk full, …).
    #[error("document index database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database exists but is not a healthy Omnidesk document index.
    #[error(
        "document index {} is corrupt or from a newer Omnidesk ({reason}); it was left untouched",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    /// A path the user named does not exist.
    #[error("{} does not exist", .0.display())]
    NotFound(PathBuf),
    /// No indexed document or folder matches what the user named.
    #[error("no indexed document or folder matches {0:?}")]
    UnknownDocument(String),
    /// The operating system refused to watch a folder (e.g. the inotify
    /// watch limit, `fs.inotify.max_user_watches`).
    #[error("cannot watch for changes: {0}")]
    Watch(String),
    /// No parse worker could be started (a missing or wrong program); the
    /// installation's fault, so files are not recorded as skipped.
    #[error("cannot start the document parser {}: {reason}", program.display())]
    ParseWorker { program: PathBuf, reason: String },
    /// The caller cancelled a long operation.
    #[error("cancelled")]
    Cancelled,
    /// A request that cannot be served as given (empty query, bad option).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Reading or writing index files failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias used throughout the document index.
pub type Result<T, E = RagError> = std::result::Result<T, E>;

impl RagError {
    /// A stable, machine-readable name for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            RagError::Embedding(e) => e.code(),
            RagError::NotAnEmbeddingModel { .. } => "NOT_AN_EMBEDDING_MODEL",
            RagError::EmbedderStopped => "EMBEDDER_STOPPED",
            RagError::InputTooLong { .. } => "INPUT_TOO_LONG",
            RagError::Dimension { .. } => "DIMENSION_MISMATCH",
            RagError::Vector(_) => "VECTOR_INDEX",
            RagError::Sqlite(_) => "RAG_DATABASE",
            RagError::Corrupt { .. } => "RAG_CORRUPT",
            RagError::NotFound(_) => "NOT_FOUND",
            RagError::UnknownDocument(_) => "UNKNOWN_DOCUMENT",
            RagError::Watch(_) => "WATCH",
            RagError::ParseWorker { .. } => "PARSE_WORKER",
            RagError::Cancelled => "CANCELLED",
            RagError::InvalidRequest(_) => "INVALID_REQUEST",
            RagError::Io(_) => "IO",
        }
    }
}
