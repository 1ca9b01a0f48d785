//! Sending a message and streaming the answer back over a
//! `tauri::ipc::Channel`. The command awaits the engine's events on a tokio
//! task, so the UI thread never waits; `stop_generation` cancels it, and a
//! window that stops listening cancels it too.

use omnidesk::chat::{ChatMessage, Role};
use omnidesk::conversation::{self, Exchange, NewConversation};
use omnidesk::engine::{FinishReason, GenerateRequest, GenerationEvent, GenerationStats};
use omnidesk::media::attach::Attached;
use omnidesk::rag::answer::{self, CitationCheck, Source};
use omnidesk::rag::SearchOptions;
use omnidesk::store::{ConversationId, MessageId, StoreError};
use omnidesk::tts::SentenceSplitter;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// What a generation reports, in order: `started`, any number of `token`s,
/// then one `done` or `failed`.
#[derive(Debug, Clone, Serialize)]
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
        stats: GenerationStats,
        conversation_id: ConversationId,
        question_id: MessageId,
        answer_id: MessageId,
        /// For answers from documents: which citations are valid.
        citations: Option<CitationCheck>,
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessage {
    /// Continue this conversation; `None` starts a new one.
    pub conversation_id: Option<ConversationId>,
    pub text: String,
    /// Staged attachments (from `pick_images`/`attach_image`), in order.
    #[serde(default)]
    pub attachment_ids: Vec<u64>,
    /// Delete the stored messages after this one first (edit and resend,
    /// regenerate).
    #[serde(default)]
    pub truncate_after: Option<MessageId>,
    /// Answer from the user's documents: the question goes to the model
    /// with the best-matching snippets (and without the earlier turns), and
    /// the answer cites them.
    #[serde(default)]
    pub use_docs: bool,
    /// Let the model call tools (clock, documents, camera, MCP servers),
    /// asking before any with side effects.
    #[serde(default)]
    pub use_tools: bool,
    /// With `use_tools`: offer only these tools (by name); all when absent.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// With `use_tools`: the first step must be a call (grammar-enforced).
    #[serde(default)]
    pub require_tool: bool,
}

/// The stored result of a finished exchange (also sent as `done`).
#[derive(Debug, Clone, Serialize)]
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
    if message.text.trim().is_empty() && message.attachment_ids.is_empty() {
        return Err(CommandError::invalid("the message is empty"));
    }
    let engine = state.engine.ready()?;
    let config = state.settings.get();
    let audio_rate = engine
        .info()
        .capabilities.audio_rate();
    let mut sources = Vec::new();
    let (mut messages, earlier) = match message.conversation_id {
        Some(id) => state.store.with(|s| {
            if let Some(after) = message.truncate_after {
                s.delete_messages_after(id, after)?;
            }
            let history = conversation::history(s, id, audio_rate)?;
            let earlier = conversation::earlier_tool_calls(s, &history)?;
            Ok((history.messages, earlier))
        })?,
        None => (
            conversation::fresh(config.system_prompt.as_deref()),
            Vec::new(),
        ),
    };
    let mut attached = Attached::default();
    for staged in state.staged.take(&message.attachment_ids)? {
        attached.media.push(staged.media);
        attached.records.push(staged.record);
    }
    if message.use_docs && message.use_tools {
        return Err(CommandError::invalid(
            "answer from documents or with tools, not both (the tools can search your documents)",
        ));
    }
    if message.use_docs {
        if !attached.media.is_empty() {
            return Err(CommandError::invalid(
                "ask about documents or about attachments, not both at once",
            ));
        }
        let docs = docs_question(state, &message.text, &config, engine.info().n_ctx).await?;
        sources = docs.prompt.sources;
        let _ = on_event.send(ChatEvent::Sources {
            sources: sources.clone(),
        });
        messages = docs.messages;
    } else {
        messages.push(ChatMessage::with_media(
            Role::User,
            message.text.clone(),
            attached.media,
        ));
    }
    let request = GenerateRequest {
        messages,
        sampling: config.sampling.clone(),
        max_tokens: config.max_tokens,
        stop: Vec::new(),
    };
    let mut voice = None;
    if config.audio.speak_replies {
        state.speech.stop();
        match state.speech.narrator(&state.settings) {
            Ok(n) => voice = Some((n, SentenceSplitter::new())),
            Err(e) => {
                let _ = on_event.send(ChatEvent::Notice {
                    code: e.code,
                    message: format!("answers cannot be spoken: {}", e.message),
                });
            }
        }
    }
    let (outcome, tool_calls) = if message.use_tools {
        let mut speak = |text: &str| {
            if let Some((narrator, splitter)) = voice.as_mut() {
                for sentence in splitter.push(text) {
                    narrator.say(sentence);
                }
            }
        };
        let turn = super::tools::answer_with_tools(
            state,
            super::tools::ToolTurnRequest {
                engine: engine.clone(),
                messages: request.messages.clone(),
                earlier: &earlier,
                request,
                only: message.tools.as_deref(),
                require_tool: message.require_tool,
            },
            on_event,
            &mut speak,
        )
        .await?;
        (turn.outcome, turn.records)
    } else {
        (
            stream_answer(state, &engine, request, on_event, &mut voice).await?,
            Vec::new(),
        )
    };
    if let Some((narrator, mut splitter)) = voice {
        if outcome.finish == FinishReason::Cancelled {
            narrator.stop();
        } else if let Some(rest) = splitter.finish() {
            narrator.say(rest);
        }
    }
    let model = engine
        .info()
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let saved = state.store.with(|s| {
        conversation::save_exchange(
            s,
            message.conversation_id,
            NewConversation {
                model: model.as_deref(),
                system_prompt: config.system_prompt.as_deref(),
            },
            Exchange {
                question: &message.text,
                attachments: &attached.records,
                outcome: &outcome,
                sources: &sources,
                tool_calls: &tool_calls,
            },
        )
        .map_err(|e| match e {
            omnidesk::Error::Store(StoreError::NotFound(id)) => CommandError::new(
                "NOT_FOUND",
                format!("conversation {id} was deleted meanwhile"),
            ),
            other => other.into(),
        })
    })?;
    let _ = on_event.send(ChatEvent::Done {
        finish: outcome.finish,
        stats: outcome.stats.clone(),
        conversation_id: saved.conversation,
        question_id: saved.question,
        answer_id: saved.answer,
        citations: (!sources.is_empty())
            .then(|| answer::check_citations(&outcome.text, sources.len())),
    });
    Ok(SendResult {
        conversation_id: saved.conversation,
        finish: outcome.finish,
        text: outcome.text,
    })
}

/// Stream a plain answer (no tools) into `on_event`, feeding the narrator.
async fn stream_answer(
    state: &AppState,
    engine: &omnidesk::engine::EngineHandle,
    request: GenerateRequest,
    on_event: &Channel<ChatEvent>,
    voice: &mut Option<(omnidesk::tts::Narrator, SentenceSplitter)>,
) -> CommandResult<omnidesk::engine::GenerationOutcome> {
    let mut stream = engine.generate(request)?;
    let guard = state.generations.register(stream.cancel_token());
    let outcome = loop {
        let event = match stream.next().await {
            Some(ev) => ev,
            None => return Err(omnidesk::engine::EngineError::Stopped.into()),
        };
        let sent = match event {
            GenerationEvent::Started {
                prompt_tokens,
                reused_tokens,
                dropped_messages,
            } => on_event.send(ChatEvent::Started {
                generation_id: guard.id,
                prompt_tokens,
                reused_tokens,
                dropped_messages,
            }),
            GenerationEvent::Token(text) => {
                if let Some((narrator, splitter)) = voice.as_mut() {
                    for sentence in splitter.push(&text) {
                        narrator.say(sentence);
                    }
                }
                on_event.send(ChatEvent::Token { text })
            }
            GenerationEvent::Done(outcome) => break outcome,
            GenerationEvent::Failed(e) => return Err(e.into()),
        };
        if sent.is_err() {
            // Nobody is listening any more: stop spending the engine on it.
            stream.cancel();
        }
    };
    drop(guard);
    Ok(outcome)
}

/// Stop generation `id` (from its `started` event), or every running one
/// when absent; the partial answer is kept. Returns how many were stopped.
#[tauri::command]
pub async fn stop_generation(state: State<'_, AppState>, id: Option<u64>) -> CommandResult<usize> {
    state.speech.stop();
    Ok(state.generations.stop(id))
}

/// Retrieve snippets for `question` and fit them into the context.
///
/// # Errors
/// `NO_EMBEDDING_MODEL`, `NOTHING_RELEVANT` when no document matches well
/// enough, and the index's errors.
async fn docs_question(
    state: &AppState,
    question: &str,
    config: &omnidesk::config::Config,
    n_ctx: u32,
) -> CommandResult<answer::DocsQuestion> {
    let rag = state.docs.open(&state.settings).await?;
    let q = question.to_owned();
    let hits = tokio::task::spawn_blocking(move || rag.search(&q, &SearchOptions::default()))
        .await
        .map_err(|e| CommandError::new(crate::error::codes::INTERNAL, e.to_string()))??;
    if hits.is_empty() {
        return Err(CommandError::new(
            "NOTHING_RELEVANT",
            "nothing relevant found in your documents",
        ));
    }
    Ok(answer::docs_question(
        question,
        &hits,
        // The citation instructions, not the chat's system prompt.
        None,
        n_ctx as usize,
        config.max_tokens,
    )?)
}
