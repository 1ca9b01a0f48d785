//! The inference engine: one OS thread owns the llama.cpp model and context;
//! everyone else talks to it through an [`EngineHandle`].
//!
//! `LlamaContext` borrows the model and holds raw pointers, so it never
//! leaves the engine thread. Requests queue in two FIFO lanes, the window's
//! before the API's (bounded; a full queue answers [`EngineError::Busy`]);
//! up to one per slot run at once, decoded together in one batch per token,
//! and results stream back over a tokio channel, so async front ends never
//! block on inference.

mod alive;
pub mod backends;
pub use alive::wait_for_llama_threads;
pub(crate) use alive::Alive;
mod batch;
pub mod bench;
mod encoder_cache;
pub mod error;
mod kv_disk;
pub mod media;
mod mtmd_raw;
mod prompt;
mod queue;
pub mod remote;
pub mod sampling;
pub mod segments;
pub mod text;
pub(crate) mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use bench::{BenchParams, BenchReport};
pub use encoder_cache::DEFAULT_BYTES as ENCODER_CACHE_BYTES;
pub use error::{EngineError, Result};
pub use media::{Capabilities, DEFAULT_AUDIO_RATE};
pub use queue::Priority;
pub use remote::{RemoteConfig, RemoteError};
pub use sampling::SamplingParams;

use crate::chat::ChatMessage;
use crate::gguf;

/// Requests that may wait for a slot, per [`Priority`].
pub const QUEUE_CAPACITY: usize = 16;
/// Largest single message accepted; far beyond any context, but it keeps a
/// pasted file from stalling the tokenizer.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;
/// Largest conversation accepted, all messages' text together. Fitting it
/// into the context reads only the newest messages, so this bounds memory,
/// not time.
pub const MAX_REQUEST_BYTES: usize = 16 << 20;
/// Most stop strings per request, and the longest one.
pub const MAX_STOP_STRINGS: usize = 16;
pub const MAX_STOP_BYTES: usize = 1024;

/// How to load the model and size its context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    pub model_path: PathBuf,
    /// Context length in tokens; 0 picks min(model's trained length, 4096).
    pub n_ctx: u32,
    /// CPU threads; `None` uses every available core.
    pub n_threads: Option<u32>,
    /// Layers offloaded to a GPU backend (ignored by a CPU-only build).
    pub n_gpu_layers: u32,
    /// Tokens evaluated per llama.cpp batch while reading a prompt.
    pub n_batch: u32,
    /// Override for the model's built-in chat template (a name like
    /// `chatml` or a template string).
    pub chat_template: Option<String>,
    /// Multimodal projector (mmproj) giving the model eyes and/or ears.
    pub mmproj_path: Option<PathBuf>,
    /// Memory for encoder output kept by content hash, so an image or clip
    /// seen before is not encoded again once its KV cells are gone; 0 turns
    /// it off (llama.cpp's own encode-and-decode path).
    #[serde(default = "default_encoder_cache_bytes")]
    pub encoder_cache_bytes: usize,
    /// Conversations kept in the context at once (sequences sharing its
    /// `n_ctx` cells); 0 picks [`DEFAULT_SLOTS`].
    #[serde(default)]
    pub n_slots: u32,
    /// Where conversations' KV caches are saved between runs (`None`: not
    /// saved), and the most disk they may take.
    pub kv_cache_dir: Option<PathBuf>,
    pub kv_cache_bytes: u64,
}

/// Slots when the config says "auto": conversations kept evaluated, and
/// generations running at once (API clients get all but one, the window's).
/// They share one unified KV cache, so more slots cost no memory; an idle
/// slot whose cells are needed is evicted.
pub const DEFAULT_SLOTS: u32 = 8;

/// The most slots a context may have.
pub const MAX_SLOTS: u32 = 64;

fn default_encoder_cache_bytes() -> usize {
    ENCODER_CACHE_BYTES
}

impl EngineConfig {
    /// Defaults for `model_path`: auto context, all cores, CPU.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            model_path: model_path.into(),
            n_ctx: 0,
            n_threads: None,
            n_gpu_layers: 0,
            n_batch: 512,
            chat_template: None,
            mmproj_path: None,
            encoder_cache_bytes: ENCODER_CACHE_BYTES,
            n_slots: 0,
            kv_cache_dir: None,
            kv_cache_bytes: 0,
        }
    }
}

/// One chat turn to answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The whole conversation so far, system prompt first, newest last.
    pub messages: Vec<ChatMessage>,
    pub sampling: SamplingParams,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// Literal strings that end the answer (not included in it).
    pub stop: Vec<String>,
}

impl GenerateRequest {
    /// A request with default sampling and a 512-token limit.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            sampling: SamplingParams::default(),
            max_tokens: 512,
            stop: Vec::new(),
        }
    }
}

/// A grammar that constrains what the model may write, in llama.cpp's GBNF.
/// Tool calling uses it so a call is always well-formed JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grammar {
    /// GBNF text.
    pub gbnf: String,
    /// Name of the start rule.
    pub root: String,
    /// Lazy grammars apply only from the first of these words on (e.g.
    /// `<tool_call>`), so the model may still answer in free text; empty
    /// means the whole output follows the grammar.
    pub triggers: Vec<String>,
}

/// A chat turn with the controls tool calling needs on top of
/// [`GenerateRequest`]: a prompt the caller rendered itself (a Jinja chat
/// template with tools, which llama.cpp's template API cannot render) and a
/// grammar. Kept apart from `GenerateRequest` so plain chat is unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConstrainedRequest {
    /// Sampling, limits and stop strings; its messages are rendered with the
    /// model's template unless `prompt` is set, and supply the media either way.
    pub request: GenerateRequest,
    /// Rendered prompt text (special tokens as text, media as markers).
    pub prompt: Option<String>,
    pub grammar: Option<Grammar>,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// A configured stop string appeared.
    StopString,
    /// `max_tokens` was reached.
    MaxTokens,
    /// The caller cancelled.
    Cancelled,
    /// The context window filled up mid-answer.
    ContextFull,
}

/// Counters for one answer, for tests, the UI and `--json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct GenerationStats {
    /// Tokens in the rendered prompt.
    pub prompt_tokens: usize,
    /// Prompt tokens that had to be evaluated.
    pub prompt_evaluated: usize,
    /// Prompt tokens reused from the KV cache (a live slot, or restored).
    pub prompt_reused: usize,
    /// Of `prompt_reused`, tokens restored from a conversation saved to
    /// disk (after a restart, or once its slot went to another).
    #[serde(default)]
    pub prompt_restored: usize,
    /// Time reading and restoring that saved conversation.
    #[serde(default)]
    pub restore_ms: f64,
    /// Old messages left out because the conversation outgrew the context.
    pub dropped_messages: usize,
    pub generated_tokens: usize,
    pub time_to_first_token_ms: f64,
    pub prompt_ms: f64,
    pub generation_ms: f64,
    pub prompt_tokens_per_s: f64,
    pub tokens_per_s: f64,
    pub seed: u32,
    /// Tokens produced by images evaluated this turn (by the encoder or
    /// from its cache).
    pub image_tokens: usize,
    /// Images run through the vision encoder this turn.
    pub images_encoded: usize,
    /// Tokens produced by audio clips evaluated this turn (by the encoder
    /// or from its cache).
    pub audio_tokens: usize,
    /// Seconds of audio run through the audio encoder this turn.
    pub audio_seconds_encoded: f64,
    /// Time spent encoding media and decoding their embeddings.
    pub media_encode_ms: f64,
    /// Images/clips found already in the KV cache and not re-encoded.
    pub media_reused: usize,
    /// Media chunks (an image, or up to 30 s of audio) decoded from cached
    /// encoder output instead of running the encoder.
    #[serde(default)]
    pub encoder_cache_hits: usize,
    /// Media chunks that ran through the encoder.
    #[serde(default)]
    pub encoder_cache_misses: usize,
    /// Time in the vision encoder alone.
    #[serde(default)]
    pub image_encode_ms: f64,
    /// Time in the audio encoder alone.
    #[serde(default)]
    pub audio_encode_ms: f64,
    /// `image_encode_ms` per image encoded (0 when none was).
    #[serde(default)]
    pub encode_ms_per_image: f64,
    /// `audio_encode_ms` per second of audio encoded (0 when none was).
    /// The encoder always takes 30 s windows, so short clips cost more per
    /// second than long ones.
    #[serde(default)]
    pub encode_ms_per_audio_second: f64,
}

impl GenerationStats {
    fn record_media(
        &mut self,
        media: &crate::media::Media,
        n_tokens: usize,
        eval: &media::MediaEval,
    ) {
        self.encoder_cache_hits += eval.cached;
        self.encoder_cache_misses += eval.encoded;
        match media {
            crate::media::Media::Image(_) => {
                self.image_tokens += n_tokens;
                if eval.encoded > 0 {
                    self.images_encoded += 1;
                }
                self.image_encode_ms += eval.encode_ms;
            }
            crate::media::Media::Audio(a) => {
                self.audio_tokens += n_tokens;
                // A long clip is several chunks; count the share encoded.
                let chunks = eval.encoded + eval.cached;
                if chunks > 0 {
                    self.audio_seconds_encoded += a.seconds() * eval.encoded as f64 / chunks as f64;
                }
                self.audio_encode_ms += eval.encode_ms;
            }
        }
    }

    /// Fill the per-image and per-second rates from the totals.
    fn finish_rates(&mut self) {
        self.encode_ms_per_image = if self.images_encoded > 0 {
            self.image_encode_ms / self.images_encoded as f64
        } else {
            0.0
        };
        self.encode_ms_per_audio_second = if self.audio_seconds_encoded > 0.0 {
            self.audio_encode_ms / self.audio_seconds_encoded
        } else {
            0.0
        };
    }
}

/// The complete answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationOutcome {
    pub text: String,
    pub finish: FinishReason,
    pub stats: GenerationStats,
}

/// What a running generation reports, in order: `Started`, any number of
/// `Token`s, then exactly one of `Done` or `Failed`.
#[derive(Debug)]
pub enum GenerationEvent {
    Started {
        prompt_tokens: usize,
        reused_tokens: usize,
        dropped_messages: usize,
    },
    /// Valid UTF-8 text, never half a character.
    Token(String),
    Done(GenerationOutcome),
    Failed(EngineError),
}

/// What the loaded model and backend are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub architecture: String,
    pub name: Option<String>,
    pub n_params: u64,
    pub size_bytes: u64,
    pub n_ctx_train: u32,
    pub n_ctx: u32,
    pub n_embd: i32,
    pub n_layer: u32,
    pub n_vocab: i32,
    pub n_threads: u32,
    pub n_gpu_layers: u32,
    /// Which chat template renders prompts, and where it came from.
    pub chat_template: String,
    /// The projector loaded with the model, if any.
    pub mmproj: Option<PathBuf>,
    /// What media the model takes.
    pub capabilities: Capabilities,
    /// Every GGUF metadata key with a short display of its value.
    pub metadata: Vec<(String, String)>,
    pub backend: BackendInfo,
}

/// Compute devices llama.cpp can see in this build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Where the backends came from (compiled in, or modules from a folder).
    #[serde(default)]
    pub modules: backends::BackendModules,
    pub gpu_offload: bool,
    pub devices: Vec<DeviceInfo>,
}

/// One llama.cpp (ggml) device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub name: String,
    pub description: String,
    pub backend: String,
    pub kind: String,
    pub memory_total: u64,
    pub memory_free: u64,
}

/// The backend and devices, without loading a model.
///
/// # Errors
/// `Backend` when llama.cpp cannot initialise.
pub fn backend_info() -> Result<BackendInfo> {
    worker::backend().map(worker::describe_backend)
}

/// Where the engine is: what the UI shows next to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineStatus {
    /// The model is loading for the first time.
    Loading,
    /// Answering requests.
    Ready,
    /// The engine thread crashed and the model is being loaded again;
    /// requests wait in the queue meanwhile.
    Restarting,
    /// The engine is gone (a restart failed); requests fail with `Stopped`.
    Failed,
}

/// Handle to a running engine. Cheap to clone; the engine stops when the
/// last handle is dropped.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    backend: Backend,
    info: Arc<ModelInfo>,
    status: Arc<worker::StatusCell>,
    /// The queue lane this handle's requests wait in.
    priority: Priority,
}

/// Where generations run. Both kinds feed the same [`GenerationEvent`]
/// channel, so callers cannot tell them apart.
#[derive(Debug, Clone)]
enum Backend {
    /// The llama.cpp thread of this process.
    Local(queue::Sender<worker::Task>),
    /// An OpenAI-compatible server, driven from tokio tasks.
    Remote(Arc<remote::Remote>),
}

impl EngineHandle {
    /// Validate and load the model on a new engine thread.
    ///
    /// # Errors
    /// `InvalidModel` for a file that is not a usable GGUF (checked before
    /// llama.cpp sees it), `LoadFailed`/`ContextFailed` when llama.cpp
    /// refuses it.
    pub async fn start(config: EngineConfig) -> Result<Self> {
        let (ready_rx, tasks, status) = Self::spawn(config)?;
        let info = ready_rx.await.map_err(|_| EngineError::Stopped)??;
        Ok(Self {
            backend: Backend::Local(tasks),
            info: Arc::new(info),
            status,
            priority: Priority::Interactive,
        })
    }

    /// Blocking variant of [`EngineHandle::start`] for non-async callers.
    ///
    /// # Errors
    /// As [`EngineHandle::start`].
    pub fn start_blocking(config: EngineConfig) -> Result<Self> {
        let (ready_rx, tasks, status) = Self::spawn(config)?;
        let info = ready_rx
            .blocking_recv()
            .map_err(|_| EngineError::Stopped)??;
        Ok(Self {
            backend: Backend::Local(tasks),
            info: Arc::new(info),
            status,
            priority: Priority::Interactive,
        })
    }

    /// Front an OpenAI-compatible server instead of a local model. Must be
    /// called inside a tokio runtime: generations run as tasks on it. When
    /// `config.model` is unset, the server's first listed model is used.
    ///
    /// # Errors
    /// `Remote` for a bad URL, or when the model list is needed but the
    /// server cannot be reached.
    pub async fn start_remote(config: RemoteConfig) -> Result<Self> {
        let (remote, info) = remote::Remote::connect(config).await?;
        let status = Arc::new(worker::StatusCell::default());
        status.set(EngineStatus::Ready);
        Ok(Self {
            backend: Backend::Remote(Arc::new(remote)),
            info: Arc::new(info),
            status,
            priority: Priority::Interactive,
        })
    }

    /// The same engine, with requests queued in `priority`'s lane. The API
    /// server uses [`Priority::Background`] so the window always goes first.
    pub fn with_priority(&self, priority: Priority) -> Self {
        Self {
            priority,
            ..self.clone()
        }
    }

    /// The lane this handle's requests wait in.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Whether generations go to a remote server.
    pub fn is_remote(&self) -> bool {
        matches!(self.backend, Backend::Remote(_))
    }

    #[allow(clippy::type_complexity)]
    fn spawn(
        config: EngineConfig,
    ) -> Result<(
        oneshot::Receiver<Result<ModelInfo>>,
        queue::Sender<worker::Task>,
        Arc<worker::StatusCell>,
    )> {
        let header = gguf::inspect(&config.model_path)?;
        if header.is_projector() {
            return Err(EngineError::InvalidRequest(format!(
                "{} is a multimodal projector (mmproj), not a chat model",
                config.model_path.display()
            )));
        }
        if let Some(mmproj) = &config.mmproj_path {
            // A projector of another width makes mtmd refuse it after the
            // whole model has loaded; say so before loading anything.
            let refused = |e: gguf::GgufError| EngineError::ProjectorFailed {
                path: mmproj.clone(),
                reason: e.to_string(),
            };
            let projector = gguf::inspect(mmproj).map_err(refused)?;
            gguf::check_pairing(&header, &projector, mmproj).map_err(refused)?;
        }
        let (ready_tx, ready_rx) = oneshot::channel();
        let (tasks, task_rx) = queue::channel(QUEUE_CAPACITY);
        let status = Arc::new(worker::StatusCell::default());
        let thread_status = status.clone();
        let alive = alive::Alive::new();
        std::thread::Builder::new()
            .name("omnidesk-engine".into())
            .spawn(move || {
                let _alive = alive;
                worker::run(config, header, Some(ready_tx), task_rx, thread_status)
            })
            .map_err(|e| EngineError::Backend(format!("cannot start engine thread: {e}")))?;
        Ok((ready_rx, tasks, status))
    }

    /// The loaded model's description.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Whether the engine is answering, restarting after a crash, or gone.
    pub fn status(&self) -> EngineStatus {
        self.status.get()
    }

    /// Make the engine thread panic, to test the restart. Debug builds only:
    /// nothing a user sends can reach it in a release build.
    ///
    /// # Errors
    /// As [`EngineHandle::generate`]; `InvalidRequest` for a remote backend.
    #[cfg(debug_assertions)]
    #[doc(hidden)]
    pub fn debug_panic(&self) -> Result<GenerationStream> {
        let Backend::Local(tasks) = &self.backend else {
            return Err(EngineError::InvalidRequest("the backend is remote".into()));
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        self.send(tasks, worker::Task::Panic { events: events_tx })?;
        Ok(GenerationStream {
            events,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Queue a chat turn; events arrive on the returned stream.
    ///
    /// # Errors
    /// `Busy` when the queue is full, `Stopped` when the engine is gone,
    /// `InvalidRequest` for a message over [`MAX_MESSAGE_BYTES`], a
    /// conversation over [`MAX_REQUEST_BYTES`] or too many or too long stop
    /// strings.
    pub fn generate(&self, request: GenerateRequest) -> Result<GenerationStream> {
        check_bounds(&request)?;
        let tasks = match &self.backend {
            Backend::Local(tasks) => tasks,
            Backend::Remote(remote) => return remote.generate(request),
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        self.send(
            tasks,
            worker::Task::Generate {
                request: Box::new(request),
                events: events_tx,
                cancel: cancel.clone(),
            },
        )?;
        Ok(GenerationStream { events, cancel })
    }

    /// Queue a turn with a pre-rendered prompt and/or a grammar (tool calling).
    ///
    /// # Errors
    /// As [`EngineHandle::generate`]; `InvalidRequest` for a remote backend,
    /// which can take neither a raw prompt nor a grammar.
    pub fn generate_constrained(&self, request: ConstrainedRequest) -> Result<GenerationStream> {
        let tasks = match &self.backend {
            Backend::Local(tasks) => tasks,
            Backend::Remote(remote) => {
                if request.prompt.is_some() || request.grammar.is_some() {
                    return Err(EngineError::InvalidRequest(
                        "tool calling needs the local engine; the backend is remote".into(),
                    ));
                }
                return remote.generate(request.request);
            }
        };
        let size = request.prompt.as_ref().map_or(0, String::len);
        if size > MAX_MESSAGE_BYTES {
            return Err(EngineError::InvalidRequest(format!(
                "the prompt exceeds the {MAX_MESSAGE_BYTES} byte limit"
            )));
        }
        check_bounds(&request.request)?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        self.send(
            tasks,
            worker::Task::GenerateConstrained {
                request: Box::new(request),
                events: events_tx,
                cancel: cancel.clone(),
            },
        )?;
        Ok(GenerationStream { events, cancel })
    }

    /// Generate and wait for the whole answer.
    ///
    /// # Errors
    /// Any error of [`EngineHandle::generate`] or of the generation itself.
    pub async fn complete(&self, request: GenerateRequest) -> Result<GenerationOutcome> {
        let mut stream = self.generate(request)?;
        stream.finish().await
    }

    /// Measure prompt processing and generation speed.
    ///
    /// # Errors
    /// `Decode` if llama.cpp fails, `InvalidRequest` for sizes over the context.
    pub async fn bench(&self, params: BenchParams) -> Result<BenchReport> {
        let Backend::Local(tasks) = &self.backend else {
            return Err(EngineError::InvalidRequest(
                "benchmarks measure the local engine; the backend is remote".into(),
            ));
        };
        let (reply, rx) = oneshot::channel();
        self.send(tasks, worker::Task::Bench { params, reply })?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Save the conversations kept in the context to disk now, so they
    /// are restored next time (the app calls this as it closes; the engine
    /// does it by itself when its last handle is dropped). Waits behind
    /// the requests already queued.
    ///
    /// # Errors
    /// `Stopped` when the engine is gone; `Busy` when its queue is full.
    pub async fn persist(&self) -> Result<()> {
        let Backend::Local(tasks) = &self.backend else {
            return Ok(());
        };
        let (reply, rx) = oneshot::channel();
        self.send(tasks, worker::Task::Persist { reply })?;
        rx.await.map_err(|_| EngineError::Stopped)
    }

    fn send(&self, tasks: &queue::Sender<worker::Task>, task: worker::Task) -> Result<()> {
        tasks.try_send(self.priority, task).map_err(|e| match e {
            queue::SendError::Full => EngineError::Busy(tasks.capacity()),
            queue::SendError::Disconnected => EngineError::Stopped,
        })
    }
}

/// Refuse a request whose size alone would pin the engine: the limits on
/// message and conversation bytes and on stop strings.
fn check_bounds(request: &GenerateRequest) -> Result<()> {
    let mut total = 0usize;
    for m in &request.messages {
        if m.content.len() > MAX_MESSAGE_BYTES {
            return Err(EngineError::InvalidRequest(format!(
                "a message of {} bytes exceeds the {MAX_MESSAGE_BYTES} byte limit",
                m.content.len()
            )));
        }
        total += m.content.len();
    }
    if total > MAX_REQUEST_BYTES {
        return Err(EngineError::InvalidRequest(format!(
            "the conversation's {total} bytes exceed the {MAX_REQUEST_BYTES} byte limit"
        )));
    }
    if request.stop.len() > MAX_STOP_STRINGS {
        return Err(EngineError::InvalidRequest(format!(
            "at most {MAX_STOP_STRINGS} stop strings are supported"
        )));
    }
    if request.stop.iter().any(|s| s.len() > MAX_STOP_BYTES) {
        return Err(EngineError::InvalidRequest(format!(
            "a stop string may be at most {MAX_STOP_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Cancels a generation from anywhere (e.g. a Ctrl-C handler).
#[derive(Debug, Clone)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Ask the engine to stop; it does so before the next token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Events of one generation. Dropping it cancels the generation, so a
/// vanished client never keeps the engine busy.
#[derive(Debug)]
pub struct GenerationStream {
    events: mpsc::UnboundedReceiver<GenerationEvent>,
    cancel: Arc<AtomicBool>,
}

impl GenerationStream {
    /// A stream fed by another backend through `events`.
    pub(crate) fn from_parts(
        events: mpsc::UnboundedReceiver<GenerationEvent>,
        cancel: Arc<AtomicBool>,
    ) -> Self {
        Self { events, cancel }
    }

    /// The next event, or `None` after `Done`/`Failed`.
    pub async fn next(&mut self) -> Option<GenerationEvent> {
        self.events.recv().await
    }

    /// Blocking variant of [`GenerationStream::next`].
    pub fn blocking_next(&mut self) -> Option<GenerationEvent> {
        self.events.blocking_recv()
    }

    /// Stop generating; a `Done` with [`FinishReason::Cancelled`] follows.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// A token that cancels this generation from elsewhere.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken(self.cancel.clone())
    }

    /// Drain the stream to its outcome.
    ///
    /// # Errors
    /// The generation's error, or `Stopped` if the engine vanished.
    pub async fn finish(&mut self) -> Result<GenerationOutcome> {
        while let Some(ev) = self.next().await {
            match ev {
                GenerationEvent::Done(outcome) => return Ok(outcome),
                GenerationEvent::Failed(e) => return Err(e),
                _ => {}
            }
        }
        Err(EngineError::Stopped)
    }
}

impl Drop for GenerationStream {
    fn drop(&mut self) {
        self.cancel();
    }
}
