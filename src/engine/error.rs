//! Errors of the inference engine. Every failure a user can cause (bad file,
//! prompt too long, busy engine) has its own variant so front ends can react.

use std::path::PathBuf;

use crate::gguf::GgufError;

/// What went wrong while loading a model or generating.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The file failed validation before llama.cpp was allowed to see it.
    #[error(transparent)]
    InvalidModel(#[from] GgufError),
    /// llama.cpp itself refused a file that passed our header checks.
    #[error("llama.cpp could not load {path}: {reason}")]
    LoadFailed { path: PathBuf, reason: String },
    /// The context (KV cache) could not be created, usually for lack of memory.
    #[error("could not create a context of {n_ctx} tokens: {reason}")]
    ContextFailed { n_ctx: u32, reason: String },
    /// The multimodal projector could not be loaded for this model.
    #[error("projector {path}: {reason}")]
    ProjectorFailed { path: PathBuf, reason: String },
    /// The request carries media the loaded model cannot take.
    #[error("this model cannot take {kind} input: {reason}")]
    UnsupportedMedia { kind: &'static str, reason: String },
    /// The model's GGUF has no chat template and none was configured.
    #[error("the model has no chat template: {0}")]
    ChatTemplate(String),
    /// Even the newest message alone does not fit in the context.
    #[error("the message needs {tokens} tokens but the context holds {n_ctx} (with {reserved} kept free for the answer); shorten it or raise n_ctx")]
    PromptTooLong {
        tokens: usize,
        n_ctx: u32,
        reserved: usize,
    },
    /// A request that cannot be answered as given.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// llama.cpp failed while evaluating tokens.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// llama.cpp's sampler or grammar failed on this output (it threw); the
    /// engine stays up and answers the next request.
    #[error("sampling failed: {0}")]
    Sampling(String),
    /// The engine thread crashed on this request; it is being restarted
    /// and the next request is answered by the fresh engine.
    #[error("the engine crashed on this request ({0}); it is restarting")]
    Crashed(String),
    /// Too many requests are already waiting.
    #[error("the engine is busy ({0} requests queued); try again shortly")]
    Busy(usize),
    /// The engine thread is gone (it panicked or was shut down).
    #[error("the engine has stopped")]
    Stopped,
    /// Backend initialisation failed.
    #[error("llama.cpp backend: {0}")]
    Backend(String),
    /// The remote (OpenAI-compatible) backend failed.
    #[error(transparent)]
    Remote(#[from] super::remote::RemoteError),
}

/// Result of engine operations.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// A stable, machine-readable name for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidModel(_) => "INVALID_MODEL",
            EngineError::LoadFailed { .. } => "LOAD_FAILED",
            EngineError::ContextFailed { .. } => "CONTEXT_FAILED",
            EngineError::ProjectorFailed { .. } => "PROJECTOR_FAILED",
            EngineError::UnsupportedMedia { .. } => "UNSUPPORTED_MEDIA",
            EngineError::ChatTemplate(_) => "CHAT_TEMPLATE",
            EngineError::PromptTooLong { .. } => "PROMPT_TOO_LONG",
            EngineError::InvalidRequest(_) => "INVALID_REQUEST",
            EngineError::Decode(_) => "DECODE_FAILED",
            EngineError::Sampling(_) => "SAMPLING_FAILED",
            EngineError::Crashed(_) => "ENGINE_CRASHED",
            EngineError::Busy(_) => "BUSY",
            EngineError::Stopped => "ENGINE_STOPPED",
            EngineError::Backend(_) => "BACKEND",
            EngineError::Remote(e) => e.code(),
        }
    }
}
