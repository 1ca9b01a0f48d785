//! The crate-wide error: each module's typed error, gathered so front ends
//! can hold one type and still match on the cause.

use crate::audio::AudioError;
use crate::camera::CameraError;
use crate::config::ConfigError;
use crate::conversation::export::ExportError;
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
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// Result with the crate-wide error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Engine(e) => e.code(),
            Error::Store(e) => e.code(),
            Error::Config(e) => config_code(e),
            Error::Models(e) => e.code(),
            Error::Media(e) => media_code(e),
            Error::Server(e) => server_code(e),
            Error::Rag(e) => e.code(),
            Error::Audio(e) => e.code(),
            Error::Camera(e) => e.code(),
            Error::Tts(e) => e.code(),
            Error::Tools(e) => e.code(),
            Error::Turn(e) => e.code(),
            Error::Export(e) => e.code(),
        }
    }
}

fn config_code(_: &ConfigError) -> &'static str {
    "CONFIG"
}

fn media_code(_: &MediaError) -> &'static str {
    "INVALID_MEDIA"
}

fn server_code(_: &ServerError) -> &'static str {
    "SERVER"
}

/// The one error table: the stable code of `e` when it is one of
/// Omnidesk's typed errors (the crate-wide one or any module's). Front ends
/// walk an error chain with it, so the CLI's `--json`, the app and the API
/// report the same code for the same failure.
pub fn code_of(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if let Some(e) = e.downcast_ref::<Error>() {
        return Some(e.code());
    }
    macro_rules! by_type {
        ($($ty:ty => $code:expr),* $(,)?) => {
            $(if let Some(e) = e.downcast_ref::<$ty>() {
                return Some($code(e));
            })*
        };
    }
    by_type!(
        EngineError => EngineError::code,
        StoreError => StoreError::code,
        ConfigError => config_code,
        ModelsError => ModelsError::code,
        MediaError => media_code,
        ServerError => server_code,
        RagError => RagError::code,
        AudioError => AudioError::code,
        CameraError => CameraError::code,
        TtsError => TtsError::code,
        ToolError => ToolError::code,
        TurnError => TurnError::code,
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_error_has_the_same_code_alone_and_wrapped() {
        let missing = StoreError::NotFound(3);
        assert_eq!(code_of(&missing), Some("NOT_FOUND"));
        assert_eq!(Error::from(StoreError::NotFound(3)).code(), "NOT_FOUND");
        assert_eq!(
            code_of(&TurnError::NothingRelevant),
            Some("NOTHING_RELEVANT")
        );
        let io = std::io::Error::other("not ours");
        assert_eq!(code_of(&io), None);
    }
}
