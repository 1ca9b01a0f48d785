//! The settings switch for the OpenAI-compatible API (`omnidesk serve`
//! inside the app): on 127.0.0.1 only, behind the same bearer token as the
//! CLI's server, over the model the window uses. It follows the model: a
//! reload restarts it on the new one.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use omnidesk::server::{
    self, Defaults, EmbeddingBackend, LocalEmbeddings, Server, ServerLimits, ServerOptions,
    SpeechOptions, VoiceSetup, DEFAULT_BODY_LIMIT,
};
use serde::Serialize;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, EngineState, RunningApi};

/// What the settings screen shows about the API.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ApiStatus {
    /// The switch: serve whenever a model is ready.
    pub enabled: bool,
    pub port: u16,
    /// Serving now (off while no model is ready, or when binding failed).
    pub running: bool,
    /// `http://127.0.0.1:PORT/v1` while running.
    pub url: Option<String>,
    /// The bearer token clients send (also `omnidesk serve --show-token`).
    pub token: Option<String>,
    /// Why it is not running although enabled.
    pub error: Option<CommandError>,
}

fn status(state: &AppState, error: Option<CommandError>) -> ApiStatus {
    let serve = state.settings.get().serve;
    let addr = state.api.addr();
    ApiStatus {
        enabled: serve.enabled,
        port: serve.port,
        running: addr.is_some(),
        url: addr.map(|a| format!("http://{a}/v1")),
        token: server::load_or_create_token(&state.settings.data_dir).ok(),
        error,
    }
}

/// The API switch and where it serves.
#[tauri::command]
pub async fn get_api_server(state: State<'_, AppState>) -> CommandResult<ApiStatus> {
    Ok(status(&state, None))
}

/// Turn the API on or off (remembered in the settings); `port` 0 picks a
/// free one.
#[tauri::command]
pub async fn set_api_server(
    state: State<'_, AppState>,
    enabled: bool,
    port: u16,
) -> CommandResult<ApiStatus> {
    state.settings.update(|c| {
        c.serve.enabled = enabled;
        c.serve.port = port;
    })?;
    let error = restart(&state).await.err();
    Ok(status(&state, error))
}

/// How long a stop lets open API requests finish before dropping them
/// (which cancels their generations); a model reload waits this long at most.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Stop the running API (open requests get [`STOP_GRACE`] to finish);
/// true when one ran.
pub async fn stop(state: &AppState) -> bool {
    match state.api.replace(None) {
        Some(old) => {
            old.stop.cancel();
            // The server bounds its own stop; this bounds a stuck one too.
            let mut done = old.done;
            if tokio::time::timeout(STOP_GRACE * 3, &mut done)
                .await
                .is_err()
            {
                tracing::warn!("the API server did not stop in time; abandoning it");
                done.abort();
            }
            true
        }
        None => false,
    }
}

/// Stop the running API and, when it is enabled and a model is ready,
/// start it again on that model.
///
/// # Errors
/// The token cannot be made, or the port cannot be bound (the API is then
/// off).
pub async fn restart(state: &AppState) -> CommandResult<()> {
    stop(state).await;
    let serve = state.settings.get().serve;
    if !serve.enabled {
        return Ok(());
    }
    let EngineState::Ready { engine, .. } = state.engine.get() else {
        return Ok(());
    };
    let token = server::load_or_create_token(&state.settings.data_dir)?;
    // Embeddings come from the documents' model when it is loaded already.
    let embedder = state.docs.opened().map(|rag| {
        Arc::new(LocalEmbeddings::new(rag.embedder().clone(), "embedding"))
            as Arc<dyn EmbeddingBackend>
    });
    let options = ServerOptions {
        addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), serve.port),
        token,
        model_id: server::model_id(&engine),
        body_limit: DEFAULT_BODY_LIMIT,
        defaults: Defaults::for_engine(&state.settings.get(), &engine),
        embedder,
        speech: {
            let config = state.settings.get();
            SpeechOptions {
                whisper_model: config.audio.whisper_model.clone(),
                voice: Some(VoiceSetup {
                    engine: config.audio.voice,
                    piper: config.audio.piper_paths(&state.settings.data_dir),
                }),
            }
        },
        // Reloads stop the API first: keep that stop short.
        limits: ServerLimits {
            shutdown_grace: STOP_GRACE,
            ..ServerLimits::default()
        },
    };
    let bound = Server::bind(engine.clone(), options).await?;
    let addr = bound.local_addr()?;
    let stop = tokio_util::sync::CancellationToken::new();
    let shutdown = stop.clone();
    let done = tauri::async_runtime::spawn(async move {
        if let Err(e) = bound.run(async move { shutdown.cancelled().await }).await {
            tracing::warn!("the API server stopped: {e}");
        }
    });
    state.api.replace(Some(RunningApi { addr, stop, done }));
    tracing::info!("OpenAI-compatible API on http://{addr}/v1");
    Ok(())
}
