//! Route handlers. Each one parses, hands the work to the engine (or the
//! embedding backend) and shapes the answer; none touches model state.
//! Handlers run on tokio worker threads; media decoding moves to a
//! blocking thread so it never stalls other connections, and happens only
//! once the request holds one of the server's slots, so the number of
//! requests decoding or holding decoded media is bounded.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use super::embeddings::{self, EmbeddingBackend};
use super::error::ApiError;
use super::sse::{self, ChunkMeta};
use super::types::{self, Defaults};
use crate::engine::{EngineError, EngineHandle, GenerationEvent};
use crate::openai::{
    ChatCompletionRequest, EmbeddingRequest, EmbeddingResponse, ModelList, ModelObject,
};

/// What every handler shares. Cheap to clone: handles and `Arc`s only.
#[derive(Clone)]
pub(crate) struct AppState {
    pub engine: EngineHandle,
    pub model_id: Arc<str>,
    pub created: u64,
    pub defaults: Arc<Defaults>,
    pub body_limit: usize,
    pub embedder: Option<Arc<dyn EmbeddingBackend>>,
    /// Chat requests admitted at once (see `ServerLimits`).
    pub active: Arc<Semaphore>,
    pub max_active: usize,
    /// Media decodes running at once.
    pub decoding: Arc<Semaphore>,
    pub body_timeout: Duration,
    /// Transcription and speech (`/v1/audio/*`).
    pub speech: Arc<super::speech::Speech>,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `chatcmpl-` plus 24 random hex digits.
fn completion_id() -> String {
    let mut bytes = [0u8; 12];
    // Ids only need to be distinct; a clock fallback is fine.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&unix_now().to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("chatcmpl-{hex}")
}

/// The body as JSON, with OpenAI-shaped 400/408/413 errors: at most
/// `state.body_limit` bytes, sent within `state.body_timeout`.
async fn json_body<T: serde::de::DeserializeOwned>(
    body: Body,
    state: &AppState,
) -> Result<T, ApiError> {
    let bytes = read_body_timed(body, state).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))
}

/// The body: at most `state.body_limit` bytes, sent within
/// `state.body_timeout` (413 and 408 otherwise).
pub(crate) async fn read_body_timed(body: Body, state: &AppState) -> Result<Bytes, ApiError> {
    tokio::time::timeout(state.body_timeout, read_body(body, state.body_limit))
        .await
        .map_err(|_| ApiError::timeout(state.body_timeout))?
}

/// Collect the body, refusing it as soon as it passes `limit`.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn model_object(state: &AppState, id: &str) -> ModelObject {
    ModelObject {
        id: id.to_string(),
        object: "model".into(),
        created: state.created,
        owned_by: "omnidesk".into(),
    }
}

/// `GET /v1/models`: the one loaded model (and the embedding model, if any).
pub(crate) async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    let mut data = vec![model_object(&state, &state.model_id)];
    if let Some(e) = &state.embedder {
        data.push(model_object(&state, e.model_id()));
    }
    Json(ModelList {
        object: "list".into(),
        data,
    })
}

/// `GET /v1/models/{id}`.
pub(crate) async fn get_model(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ModelObject>, ApiError> {
    let known =
        id == *state.model_id || state.embedder.as_ref().is_some_and(|e| e.model_id() == id);
    if known {
        Ok(Json(model_object(&state, &id)))
    } else {
        Err(ApiError::not_found(format!("no model named {id:?}")))
    }
}

/// `POST /v1/chat/completions`, streamed or not.
pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    body: Body,
) -> Result<Response, ApiError> {
    let req: ChatCompletionRequest = json_body(body, &state).await?;
    // Cheap checks first: an oversized request is refused without waiting.
    types::check_shape(&req, &state.defaults)?;
    // A slot before any media are decoded; held until the answer is sent.
    let slot = state
        .active
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::from(EngineError::Busy(state.max_active)))?;
    let defaults = state.defaults.clone();
    let prepared = {
        let _decoding = state
            .decoding
            .acquire()
            .await
            .map_err(|_| ApiError::from(EngineError::Stopped))?;
        tokio::task::spawn_blocking(move || types::prepare(req, &defaults))
            .await
            .map_err(|e| ApiError::internal(format!("request preparation failed: {e}")))??
    };
    let mut stream = state.engine.generate(prepared.request)?;
    let id = completion_id();
    let created = unix_now();
    if prepared.stream {
        // Wait for the first event: failures before any output (prompt too
        // long, unsupported media) still get a proper status code.
        let first = stream
            .next()
            .await
            .ok_or(crate::engine::EngineError::Stopped)?;
        if let GenerationEvent::Failed(e) = first {
            return Err(e.into());
        }
        let meta = ChunkMeta {
            id,
            created,
            model: state.model_id.to_string(),
            include_usage: prepared.include_usage,
        };
        return Ok(sse::response(first, stream, meta, slot));
    }
    // Dropping this future (client gone) drops `stream`, which cancels.
    let outcome = stream.finish().await?;
    drop(slot);
    Ok(Json(types::completion(id, created, &state.model_id, outcome)).into_response())
}

/// `POST /v1/embeddings`: 501 until an embedding backend is configured.
pub(crate) async fn embeddings(
    State(state): State<AppState>,
    body: Body,
) -> Result<Json<EmbeddingResponse>, ApiError> {
    let Some(embedder) = state.embedder.clone() else {
        return Err(ApiError::not_implemented(
            "embeddings_unavailable",
            "this server has no embedding model configured; start it with --embed-model PATH",
        ));
    };
    let req: EmbeddingRequest = json_body(body, &state).await?;
    let (inputs, base64) = embeddings::validate(req, embedder.dimension())?;
    let embedded = embedder.embed(inputs).await?;
    Ok(Json(embeddings::response(
        embedder.model_id(),
        embedded,
        base64,
    )))
}

/// Anything else.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such route; this server offers /v1/models, /v1/chat/completions, /v1/embeddings, \
         /v1/audio/transcriptions and /v1/audio/speech",
    )
}
