//! The engine thread: owns the model, the context and its slots (one
//! sequence per conversation kept), and takes tasks interactive first;
//! generations run together ([`super::batch`]).

use std::num::NonZeroU32;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use super::batch::Scheduler;
use super::bench;
use super::error::{EngineError, Result};
use super::kv_disk::{self, KvDisk, SavedItem};
use super::media::{Capabilities, EncoderUse, Position, Projector};
use super::prompt::{self, Item};
use super::{
    backends::BackendModules, BackendInfo, BenchParams, BenchReport, DeviceInfo, EngineConfig,
    EngineStatus, FinishReason, GenerateRequest, GenerationEvent, GenerationOutcome,
    GenerationStats, ModelInfo,
};
use super::{ConstrainedRequest, Grammar};
use crate::gguf::GgufInfo;
use crate::media::Media;

/// Default context when the config says "auto".
const AUTO_CTX: u32 = 4096;

pub(crate) enum Task {
    Generate {
        request: Box<GenerateRequest>,
        events: mpsc::UnboundedSender<GenerationEvent>,
        cancel: Arc<AtomicBool>,
    },
    GenerateConstrained {
        request: Box<ConstrainedRequest>,
        events: mpsc::UnboundedSender<GenerationEvent>,
        cancel: Arc<AtomicBool>,
    },
    Bench {
        params: BenchParams,
        reply: oneshot::Sender<Result<BenchReport>>,
    },
    /// Save every conversation's unsaved cells to disk (the app is closing).
    Persist { reply: oneshot::Sender<()> },
    /// Panics on the engine thread, to test the restart (debug builds only).
    #[cfg(debug_assertions)]
    Panic {
        events: mpsc::UnboundedSender<GenerationEvent>,
    },
}

impl Task {
    /// Where a failure of this task is reported.
    pub(crate) fn events(&self) -> Option<mpsc::UnboundedSender<GenerationEvent>> {
        match self {
            Task::Generate { events, .. } | Task::GenerateConstrained { events, .. } => {
                Some(events.clone())
            }
            #[cfg(debug_assertions)]
            Task::Panic { events } => Some(events.clone()),
            Task::Bench { .. } | Task::Persist { .. } => None,
        }
    }
}

/// Where the engine thread is, shared with every handle.
#[derive(Debug, Default)]
pub(crate) struct StatusCell(AtomicU8);

impl StatusCell {
    pub(crate) fn get(&self) -> EngineStatus {
        match self.0.load(Ordering::Acquire) {
            0 => EngineStatus::Loading,
            1 => EngineStatus::Ready,
            2 => EngineStatus::Restarting,
            _ => EngineStatus::Failed,
        }
    }

    pub(crate) fn set(&self, status: EngineStatus) {
        let n = match status {
            EngineStatus::Loading => 0,
            EngineStatus::Ready => 1,
            EngineStatus::Restarting => 2,
            EngineStatus::Failed => 3,
        };
        self.0.store(n, Ordering::Release);
    }
}

/// llama.cpp's backend may be initialised once per process; every engine
/// shares it. Its logs go to `tracing` instead of stderr.
/// In the `dynamic-backends` build the backend modules are loaded first
/// (see [`super::backends`]).
pub(crate) fn backend() -> Result<&'static LlamaBackend> {
    init_backend()
        .as_ref()
        .map(|(backend, _)| backend)
        .map_err(|e| EngineError::Backend(e.clone()))
}

type Initialised = std::result::Result<(LlamaBackend, BackendModules), String>;

fn init_backend() -> &'static Initialised {
    static BACKEND: OnceLock<Initialised> = OnceLock::new();
    BACKEND.get_or_init(|| {
        llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
        #[cfg(feature = "dynamic-backends")]
        let modules = super::backends::load()?;
        #[cfg(not(feature = "dynamic-backends"))]
        let modules = BackendModules {
            loaded: super::backends::registries(),
            ..BackendModules::default()
        };
        let backend = LlamaBackend::init().map_err(|e| e.to_string())?;
        Ok((backend, modules))
    })
}

pub(crate) fn describe_backend(backend: &LlamaBackend) -> BackendInfo {
    BackendInfo {
        modules: init_backend()
            .as_ref()
            .map(|(_, m)| m.clone())
            .unwrap_or_default(),
        gpu_offload: backend.supports_gpu_offload(),
        devices: llama_cpp_2::list_llama_ggml_backend_devices()
            .into_iter()
            .map(|d| DeviceInfo {
                name: d.name,
                description: d.description,
                backend: d.backend,
                kind: format!("{:?}", d.device_type),
                memory_total: d.memory_total as u64,
                memory_free: d.memory_free as u64,
            })
            .collect(),
    }
}

/// Thread body: load, report readiness, then serve tasks until every
/// handle is gone (generations batched together, see [`Scheduler`]). `ready` is `None` for a restart, which nobody awaits.
///
/// A panic while serving fails every generation in progress with `Crashed`, drops the
/// model and context (their state is unknown after a panic) and loads them
/// again on a fresh thread that takes over the queue, so the requests
/// behind it are answered.
pub(crate) fn run(
    config: EngineConfig,
    header: GgufInfo,
    ready: Option<oneshot::Sender<Result<ModelInfo>>>,
    tasks: super::queue::Receiver<Task>,
    status: Arc<StatusCell>,
) {
    let fail = |e: EngineError, ready: Option<oneshot::Sender<Result<ModelInfo>>>| {
        status.set(EngineStatus::Failed);
        match ready {
            Some(ready) => {
                let _ = ready.send(Err(e));
            }
            None => tracing::error!("the engine could not restart: {e}"),
        }
    };
    let (model, backend) = match load(&config, &header) {
        Ok(v) => v,
        Err(e) => return fail(e, ready),
    };
    let mut session = match Session::new(&model, backend, &config, &header.architecture) {
        Ok(s) => s,
        Err(e) => return fail(e, ready),
    };
    let info = model_info(&model, backend, &config, &header, &session);
    status.set(EngineStatus::Ready);
    if let Some(ready) = ready {
        if ready.send(Ok(info)).is_err() {
            return;
        }
    }
    let mut scheduler = Scheduler::default();
    loop {
        let served = panic::catch_unwind(AssertUnwindSafe(|| scheduler.turn(&mut session, &tasks)));
        let payload = match served {
            Ok(true) => continue,
            Ok(false) => break,
            Err(payload) => payload,
        };
        let why = panic_message(payload.as_ref());
        tracing::error!("the engine thread panicked ({why}); restarting it");
        status.set(EngineStatus::Restarting);
        scheduler.fail_all(&why);
        drop(scheduler);
        drop(session);
        drop(model);
        let next_status = status.clone();
        let alive = super::Alive::new();
        let spawned = std::thread::Builder::new()
            .name("omnidesk-engine".into())
            .spawn(move || {
                let _alive = alive;
                let after = next_status.clone();
                // A reload that panics too leaves no engine: say so.
                let reloaded = panic::catch_unwind(AssertUnwindSafe(|| {
                    run(config, header, None, tasks, next_status);
                }));
                if reloaded.is_err() {
                    after.set(EngineStatus::Failed);
                }
            });
        if let Err(e) = spawned {
            status.set(EngineStatus::Failed);
            tracing::error!("cannot start a new engine thread: {e}");
        }
        return;
    }
    // The queue closed: the app or the CLI is stopping.
    session.save_all();
}

/// Answer a task other than a generation (those the scheduler runs):
/// benchmarks only once nothing else runs, saving at any step.
pub(crate) fn serve_alone(session: &mut Session<'_>, task: Task) {
    match task {
        Task::Bench { params, reply } => {
            let _ = reply.send(bench::run(session, &params));
        }
        Task::Persist { reply } => {
            session.save_all();
            let _ = reply.send(());
        }
        Task::Generate { events, .. } | Task::GenerateConstrained { events, .. } => {
            let _ = events.send(GenerationEvent::Failed(EngineError::Decode(
                "a generation was sent to the wrong queue".into(),
            )));
        }
        #[cfg(debug_assertions)]
        Task::Panic { .. } => panic!("panic requested by a test"),
    }
}

/// The text a panic was raised with.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn load(config: &EngineConfig, header: &GgufInfo) -> Result<(LlamaModel, &'static LlamaBackend)> {
    let backend = backend()?;
    let params = LlamaModelParams::default().with_n_gpu_layers(config.n_gpu_layers);
    let model = LlamaModel::load_from_file(backend, &config.model_path, &params).map_err(|e| {
        EngineError::LoadFailed {
            path: config.model_path.clone(),
            reason: format!("{e} (architecture {})", header.architecture),
        }
    })?;
    Ok((model, backend))
}

fn model_info(
    model: &LlamaModel,
    backend: &LlamaBackend,
    config: &EngineConfig,
    header: &GgufInfo,
    session: &Session<'_>,
) -> ModelInfo {
    ModelInfo {
        path: config.model_path.clone(),
        architecture: header.architecture.clone(),
        name: header.name.clone(),
        n_params: model.n_params(),
        size_bytes: model.size(),
        n_ctx_train: model.n_ctx_train(),
        n_ctx: session.n_ctx,
        n_embd: model.n_embd(),
        n_layer: model.n_layer(),
        n_vocab: model.n_vocab(),
        n_threads: session.n_threads,
        n_gpu_layers: config.n_gpu_layers,
        chat_template: session.template_source.clone(),
        mmproj: config.mmproj_path.clone(),
        capabilities: session.capabilities().unwrap_or_default(),
        metadata: header.metadata.clone(),
        backend: describe_backend(backend),
    }
}

/// One item in the KV cache and the position it starts at.
pub(crate) type Cached = SavedItem;

/// One sequence of the context and what its KV cells hold: a
/// conversation kept evaluated, found again by its prefix.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// llama.cpp's sequence id.
    pub(crate) seq: i32,
    /// Items whose keys/values are in the cache, in position order.
    pub(crate) cached: Vec<Cached>,
    /// Next free position (M-RoPE media advance it by less than their size).
    pub(crate) n_past: i32,
    /// KV cells in use.
    pub(crate) n_cells: usize,
    /// When it last served a request (a counter), for LRU eviction.
    last_used: u64,
    /// Holds cells not yet saved to disk (see [`KvDisk`]).
    pub(crate) dirty: bool,
    /// A generation is running on it: it is neither evicted nor given to
    /// another request until that ends.
    pub(crate) busy: bool,
}

impl Slot {
    /// Forget what it holds (its cells are already gone or being dropped).
    pub(crate) fn clear(&mut self) {
        self.cached.clear();
        self.n_past = 0;
        self.n_cells = 0;
        self.dirty = false;
    }

    /// How many leading `items` this slot already holds.
    fn shared_prefix(&self, items: &[Item]) -> usize {
        self.cached
            .iter()
            .zip(items)
            .take_while(|(c, i)| c.item == **i)
            .count()
    }

    /// Record `item`, evaluated at the next position and taking `n_cells`
    /// cells, advancing the position to `next_pos`.
    pub(crate) fn push(&mut self, item: Item, n_cells: usize, next_pos: i32) {
        self.cached.push(Cached {
            item,
            pos: self.n_past,
        });
        self.n_past = next_pos;
        self.n_cells += n_cells;
        self.dirty = true;
    }
}

/// The slot a request got and what it already holds.
pub(crate) struct Taken {
    pub(crate) slot: usize,
    /// Leading items of the request already in the slot's cells.
    pub(crate) shared: usize,
    /// Those came from disk: cells restored and the time it took (ms).
    pub(crate) restored: Option<(usize, f64)>,
}

/// The context plus what its KV cache currently holds: `slots` sequences
/// sharing one unified cache of `n_ctx` cells, each a conversation kept
/// evaluated. Generations run on busy slots (several at once, see
/// [`super::batch`]); idle ones wait to be continued or evicted.
pub(crate) struct Session<'m> {
    pub(crate) model: &'m LlamaModel,
    pub(crate) ctx: LlamaContext<'m>,
    pub(crate) projector: Option<Projector>,
    pub(crate) template: LlamaChatTemplate,
    pub(crate) template_source: String,
    /// Every sequence of the context; a slot's index is its sequence id.
    pub(crate) slots: Vec<Slot>,
    /// The slot benchmarks decode into (they run alone).
    active: usize,
    /// Requests served, the clock of `last_used`.
    clock: u64,
    /// Slots saved to disk, when configured.
    disk: Option<KvDisk>,
    /// The model's sliding attention window (0: none).
    n_swa: usize,
    pub(crate) n_ctx: u32,
    pub(crate) n_batch: u32,
    pub(crate) n_threads: u32,
}

impl<'m> Session<'m> {
    fn new(
        model: &'m LlamaModel,
        backend: &LlamaBackend,
        config: &EngineConfig,
        architecture: &str,
    ) -> Result<Self> {
        let n_ctx = match config.n_ctx {
            0 => model.n_ctx_train().clamp(1, AUTO_CTX),
            n => n,
        };
        let n_threads = config.n_threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(4)
        });
        let n_slots = match config.n_slots {
            0 => super::DEFAULT_SLOTS,
            n => n.min(super::MAX_SLOTS),
        };
        // One decode carries a token for every slot generating at once.
        let n_batch = config.n_batch.max(n_slots).clamp(1, n_ctx);
        let threads = i32::try_from(n_threads).unwrap_or(i32::MAX);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            // Every slot may use the whole context; they share its cells.
            .with_n_seq_max(n_slots)
            .with_kv_unified(true)
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            // Sliding-window models (Gemma 3) otherwise forget the cells a
            // reused prefix needs; a full-size SWA cache keeps reuse exact.
            .with_swa_full(true);
        let ctx = model
            .new_context(backend, params)
            .map_err(|e| EngineError::ContextFailed {
                n_ctx,
                reason: e.to_string(),
            })?;
        let (template, template_source) =
            prompt::model_template(model, architecture, config.chat_template.as_deref())?;
        let mut ctx = ctx;
        // SAFETY: the context is alive and its model outlives it.
        let n_swa = unsafe {
            llama_cpp_sys_2::llama_model_n_swa(llama_cpp_sys_2::llama_get_model(ctx.as_ptr()))
        };
        let n_swa = usize::try_from(n_swa).unwrap_or(0);
        let projector = config
            .mmproj_path
            .as_deref()
            .map(|p| {
                Projector::load(
                    p,
                    model,
                    n_threads,
                    config.n_gpu_layers > 0,
                    config.encoder_cache_bytes,
                )
            })
            .transpose()?;
        let disk = config
            .kv_cache_dir
            .as_deref()
            .filter(|_| config.kv_cache_bytes > 0)
            .and_then(|dir| {
                let key = disk_key(config, &template_source, n_ctx, n_batch)
                    .map_err(|e| tracing::warn!("saved conversations are off: {e}"))
                    .ok()?;
                KvDisk::open(dir, config.kv_cache_bytes, key)
                    .map_err(|e| tracing::warn!(dir = %dir.display(), "saved conversations are off: {e}"))
                    .ok()
            });
        Ok(Self {
            model,
            ctx,
            projector,
            template,
            template_source,
            slots: (0..n_slots)
                .map(|seq| Slot {
                    seq: seq as i32,
                    ..Slot::default()
                })
                .collect(),
            active: 0,
            clock: 0,
            disk,
            n_swa,
            n_ctx,
            n_batch,
            n_threads,
        })
    }

    pub(crate) fn capabilities(&self) -> Option<Capabilities> {
        self.projector.as_ref().map(|p| p.caps)
    }

    /// Forget the whole cache, every slot (after a failure or a benchmark).
    pub(crate) fn reset(&mut self) {
        self.ctx.clear_kv_cache();
        for slot in &mut self.slots {
            slot.clear();
        }
    }

    /// The emptiest, least recently used idle slot other than `skip`.
    fn emptiest_slot(&self, skip: Option<usize>) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&i| Some(i) != skip && !self.slots[i].busy)
            .min_by_key(|&i| {
                let s = &self.slots[i];
                (s.n_cells > 0, s.last_used)
            })
    }

    /// KV cells in use by every slot together.
    pub(crate) fn cells_in_use(&self) -> usize {
        self.slots.iter().map(|s| s.n_cells).sum()
    }

    /// KV cells held by the slots generations run on.
    pub(crate) fn busy_cells(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.busy)
            .map(|s| s.n_cells)
            .sum()
    }

    /// Give `items` an idle slot; `None` when every slot is busy.
    ///
    /// The idle slot sharing the longest prefix is taken when continuing
    /// in it keeps at least half of what it holds (a follow-up, an edit
    /// near the end). A prompt that shares less — a new conversation with
    /// the same system prompt, or one a running generation shares — goes
    /// to the emptiest, least recently used other slot instead, with the
    /// shared prefix copied over (in a unified cache the copy shares the
    /// cells), so the conversation it resembles stays whole.
    pub(crate) fn take_slot(&mut self, items: &[Item]) -> Option<Taken> {
        let shared: Vec<usize> = self.slots.iter().map(|s| s.shared_prefix(items)).collect();
        let best = (0..self.slots.len()).max_by_key(|&i| {
            let s = &self.slots[i];
            (shared[i], !s.busy, s.last_used)
        })?;
        let best_n = shared[best];
        if let Some(taken) = self.restore(items, best_n) {
            return Some(taken);
        }
        let best_idle = !self.slots[best].busy;
        // A repeat or a regenerate (everything but the last item shared)
        // stays in its slot too: its tokens then land in the same cells as
        // the first time, and greedy answers repeat exactly (the cells'
        // layout changes llama.cpp's float sums).
        let repeat = best_n > 0 && best_n + 1 >= items.len();
        let continues =
            best_idle && best_n > 0 && (best_n * 2 >= self.slots[best].cached.len() || repeat);
        let target = if continues {
            best
        } else {
            self.emptiest_slot((best_n > 0).then_some(best))
                .or(best_idle.then_some(best))?
        };
        if !continues {
            // Its conversation gives way to this one: keep it on disk.
            save_slot(&self.ctx, self.disk.as_mut(), &mut self.slots[target]);
        }
        self.clock += 1;
        self.slots[target].last_used = self.clock;
        let taken = |shared| Taken {
            slot: target,
            shared,
            restored: None,
        };
        if target == best {
            return Some(taken(best_n));
        }
        if best_n == 0 {
            return Some(taken(0));
        }
        // Start the new slot from the prefix it shares with `best`.
        let source = &self.slots[best];
        let end = source.cached.get(best_n).map_or(source.n_past, |c| c.pos);
        let prefix = source.cached[..best_n].to_vec();
        let (from, to) = (source.seq, self.slots[target].seq);
        if !self
            .ctx
            .clear_kv_cache_seq(Some(to as u32), None, None)
            .unwrap_or(false)
        {
            return Some(taken(0));
        }
        self.ctx.copy_cache(from, to, end);
        let slot = &mut self.slots[target];
        slot.n_cells = prefix.iter().map(|c| c.item.n_cells()).sum();
        slot.cached = prefix;
        slot.n_past = end;
        Some(taken(best_n))
    }

    /// Put the saved slot sharing the longest prefix with `items` into the
    /// emptiest, least recently used idle slot, when it holds more of
    /// `items` than any live slot (`live`). `None` leaves everything as it
    /// was (nothing better on disk, or the file was refused and removed).
    fn restore(&mut self, items: &[Item], live: usize) -> Option<Taken> {
        let disk = self.disk.as_ref()?;
        let (entry, n) = disk.best(items)?;
        // Worth a file read only when it saves a real prompt read.
        let gained: usize = items[live.min(n)..n].iter().map(Item::n_cells).sum();
        if n <= live || gained < kv_disk::MIN_SAVED_CELLS {
            return None;
        }
        // Sliding-window layers save only their last window: cut back by
        // more than its last item, the slot would lack cells those layers
        // attend to (llama.cpp leaves out cells outside the window).
        let (held, n_past) = disk.held(entry);
        if self.n_swa > 0 && n_past as usize > self.n_swa && n + 1 < held {
            return None;
        }
        let target = self.emptiest_slot(None)?;
        let started = Instant::now();
        let loaded = match self.disk.as_mut()?.load(entry) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("a saved conversation was refused: {e}");
                return None;
            }
        };
        save_slot(&self.ctx, self.disk.as_mut(), &mut self.slots[target]);
        let seq = self.slots[target].seq;
        if !self
            .ctx
            .clear_kv_cache_seq(Some(seq as u32), None, None)
            .unwrap_or(false)
        {
            return None;
        }
        self.slots[target].clear();
        self.make_room(loaded.n_cells);
        let flags = llama_cpp_2::context::session::LlamaStateSeqFlags::empty();
        // SAFETY: the bytes are what `state_seq_get_data_ext` wrote for a
        // context with the same key (model, projector, template, context
        // settings), checked against their SHA-256; llama.cpp validates the
        // layout again and returns 0 on a mismatch.
        let set = unsafe { self.ctx.state_seq_set_data_ext(&loaded.state, seq, flags) };
        if !set {
            tracing::warn!("llama.cpp refused a saved conversation; removing it");
            if let Some(disk) = self.disk.as_mut() {
                disk.forget(entry);
            }
            let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
            return None;
        }
        self.clock += 1;
        let slot = &mut self.slots[target];
        slot.cached = loaded.items;
        slot.n_past = loaded.n_past;
        slot.n_cells = loaded.n_cells;
        slot.dirty = false;
        slot.last_used = self.clock;
        let kept: usize = items[..n].iter().map(Item::n_cells).sum();
        Some(Taken {
            slot: target,
            shared: n,
            restored: Some((kept, ms_since(started))),
        })
    }

    /// Save every slot with unsaved cells (the engine is stopping).
    pub(crate) fn save_all(&mut self) {
        for slot in &mut self.slots {
            save_slot(&self.ctx, self.disk.as_mut(), slot);
        }
    }

    /// Free cells until `needed` more fit, by dropping the least recently
    /// used idle slots (busy ones are never touched).
    pub(crate) fn make_room(&mut self, needed: usize) {
        let n_ctx = self.n_ctx as usize;
        while self.cells_in_use() + needed > n_ctx {
            let Some(victim) = self
                .slots
                .iter_mut()
                .filter(|s| s.n_cells > 0 && !s.busy)
                .min_by_key(|s| s.last_used)
            else {
                return;
            };
            save_slot(&self.ctx, self.disk.as_mut(), victim);
            if self
                .ctx
                .clear_kv_cache_seq(Some(victim.seq as u32), None, None)
                .is_err()
            {
                tracing::warn!(
                    seq = victim.seq,
                    "could not evict a slot; clearing the cache"
                );
                self.reset();
                return;
            }
            victim.clear();
        }
    }

    /// Keep only the first `keep` cached items of slot `i`. Falls back to
    /// an empty slot when the memory type cannot drop a suffix.
    pub(crate) fn truncate_cache(&mut self, i: usize, keep: usize) -> usize {
        let slot = &mut self.slots[i];
        let Some(first_dropped) = slot.cached.get(keep).copied() else {
            return slot.cached.len();
        };
        let seq = slot.seq as u32;
        let removed = u32::try_from(first_dropped.pos)
            .ok()
            .and_then(|p| self.ctx.clear_kv_cache_seq(Some(seq), Some(p), None).ok())
            .unwrap_or(false);
        if removed {
            slot.cached.truncate(keep);
            slot.n_past = first_dropped.pos;
            slot.n_cells = slot.cached.iter().map(|c| c.item.n_cells()).sum();
            keep
        } else if self
            .ctx
            .clear_kv_cache_seq(Some(seq), None, None)
            .unwrap_or(false)
        {
            slot.clear();
            0
        } else {
            self.reset();
            0
        }
    }

    /// Evaluate text tokens after the benchmark slot's cache; logits only
    /// for the last one when `logits_last`. Returns false if cancelled.
    pub(crate) fn decode_tokens(
        &mut self,
        tokens: &[LlamaToken],
        logits_last: bool,
        cancel: &AtomicBool,
    ) -> Result<bool> {
        let mut batch = LlamaBatch::new(self.n_batch as usize, 1);
        let total = tokens.len();
        let mut done = 0;
        let seq = self.slots[self.active].seq;
        for chunk in tokens.chunks(self.n_batch as usize) {
            if cancel.load(Ordering::Relaxed) {
                return Ok(false);
            }
            batch.clear();
            let n_past = self.slots[self.active].n_past;
            for (i, &t) in chunk.iter().enumerate() {
                let logits = logits_last && done + i + 1 == total;
                batch
                    .add(t, n_past + i as i32, &[seq], logits)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            if let Err(e) = self.ctx.decode(&mut batch) {
                self.reset();
                return Err(EngineError::Decode(e.to_string()));
            }
            let slot = &mut self.slots[self.active];
            for &t in chunk {
                let next = slot.n_past + 1;
                slot.push(Item::Token(t), 1, next);
            }
            done += chunk.len();
        }
        Ok(true)
    }

    /// Preprocess `media` (resize and normalise, or the mel spectrogram)
    /// without encoding it; returns the KV cells it will take. Benchmarks
    /// do this untimed: llama-mtmd-cli's encode time leaves it out too.
    pub(crate) fn preprocess_media(&mut self, media: &Media) -> Result<usize> {
        Projector::check(self.capabilities().as_ref(), media)?;
        self.projector
            .as_mut()
            .ok_or_else(|| no_projector(media))?
            .n_cells(media)
    }

    /// Evaluate one image or clip on an empty cache (benchmarks), always
    /// running the encoder; returns the KV cells it took.
    pub(crate) fn eval_media(&mut self, media: &Media) -> Result<usize> {
        Projector::check(self.capabilities().as_ref(), media)?;
        let projector = self.projector.as_mut().ok_or_else(|| no_projector(media))?;
        let n_cells = projector.n_cells(media)?;
        let slot = &mut self.slots[self.active];
        let at = Position {
            seq: slot.seq,
            pos: slot.n_past,
        };
        slot.n_past = projector
            .eval(
                media,
                &mut self.ctx,
                at,
                self.n_batch,
                // No logits: like llama-mtmd-cli's timing, this measures
                // encoding and decoding the embeddings, nothing after.
                false,
                EncoderUse::Fresh,
            )?
            .next_pos;
        slot.n_cells += n_cells;
        Ok(n_cells)
    }
}

/// llama.cpp's sampler for `g`: lazy when it has trigger words.
pub(crate) fn grammar_sampler(model: &LlamaModel, g: &Grammar) -> Result<LlamaSampler> {
    let sampler = if g.triggers.is_empty() {
        LlamaSampler::grammar(model, &g.gbnf, &g.root)
    } else {
        LlamaSampler::grammar_lazy(model, &g.gbnf, &g.root, &g.triggers, &[])
    };
    sampler.map_err(|e| EngineError::InvalidRequest(format!("invalid grammar: {e}")))
}

pub(crate) fn outcome(
    text: String,
    finish: FinishReason,
    mut stats: GenerationStats,
) -> GenerationOutcome {
    stats.prompt_tokens_per_s = per_second(stats.prompt_evaluated, stats.prompt_ms);
    stats.tokens_per_s = per_second(stats.generated_tokens, stats.generation_ms);
    stats.finish_rates();
    GenerationOutcome {
        text,
        finish,
        stats,
    }
}

pub(crate) fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

pub(crate) fn per_second(count: usize, ms: f64) -> f64 {
    if ms > 0.0 {
        count as f64 * 1000.0 / ms
    } else {
        0.0
    }
}

/// Write `slot` to `disk` if it holds unsaved cells worth keeping; a
/// failure only costs a re-read later.
fn save_slot(ctx: &LlamaContext<'_>, disk: Option<&mut KvDisk>, slot: &mut Slot) {
    let Some(disk) = disk else { return };
    if !slot.dirty || slot.n_cells < kv_disk::MIN_SAVED_CELLS {
        return;
    }
    let started = Instant::now();
    let flags = llama_cpp_2::context::session::LlamaStateSeqFlags::empty();
    let size = ctx.state_seq_get_size_ext(slot.seq, flags);
    let mut state = vec![0u8; size];
    // SAFETY: `state` has the size llama.cpp just reported for this
    // sequence, and nothing runs on the context in between.
    let written = unsafe { ctx.state_seq_get_data_ext(state.as_mut_ptr(), slot.seq, flags) };
    if written != size {
        tracing::warn!(size, written, "could not read a slot's state to save it");
        return;
    }
    match disk.save(&slot.cached, slot.n_past, slot.n_cells, &state) {
        Ok(()) => {
            slot.dirty = false;
            tracing::debug!(
                cells = slot.n_cells,
                bytes = size,
                ms = ms_since(started),
                "saved a conversation's KV cache"
            );
        }
        Err(e) => tracing::warn!("could not save a conversation's KV cache: {e}"),
    }
}

/// The error for media sent to a model loaded without a projector.
pub(crate) fn no_projector(media: &Media) -> EngineError {
    EngineError::UnsupportedMedia {
        kind: media.kind(),
        reason: "no projector loaded".into(),
    }
}

/// What saved cells depend on: model and projector files, the template
/// that rendered the prompt, and the context settings.
fn disk_key(
    config: &EngineConfig,
    template: &str,
    n_ctx: u32,
    n_batch: u32,
) -> std::io::Result<kv_disk::Key> {
    let model = kv_disk::fingerprint(&config.model_path)?;
    let mmproj = match config.mmproj_path.as_deref() {
        Some(p) => kv_disk::fingerprint(p)?,
        None => [0; 32],
    };
    let settings = format!(
        "n_ctx={n_ctx} n_batch={n_batch} gpu_layers={} swa_full unified f16",
        config.n_gpu_layers
    );
    Ok(kv_disk::key(&[
        &model,
        &mmproj,
        template.as_bytes(),
        settings.as_bytes(),
    ]))
}
