//! Sending a message and streaming the answer back over a
//! `tauri::ipc::Channel`. The command awaits the engine's events on a tokio
//! task, so the UI thread never waits; `stop_generation` cancels it, and a
//! window that stops listening cancels it too.

use omnidesk::chat::{ChatMessage, Role};
use omnidesk::conversation::{self, Exchange, NewConversation};
use omnidesk::engine::{FinishReason, GenerateRequest, GenerationEvent, GenerationStats};
use omnidesk::media::attach::Attached;
use omnidesk::store::{ConversationId, MessageId, StoreError};
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
    },
    Failed {
        code: &'static str,
        message: String,
    },
}

/// A message from the composer.
#[derive(Debug, Clone, Deserialize)]
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
        .capabilities
        .audio_sample_rate
        .unwrap_or(16_000);
    let mut messages = match message.conversation_id {
        Some(id) => state.store.with(|s| {
            if let Some(after) = message.truncate_after {
                s.delete_messages_after(id, after)?;
            }
            Ok(conversation::history(s, id, audio_rate)?.messages)
        })?,
        None => conversation::fresh(config.system_prompt.as_deref()),
    };
    let mut attached = Attached::default();
    for staged in state.staged.take(&message.attachment_ids)? {
        attached.media.push(staged.media);
        attached.records.push(staged.record);
    }
    messages.push(ChatMessage::with_media(
        Role::User,
        message.text.clone(),
        attached.media,
    ));
    let request = GenerateRequest {
        messages,
        sampling: config.sampling.clone(),
        max_tokens: config.max_tokens,
        stop: Vec::new(),
    };
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
            GenerationEvent::Token(text) => on_event.send(ChatEvent::Token { text }),
            GenerationEvent::Done(outcome) => break outcome,
            GenerationEvent::Failed(e) => return Err(e.into()),
        };
        if sent.is_err() {
            // Nobody is listening any more: stop spending the engine on it.
            stream.cancel();
        }
    };
    drop(guard);
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
    Ok(state.generations.stop(id))
}
