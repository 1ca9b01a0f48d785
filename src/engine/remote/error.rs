//! Failures of the remote backend, each naming the server so the user
//! knows which setting to fix.

/// What went wrong talking to an OpenAI-compatible server.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// `[backend] url` is not a usable http(s) URL.
    #[error("invalid backend URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// No connection (refused, DNS, TLS), after all retries.
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    /// No answer, or no next chunk, within the configured time.
    #[error("{url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    /// The answer was not the OpenAI format.
    #[error("unexpected answer from {url}: {reason}")]
    Protocol { url: String, reason: String },
    /// The stream broke after text had been delivered (never retried, as a
    /// retry would repeat it).
    #[error("the answer from {url} broke off after {tokens} chunks: {reason}")]
    Interrupted {
        url: String,
        tokens: usize,
        reason: String,
    },
    /// An image or clip could not be re-encoded for sending.
    #[error("cannot encode {kind} for the remote server: {reason}")]
    Encode { kind: &'static str, reason: String },
}

impl RemoteError {
    /// A stable, machine-readable name.
    pub fn code(&self) -> &'static str {
        match self {
            RemoteError::BadUrl { .. } => "REMOTE_BAD_URL",
            RemoteError::Connect { .. } => "REMOTE_UNREACHABLE",
            RemoteError::Timeout { .. } => "REMOTE_TIMEOUT",
            RemoteError::Status { .. } => "REMOTE_STATUS",
            RemoteError::Protocol { .. } => "REMOTE_PROTOCOL",
            RemoteError::Interrupted { .. } => "REMOTE_INTERRUPTED",
            RemoteError::Encode { .. } => "REMOTE_ENCODE",
        }
    }

    /// Worth another attempt (before any output): the server may be
    /// starting, overloaded or restarting.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            RemoteError::Connect { .. } | RemoteError::Timeout { .. } => true,
            RemoteError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
