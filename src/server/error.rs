//! Errors of the HTTP server: [`ServerError`] for starting and running it
//! (library callers match on it), and [`ApiError`], the OpenAI-shaped
//! `{"error": {"message", "type", "code"}}` answer a client sees.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::engine::EngineError;
use crate::media::MediaError;
use crate::openai::{ErrorBody, ErrorDetail};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address is taken or not ours to bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The bearer token file could not be read or written.
    #[error("server token {path}: {source}")]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The token file exists but holds no usable token.
    #[error("server token {path} is empty or not printable ASCII; delete it to make a new one")]
    BadToken { path: PathBuf },
    /// The operating system gave no randomness for a new token.
    #[error("cannot generate a random token: {0}")]
    Random(String),
    /// The listener failed while serving.
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// Result of server operations.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// An error answer: HTTP status plus OpenAI's error envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// OpenAI's `type` (`invalid_request_error`, `server_error`, …).
    pub kind: &'static str,
    /// A stable machine-readable `code` (snake_case).
    pub code: String,
    pub message: String,
    /// Seconds for a `Retry-After` header (busy engine).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &str, message: String) -> Self {
        Self {
            status,
            kind,
            code: code.to_string(),
            message,
            retry_after: None,
        }
    }

    /// 400: the request cannot be answered as sent.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message.into(),
        )
    }

    /// 401: missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "missing or wrong bearer token: send `Authorization: Bearer <token>` \
             (see `omnidesk serve --show-token`)"
                .into(),
        )
    }

    /// 404: no such route or model.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            message.into(),
        )
    }

    /// 413: the body is over the server's limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("the request body is over the {limit} byte limit"),
        )
    }

    /// 408: the client took longer than `limit` to send its body.
    pub fn timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request_timeout",
            format!(
                "the request body did not arrive within {} s",
                limit.as_secs()
            ),
        )
    }

    /// 501: a route whose backend is not configured.
    pub fn not_implemented(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented_error",
            code,
            message.into(),
        )
    }

    /// 503: a part of the server is gone (a stopped embedder thread).
    pub fn unavailable(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            code,
            message.into(),
        )
    }

    /// 500: something failed on our side.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message.into(),
        )
    }

    /// The envelope, also sent as an SSE `data:` event mid-stream.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind.to_string(),
                code: Some(serde_json::Value::String(self.code.clone())),
            },
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        match e {
            EngineError::InvalidRequest(_)
            | EngineError::PromptTooLong { .. }
            | EngineError::UnsupportedMedia { .. } => {
                Self::bad_request(&e.code().to_ascii_lowercase(), message)
            }
            EngineError::Busy(_) => Self {
                retry_after: Some(1),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "server_busy",
                    message,
                )
            },
            EngineError::Stopped => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "engine_stopped",
                message,
            ),
            // The upstream's verdict on the request itself passes through.
            EngineError::Remote(crate::engine::RemoteError::Status { status, .. })
                if (400..500).contains(&status) && ![401, 403, 429].contains(&status) =>
            {
                Self::new(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    "invalid_request_error",
                    "upstream_rejected",
                    message,
                )
            }
            EngineError::Remote(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                "server_error",
                "upstream_error",
                message,
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.code().to_ascii_lowercase(),
                message,
            ),
        }
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::TooManyMedia { .. } => Self::bad_request("too_many_media", e.to_string()),
            MediaError::RequestTotal { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "media_request_total",
                e.to_string(),
            ),
            _ => Self::bad_request("invalid_media", e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_429_with_retry_after() {
        let res = ApiError::from(EngineError::Busy(16)).into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn user_mistakes_are_400() {
        let e = ApiError::from(EngineError::InvalidRequest("x".into()));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.code, "invalid_request");
    }
}
