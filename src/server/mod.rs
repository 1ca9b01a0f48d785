//! `omnidesk serve`: an OpenAI-compatible HTTP API over the engine
//! (`/v1/models`, `/v1/chat/completions` streamed or not, `/v1/embeddings`),
//! so existing OpenAI clients work unchanged against the local model.
//!
//! Threading: axum on the caller's tokio runtime; handlers only parse and
//! forward. The engine thread answers requests one at a time in arrival
//! order (its bounded queue turns overload into 429s), so requests are
//! never interleaved into one context. Every route needs the bearer token;
//! bodies are capped; a disconnected client cancels its generation.

pub mod auth;
pub mod embeddings;
pub mod error;
mod routes;
pub mod sse;
pub mod types;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

pub use auth::{load_or_create_token, token_path};
pub use embeddings::{EmbeddingBackend, LocalEmbeddings};
pub use error::{ApiError, Result, ServerError};
pub use types::Defaults;

use crate::engine::EngineHandle;

/// Default request body limit: room for a few base64 images or a clip.
pub const DEFAULT_BODY_LIMIT: usize = 32 << 20;

/// A boxed future, as returned by [`EmbeddingBackend::embed`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How to run the server.
#[derive(Clone)]
pub struct ServerOptions {
    pub addr: SocketAddr,
    /// The bearer token clients must send.
    pub token: String,
    /// The id clients see for the chat model.
    pub model_id: String,
    pub body_limit: usize,
    pub defaults: Defaults,
    /// Serves `/v1/embeddings`; `None` answers 501.
    pub embedder: Option<Arc<dyn EmbeddingBackend>>,
}

/// The id clients see for `engine`'s model: the model file's stem, or the
/// remote model's name.
pub fn model_id(engine: &EngineHandle) -> String {
    let info = engine.info();
    if engine.is_remote() {
        return info.name.clone().unwrap_or_else(|| "remote".into());
    }
    info.path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "omnidesk".into())
}

/// A bound, not yet serving, server: bind first so the caller can print
/// the real port (`--port 0`) before requests arrive.
pub struct Server {
    listener: TcpListener,
    router: Router,
}

impl Server {
    /// Bind `options.addr` and build the routes over `engine`.
    ///
    /// # Errors
    /// `Bind` when the address cannot be listened on.
    pub async fn bind(engine: EngineHandle, options: ServerOptions) -> Result<Self> {
        let listener =
            TcpListener::bind(options.addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: options.addr,
                    source,
                })?;
        Ok(Self {
            listener,
            router: router(engine, options),
        })
    }

    /// The address actually bound.
    ///
    /// # Errors
    /// `Bind` if the socket cannot report it.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Serve until `shutdown` resolves, then finish open requests.
    ///
    /// # Errors
    /// `Serve` when the listener fails.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Serve)
    }
}

fn router(engine: EngineHandle, options: ServerOptions) -> Router {
    let state = routes::AppState {
        engine,
        model_id: options.model_id.into(),
        created: routes::unix_now(),
        defaults: Arc::new(options.defaults),
        body_limit: options.body_limit,
        embedder: options.embedder,
    };
    let token: Arc<str> = options.token.into();
    Router::new()
        .route("/v1/models", get(routes::list_models))
        .route("/v1/models/{id}", get(routes::get_model))
        .route("/v1/chat/completions", post(routes::chat_completions))
        .route("/v1/embeddings", post(routes::embeddings))
        .fallback(routes::not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
}
