//! Why speech could not be made or played.

use std::path::PathBuf;

/// Failure to synthesise or play speech.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The speech program is not installed.
    #[error("{program} is not installed (Debian: apt-get install espeak-ng)")]
    EngineMissing { program: String },
    /// A neural voice's model or config file is absent.
    #[error("the voice file {path} does not exist (scripts/install-voice.sh installs one)")]
    VoiceMissing { path: PathBuf },
    /// A voice file is not a usable Piper voice.
    #[error("{path} is not a usable Piper voice: {reason}")]
    BadVoice { path: PathBuf, reason: String },
    /// ONNX Runtime (for neural voices) cannot be loaded.
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    RuntimeMissing { path: PathBuf, reason: String },
    /// The synthesiser ran but failed.
    #[error("speech synthesis failed: {reason}")]
    SynthesisFailed { reason: String },
    /// The synthesiser's output could not be read as audio.
    #[error("the speech engine returned unreadable audio: {reason}")]
    BadOutput { reason: String },
    /// No output device (speakers, headphones) is available.
    #[error("no audio output device is available ({device})")]
    NoOutputDevice { device: String },
    /// The output device failed while playing.
    #[error("audio playback on {device} failed: {reason}")]
    PlaybackFailed { device: String, reason: String },
    /// A speech thread could not start.
    #[error("the speech thread failed: {0}")]
    Thread(String),
}

impl TtsError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            TtsError::EngineMissing { .. }
            | TtsError::VoiceMissing { .. }
            | TtsError::RuntimeMissing { .. } => "TTS_MISSING",
            TtsError::BadVoice { .. } => "TTS_BAD_VOICE",
            TtsError::SynthesisFailed { .. } | TtsError::BadOutput { .. } => "TTS_FAILED",
            TtsError::NoOutputDevice { .. } => "NO_AUDIO_OUTPUT",
            TtsError::PlaybackFailed { .. } => "PLAYBACK_FAILED",
            TtsError::Thread(_) => "TTS",
        }
    }
}

/// Result of speech operations.
pub type Result<T, E = TtsError> = std::result::Result<T, E>;
