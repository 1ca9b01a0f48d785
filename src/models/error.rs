//! Typed failures of the models module: manifest, lookup, downloads, the
//! local model library. Every variant names the file or URL involved so the
//! CLI can print it as is.

use std::path::PathBuf;

/// Result with [`ModelsError`].
pub type Result<T, E = ModelsError> = std::result::Result<T, E>;

/// Problems with the manifest, with finding a model, or with fetching one.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// The manifest TOML does not parse or is inconsistent.
    #[error("model manifest is invalid: {0}")]
    Manifest(String),
    /// No model was configured and none is downloaded.
    #[error("no model found: pass --model PATH, set `model` in {config}, or run `omnidesk models pull` to download one into {dir}")]
    NoModel { dir: PathBuf, config: String },
    /// A name that is neither a manifest id nor a file in the models dir.
    #[error("unknown model `{0}`: see `omnidesk models list`")]
    UnknownModel(String),
    /// The server answered 404.
    #[error("not found on the server: {url}")]
    NotFound { url: String },
    /// Any other unexpected HTTP status.
    #[error("HTTP {status} from {url}")]
    Http { status: u16, url: String },
    /// Connection, TLS or read failure; the `.part` file is kept for resuming.
    #[error("download of {url} failed: {message} (run the same command again to resume)")]
    Network { url: String, message: String },
    /// The finished file's sha256 differs from the expected one; it was removed.
    #[error("{file}: sha256 is {actual}, expected {expected}; the file was removed")]
    HashMismatch {
        file: PathBuf,
        expected: String,
        actual: String,
    },
    /// The finished file's size differs from the expected one; it was removed.
    #[error("{file}: size is {actual} bytes, expected {expected}; the file was removed")]
    SizeMismatch {
        file: PathBuf,
        expected: u64,
        actual: u64,
    },
    /// Not enough free disk space to start (or finish) the download.
    #[error("not enough disk space in {dir}: need {needed} bytes more, {available} available")]
    InsufficientSpace {
        dir: PathBuf,
        needed: u64,
        available: u64,
    },
    /// The caller cancelled; a `.part` file is kept for resuming.
    #[error("download of {0} was cancelled (run the same command again to resume)")]
    Cancelled(String),
    /// A PyPI release lacks the expected wheel, member or digest.
    #[error("PyPI package {package}: {message}")]
    Pypi { package: String, message: String },
    /// A wheel (zip) cannot be read.
    #[error("cannot read wheel {file}: {message}")]
    Wheel { file: PathBuf, message: String },
    /// A downloaded model could not be converted to GGUF.
    #[error("cannot convert {file} to GGUF: {source}")]
    Convert {
        file: PathBuf,
        source: super::convert::ConvertError,
    },
    /// A file offered for import or downloaded is not a usable GGUF.
    #[error(transparent)]
    InvalidGguf(#[from] crate::gguf::GgufError),
    /// A model path that is a download still in progress (or interrupted).
    #[error("{} is an unfinished download; run `omnidesk models pull` again to complete it", .0.display())]
    UnfinishedDownload(PathBuf),
    /// A hex sha256 that is not 64 hex digits.
    #[error("`{0}` is not a sha256 (64 hex digits)")]
    BadSha256(String),
    /// A file name that would leave the models dir.
    #[error("`{0}` is not a plain file name inside the models dir")]
    BadFileName(String),
    /// A file-system failure, with the path involved.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ModelsError {
    /// Wrap an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Manifest(_) => "MANIFEST_INVALID",
            Self::NoModel { .. } => "NO_MODEL",
            Self::UnknownModel(_) => "UNKNOWN_MODEL",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Http { .. } => "HTTP_ERROR",
            Self::Network { .. } => "NETWORK",
            Self::HashMismatch { .. } => "HASH_MISMATCH",
            Self::SizeMismatch { .. } => "SIZE_MISMATCH",
            Self::InsufficientSpace { .. } => "DISK_FULL",
            Self::Cancelled(_) => "CANCELLED",
            Self::Pypi { .. } => "PYPI",
            Self::Wheel { .. } => "WHEEL",
            Self::Convert { .. } => "CONVERT",
            Self::InvalidGguf(_) => "INVALID_MODEL",
            Self::UnfinishedDownload(_) => "UNFINISHED_DOWNLOAD",
            Self::BadSha256(_) => "BAD_SHA256",
            Self::BadFileName(_) => "BAD_FILE_NAME",
            Self::Io { .. } => "IO",
        }
    }
}
