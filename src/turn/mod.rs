//! One exchange with the model, whatever the front end: the CLI's `ask`,
//! `chat` and `listen` and the app's composer all hand a [`TurnRequest`] to
//! [`run`] and show the [`TurnEvent`]s that come back. The turn reads the
//! conversation, retrieves from the documents, calls tools, generates,
//! speaks and saves, through the modules that own each of those, so every
//! combination works the same everywhere: an image with documents and
//! tools and a spoken reply is one question.
//!
//! The decisions every turn makes the same way live here too (how a spoken
//! question is heard: [`hear`]).
//!
//! Layering: the turn drives `engine`, `rag`, `tools`, `tts` and `store`;
//! none of them reaches back up into it (tests/layers.rs keeps it so).
//!
//! Threading: [`run`] is async and `Send`; store access is blocking SQLite
//! behind [`StoreAccess`], as short as one read or one transaction.

mod error;
pub mod filter;
pub mod hear;

use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

pub use crate::engine::DEFAULT_AUDIO_RATE;
pub use error::TurnError;
pub use hear::{transcribe, Hearing};

use crate::chat::{ChatMessage, Role};
use crate::conversation::{self, Branch, Exchange, NewConversation, Saved};
use crate::engine::{
    ConstrainedRequest, EngineError, EngineHandle, FinishReason, GenerateRequest, GenerationEvent,
    GenerationOutcome, GenerationStats,
};
use crate::media::attach::Attached;
use crate::rag::answer::{self, CitationCheck, Source};
use crate::rag::{Rag, SearchOptions};
use crate::store::{ConversationId, Store};
use crate::tools::run::EarlierCalls;
use crate::tools::{
    ConsentGate, Generator, ToolCall, ToolEvent, ToolLoop, ToolOptions, ToolRecord, ToolRegistry,
};
use crate::tts::{Narrator, SentenceSplitter};

/// Blocking access to the history store, however the front end holds it
/// (the CLI owns one, the app shares one behind a lock).
pub trait StoreAccess: Send + Sync {
    /// Run `f` with the store.
    ///
    /// # Errors
    /// `f`'s error, or the holder's own (e.g. a store that failed to open).
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> crate::Result<T>) -> crate::Result<T>;
}

impl StoreAccess for Mutex<Store> {
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> crate::Result<T>) -> crate::Result<T> {
        // A panic while holding the lock left no half transaction behind
        // (SQLite rolled it back), so the store is still usable.
        let store = self.lock().unwrap_or_else(|e| e.into_inner());
        f(&store)
    }
}

/// Which conversation the question belongs to.
#[derive(Debug, Clone, Default)]
pub enum Thread {
    /// A new conversation (created when the exchange is saved).
    #[default]
    New,
    /// A stored conversation, read back with its attachments and tool calls.
    Stored {
        id: ConversationId,
        /// Where the exchange goes: after the shown branch, as an edited
        /// question, or as a regenerated answer (whose question, with its
        /// attachments, is the stored one: the request's text and
        /// attachments are not used).
        branch: Branch,
    },
    /// A conversation kept only in memory (`--no-save`): these messages,
    /// system prompt included.
    Unsaved(Vec<ChatMessage>),
}

/// Answer from the user's documents.
#[derive(Clone)]
pub struct DocsScope {
    pub rag: Rag,
    pub options: SearchOptions,
}

/// Let the model call tools: which ones, who consents, and the loop's limits.
pub struct TurnTools<'a> {
    pub registry: &'a ToolRegistry,
    pub gate: &'a ConsentGate,
    pub options: ToolOptions,
}

/// One question, with everything it may use.
pub struct TurnRequest {
    pub thread: Thread,
    /// The system prompt of a new conversation.
    pub system_prompt: Option<String>,
    /// The model's name stored with a new conversation.
    pub model_name: Option<String>,
    pub text: String,
    /// Images, audio clips and camera snapshots, decoded and recorded.
    pub attached: Attached,
    /// `Some`: retrieve passages and answer from them, citing `[n]`.
    pub docs: Option<DocsScope>,
    /// Sampling, limits and stop strings (its messages are ignored).
    pub generation: GenerateRequest,
}

/// What the front end lends the turn while it runs.
pub struct TurnIo<'a> {
    pub tools: Option<TurnTools<'a>>,
    /// Speaks the answer sentence by sentence as it streams.
    pub narrator: Option<&'a Narrator>,
    /// Cancels the turn: the answer so far is kept (and saved).
    pub cancel: CancellationToken,
    /// The optional `[safety]` output filter: what streams, is spoken and
    /// is saved passes through it.
    pub filter: Option<filter::OutputFilter>,
    pub on_event: &'a mut (dyn FnMut(TurnEvent) + Send),
}

/// Progress of a turn, in order: `Sources` (documents questions), then
/// `Started`, tool calls and results between `Token`s, `Spoken` sentences,
/// and `Notice`s beside the answer. The end is [`run`]'s return value.
#[derive(Debug, Clone)]
pub enum TurnEvent {
    /// The passages the answer is given, numbered as it cites them.
    Sources(Vec<Source>),
    /// The first generation started (tool turns report zeros).
    Started {
        prompt_tokens: usize,
        reused_tokens: usize,
        dropped_messages: usize,
    },
    Token(String),
    /// The model asked for a call; consent and execution follow.
    ToolCall(ToolCall),
    /// A call finished, failed or was declined.
    ToolResult(ToolRecord),
    /// A sentence was handed to the voice.
    Spoken(String),
    /// Something beside the answer (the step limit was reached).
    Notice {
        code: &'static str,
        message: String,
    },
}

/// How a turn ended.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub text: String,
    pub finish: FinishReason,
    /// The last generation's counters.
    pub stats: GenerationStats,
    /// The question as it went to the model (media included), for a caller
    /// that keeps the conversation in memory.
    pub question: ChatMessage,
    pub sources: Vec<Source>,
    /// Passages left out to fit the context.
    pub dropped_snippets: usize,
    /// Which citations are valid (documents questions only).
    pub citations: Option<CitationCheck>,
    pub tool_calls: Vec<ToolRecord>,
    /// Generations run (1 without tools).
    pub steps: usize,
    pub step_limit_reached: bool,
    /// Which prompt path the tool loop took (`"jinja"`, `"system-prompt"`).
    pub prompt_mode: Option<&'static str>,
    /// Image and audio tokens evaluated over all of the turn's generations.
    pub image_tokens: usize,
    pub audio_tokens: usize,
    /// Sentences handed to the voice, in order.
    pub spoken: Vec<String>,
    /// Where the exchange was stored; `None` when nothing is saved.
    pub saved: Option<Saved>,
}

/// Answer `request` with `engine`, saving the exchange in `store` (when
/// given) before returning. A cancelled answer is kept and saved as far
/// as it got.
///
/// # Errors
/// [`TurnError`] for an empty message, a documents question with nothing
/// relevant, or tools on a remote engine; otherwise the failing module's
/// error (engine, store, rag, tools). Nothing is saved on error.
pub async fn run<S: StoreAccess + ?Sized>(
    engine: &EngineHandle,
    store: Option<&S>,
    request: TurnRequest,
    io: TurnIo<'_>,
) -> crate::Result<TurnOutcome> {
    let TurnRequest {
        thread,
        system_prompt,
        model_name,
        text,
        attached,
        docs,
        generation,
    } = request;
    let TurnIo {
        tools,
        narrator,
        cancel,
        filter,
        on_event,
    } = io;
    if tools.is_some() && engine.is_remote() {
        return Err(TurnError::RemoteBackend.into());
    }
    let audio_rate = engine.info().capabilities.audio_rate();
    let stored_id = match &thread {
        Thread::Stored { id, .. } => Some(*id),
        _ => None,
    };

    // The conversation so far, and the calls its answers were written after.
    let mut text = text;
    let mut attached = attached;
    let mut branch = Branch::Latest;
    let (mut messages, earlier) = match thread {
        Thread::New => (conversation::fresh(system_prompt.as_deref()), Vec::new()),
        Thread::Unsaved(messages) => (messages, Vec::new()),
        Thread::Stored { id, branch: at } => {
            branch = at;
            let store = store.ok_or(crate::store::StoreError::NotFound(id))?;
            let (history, earlier, asked) = store.with_store(|s| {
                let (history, asked) = match at {
                    Branch::Latest => (conversation::history(s, id, audio_rate)?, None),
                    Branch::After(leaf) => {
                        (conversation::history_until(s, id, leaf, audio_rate)?, None)
                    }
                    Branch::Regenerate(q) => {
                        let question = s.message(id, q)?;
                        if question.role != Role::User {
                            return Err(TurnError::NotAQuestion(q).into());
                        }
                        let history =
                            conversation::history_until(s, id, question.parent_id, audio_rate)?;
                        (history, Some(question))
                    }
                };
                let earlier = conversation::earlier_tool_calls(s, &history)?;
                Ok((history, earlier, asked))
            })?;
            for skip in &history.skipped {
                on_event(TurnEvent::Notice {
                    code: "ATTACHMENT_SKIPPED",
                    message: format!("left out of the history: {skip}"),
                });
            }
            if let Some(asked) = asked {
                let (media, skipped) = crate::media::attach::reload(&asked.attachments, audio_rate);
                for skip in skipped {
                    on_event(TurnEvent::Notice {
                        code: "ATTACHMENT_SKIPPED",
                        message: format!("left out of the question: {skip}"),
                    });
                }
                text = asked.content;
                attached = Attached {
                    media,
                    records: asked.attachments,
                };
            }
            (history.messages, earlier)
        }
    };
    if text.trim().is_empty() && attached.media.is_empty() {
        return Err(TurnError::Empty.into());
    }
    let question = ChatMessage::with_media(Role::User, text.clone(), attached.media.clone());

    // A documents question goes to the model with the passages that fit
    // (and without the earlier turns, which would crowd them out); its
    // attachments stay with it.
    let mut sources = Vec::new();
    let mut dropped_snippets = 0;
    let mut earlier: Vec<EarlierCalls> = earlier;
    if let Some(scope) = docs {
        let q = text.clone();
        let hits = tokio::task::spawn_blocking(move || scope.rag.search(&q, &scope.options))
            .await
            .map_err(|e| TurnError::Task(e.to_string()))??;
        if hits.is_empty() {
            return Err(TurnError::NothingRelevant.into());
        }
        let info = engine.info();
        let docs = answer::docs_question(
            &text,
            &hits,
            None,
            info.n_ctx as usize,
            generation.max_tokens,
        )?;
        sources = docs.prompt.sources;
        dropped_snippets = docs.prompt.dropped;
        messages = docs.messages;
        if let Some(last) = messages.last_mut() {
            last.media = attached.media.clone();
        }
        earlier.clear();
        on_event(TurnEvent::Sources(sources.clone()));
    } else {
        messages.push(question.clone());
    }

    let mut voice = narrator.map(|n| (n, SentenceSplitter::new()));
    let mut spoken = Vec::new();
    let mut speak = |text: &str, on_event: &mut (dyn FnMut(TurnEvent) + Send)| {
        if let Some((narrator, splitter)) = voice.as_mut() {
            for sentence in splitter.push(text) {
                on_event(TurnEvent::Spoken(sentence.clone()));
                spoken.push(sentence.clone());
                narrator.say(sentence);
            }
        }
    };
    // Shown and spoken text goes through the output filter first; a stop
    // match cancels the generation there.
    let mut filter = filter;
    let mut filtered_stop = false;
    #[allow(clippy::type_complexity)]
    let mut shown = |t: String,
                     speak: &mut dyn FnMut(&str, &mut (dyn FnMut(TurnEvent) + Send)),
                     on_event: &mut (dyn FnMut(TurnEvent) + Send)| {
        let t = match filter.as_mut() {
            None => t,
            Some(f) => {
                let r = f.push(&t);
                if r.stop && !filtered_stop {
                    filtered_stop = true;
                    cancel.cancel();
                }
                r.text
            }
        };
        if !t.is_empty() {
            speak(&t, &mut *on_event);
            on_event(TurnEvent::Token(t));
        }
    };

    let mut request = generation;
    request.messages = Vec::new();
    let generated = match tools {
        Some(tools) => {
            on_event(TurnEvent::Started {
                prompt_tokens: 0,
                reused_tokens: 0,
                dropped_messages: 0,
            });
            let generator = Cancellable {
                engine,
                cancel: cancel.clone(),
                media: Mutex::new((0, 0)),
            };
            let tool_loop = ToolLoop::new(&generator, tools.registry, tools.gate, tools.options);
            let mut forward = |ev: ToolEvent| match ev {
                ToolEvent::Token(t) => shown(t, &mut speak, &mut *on_event),
                ToolEvent::Call(c) => on_event(TurnEvent::ToolCall(c)),
                ToolEvent::Result(r) => on_event(TurnEvent::ToolResult(r)),
                ToolEvent::Step(_) => {}
            };
            let run = tool_loop
                .run_continuing(messages, &earlier, &request, &mut forward)
                .await?;
            if run.step_limit_reached {
                on_event(TurnEvent::Notice {
                    code: "STEP_LIMIT",
                    message: format!(
                        "the model still wanted tools after {} steps; it was stopped there",
                        run.steps
                    ),
                });
            }
            let (image_tokens, audio_tokens) =
                *generator.media.lock().unwrap_or_else(|e| e.into_inner());
            Generated {
                outcome: GenerationOutcome {
                    text: run.text,
                    finish: run.last.finish,
                    stats: run.last.stats,
                },
                image_tokens,
                audio_tokens,
                records: run.records,
                steps: run.steps,
                step_limit_reached: run.step_limit_reached,
                prompt_mode: Some(run.prompt_mode),
            }
        }
        None => {
            request.messages = messages;
            let outcome = stream(engine, request, &cancel, &mut |ev| match ev {
                TurnEvent::Token(t) => shown(t, &mut speak, &mut *on_event),
                other => on_event(other),
            })
            .await?;
            Generated {
                image_tokens: outcome.stats.image_tokens,
                audio_tokens: outcome.stats.audio_tokens,
                outcome,
                records: Vec::new(),
                steps: 1,
                step_limit_reached: false,
                prompt_mode: None,
            }
        }
    };
    let mut generated = generated;
    if let Some(f) = filter.as_mut() {
        let rest = f.finish();
        if !rest.text.is_empty() {
            speak(&rest.text, &mut *on_event);
            on_event(TurnEvent::Token(rest.text));
        }
        // The saved answer is what was shown.
        let (text, matched) = f.apply(&generated.outcome.text);
        generated.outcome.text = text;
        if filtered_stop {
            // Stopped by the filter, not by the user: what came before is
            // a finished answer (and is still spoken).
            generated.outcome.finish = FinishReason::StopString;
            on_event(TurnEvent::Notice {
                code: "FILTERED",
                message: "the answer was stopped by the output filter".into(),
            });
        } else if matched {
            on_event(TurnEvent::Notice {
                code: "FILTERED",
                message: "words in the answer were masked by the output filter".into(),
            });
        }
    }
    if let Some((narrator, mut splitter)) = voice {
        if generated.outcome.finish == FinishReason::Cancelled {
            narrator.stop();
        } else if let Some(rest) = splitter.finish() {
            on_event(TurnEvent::Spoken(rest.clone()));
            spoken.push(rest.clone());
            narrator.say(rest);
        }
    }

    let saved = match store {
        Some(store) => {
            let outcome = &generated.outcome;
            Some(store.with_store(|s| {
                conversation::save_exchange(
                    s,
                    stored_id,
                    branch,
                    NewConversation {
                        model: model_name.as_deref(),
                        system_prompt: system_prompt.as_deref(),
                    },
                    Exchange {
                        question: &text,
                        attachments: &attached.records,
                        outcome,
                        sources: &sources,
                        tool_calls: &generated.records,
                    },
                )
            })?)
        }
        _ => None,
    };
    let citations = (!sources.is_empty())
        .then(|| answer::check_citations(&generated.outcome.text, sources.len()));
    Ok(TurnOutcome {
        text: generated.outcome.text,
        finish: generated.outcome.finish,
        stats: generated.outcome.stats,
        question,
        sources,
        dropped_snippets,
        citations,
        tool_calls: generated.records,
        steps: generated.steps,
        step_limit_reached: generated.step_limit_reached,
        prompt_mode: generated.prompt_mode,
        image_tokens: generated.image_tokens,
        audio_tokens: generated.audio_tokens,
        spoken,
        saved,
    })
}

/// What the generation step produced, with or without tools.
struct Generated {
    outcome: GenerationOutcome,
    image_tokens: usize,
    audio_tokens: usize,
    records: Vec<ToolRecord>,
    steps: usize,
    step_limit_reached: bool,
    prompt_mode: Option<&'static str>,
}

/// Stream one plain generation, reporting `Started` and `Token`s; `cancel`
/// stops it (the partial answer is the outcome).
async fn stream(
    engine: &EngineHandle,
    request: GenerateRequest,
    cancel: &CancellationToken,
    on_event: &mut (dyn FnMut(TurnEvent) + Send),
) -> crate::Result<GenerationOutcome> {
    let mut stream = engine.generate(request)?;
    let mut cancelled = false;
    loop {
        let event = tokio::select! {
            ev = stream.next() => ev,
            () = cancel.cancelled(), if !cancelled => {
                stream.cancel();
                cancelled = true;
                continue;
            }
        };
        match event {
            Some(GenerationEvent::Started {
                prompt_tokens,
                reused_tokens,
                dropped_messages,
            }) => on_event(TurnEvent::Started {
                prompt_tokens,
                reused_tokens,
                dropped_messages,
            }),
            Some(GenerationEvent::Token(t)) => on_event(TurnEvent::Token(t)),
            Some(GenerationEvent::Done(o)) => return Ok(o),
            Some(GenerationEvent::Failed(e)) => return Err(e.into()),
            None => return Err(EngineError::Stopped.into()),
        }
    }
}

/// The engine for the tool loop, every generation of the turn stopped by
/// one token.
struct Cancellable<'a> {
    engine: &'a EngineHandle,
    cancel: CancellationToken,
    /// Image and audio tokens evaluated so far, over every step.
    media: Mutex<(usize, usize)>,
}

impl Generator for Cancellable<'_> {
    fn chat_template(&self) -> Option<String> {
        Generator::chat_template(self.engine)
    }

    fn generate<'a>(
        &'a self,
        request: ConstrainedRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, Result<GenerationOutcome, EngineError>> {
        Box::pin(async move {
            let mut stream = self.engine.generate_constrained(request)?;
            let mut cancelled = false;
            loop {
                let event = tokio::select! {
                    ev = stream.next() => ev,
                    () = self.cancel.cancelled(), if !cancelled => {
                        stream.cancel();
                        cancelled = true;
                        continue;
                    }
                };
                match event {
                    Some(GenerationEvent::Token(t)) => on_text(&t),
                    Some(GenerationEvent::Done(o)) => {
                        let mut m = self.media.lock().unwrap_or_else(|e| e.into_inner());
                        m.0 += o.stats.image_tokens;
                        m.1 += o.stats.audio_tokens;
                        return Ok(o);
                    }
                    Some(GenerationEvent::Failed(e)) => return Err(e),
                    Some(GenerationEvent::Started { .. }) => {}
                    None => return Err(EngineError::Stopped),
                }
            }
        })
    }
}

/// How long a consent question waits before it declines (the app's dialog).
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(300);
