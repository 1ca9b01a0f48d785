//! What a failed command tells the UI: a stable `code` to match on and a
//! readable `message` to show. Built from the library's typed errors so the
//! window never sees a bare string or a silent failure.

use serde::Serialize;

/// A command's failure as the UI receives it: `{ "code": "...", "message": "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, ts_rs::TS)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// SCREAMING_SNAKE_CASE; the library's own codes (`INVALID_MEDIA`,
    /// `PROMPT_TOO_LONG`, `BUSY`, ...) plus the shell's below.
    pub code: &'static str,
    /// Shown to the user as is.
    pub message: String,
}

/// The shell's own codes, for failures that are not a library error.
pub mod codes {
    /// The request from the UI is malformed (unknown id, empty message).
    pub const INVALID_INPUT: &str = "INVALID_INPUT";
    /// No model is loaded yet (first run, or it is still loading).
    pub const NO_MODEL: &str = "NO_MODEL";
    /// The model is still loading.
    pub const LOADING: &str = "MODEL_LOADING";
    /// The user closed a file picker without choosing.
    pub const CANCELLED: &str = "CANCELLED";
    /// Documents need an embedding model and none is configured.
    pub const NO_EMBEDDING_MODEL: &str = "NO_EMBEDDING_MODEL";
    /// Something in the shell itself failed (a task panicked).
    pub const INTERNAL: &str = "INTERNAL";
}

impl CommandError {
    /// An error with a shell code.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Malformed input from the UI.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_INPUT, message)
    }
}

impl From<omnidesk::Error> for CommandError {
    fn from(e: omnidesk::Error) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<omnidesk::engine::EngineError> for CommandError {
    fn from(e: omnidesk::engine::EngineError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<omnidesk::media::MediaError> for CommandError {
    fn from(e: omnidesk::media::MediaError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::store::StoreError> for CommandError {
    fn from(e: omnidesk::store::StoreError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::config::ConfigError> for CommandError {
    fn from(e: omnidesk::config::ConfigError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::models::ModelsError> for CommandError {
    fn from(e: omnidesk::models::ModelsError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::rag::RagError> for CommandError {
    fn from(e: omnidesk::rag::RagError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::audio::AudioError> for CommandError {
    fn from(e: omnidesk::audio::AudioError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::camera::CameraError> for CommandError {
    fn from(e: omnidesk::camera::CameraError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::tts::TtsError> for CommandError {
    fn from(e: omnidesk::tts::TtsError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::tools::ToolError> for CommandError {
    fn from(e: omnidesk::tools::ToolError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<omnidesk::server::ServerError> for CommandError {
    fn from(e: omnidesk::server::ServerError) -> Self {
        omnidesk::Error::from(e).into()
    }
}

impl From<tauri::Error> for CommandError {
    fn from(e: tauri::Error) -> Self {
        Self::new(codes::INTERNAL, format!("the app shell failed: {e}"))
    }
}

/// Result of every command.
pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let e: CommandError = omnidesk::engine::EngineError::Busy(16).into();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "BUSY");
        assert!(v["message"].as_str().unwrap().contains("busy"));
    }

    #[test]
    fn unknown_conversation_is_not_found() {
        let e: CommandError = omnidesk::store::StoreError::NotFound(9).into();
        assert_eq!(e.code, "NOT_FOUND");
    }
}
