//! Why speech could not be made or played.

/// Failure to synthesise or play speech.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The speech program is not installed.
    #[error("{program} is not installed (Debian: apt-get install espeak-ng)")]
    EngineMissing { program: String },
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
            TtsError::EngineMissing { .. } => "TTS_MISSING",
            TtsError::SynthesisFailed { .. } | TtsError::BadOutput { .. } => "TTS_FAILED",
            TtsError::NoOutputDevice { .. } => "NO_AUDIO_OUTPUT",
            TtsError::PlaybackFailed { .. } => "PLAYBACK_FAILED",
            TtsError::Thread(_) => "TTS",
        }
    }
}

/// Result of speech operations.
pub type Result<T, E = TtsError> = std::result::Result<T, E>;
