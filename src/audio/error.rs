//! Why the microphone could not be used. The UI shows these as they are,
//! so each variant says what the user can do about it.

/// Failure to find, open or read an input device.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// No capture device exists, or the chosen one cannot be opened.
    #[error("no microphone is available ({device}): connect one or pick another input device")]
    NoMicrophone { device: String },
    /// A device was asked for by name and is not among the inputs.
    #[error("input device {name:?} not found; see `omnidesk audio devices`")]
    DeviceNotFound { name: String },
    /// The operating system refused access to the microphone.
    #[error("access to the microphone {device} was denied: allow microphone access for Omnidesk")]
    PermissionDenied { device: String },
    /// Another program holds the device exclusively.
    #[error("the microphone {device} is busy (used by another program)")]
    DeviceBusy { device: String },
    /// The device failed or vanished (e.g. unplugged) while in use.
    #[error("the microphone {device} failed: {reason}")]
    DeviceFailed { device: String, reason: String },
    /// The device delivers samples in a format this build cannot read.
    #[error("the microphone {device} uses an unsupported sample format {format}")]
    UnsupportedFormat { device: String, format: String },
    /// The recording held nothing but silence.
    #[error("nothing was heard: the recording is silent")]
    Silent,
    /// Sample-rate conversion failed.
    #[error("cannot convert the recording from {from} Hz to {to} Hz: {reason}")]
    Resample { from: u32, to: u32, reason: String },
    /// The capture thread could not start or ended without an answer.
    #[error("the audio capture thread failed: {0}")]
    Thread(String),
    /// The Whisper helper program or its model is not installed.
    #[error("Whisper is not available: {what}")]
    WhisperMissing { what: String },
    /// The Whisper helper ran but could not transcribe.
    #[error("Whisper could not transcribe the clip: {reason}")]
    WhisperFailed { reason: String },
    /// Talk mode's voice-activity model (Silero VAD) or ONNX Runtime is
    /// not installed.
    #[error("voice activity detection is not available: {what} (install it with scripts/install-voice.sh)")]
    VadMissing { what: String },
    /// The voice-activity model loaded but does not work.
    #[error("the voice-activity model {path} cannot be used: {reason}")]
    BadVad {
        path: std::path::PathBuf,
        reason: String,
    },
    /// Writing a clip to disk failed.
    #[error("cannot write audio file {path}: {reason}")]
    Write {
        path: std::path::PathBuf,
        reason: String,
    },
}

impl AudioError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            AudioError::NoMicrophone { .. } => "NO_MICROPHONE",
            AudioError::DeviceNotFound { .. } => "AUDIO_DEVICE_NOT_FOUND",
            AudioError::PermissionDenied { .. } => "MICROPHONE_PERMISSION",
            AudioError::DeviceBusy { .. } => "AUDIO_DEVICE_BUSY",
            AudioError::DeviceFailed { .. } => "AUDIO_DEVICE_FAILED",
            AudioError::UnsupportedFormat { .. } => "AUDIO_FORMAT",
            AudioError::Silent => "SILENT_RECORDING",
            AudioError::Resample { .. } => "AUDIO_RESAMPLE",
            AudioError::WhisperMissing { .. } => "WHISPER_MISSING",
            AudioError::WhisperFailed { .. } => "WHISPER_FAILED",
            AudioError::VadMissing { .. } => "VAD_MISSING",
            AudioError::BadVad { .. } => "BAD_VAD",
            AudioError::Thread(_) | AudioError::Write { .. } => "AUDIO",
        }
    }

    /// Map a cpal error met while opening or running `device`.
    pub(crate) fn from_cpal(device: &str, e: &cpal::Error) -> Self {
        use cpal::ErrorKind as K;
        let device = device.to_string();
        match e.kind() {
            K::DeviceNotAvailable | K::HostUnavailable => AudioError::NoMicrophone { device },
            K::PermissionDenied => AudioError::PermissionDenied { device },
            K::DeviceBusy => AudioError::DeviceBusy { device },
            _ => AudioError::DeviceFailed {
                device,
                reason: e.to_string(),
            },
        }
    }
}

/// Result of microphone operations.
pub type Result<T, E = AudioError> = std::result::Result<T, E>;
