//! Continuous batching: every generation in progress advances in one
//! llama.cpp decode per step — one token for each answer being written,
//! plus a bounded chunk of the prompts being read — as llama.cpp's server
//! does with parallel slots. Each generation keeps its own slot, sampler,
//! grammar, stop strings and cancel flag; the window's (interactive)
//! prompts are read before the API's, and API clients never take the
//! last slot, so the window always finds one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc;

use super::error::{EngineError, Result};
use super::media::{EncoderUse, Position, Projector};
use super::prompt::{self, Item};
use super::queue::{self, Priority};
use super::sampling;
use super::text::TextStream;
use super::worker::{self, ms_since, Session, Task};
use super::{FinishReason, GenerateRequest, GenerationEvent, GenerationStats, Grammar};
use crate::media::Media;

/// A generation request as the engine thread takes it.
pub(crate) struct Job {
    pub(crate) request: Box<GenerateRequest>,
    /// A prompt rendered by the caller instead of the model's template.
    pub(crate) prompt: Option<String>,
    pub(crate) grammar: Option<Grammar>,
    pub(crate) events: mpsc::UnboundedSender<GenerationEvent>,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) priority: Priority,
}

/// A generation in progress on one slot.
pub(crate) struct Running {
    slot: usize,
    priority: Priority,
    /// Owns the media the prompt's items refer to, and the limits.
    request: Box<GenerateRequest>,
    events: mpsc::UnboundedSender<GenerationEvent>,
    cancel: Arc<AtomicBool>,
    /// The whole prompt; `items[next..]` is still to be evaluated.
    items: Vec<Item>,
    next: usize,
    /// Cells kept free for the answer when it was admitted.
    reserved: usize,
    sampler: LlamaSampler,
    stream: TextStream,
    text: String,
    stats: GenerationStats,
    started: Instant,
    /// When the prompt was read and the first token chosen.
    generating_since: Option<Instant>,
    /// Chosen and sent, not yet evaluated: it goes into the next batch.
    pending: Option<LlamaToken>,
    /// Where in the last decode this generation's logits are.
    logits_at: Option<i32>,
}

impl Running {
    fn reading(&self) -> bool {
        self.next < self.items.len()
    }

    /// Cells it may still take: the rest of its prompt and of its reserve.
    fn cells_ahead(&self) -> usize {
        let prompt: usize = self.items[self.next..].iter().map(Item::n_cells).sum();
        prompt + self.reserved.saturating_sub(self.stats.generated_tokens)
    }
}

/// What became of a job offered to the session.
enum Admitted {
    Running(Box<Running>),
    /// The generations already running leave it no room yet.
    Waits(Job),
    /// Answered already (refused, or cancelled while being rendered).
    Answered,
}

/// A job rendered and given a slot, ready to run.
struct Prepared {
    slot: usize,
    items: Vec<Item>,
    reused: usize,
    reserved: usize,
    sampler: LlamaSampler,
    stats: GenerationStats,
    started: Instant,
}

impl Session<'_> {
    /// Render `job`'s prompt, give it a slot (reusing what that slot
    /// holds) and make room for it. `ahead` is what the running
    /// generations may still take; `alone` says none is running, so the
    /// job never waits.
    fn admit(&mut self, job: Job, ahead: usize, alone: bool) -> Admitted {
        match self.prepare(&job, ahead, alone) {
            Ok(Some(p)) => Admitted::Running(Box::new(Running {
                slot: p.slot,
                priority: job.priority,
                stream: TextStream::new(&job.request.stop),
                request: job.request,
                events: job.events,
                cancel: job.cancel,
                items: p.items,
                next: p.reused,
                reserved: p.reserved,
                sampler: p.sampler,
                text: String::new(),
                stats: p.stats,
                started: p.started,
                generating_since: None,
                pending: None,
                logits_at: None,
            })),
            Ok(None) if !alone && !job.cancel.load(Ordering::Relaxed) => Admitted::Waits(job),
            Ok(None) => {
                let _ = job.events.send(GenerationEvent::Done(worker::outcome(
                    String::new(),
                    FinishReason::Cancelled,
                    GenerationStats::default(),
                )));
                Admitted::Answered
            }
            Err(e) => {
                let _ = job.events.send(GenerationEvent::Failed(e));
                Admitted::Answered
            }
        }
    }

    /// `None`: cancelled while rendering, or (when not `alone`) no room.
    fn prepare(&mut self, job: &Job, ahead: usize, alone: bool) -> Result<Option<Prepared>> {
        let request = &*job.request;
        request.sampling.validate()?;
        if request.max_tokens == 0 {
            return Err(EngineError::InvalidRequest("max_tokens must be ≥ 1".into()));
        }
        let caps = self.capabilities();
        for m in request.messages.iter().flat_map(|m| &m.media) {
            Projector::check(caps.as_ref(), m)?;
        }
        let started = Instant::now();
        let n_ctx = self.n_ctx as usize;
        // Keep room for the answer, but never more than half the window.
        let reserved = (request.max_tokens as usize).clamp(1, n_ctx / 2);
        let projector = &mut self.projector;
        let mut media_cells = |m: &Media| match projector.as_mut() {
            Some(p) => p.n_cells(m),
            None => Err(worker::no_projector(m)),
        };
        let rendered = match job.prompt.as_deref() {
            Some(text) => prompt::render_text_fitting(
                self.model,
                text,
                request.messages.iter().flat_map(|m| &m.media).collect(),
                n_ctx - reserved,
                self.n_ctx,
                &mut media_cells,
            )?,
            None => match prompt::render_fitting(
                self.model,
                &self.template,
                &request.messages,
                n_ctx - reserved,
                self.n_ctx,
                &mut media_cells,
                &job.cancel,
            )? {
                Some(rendered) => rendered,
                None => return Ok(None),
            },
        };
        // Wait while the running generations could fill the cache: their
        // cells are never evicted.
        if !alone && self.busy_cells() + ahead + rendered.n_cells + reserved > n_ctx {
            return Ok(None);
        }
        let seed = request.sampling.effective_seed();
        let mut sampler = request.sampling.build(self.model, seed);
        if let Some(g) = &job.grammar {
            // The grammar masks tokens first; the usual chain draws from the rest.
            sampler =
                LlamaSampler::chain_simple([worker::grammar_sampler(self.model, g)?, sampler]);
        }
        let items = rendered.items;
        let Some(taken) = self.take_slot(&items) else {
            return Ok(None);
        };
        // At least one item must be evaluated to get fresh logits.
        let shared = taken.shared.min(items.len() - 1);
        let reused = self.truncate_cache(taken.slot, shared);
        let reused_cells: usize = items[..reused].iter().map(Item::n_cells).sum();
        self.slots[taken.slot].busy = true;
        self.make_room(rendered.n_cells - reused_cells + reserved);
        let stats = GenerationStats {
            prompt_tokens: rendered.n_cells,
            prompt_evaluated: rendered.n_cells - reused_cells,
            prompt_reused: reused_cells,
            prompt_restored: taken
                .restored
                .map_or(0, |(cells, _)| cells.min(reused_cells)),
            restore_ms: taken.restored.map_or(0.0, |(_, ms)| ms),
            dropped_messages: rendered.dropped,
            media_reused: items[..reused]
                .iter()
                .filter(|i| matches!(i, Item::Media { .. }))
                .count(),
            seed,
            ..Default::default()
        };
        let _ = job.events.send(GenerationEvent::Started {
            prompt_tokens: rendered.n_cells,
            reused_tokens: reused_cells,
            dropped_messages: rendered.dropped,
        });
        Ok(Some(Prepared {
            slot: taken.slot,
            items,
            reused,
            reserved,
            sampler,
            stats,
            started,
        }))
    }

    /// Advance every running generation by one decode: an image or clip
    /// next in a prompt is evaluated first (mtmd decodes it on its own),
    /// then one batch carries each answer's last token and as much of the
    /// prompts being read as `n_batch` leaves room for, interactive
    /// prompts first. Generations that end are answered and removed.
    fn step(&mut self, runs: &mut Vec<Running>) {
        self.retire_where(runs, |r| {
            r.cancel
                .load(Ordering::Relaxed)
                .then_some(Ok(FinishReason::Cancelled))
        });
        if let Some(i) = runs
            .iter()
            .position(|r| r.reading() && matches!(r.items[r.next], Item::Media { .. }))
        {
            if let Err(e) = self.read_media(&mut runs[i]) {
                let seq = self.slots[runs[i].slot].seq;
                // What the failed evaluation left in its cells is unknown.
                let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
                self.slots[runs[i].slot].clear();
                let run = runs.remove(i);
                self.retire(run, Err(e));
            }
            self.sample(runs);
        }

        let mut batch = LlamaBatch::new(self.n_batch as usize, 1);
        let capacity = self.n_batch as usize;
        let add = |batch: &mut LlamaBatch, slot: &mut worker::Slot, t: LlamaToken, logits| {
            batch
                .add(t, slot.n_past, &[slot.seq], logits)
                .map_err(|e| e.to_string())?;
            let next = slot.n_past + 1;
            slot.push(Item::Token(t), 1, next);
            Ok::<i32, String>(batch.n_tokens() - 1)
        };
        let mut added = Ok(());
        for run in runs.iter_mut() {
            if batch.n_tokens() as usize >= capacity {
                break;
            }
            if let Some(t) = run.pending.take() {
                match add(&mut batch, &mut self.slots[run.slot], t, true) {
                    Ok(at) => run.logits_at = Some(at),
                    Err(e) => added = Err(e),
                }
            }
        }
        // Prompts fill what is left, the window's before the API's.
        let mut order: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].reading()).collect();
        order.sort_by_key(|&i| runs[i].priority != Priority::Interactive);
        for i in order {
            let run = &mut runs[i];
            while run.reading() && (batch.n_tokens() as usize) < capacity {
                let Item::Token(t) = run.items[run.next] else {
                    break;
                };
                let last = run.next + 1 == run.items.len();
                match add(&mut batch, &mut self.slots[run.slot], t, last) {
                    Ok(at) if last => run.logits_at = Some(at),
                    Ok(_) => {}
                    Err(e) => added = Err(e),
                }
                run.next += 1;
            }
        }
        if batch.n_tokens() == 0 {
            return;
        }
        let decoded = added.and_then(|()| self.ctx.decode(&mut batch).map_err(|e| e.to_string()));
        if let Err(why) = decoded {
            // The cache may hold half a batch: start again from nothing.
            self.reset();
            self.retire_where(runs, |_| Some(Err(EngineError::Decode(why.clone()))));
            return;
        }
        self.sample(runs);
    }

    /// Evaluate the image or clip next in `run`'s prompt.
    fn read_media(&mut self, run: &mut Running) -> Result<()> {
        let Item::Media { hash, n_tokens } = run.items[run.next] else {
            return Ok(());
        };
        let m = run
            .request
            .messages
            .iter()
            .flat_map(|m| &m.media)
            .find(|m| m.hash() == hash)
            .ok_or_else(|| EngineError::Decode("media missing from request".into()))?;
        let projector = self
            .projector
            .as_mut()
            .ok_or_else(|| worker::no_projector(m))?;
        let t = Instant::now();
        let is_last = run.next + 1 == run.items.len();
        let slot = &mut self.slots[run.slot];
        let at = Position {
            seq: slot.seq,
            pos: slot.n_past,
        };
        let eval = projector.eval(
            m,
            &mut self.ctx,
            at,
            self.n_batch,
            is_last,
            EncoderUse::Cached,
        )?;
        run.stats.media_encode_ms += ms_since(t);
        let n_media = projector.n_media_tokens(m)?;
        run.stats.record_media(m, n_media, &eval);
        let (entries, bytes) = projector.encoder_cache_usage();
        tracing::debug!(entries, bytes, "encoder-output cache");
        slot.push(run.items[run.next], n_tokens, eval.next_pos);
        run.next += 1;
        if is_last {
            run.logits_at = Some(-1);
        }
        Ok(())
    }

    /// Choose the next token of every generation whose logits the last
    /// decode produced, stream it and end those that are done.
    fn sample(&mut self, runs: &mut Vec<Running>) {
        let mut i = 0;
        while i < runs.len() {
            let Some(at) = runs[i].logits_at.take() else {
                i += 1;
                continue;
            };
            match self.next_token(&mut runs[i], at) {
                Ok(None) => i += 1,
                Ok(Some(finish)) => {
                    let run = runs.remove(i);
                    self.retire(run, Ok(finish));
                }
                Err(e) => {
                    let run = runs.remove(i);
                    self.retire(run, Err(e));
                }
            }
        }
    }

    /// Choose, accept and stream the token at batch index `at`; `Some`
    /// when the answer ends with it.
    fn next_token(&mut self, run: &mut Running, at: i32) -> Result<Option<FinishReason>> {
        if run.generating_since.is_none() {
            run.stats.prompt_ms = ms_since(run.started);
            run.generating_since = Some(Instant::now());
        }
        if run.cancel.load(Ordering::Relaxed) {
            return Ok(Some(FinishReason::Cancelled));
        }
        let token = sampling::choose(&mut run.sampler, &self.ctx, at)?;
        if run.stats.generated_tokens == 0 {
            run.stats.time_to_first_token_ms = ms_since(run.started);
        }
        let vocab = self.model.vocab();
        // Not accepted: a grammar asserts (aborts) on an end token it did
        // not expect, and the answer ends here anyway.
        if vocab.is_eog(token) {
            return Ok(Some(FinishReason::Stop));
        }
        sampling::accept(&mut run.sampler, token)?;
        run.stats.generated_tokens += 1;
        let piece = run.stream.push(&vocab.token_to_piece(token, false, None));
        if !piece.text.is_empty() {
            run.text.push_str(&piece.text);
            if run.events.send(GenerationEvent::Token(piece.text)).is_err() {
                // Nobody is listening any more.
                return Ok(Some(FinishReason::Cancelled));
            }
        }
        if piece.stopped {
            return Ok(Some(FinishReason::StopString));
        }
        if run.stats.generated_tokens >= run.request.max_tokens as usize {
            return Ok(Some(FinishReason::MaxTokens));
        }
        let n_ctx = self.n_ctx as usize;
        if self.slots[run.slot].n_cells >= n_ctx {
            return Ok(Some(FinishReason::ContextFull));
        }
        if self.cells_in_use() >= n_ctx {
            // The answer outgrew its reserve: idle conversations give way.
            self.make_room(1);
            if self.cells_in_use() >= n_ctx {
                return Ok(Some(FinishReason::ContextFull));
            }
        }
        run.pending = Some(token);
        Ok(None)
    }

    /// Remove and answer the generations `end` says are over.
    fn retire_where(
        &mut self,
        runs: &mut Vec<Running>,
        end: impl Fn(&Running) -> Option<Result<FinishReason>>,
    ) {
        let mut i = 0;
        while i < runs.len() {
            match end(&runs[i]) {
                Some(result) => {
                    let run = runs.remove(i);
                    self.retire(run, result);
                }
                None => i += 1,
            }
        }
    }

    /// Answer a generation that ended and free its slot.
    fn retire(&mut self, mut run: Running, end: Result<FinishReason>) {
        self.slots[run.slot].busy = false;
        let finish = match end {
            Ok(finish) => finish,
            Err(e) => {
                let _ = run.events.send(GenerationEvent::Failed(e));
                return;
            }
        };
        let generating_since = run.generating_since.unwrap_or_else(|| {
            run.stats.prompt_ms = ms_since(run.started);
            Instant::now()
        });
        let tail = run.stream.finish();
        if !tail.is_empty() {
            run.text.push_str(&tail);
            let _ = run.events.send(GenerationEvent::Token(tail));
        }
        run.stats.generation_ms = ms_since(generating_since);
        let text = std::mem::take(&mut run.text);
        let stats = std::mem::take(&mut run.stats);
        let _ = run
            .events
            .send(GenerationEvent::Done(worker::outcome(text, finish, stats)));
    }
}

/// The engine thread's loop state: generations running, jobs waiting for
/// room, and a task that must run alone (a benchmark) waiting for the
/// running ones to end.
#[derive(Default)]
pub(crate) struct Scheduler {
    runs: Vec<Running>,
    waiting: VecDeque<Job>,
    alone: Option<Task>,
    /// Where the task being taken in reports, should the thread panic.
    taking: Option<mpsc::UnboundedSender<GenerationEvent>>,
    /// A generation ended since waiting jobs were last tried.
    freed: bool,
    /// Every sender is gone: end once nothing is left to do.
    closed: bool,
}

impl Scheduler {
    /// One round: take in what fits, then advance the running generations
    /// by a decode. Blocks for a task only when nothing runs. False once
    /// the queue is closed and everything is answered.
    pub(crate) fn turn(
        &mut self,
        session: &mut Session<'_>,
        tasks: &queue::Receiver<Task>,
    ) -> bool {
        if self.freed {
            self.freed = false;
            for _ in 0..self.waiting.len() {
                let Some(job) = self.waiting.pop_front() else {
                    break;
                };
                self.offer(session, job);
            }
        }
        let n_slots = session.slots.len();
        // API clients leave the window a slot.
        let background_slots = n_slots.saturating_sub(1).max(1);
        while self.alone.is_none() && self.runs.len() < n_slots {
            let background = self
                .runs
                .iter()
                .filter(|r| r.priority == Priority::Background)
                .count();
            let block = self.runs.is_empty() && self.waiting.is_empty();
            // No API request overtakes one waiting for room.
            let next = tasks.next(
                block,
                background < background_slots && self.waiting.is_empty(),
            );
            let (priority, task) = match next {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(queue::Disconnected) => {
                    self.closed = true;
                    break;
                }
            };
            self.taking = task.events();
            self.take(session, priority, task);
            self.taking = None;
        }
        if self.runs.is_empty() {
            if let Some(task) = self.alone.take() {
                self.taking = task.events();
                worker::serve_alone(session, task);
                self.taking = None;
            }
        }
        let before = self.runs.len();
        if before > 0 {
            session.step(&mut self.runs);
            self.freed |= self.runs.len() < before;
        }
        !(self.closed && self.runs.is_empty() && self.waiting.is_empty() && self.alone.is_none())
    }

    fn take(&mut self, session: &mut Session<'_>, priority: Priority, task: Task) {
        let job = |request, prompt, grammar, events, cancel| Job {
            request,
            prompt,
            grammar,
            events,
            cancel,
            priority,
        };
        match task {
            Task::Generate {
                request,
                events,
                cancel,
            } => self.offer(session, job(request, None, None, events, cancel)),
            Task::GenerateConstrained {
                request,
                events,
                cancel,
            } => {
                let c = *request;
                let request = Box::new(c.request);
                self.offer(session, job(request, c.prompt, c.grammar, events, cancel));
            }
            // Saving is safe between steps: it need not wait for the others.
            task @ Task::Persist { .. } => worker::serve_alone(session, task),
            task if self.runs.is_empty() => worker::serve_alone(session, task),
            task => self.alone = Some(task),
        }
    }

    fn offer(&mut self, session: &mut Session<'_>, job: Job) {
        let ahead = self.runs.iter().map(|r| r.cells_ahead()).sum();
        match session.admit(job, ahead, self.runs.is_empty()) {
            Admitted::Running(run) => self.runs.push(*run),
            Admitted::Waits(job) => self.waiting.push_back(job),
            Admitted::Answered => {}
        }
    }

    /// Tell everyone waiting on this thread that it crashed (`why`).
    pub(crate) fn fail_all(&mut self, why: &str) {
        let crashed = || GenerationEvent::Failed(EngineError::Crashed(why.to_owned()));
        let events = self
            .runs
            .drain(..)
            .map(|r| r.events.clone())
            .chain(self.waiting.drain(..).map(|j| j.events))
            .chain(self.taking.take())
            .chain(self.alone.take().and_then(|t| t.events()));
        for e in events {
            let _ = e.send(crashed());
        }
    }
}
