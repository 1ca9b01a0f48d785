//! Error type of the conversation store.
//!
//! Owns [`StoreError`] and the store's [`Result`] alias. Plain data: `Send + Sync`.

use std::path::PathBuf;

/// Everything that can go wrong in the conversation store.
///
/// `NewerSchema` and `Corrupt` are the two cases a front end should show to the
/// user verbatim: in both the database file was deliberately left untouched.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file's `user_version` is newer than this build understands; opening
    /// it anyway could lose data written by the newer build.
    #[error(
        "the chat database was written by a newer Omnidesk (schema {found}, this build supports {supported}); it was left untouched"
    )]
    NewerSchema {
        /// `user_version` found in the file.
        found: i64,
        /// Newest schema this build knows ([`super::SCHEMA_VERSION`]).
        supported: i64,
    },
    /// The file is not an SQLite database or fails its integrity check.
    #[error(
        "database {} is corrupt or not an Omnidesk database ({reason}); it was left untouched, move it aside to start afresh",
        path.display()
    )]
    Corrupt {
        /// The database file that was refused.
        path: PathBuf,
        /// What SQLite reported.
        reason: String,
    },
    /// No conversation with this id exists.
    #[error("conversation {0} not found")]
    NotFound(i64),
    /// No message with this id exists in the conversation.
    #[error("message {message} not found in conversation {conversation}")]
    MessageNotFound { conversation: i64, message: i64 },
    /// A conversation to import does not hold together (a message that
    /// follows one after it, a shown message that is not there).
    #[error("the conversation to import is inconsistent: {0}")]
    BadImport(String),
    /// Any other SQLite failure (locked past the busy timeout, disk full, ...).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Creating the database's directory failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The front end could not open the database earlier (the reason is
    /// what it reported then).
    #[error("the history database is not available: {0}")]
    Unavailable(String),
    /// A JSON column (attachments, stats) could not be encoded or decoded.
    #[error("malformed JSON in the database: {0}")]
    Json(#[from] serde_json::Error),
}

impl StoreError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NewerSchema { .. } => "STORE_NEWER_SCHEMA",
            StoreError::Corrupt { .. } => "STORE_CORRUPT",
            StoreError::NotFound(_) => "NOT_FOUND",
            StoreError::MessageNotFound { .. } => "MESSAGE_NOT_FOUND",
            StoreError::BadImport(_) => "BAD_IMPORT",
            StoreError::Unavailable(_) => "STORE_UNAVAILABLE",
            StoreError::Sqlite(_) | StoreError::Io(_) | StoreError::Json(_) => "STORE",
        }
    }
}

/// Result alias used throughout the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
