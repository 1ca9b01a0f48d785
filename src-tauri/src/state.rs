//! The shell's state: a few cloneable handles registered once with
//! `.manage()`. Each handle locks its own insides for the length of one
//! call and never across an `.await`, so commands on tokio threads and the
//! UI thread never wait on each other for long.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use omnidesk::config::Config;
use omnidesk::engine::{CancelToken, EngineHandle};
use omnidesk::media::Media;
use omnidesk::store::{Attachment, Store};
use serde::Serialize;

use crate::error::{codes, CommandError, CommandResult};

/// Locks a mutex even if a panicking holder poisoned it: every value kept
/// here stays consistent between statements.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Everything the commands share.
#[derive(Clone)]
pub struct AppState {
    pub engine: EngineSlot,
    pub store: StoreHandle,
    pub settings: Settings,
    pub staged: StagedMedia,
    pub generations: Generations,
}

impl AppState {
    /// State over an opened (or refused) store and loaded settings.
    pub fn new(store: Result<Store, CommandError>, settings: Settings) -> Self {
        Self {
            engine: EngineSlot::default(),
            store: StoreHandle(Arc::new(Mutex::new(store))),
            settings,
            staged: StagedMedia::default(),
            generations: Generations::default(),
        }
    }
}

/// Where the model is in its life.
#[derive(Debug, Clone, Default)]
pub enum EngineState {
    /// Nothing chosen (first run) or nothing found.
    #[default]
    Empty,
    /// Loading `model` on the engine thread.
    Loading { model: PathBuf },
    /// Ready to answer.
    Ready {
        engine: EngineHandle,
        notice: Option<String>,
    },
    /// The last load failed.
    Failed { model: PathBuf, error: CommandError },
}

/// The engine, which is replaced whenever the user picks another model.
#[derive(Clone, Default)]
pub struct EngineSlot(Arc<Mutex<(u64, EngineState)>>);

impl EngineSlot {
    /// What the slot holds now.
    pub fn get(&self) -> EngineState {
        lock(&self.0).1.clone()
    }

    /// Replace the state; returns a ticket so a slow load that was
    /// superseded by a newer one does not overwrite it.
    pub fn begin(&self, state: EngineState) -> u64 {
        let mut g = lock(&self.0);
        g.0 += 1;
        g.1 = state;
        g.0
    }

    /// Finish load `ticket`; ignored when another load began meanwhile.
    pub fn finish(&self, ticket: u64, state: EngineState) -> bool {
        let mut g = lock(&self.0);
        if g.0 != ticket {
            return false;
        }
        g.1 = state;
        true
    }

    /// The running engine, or why there is none.
    ///
    /// # Errors
    /// `NO_MODEL`, `MODEL_LOADING`, or the load's own error.
    pub fn ready(&self) -> CommandResult<EngineHandle> {
        match self.get() {
            EngineState::Ready { engine, .. } => Ok(engine),
            EngineState::Empty => Err(CommandError::new(
                codes::NO_MODEL,
                "no model is loaded: choose a GGUF model first",
            )),
            EngineState::Loading { model } => Err(CommandError::new(
                codes::LOADING,
                format!("{} is still loading", model.display()),
            )),
            EngineState::Failed { error, .. } => Err(error),
        }
    }
}

/// The conversation database; a failure to open it is kept and reported by
/// every command that needs it, so the window still opens and explains.
#[derive(Clone)]
pub struct StoreHandle(Arc<Mutex<Result<Store, CommandError>>>);

impl StoreHandle {
    /// Run `f` on the store.
    ///
    /// # Errors
    /// Why the store could not be opened, or `f`'s error.
    pub fn with<T>(&self, f: impl FnOnce(&Store) -> CommandResult<T>) -> CommandResult<T> {
        match &*lock(&self.0) {
            Ok(store) => f(store),
            Err(e) => Err(e.clone()),
        }
    }
}

/// The user's settings and where they are saved.
#[derive(Clone)]
pub struct Settings {
    config: Arc<Mutex<Config>>,
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
}

impl Settings {
    /// Settings loaded from `config_path`.
    pub fn new(config: Config, config_path: PathBuf, data_dir: PathBuf) -> Self {
        Self {
            config: Arc::new(Mutex::new(config)),
            config_path,
            data_dir,
        }
    }

    /// A copy of the current settings.
    pub fn get(&self) -> Config {
        lock(&self.config).clone()
    }

    /// Change the settings and save them.
    ///
    /// # Errors
    /// `CONFIG` if the file cannot be written (the change is then not kept).
    pub fn update(&self, f: impl FnOnce(&mut Config)) -> CommandResult<Config> {
        let mut g = lock(&self.config);
        let mut next = g.clone();
        f(&mut next);
        next.save(&self.config_path)?;
        *g = next.clone();
        Ok(next)
    }

    /// Where pasted and dropped images are kept.
    pub fn attachments_dir(&self) -> PathBuf {
        self.data_dir.join("attachments")
    }
}

/// An image attached in the composer but not yet sent.
#[derive(Debug, Clone)]
pub struct Staged {
    pub media: Media,
    pub record: Attachment,
}

/// What the UI shows for a staged or stored attachment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    /// Id to send or discard it with (staged attachments only).
    pub id: Option<u64>,
    pub name: String,
    pub kind: String,
    /// `data:image/png;base64,…` preview, when one could be made.
    pub thumbnail: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Attachments waiting in the composer, by id.
#[derive(Clone, Default)]
pub struct StagedMedia {
    next: Arc<AtomicU64>,
    items: Arc<Mutex<HashMap<u64, Staged>>>,
}

impl StagedMedia {
    /// Keep `staged`, returning its id.
    pub fn add(&self, staged: Staged) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.items).insert(id, staged);
        id
    }

    /// Take the attachments `ids`, in that order.
    ///
    /// # Errors
    /// `INVALID_INPUT` for an unknown id (then none is taken).
    pub fn take(&self, ids: &[u64]) -> CommandResult<Vec<Staged>> {
        let mut items = lock(&self.items);
        if let Some(bad) = ids.iter().find(|id| !items.contains_key(id)) {
            return Err(CommandError::invalid(format!(
                "attachment {bad} is not staged (already sent or discarded)"
            )));
        }
        Ok(ids.iter().filter_map(|id| items.remove(id)).collect())
    }

    /// Forget an attachment; unknown ids are ignored.
    pub fn discard(&self, id: u64) {
        lock(&self.items).remove(&id);
    }
}

/// Running generations, so `stop_generation` can reach them.
#[derive(Clone, Default)]
pub struct Generations {
    next: Arc<AtomicU64>,
    running: Arc<Mutex<HashMap<u64, CancelToken>>>,
}

impl Generations {
    /// Register a running generation; it is forgotten when the guard drops.
    pub fn register(&self, token: CancelToken) -> GenerationGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.running).insert(id, token);
        GenerationGuard {
            id,
            running: self.running.clone(),
        }
    }

    /// Cancel generation `id`, or all when `None`; returns how many.
    pub fn stop(&self, id: Option<u64>) -> usize {
        let running = lock(&self.running);
        let mut n = 0;
        for (k, token) in running.iter() {
            if id.is_none_or(|id| id == *k) {
                token.cancel();
                n += 1;
            }
        }
        n
    }
}

/// Removes a generation from [`Generations`] when it ends, however it ends.
pub struct GenerationGuard {
    pub id: u64,
    running: Arc<Mutex<HashMap<u64, CancelToken>>>,
}

impl Drop for GenerationGuard {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.id);
    }
}
