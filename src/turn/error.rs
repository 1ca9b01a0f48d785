//! What can stop a turn before or beside the modules it drives.

/// A turn's own failures; everything else is the failing module's error.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// Neither text nor an attachment.
    #[error("the message is empty")]
    Empty,
    /// A documents question found no passage that matches well enough.
    #[error("nothing relevant found in your documents")]
    NothingRelevant,
    /// Tools need the local engine (the loop constrains its sampling).
    #[error("tools need the model on this computer; the remote backend cannot call them")]
    RemoteBackend,
    /// Regenerate names a message that is not a question.
    #[error("message {0} is not a question; regenerate answers a user message again")]
    NotAQuestion(i64),
    /// The `[safety]` output filter's list cannot be used.
    #[error(transparent)]
    Filter(#[from] super::filter::FilterError),
    /// A blocking step (search, store) could not be run.
    #[error("a background task of the turn failed: {0}")]
    Task(String),
}

impl TurnError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            TurnError::Empty => "INVALID_INPUT",
            TurnError::NothingRelevant => "NOTHING_RELEVANT",
            TurnError::RemoteBackend => "REMOTE_BACKEND",
            TurnError::NotAQuestion(_) => "INVALID_INPUT",
            TurnError::Filter(e) => e.code(),
            TurnError::Task(_) => "INTERNAL",
        }
    }
}
