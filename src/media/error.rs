//! Why an image or audio file could not be used. Every variant names the
//! file so the user knows which attachment to fix.

use std::path::PathBuf;

/// Failure to read, bound or decode a media file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {bytes} bytes is over the {max} byte limit for {kind} files")]
    FileTooLarge {
        path: PathBuf,
        kind: &'static str,
        bytes: u64,
        max: u64,
    },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: not an image this app can read (PNG, JPEG, WebP, GIF, BMP): {reason}")]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{path}: {width}×{height} pixels is over the limit of {max_pixels} pixels (or {max_side} per side)")]
    ImageTooLarge {
        path: PathBuf,
        width: u64,
        height: u64,
        max_pixels: u64,
        max_side: u32,
    },
    #[error("{path}: the image is damaged: {reason}")]
    BadImage { path: PathBuf, reason: String },
    #[error("{path}: not audio this app can read (WAV, MP3, FLAC, OGG Vorbis): {reason}")]
    NotAudio { path: PathBuf, reason: String },
    #[error("{path}: the audio is longer than the {max_seconds} s limit")]
    AudioTooLong { path: PathBuf, max_seconds: f64 },
    #[error("{path}: the audio contains no samples")]
    NoSamples { path: PathBuf },
    #[error("{path}: cannot resample {from} Hz to {to} Hz: {reason}")]
    Resample {
        path: PathBuf,
        from: u32,
        to: u32,
        reason: String,
    },
    /// The stream's own parameters (sample rate, channels, packet size) are
    /// outside what any real recording has; refused before decoding.
    #[error("{path}: not a usable audio stream: {reason}")]
    ImplausibleAudio { path: PathBuf, reason: String },
    /// More images/clips than one request may carry.
    #[error("{path}: one request may carry at most {max} images and audio clips")]
    TooManyMedia { path: PathBuf, max: usize },
    /// The request's media together are over a per-request total.
    #[error("{path}: the attachments of one request are over the limit of {limit}")]
    RequestTotal { path: PathBuf, limit: String },
}

impl MediaError {
    /// A stable, machine-readable name for the UI, `--json` and the API.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::NotFound { .. } => "MEDIA_NOT_FOUND",
            MediaError::Io { .. } => "MEDIA_IO",
            MediaError::FileTooLarge { .. } => "MEDIA_FILE_TOO_LARGE",
            MediaError::Empty { .. } => "MEDIA_EMPTY",
            MediaError::NotAnImage { .. } => "NOT_AN_IMAGE",
            MediaError::ImageTooLarge { .. } => "IMAGE_TOO_LARGE",
            MediaError::BadImage { .. } => "BAD_IMAGE",
            MediaError::NotAudio { .. } => "NOT_AUDIO",
            MediaError::AudioTooLong { .. } => "AUDIO_TOO_LONG",
            MediaError::NoSamples { .. } => "NO_SAMPLES",
            MediaError::Resample { .. } => "RESAMPLE_FAILED",
            MediaError::ImplausibleAudio { .. } => "IMPLAUSIBLE_AUDIO",
            MediaError::TooManyMedia { .. } => "TOO_MANY_MEDIA",
            MediaError::RequestTotal { .. } => "MEDIA_REQUEST_TOTAL",
        }
    }
}

impl MediaError {
    /// An I/O failure on `path`, with "not found" kept apart.
    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            MediaError::NotFound { path: path.into() }
        } else {
            MediaError::Io {
                path: path.into(),
                source: e,
            }
        }
    }

    /// Refuse an empty input, or one of `len` bytes over `max`, before
    /// any decoding.
    pub(crate) fn check_size(
        path: &std::path::Path,
        kind: &'static str,
        len: u64,
        max: u64,
    ) -> Result<()> {
        if len > max {
            return Err(MediaError::FileTooLarge {
                path: path.into(),
                kind,
                bytes: len,
                max,
            });
        }
        if len == 0 {
            return Err(MediaError::Empty { path: path.into() });
        }
        Ok(())
    }
}

/// Result of media operations.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;

impl MediaError {
    /// The same error naming `path` instead, e.g. the name a pasted file had
    /// rather than where it was staged.
    pub fn with_path(mut self, new: impl Into<PathBuf>) -> Self {
        let new = new.into();
        match &mut self {
            MediaError::NotFound { path }
            | MediaError::Io { path, .. }
            | MediaError::FileTooLarge { path, .. }
            | MediaError::Empty { path }
            | MediaError::NotAnImage { path, .. }
            | MediaError::ImageTooLarge { path, .. }
            | MediaError::BadImage { path, .. }
            | MediaError::NotAudio { path, .. }
            | MediaError::AudioTooLong { path, .. }
            | MediaError::NoSamples { path }
            | MediaError::Resample { path, .. }
            | MediaError::ImplausibleAudio { path, .. }
            | MediaError::TooManyMedia { path, .. }
            | MediaError::RequestTotal { path, .. } => *path = new,
        }
        self
    }
}
