//! `omnidesk serve`: an OpenAI-compatible HTTP API over the engine
//! (`/v1/models`, `/v1/chat/completions` streamed or not, `/v1/embeddings`,
//! `/v1/audio/transcriptions`, `/v1/audio/speech`),
//! so existing OpenAI clients work unchanged against the local model.
//!
//! Threading: axum handlers over hyper connections on the caller's tokio
//! runtime; handlers only parse and forward. The engine thread answers
//! requests together, one slot (sequence) each, decoded in one batch per
//! token; the window's before the API's (the API queues in the engine's
//! background lane and never takes the last slot), so API clients cannot
//! starve the window. Every route
//! needs the bearer token; a disconnected client cancels its generation.
//!
//! Bounded on every side ([`ServerLimits`]): connections (a cap in the
//! accept loop), time to send headers (which is also the keep-alive idle
//! time) and a body, requests admitted at once (the rest get 429 before
//! any media is decoded), media decodes running at once, and the graceful
//! stop: after its grace period open connections are dropped, which
//! cancels their generations.

pub mod auth;
pub mod embeddings;
pub mod error;
mod routes;
pub mod speech;
pub mod sse;
pub mod types;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub use auth::{load_or_create_token, token_path};
pub use embeddings::{EmbeddingBackend, LocalEmbeddings};
pub use error::{ApiError, Result, ServerError};
pub use speech::{SpeechOptions, VoiceSetup};
pub use types::{Defaults, DEFAULT_MAX_MESSAGES};

use crate::engine::{EngineHandle, Priority};

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
    /// Serves `/v1/audio/transcriptions` and `/v1/audio/speech` (501
    /// where no way to hear or voice is configured).
    pub speech: SpeechOptions,
    pub limits: ServerLimits,
}

/// How much any client may hold of the server at once, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Open connections; further ones wait in the OS backlog.
    pub max_connections: usize,
    /// Chat requests admitted at once (decoding media, queued or
    /// generating); more are answered 429 before their media are decoded.
    pub max_active_requests: usize,
    /// Requests decoding media at once (CPU- and memory-heavy).
    pub max_decoding: usize,
    /// Time a client has to send a request's headers, counted from the
    /// connection's start or the previous response: a silent or trickling
    /// socket is closed after it, and so is an idle keep-alive one.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body (408 after it).
    pub body_read_timeout: Duration,
    /// How long a graceful stop waits for open requests before dropping
    /// their connections (which cancels their generations).
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            max_active_requests: 8,
            max_decoding: 2,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
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
    limits: ServerLimits,
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
        let limits = options.limits;
        Ok(Self {
            listener,
            router: router(engine.with_priority(Priority::Background), options),
            limits,
        })
    }

    /// The address actually bound.
    ///
    /// # Errors
    /// `Bind` if the socket cannot report it.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Serve until `shutdown` resolves, then let open requests finish for
    /// at most [`ServerLimits::shutdown_grace`] before dropping them.
    ///
    /// # Errors
    /// `Serve` when the listener fails.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Server {
            listener,
            router,
            limits,
        } = self;
        let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            // Reap finished connections so the set stays small.
            while connections.try_join_next().is_some() {}
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let stream = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) if is_transient(&e) => {
                        // Out of file descriptors and the like: wait, retry.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    Err(e) => return Err(ServerError::Serve(e)),
                },
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(router.clone());
            let mut stop = stop_rx.clone();
            connections.spawn(async move {
                let _permit = permit;
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .keep_alive(true);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => return,
                    _ = stop.wait_for(|s| *s) => {}
                }
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            });
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(limits.shutdown_grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = connections.len(),
                "open requests outlived the shutdown grace period; dropping them"
            );
            // Dropping a connection drops its handler and response body,
            // which cancels their generations.
            connections.shutdown().await;
        }
        Ok(())
    }
}

/// Accept errors that say "not now" rather than "the listener is broken".
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut
    ) || e.raw_os_error().is_some_and(|c| c == 23 || c == 24) // ENFILE, EMFILE
}

fn router(engine: EngineHandle, options: ServerOptions) -> Router {
    let state = routes::AppState {
        engine,
        model_id: options.model_id.into(),
        created: routes::unix_now(),
        defaults: Arc::new(options.defaults),
        body_limit: options.body_limit,
        embedder: options.embedder,
        active: Arc::new(Semaphore::new(options.limits.max_active_requests.max(1))),
        max_active: options.limits.max_active_requests.max(1),
        decoding: Arc::new(Semaphore::new(options.limits.max_decoding.max(1))),
        body_timeout: options.limits.body_read_timeout,
        speech: Arc::new(speech::Speech::new(options.speech)),
    };
    let token: Arc<str> = options.token.into();
    Router::new()
        .route("/v1/models", get(routes::list_models))
        .route("/v1/models/{id}", get(routes::get_model))
        .route("/v1/chat/completions", post(routes::chat_completions))
        .route("/v1/embeddings", post(routes::embeddings))
        .route("/v1/audio/transcriptions", post(speech::transcriptions))
        .route("/v1/audio/speech", post(speech::speech))
        .fallback(routes::not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
}
