//! The shell's state: a few cloneable handles registered once with
//! `.manage()`. Each handle locks its own insides for the length of one
//! call and never across an `.await`, so commands on tokio threads and the
//! UI thread never wait on each other for long.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use omnidesk::audio::{Recording, RenderTap};
use omnidesk::camera::{FrameSource, NokhwaSource, Preview};
use omnidesk::config::Config;
use omnidesk::engine::RemoteConfig;
use omnidesk::engine::{CancelToken, EngineHandle};
use omnidesk::media::Image;
use omnidesk::media::Media;
use omnidesk::rag::{self, EmbedSource, Embedder, LlamaEmbedder, Rag, RemoteEmbedder};
use omnidesk::store::{Attachment, Store};
use omnidesk::tools::ConsentDecision;
use omnidesk::tts::{choose_speaker, Narrator, SpeechEvent};
use serde::Serialize;
use std::sync::atomic::AtomicBool;

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
    pub docs: Docs,
    pub capture: Capture,
    pub speech: Speech,
    pub talk: TalkSlot,
    pub downloads: Downloads,
    pub consents: ToolConsents,
    pub api: ApiServer,
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
            docs: Docs::default(),
            capture: Capture::new(Arc::new(NokhwaSource)),
            speech: Speech::default(),
            talk: TalkSlot::default(),
            downloads: Downloads::default(),
            consents: ToolConsents::default(),
            api: ApiServer::default(),
        }
    }

    /// The same state with another camera source (tests use the fake one).
    pub fn with_camera(mut self, source: Arc<dyn FrameSource>) -> Self {
        self.capture = Capture::new(source);
        self
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

impl omnidesk::turn::StoreAccess for StoreHandle {
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> omnidesk::Result<T>) -> omnidesk::Result<T> {
        match &*lock(&self.0) {
            Ok(store) => f(store),
            Err(e) => Err(omnidesk::store::StoreError::Unavailable(e.message.clone()).into()),
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
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
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
    /// What Whisper heard, instead of an attachment, for a recording made
    /// while a model without audio input is loaded (`kind` "transcript").
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub transcript: Option<String>,
}

impl AttachmentView {
    /// What Whisper heard, in place of a clip for a model that cannot hear.
    pub fn transcript(text: &str) -> Self {
        Self {
            id: None,
            name: "Transcript".into(),
            kind: "transcript".into(),
            thumbnail: None,
            width: None,
            height: None,
            transcript: Some(text.trim().to_owned()),
        }
    }
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
    /// `INVALID_INPUT` for an unknown id, or more ids than one request may
    /// carry (then none is taken).
    pub fn take(&self, ids: &[u64]) -> CommandResult<Vec<Staged>> {
        // The same per-request count the CLI and the API apply.
        let max = omnidesk::media::RequestLimits::default().max_media;
        if ids.len() > max {
            return Err(CommandError::invalid(format!(
                "one message may carry at most {max} images and audio clips"
            )));
        }
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

/// How to stop one running generation.
type Stopper = Arc<dyn Fn() + Send + Sync>;

/// Running generations, so `stop_generation` can reach them.
#[derive(Clone, Default)]
pub struct Generations {
    next: Arc<AtomicU64>,
    running: Arc<Mutex<HashMap<u64, Stopper>>>,
}

impl Generations {
    /// Register a running generation; it is forgotten when the guard drops.
    pub fn register(&self, token: CancelToken) -> GenerationGuard {
        self.register_with(Arc::new(move || token.cancel()))
    }

    /// Register a turn of several generations (tool calling), stopped
    /// through `token`.
    pub fn register_turn(&self, token: tokio_util::sync::CancellationToken) -> GenerationGuard {
        self.register_with(Arc::new(move || token.cancel()))
    }

    fn register_with(&self, stop: Stopper) -> GenerationGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.running).insert(id, stop);
        GenerationGuard {
            id,
            running: self.running.clone(),
        }
    }

    /// Cancel generation `id`, or all when `None`; returns how many.
    pub fn stop(&self, id: Option<u64>) -> usize {
        let running = lock(&self.running);
        let mut n = 0;
        for (k, stop) in running.iter() {
            if id.is_none_or(|id| id == *k) {
                stop();
                n += 1;
            }
        }
        n
    }
}

/// Removes a generation from [`Generations`] when it ends, however it ends.
pub struct GenerationGuard {
    pub id: u64,
    running: Arc<Mutex<HashMap<u64, Stopper>>>,
}

impl Drop for GenerationGuard {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.id);
    }
}

/// The document index, opened on first use with the configured embedding
/// model (loading it takes a moment), and the ingest running on it.
#[derive(Clone, Default)]
pub struct Docs {
    opened: Arc<tokio::sync::Mutex<Option<(PathBuf, Rag)>>>,
    /// Without a lock across awaits: what `docs_status` reads while a
    /// slow open or ingest runs.
    current: Arc<Mutex<Option<Rag>>>,
    ingest: Arc<Mutex<Option<Arc<AtomicBool>>>>,
}

impl Docs {
    /// The index for the configured embedding model.
    ///
    /// # Errors
    /// `NO_EMBEDDING_MODEL` when none is configured; the model's or the
    /// index's load errors.
    pub async fn open(&self, settings: &Settings) -> CommandResult<Rag> {
        match Self::source(settings)? {
            Some(EmbedSource::Remote(remote)) => {
                let key = remote_key(&remote);
                self.open_keyed(settings, key, move || {
                    Ok(Arc::new(RemoteEmbedder::connect(remote)?) as Arc<dyn Embedder>)
                })
                .await
            }
            Some(EmbedSource::Local(model)) => self.open_with(settings, model).await,
            None => Err(CommandError::new(
                codes::NO_EMBEDDING_MODEL,
                "choose an embedding model for your documents first",
            )),
        }
    }

    /// The library's choice of embedding model (the CLI makes the same).
    fn source(settings: &Settings) -> CommandResult<Option<EmbedSource>> {
        let models = omnidesk::models::models_dir(&settings.data_dir);
        Ok(omnidesk::rag::source::choose(
            &settings.get(),
            None,
            &models,
        )?)
    }

    /// The embedding model in use, as shown: a remote one as its URL.
    pub fn model(settings: &Settings) -> Option<PathBuf> {
        match Self::source(settings).ok().flatten()? {
            EmbedSource::Remote(remote) => Some(remote_key(&remote)),
            EmbedSource::Local(path) => Some(path),
        }
    }

    /// The index for local embedding model `model`, reopened when it
    /// differs from the one in use (the index then re-embeds what it holds).
    ///
    /// # Errors
    /// The model's or the index's load errors; nothing changes then.
    pub async fn open_with(&self, settings: &Settings, model: PathBuf) -> CommandResult<Rag> {
        let threads = settings.get().engine.threads;
        let path = model.clone();
        self.open_keyed(settings, model, move || {
            Ok(Arc::new(LlamaEmbedder::start(
                &path,
                (threads > 0).then_some(threads),
            )?) as Arc<dyn Embedder>)
        })
        .await
    }

    /// The index over the embedder `start` makes, unless the one open
    /// already has `key`.
    async fn open_keyed(
        &self,
        settings: &Settings,
        key: PathBuf,
        start: impl FnOnce() -> rag::Result<Arc<dyn Embedder>> + Send + 'static,
    ) -> CommandResult<Rag> {
        let mut slot = self.opened.lock().await;
        if let Some((path, rag)) = slot.as_ref() {
            if *path == key {
                return Ok(rag.clone());
            }
        }
        let dir = rag::default_dir(&settings.data_dir);
        let rag = tokio::task::spawn_blocking(move || Rag::open(&dir, start()?))
            .await
            .map_err(|e| CommandError::new(codes::INTERNAL, e.to_string()))??;
        *slot = Some((key, rag.clone()));
        *lock(&self.current) = Some(rag.clone());
        Ok(rag)
    }

    /// The index if it is open already (never waits for a load).
    pub fn opened(&self) -> Option<Rag> {
        lock(&self.current).clone()
    }

    /// Mark an ingest as running until the guard drops.
    ///
    /// # Errors
    /// `BUSY` while another ingest runs.
    pub fn begin_ingest(&self, cancel: Arc<AtomicBool>) -> CommandResult<IngestGuard> {
        let mut g = lock(&self.ingest);
        if g.is_some() {
            return Err(CommandError::new(
                "BUSY",
                "documents are being added already; wait for it or cancel it",
            ));
        }
        *g = Some(cancel);
        Ok(IngestGuard(self.ingest.clone()))
    }

    /// Whether an ingest runs now.
    pub fn ingesting(&self) -> bool {
        lock(&self.ingest).is_some()
    }

    /// Ask the running ingest to stop; false when none runs.
    pub fn cancel_ingest(&self) -> bool {
        match &*lock(&self.ingest) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

/// How a remote embedding model is named in the panel and keyed here.
fn remote_key(remote: &RemoteConfig) -> PathBuf {
    PathBuf::from(format!(
        "{} ({})",
        remote.url,
        remote.model.as_deref().unwrap_or("default model")
    ))
}

/// Clears the running-ingest mark however the ingest ends.
pub struct IngestGuard(Arc<Mutex<Option<Arc<AtomicBool>>>>);

impl Drop for IngestGuard {
    fn drop(&mut self) {
        *lock(&self.0) = None;
    }
}

/// The microphone recording and camera preview in progress (at most one
/// of each), and where camera frames come from.
#[derive(Clone)]
pub struct Capture {
    camera: Arc<dyn FrameSource>,
    recording: Arc<Mutex<Option<Recording>>>,
    preview: Arc<tokio::sync::Mutex<Option<Preview>>>,
}

impl Capture {
    /// Nothing running; cameras come from `camera`.
    pub fn new(camera: Arc<dyn FrameSource>) -> Self {
        Self {
            camera,
            recording: Arc::default(),
            preview: Arc::default(),
        }
    }

    /// Where camera frames come from.
    pub fn camera(&self) -> Arc<dyn FrameSource> {
        self.camera.clone()
    }

    /// Whether a recording runs.
    pub fn is_recording(&self) -> bool {
        lock(&self.recording).is_some()
    }

    /// Keep `recording` until it is stopped.
    ///
    /// # Errors
    /// `BUSY` when one runs already (the new one is dropped, discarding it).
    pub fn set_recording(&self, recording: Recording) -> CommandResult<()> {
        let mut g = lock(&self.recording);
        if g.is_some() {
            return Err(CommandError::new("BUSY", "already recording"));
        }
        *g = Some(recording);
        Ok(())
    }

    /// The running recording, to finish or drop.
    pub fn take_recording(&self) -> Option<Recording> {
        lock(&self.recording).take()
    }

    /// Replace the preview (`None` closes the camera); true when one was
    /// open before.
    pub async fn set_preview(&self, preview: Option<Preview>) -> bool {
        std::mem::replace(&mut *self.preview.lock().await, preview).is_some()
    }

    /// A full-size picture from the open preview; `None` when none is open.
    pub async fn preview_snapshot(&self) -> Option<Result<Image, omnidesk::camera::CameraError>> {
        let g = self.preview.lock().await;
        match g.as_ref() {
            Some(p) => Some(p.snapshot().await),
            None => None,
        }
    }
}

/// Spoken replies: one narrator with the configured voice (Piper for
/// English when installed, espeak-ng otherwise and for Chinese), started
/// the first time an answer is to be spoken. In talk mode it also reports
/// what it plays to the echo canceller (`set_tap`), and its events reach
/// whoever subscribes.
#[derive(Clone)]
pub struct Speech {
    inner: Arc<Mutex<SpeechInner>>,
    events: tokio::sync::broadcast::Sender<SpeechEvent>,
}

#[derive(Default)]
struct SpeechInner {
    narrator: Option<Narrator>,
    tap: Option<RenderTap>,
}

impl Default for Speech {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            events: tokio::sync::broadcast::channel(64).0,
        }
    }
}

impl Speech {
    /// The narrator with the voice and speaker of `settings` (`None` =
    /// default device).
    ///
    /// # Errors
    /// `NO_OUTPUT_DEVICE` and the like when there is nothing to play on; a
    /// Piper voice chosen explicitly that cannot load.
    pub fn narrator(&self, settings: &Settings) -> CommandResult<Narrator> {
        let mut g = lock(&self.inner);
        if let Some(n) = g.narrator.as_ref() {
            return Ok(n.clone());
        }
        let audio = settings.get().audio;
        let speaker = choose_speaker(audio.voice, &audio.piper_paths(&settings.data_dir))?;
        let (narrator, mut events) =
            Narrator::start_with_tap(speaker, audio.output_device.clone(), g.tap.clone())?;
        let forward = self.events.clone();
        tauri::async_runtime::spawn(async move {
            while let Some(e) = events.recv().await {
                tracing::debug!(?e, "speech");
                // Nobody subscribed is fine.
                let _ = forward.send(e);
            }
        });
        g.narrator = Some(narrator.clone());
        Ok(narrator)
    }

    /// What the narrator reports from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SpeechEvent> {
        self.events.subscribe()
    }

    /// Report what is played to `tap` (talk mode), or stop (`None`); the
    /// next answer starts a narrator that does.
    pub fn set_tap(&self, tap: Option<RenderTap>) {
        let mut g = lock(&self.inner);
        g.tap = tap;
        if let Some(n) = g.narrator.take() {
            n.stop();
        }
    }

    /// Stop and forget the narrator (the voice or speaker changed).
    pub fn reset(&self) {
        if let Some(n) = lock(&self.inner).narrator.take() {
            n.stop();
        }
    }

    /// Fall silent now (stop pressed, push-to-talk pressed).
    pub fn stop(&self) {
        if let Some(n) = lock(&self.inner).narrator.as_ref() {
            n.stop();
        }
    }

    /// Sentences queued or playing.
    pub fn pending(&self) -> usize {
        lock(&self.inner)
            .narrator
            .as_ref()
            .map_or(0, Narrator::pending)
    }

    /// Wait until what was queued has been spoken.
    pub async fn wait_idle(&self) {
        let n = lock(&self.inner).narrator.clone();
        if let Some(n) = n {
            n.wait_idle().await;
        }
    }
}

/// Talk mode: the running listener's stop token, and the end of the last
/// spoken turn (for the reply's timings).
#[derive(Clone, Default)]
pub struct TalkSlot {
    inner: Arc<Mutex<TalkInner>>,
}

#[derive(Default)]
struct TalkInner {
    stop: Option<tokio_util::sync::CancellationToken>,
    speech_end: Option<std::time::Instant>,
}

impl TalkSlot {
    /// Claim the slot; `None` when talk mode runs already.
    pub fn begin(&self) -> Option<tokio_util::sync::CancellationToken> {
        let mut g = lock(&self.inner);
        if g.stop.as_ref().is_some_and(|t| !t.is_cancelled()) {
            return None;
        }
        let token = tokio_util::sync::CancellationToken::new();
        g.stop = Some(token.clone());
        Some(token)
    }

    /// Stop talk mode; whether it ran.
    pub fn end(&self) -> bool {
        match lock(&self.inner).stop.take() {
            Some(t) => {
                let ran = !t.is_cancelled();
                t.cancel();
                ran
            }
            None => false,
        }
    }

    pub fn set_speech_end(&self, at: std::time::Instant) {
        lock(&self.inner).speech_end = Some(at);
    }

    /// When the person stopped speaking, for the reply being sent.
    pub fn take_speech_end(&self) -> Option<std::time::Instant> {
        lock(&self.inner).speech_end.take()
    }
}

/// The model download in progress, if any (one at a time).
#[derive(Clone, Default)]
pub struct Downloads(Arc<Mutex<Option<tokio_util::sync::CancellationToken>>>);

impl Downloads {
    /// Mark a download as running until the guard drops.
    ///
    /// # Errors
    /// `BUSY` while another download runs.
    pub fn begin(
        &self,
        cancel: tokio_util::sync::CancellationToken,
    ) -> CommandResult<DownloadGuard> {
        let mut g = lock(&self.0);
        if g.is_some() {
            return Err(CommandError::new(
                "BUSY",
                "a model is being downloaded already",
            ));
        }
        *g = Some(cancel);
        Ok(DownloadGuard(self.0.clone()))
    }

    /// Whether a download runs now.
    pub fn running(&self) -> bool {
        lock(&self.0).is_some()
    }

    /// Cancel the running download; false when none runs.
    pub fn cancel(&self) -> bool {
        match &*lock(&self.0) {
            Some(c) => {
                c.cancel();
                true
            }
            None => false,
        }
    }
}

/// Clears the running-download mark however the download ends.
pub struct DownloadGuard(Arc<Mutex<Option<tokio_util::sync::CancellationToken>>>);

impl Drop for DownloadGuard {
    fn drop(&mut self) {
        *lock(&self.0) = None;
    }
}

/// Tool calls waiting for the user's answer in the consent dialog, and the
/// tools they allowed "always" (for as long as the app runs).
#[derive(Clone, Default)]
pub struct ToolConsents {
    next: Arc<AtomicU64>,
    pending: Arc<Mutex<HashMap<u64, tokio::sync::oneshot::Sender<ConsentDecision>>>>,
    always: Arc<Mutex<HashSet<String>>>,
}

impl ToolConsents {
    /// A new question; its id goes to the window, the receiver waits.
    pub fn ask(&self) -> (u64, tokio::sync::oneshot::Receiver<ConsentDecision>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = tokio::sync::oneshot::channel();
        lock(&self.pending).insert(id, tx);
        (id, rx)
    }

    /// Deliver the window's answer to question `id`.
    ///
    /// # Errors
    /// `INVALID_INPUT` for an unknown or already answered question.
    pub fn answer(&self, id: u64, decision: ConsentDecision) -> CommandResult<()> {
        let tx = lock(&self.pending).remove(&id).ok_or_else(|| {
            CommandError::invalid(format!(
                "tool question {id} is not open (answered, stopped or timed out)"
            ))
        })?;
        // The asker may have given up (stop pressed) meanwhile; nothing to do.
        let _ = tx.send(decision);
        Ok(())
    }

    /// Forget question `id` (timed out or stopped).
    pub fn forget(&self, id: u64) {
        lock(&self.pending).remove(&id);
    }

    /// Remember "always" for `tool`.
    pub fn allow_always(&self, tool: &str) {
        lock(&self.always).insert(tool.to_owned());
    }

    /// The tools allowed "always" so far.
    pub fn always(&self) -> Vec<String> {
        lock(&self.always).iter().cloned().collect()
    }
}

/// The OpenAI-compatible API server the user switched on in the settings.
#[derive(Clone, Default)]
pub struct ApiServer(Arc<Mutex<Option<RunningApi>>>);

/// A running API server and how to stop it.
pub struct RunningApi {
    pub addr: std::net::SocketAddr,
    pub stop: tokio_util::sync::CancellationToken,
    pub done: tauri::async_runtime::JoinHandle<()>,
}

impl ApiServer {
    /// Keep `running`, returning the one it replaces.
    pub fn replace(&self, running: Option<RunningApi>) -> Option<RunningApi> {
        std::mem::replace(&mut *lock(&self.0), running)
    }

    /// Where it listens, when it runs.
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        lock(&self.0).as_ref().map(|r| r.addr)
    }
}
