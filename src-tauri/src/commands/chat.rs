//! Sending a message and streaming the answer back over a
//! `tauri::ipc::Channel`. The command awaits the engine's events on a tokio
//! task, so the UI thread never waits; `stop_generation` cancels it, and a
//! window that stops listening cancels it too.

use omnidesk::audio::listener::TalkTimings;
use omnidesk::conversation::Branch;
use omnidesk::engine::{FinishReason, GenerateRequest, GenerationStats};
use omnidesk::media::attach::Attached;
use omnidesk::rag::answer::{CitationCheck, Source};
use omnidesk::rag::SearchOptions;
use omnidesk::store::{ConversationId, MessageId, StoreError};
use omnidesk::tts::SpeechEvent;
use omnidesk::turn::{self, DocsScope, Thread, TurnError, TurnEvent, TurnIo, TurnRequest};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// What a generation reports, in order: `started`, any number of `token`s,
/// then one `done` or `failed`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ChatEvent {
    /// The document snippets the answer is given (questions asked with
    /// `useDocs` only), numbered as the answer cites them.
    Sources {
        sources: Vec<Source>,
    },
    Started {
        generation_id: u64,
        prompt_tokens: usize,
        reused_tokens: usize,
        dropped_messages: usize,
    },
    Token {
        text: String,
    },
    Done {
        finish: FinishReason,
        stats: Box<GenerationStats>,
        conversation_id: ConversationId,
        question_id: MessageId,
        answer_id: MessageId,
        /// For answers from documents: which citations are valid.
        citations: Option<CitationCheck>,
        /// Image and audio tokens the model read in this turn (all steps).
        image_tokens: usize,
        audio_tokens: usize,
        /// Talk mode: end of speech → first token (also stored with the
        /// answer's stats as `talk`).
        talk: bool,
        speech_to_first_token_ms: Option<f64>,
        /// Talk mode: end of speech → the reply's voice starts (`None`
        /// when nothing was spoken).
        speech_to_first_audio_ms: Option<f64>,
    },
    Failed {
        code: &'static str,
        message: String,
    },
    /// The model called a tool (tool-calling answers only); its result
    /// follows, after the user's consent where the tool needs it.
    ToolCall {
        call_id: String,
        name: String,
        arguments: serde_json::Value,
    },
    ToolResult {
        call_id: String,
        name: String,
        /// What the model was told: the output, or the error.
        output: String,
        /// Failure code, absent on success.
        error: Option<String>,
        duration_ms: f64,
    },
    /// A tool with side effects wants to run: answer with
    /// `answer_tool_consent` (no answer in 5 minutes, or a stop, declines).
    Consent {
        request_id: u64,
        tool: String,
        description: String,
        arguments: serde_json::Value,
    },
    /// Something went wrong beside the answer (speech could not start); the
    /// answer goes on.
    Notice {
        code: &'static str,
        message: String,
    },
}

/// A message from the composer.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessage {
    /// Continue this conversation; `None` starts a new one.
    pub conversation_id: Option<ConversationId>,
    pub text: String,
    /// Staged attachments (from `pick_images`/`attach_image`), in order.
    #[serde(default)]
    #[ts(optional, as = "Option<Vec<u64>>")]
    pub attachment_ids: Vec<u64>,
    /// Edit and resend: the question goes after this stored message (0: as
    /// a new first question), beside the replies it already has, which stay
    /// as other versions.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub truncate_after: Option<MessageId>,
    /// Regenerate: answer this stored question again (its text and
    /// attachments; `text` is not used); the earlier answers stay as
    /// other versions.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub regenerate: Option<MessageId>,
    /// Answer from the user's documents: the question (and its
    /// attachments) goes to the model with the best-matching snippets
    /// (without the earlier turns), and the answer cites them. Combines
    /// with attachments and tools.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub use_docs: bool,
    /// Let the model call tools (clock, documents, camera, MCP servers),
    /// asking before any with side effects.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub use_tools: bool,
    /// With `use_tools`: offer only these tools (by name); all when absent.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub tools: Option<Vec<String>>,
    /// With `use_tools`: the first step must be a call (grammar-enforced).
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub require_tool: bool,
    /// A turn from talk mode: the reply is spoken whatever the settings
    /// say, and timed from the end of speech.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub talk: bool,
}

/// The stored result of a finished exchange (also sent as `done`).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    pub conversation_id: ConversationId,
    pub finish: FinishReason,
    pub text: String,
}

/// Answer `message`, streaming into `on_event`; the exchange (also a
/// stopped, partial answer) is saved before `done` is sent.
#[tauri::command]
pub async fn send_message(
    state: State<'_, AppState>,
    message: SendMessage,
    on_event: Channel<ChatEvent>,
) -> CommandResult<SendResult> {
    let result = run(&state, message, &on_event).await;
    if let Err(e) = &result {
        let _ = on_event.send(ChatEvent::Failed {
            code: e.code,
            message: e.message.clone(),
        });
    }
    result
}

async fn run(
    state: &AppState,
    message: SendMessage,
    on_event: &Channel<ChatEvent>,
) -> CommandResult<SendResult> {
    if message.text.trim().is_empty()
        && message.attachment_ids.is_empty()
        && message.regenerate.is_none()
    {
        return Err(CommandError::invalid("the message is empty"));
    }
    let engine = state.engine.ready()?;
    let config = state.settings.get();
    // A database that could not be opened says why, with its own code.
    state.store.with(|_| Ok(()))?;
    let mut attached = Attached::default();
    for staged in state.staged.take(&message.attachment_ids)? {
        attached.media.push(staged.media);
        attached.records.push(staged.record);
    }
    let docs = if message.use_docs {
        Some(DocsScope {
            rag: state.docs.open(&state.settings).await?,
            options: SearchOptions::default(),
        })
    } else {
        None
    };
    let filter = turn::filter::OutputFilter::new(&config.safety)
        .map_err(TurnError::from)
        .map_err(omnidesk::Error::from)?;
    let stop = CancellationToken::new();
    let guard = state.generations.register_turn(stop.clone());
    let tools = if message.use_tools {
        if engine.is_remote() {
            return Err(omnidesk::Error::from(TurnError::RemoteBackend).into());
        }
        Some(
            super::tools::window_tools(
                state,
                engine.info().capabilities.vision,
                message.tools.as_deref(),
                message.require_tool,
                on_event,
                stop.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    let speech_end = if message.talk {
        state.talk.take_speech_end()
    } else {
        None
    };
    let mut first_token: Option<std::time::Instant> = None;
    // Talk mode times the voice too: subscribe before anything is spoken.
    let first_audio = speech_end.map(|_| FirstAudio::watch(state.speech.subscribe()));
    let mut narrator = None;
    if config.audio.speak_replies || message.talk {
        state.speech.stop();
        match state.speech.narrator(&state.settings) {
            Ok(n) => narrator = Some(n),
            Err(e) => {
                let _ = on_event.send(ChatEvent::Notice {
                    code: e.code,
                    message: format!("answers cannot be spoken: {}", e.message),
                });
            }
        }
    }
    let thread = match message.conversation_id {
        Some(id) => Thread::Stored {
            id,
            branch: match (message.regenerate, message.truncate_after) {
                (Some(q), _) => Branch::Regenerate(q),
                (None, Some(0)) => Branch::After(None),
                (None, Some(after)) => Branch::After(Some(after)),
                (None, None) => Branch::Latest,
            },
        },
        None => Thread::New,
    };
    let request = TurnRequest {
        thread,
        system_prompt: config.system_prompt.clone(),
        model_name: engine
            .info()
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        text: message.text.clone(),
        attached,
        docs,
        generation: GenerateRequest {
            messages: Vec::new(),
            sampling: config.sampling.clone(),
            max_tokens: config.max_tokens,
            stop: Vec::new(),
        },
    };
    let mut forward = |ev: TurnEvent| {
        let sent = match ev {
            TurnEvent::Sources(sources) => on_event.send(ChatEvent::Sources { sources }),
            TurnEvent::Started {
                prompt_tokens,
                reused_tokens,
                dropped_messages,
            } => on_event.send(ChatEvent::Started {
                generation_id: guard.id,
                prompt_tokens,
                reused_tokens,
                dropped_messages,
            }),
            TurnEvent::Token(text) => {
                first_token.get_or_insert_with(std::time::Instant::now);
                on_event.send(ChatEvent::Token { text })
            }
            TurnEvent::ToolCall(call) => on_event.send(ChatEvent::ToolCall {
                call_id: call.id,
                name: call.name,
                arguments: call.arguments,
            }),
            TurnEvent::ToolResult(r) => on_event.send(ChatEvent::ToolResult {
                call_id: r.call.id,
                name: r.call.name,
                output: r.output,
                error: r.error,
                duration_ms: r.duration_ms,
            }),
            TurnEvent::Notice { code, message } => {
                on_event.send(ChatEvent::Notice { code, message })
            }
            TurnEvent::Spoken(_) => Ok(()),
        };
        if sent.is_err() {
            // Nobody is listening any more: stop spending the engine on it.
            stop.cancel();
        }
    };
    let result = turn::run(
        &engine,
        Some(&state.store),
        request,
        TurnIo {
            tools: tools.as_ref().map(|t| t.turn_tools()),
            narrator: narrator.as_ref(),
            cancel: stop.clone(),
            filter,
            on_event: &mut forward,
        },
    )
    .await;
    if let Some(tools) = tools {
        tools.close().await;
    }
    drop(guard);
    let outcome = result.map_err(|e| match e {
        omnidesk::Error::Store(StoreError::NotFound(id)) => CommandError::new(
            "NOT_FOUND",
            format!("conversation {id} was deleted meanwhile"),
        ),
        other => other.into(),
    })?;
    let saved = outcome.saved.ok_or_else(|| {
        CommandError::new(crate::error::codes::INTERNAL, "the answer was not saved")
    })?;
    let since_speech = |t: Option<std::time::Instant>| {
        speech_end
            .zip(t)
            .map(|(end, at)| at.saturating_duration_since(end).as_secs_f64() * 1e3)
    };
    let speech_to_first_token_ms = since_speech(first_token);
    let speech_to_first_audio_ms = match first_audio {
        Some(watch) => since_speech(watch.wait(&state.speech).await),
        None => None,
    };
    if speech_end.is_some() {
        let timings = TalkTimings {
            speech_end_to_first_token_ms: speech_to_first_token_ms,
            speech_end_to_first_audio_ms: speech_to_first_audio_ms,
            endpoint_silence_ms: None,
        };
        let mut extra = serde_json::Map::new();
        extra.insert(
            "talk".into(),
            serde_json::to_value(timings)
                .map_err(|e| CommandError::new(crate::error::codes::INTERNAL, e.to_string()))?,
        );
        state.store.with(|s| {
            s.merge_message_stats(saved.conversation, saved.answer, &extra)
                .map_err(|e| omnidesk::Error::from(e).into())
        })?;
    }
    let _ = on_event.send(ChatEvent::Done {
        finish: outcome.finish,
        stats: Box::new(outcome.stats.clone()),
        conversation_id: saved.conversation,
        question_id: saved.question,
        answer_id: saved.answer,
        citations: outcome.citations.clone(),
        image_tokens: outcome.image_tokens,
        audio_tokens: outcome.audio_tokens,
        talk: message.talk,
        speech_to_first_token_ms,
        speech_to_first_audio_ms,
    });
    Ok(SendResult {
        conversation_id: saved.conversation,
        finish: outcome.finish,
        text: outcome.text,
    })
}

/// Stop generation `id` (from its `started` event), or every running one
/// when absent; the partial answer is kept. Returns how many were stopped.
#[tauri::command]
pub async fn stop_generation(state: State<'_, AppState>, id: Option<u64>) -> CommandResult<usize> {
    state.speech.stop();
    Ok(state.generations.stop(id))
}

/// When a talk-mode reply's voice first played, from the narrator's
/// events (recorded as they arrive, so the wait below does not skew it).
struct FirstAudio(tokio::sync::watch::Receiver<Option<std::time::Instant>>);

impl FirstAudio {
    /// How long the voice may take to start after the answer is complete
    /// (a one-sentence answer is synthesised only then).
    const START_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

    fn watch(mut events: tokio::sync::broadcast::Receiver<SpeechEvent>) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(None);
        tauri::async_runtime::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(SpeechEvent::Started { .. }) => {
                        let _ = tx.send(Some(std::time::Instant::now()));
                        return;
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        Self(rx)
    }

    /// The first sentence's start, waiting while something is still queued
    /// to be spoken; `None` when nothing was (stopped, or no voice).
    async fn wait(mut self, speech: &crate::state::Speech) -> Option<std::time::Instant> {
        let deadline = tokio::time::Instant::now() + Self::START_WITHIN;
        loop {
            if let Some(at) = *self.0.borrow() {
                return Some(at);
            }
            if speech.pending() == 0 || tokio::time::Instant::now() >= deadline {
                return None;
            }
            let tick = tokio::time::Duration::from_millis(20);
            if let Ok(Err(_)) = tokio::time::timeout(tick, self.0.changed()).await {
                // The narrator's events ended.
                return *self.0.borrow();
            }
        }
    }
}
