//! The crate-wide error: each module's typed error, gathered so front ends
//! can hold one type and still match on the cause.

use crate::audio::AudioError;
use crate::camera::CameraError;
use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::media::MediaError;
use crate::models::ModelsError;
use crate::rag::RagError;
use crate::server::ServerError;
use crate::store::StoreError;
use crate::tools::ToolError;
use crate::tts::TtsError;
use crate::turn::TurnError;

/// Any Omnidesk failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Models(#[from] ModelsError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Rag(#[from] RagError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Camera(#[from] CameraError),
    #[error(transparent)]
    Tts(#[from] TtsError),
    #[error(transparent)]
    Tools(#[from] ToolError),
    #[error(transparent)]
    Turn(#[from] TurnError),
}

/// Result with the crate-wide error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Engine(e) => e.code(),
            Error::Store(e) => e.code(),
            Error::Config(_) => "CONFIG",
            Error::Models(e) => e.code(),
            Error::Media(_) => "INVALID_MEDIA",
            Error::Server(_) => "SERVER",
            Error::Rag(e) => e.code(),
            Error::Audio(e) => e.code(),
            Error::Camera(e) => e.code(),
            Error::Tts(e) => e.code(),
            Error::Tools(e) => e.code(),
            Error::Turn(e) => e.code(),
        }
    }
}
