//! The sidebar: conversations listed, searched, opened, renamed and deleted
//! in the SQLite store, which stays the only source of truth.

use std::path::Path;

use omnidesk::audio::listener::TalkTimings;
use omnidesk::engine::{FinishReason, GenerationStats};
use omnidesk::media::{self, image::ImageLimits};
use omnidesk::rag::answer::Source;
use omnidesk::store::{Conversation, ConversationId, MessageId, Role, StoredToolCall};
use serde::Serialize;
use tauri::State;

use super::media::thumbnail;
use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, AttachmentView};

/// How many conversations the sidebar shows.
const LIST_LIMIT: usize = 200;

/// A stored message as the chat view shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: MessageId,
    pub role: Role,
    pub content: String,
    pub attachments: Vec<AttachmentView>,
    /// The answer's stored counters (answers only).
    pub stats: Option<AnswerStats>,
    /// Tools the model called before this answer, with their results.
    pub tool_calls: Vec<StoredToolCall>,
    /// The message this one follows (`None` for a first question).
    pub parent_id: Option<MessageId>,
    /// Every version of this message, itself included, oldest first
    /// (regenerated answers, edited questions): the window shows "‹ 2/3 ›".
    pub versions: Vec<MessageId>,
}

/// What is stored with an answer (see `conversation::save_exchange`), read
/// leniently: a field written by an older version that no longer parses is
/// left out rather than failing the whole conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ts_rs::TS)]
pub struct AnswerStats {
    pub finish: Option<FinishReason>,
    pub stats: Option<GenerationStats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<Source>>")]
    pub sources: Vec<Source>,
    /// Talk-mode replies: timings from the end of speech.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub talk: Option<TalkTimings>,
}

impl AnswerStats {
    fn read(stored: &serde_json::Value) -> Option<Self> {
        fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, key: &str) -> Option<T> {
            v.get(key)
                .and_then(|f| serde_json::from_value(f.clone()).ok())
        }
        stored.is_object().then(|| AnswerStats {
            finish: field(stored, "finish"),
            stats: field(stored, "stats"),
            sources: field(stored, "sources").unwrap_or_default(),
            talk: field(stored, "talk"),
        })
    }
}

/// A conversation with its messages.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub conversation: Conversation,
    pub messages: Vec<MessageView>,
}

/// Conversations, most recent first.
#[tauri::command]
pub async fn list_conversations(state: State<'_, AppState>) -> CommandResult<Vec<Conversation>> {
    state.store.with(|s| Ok(s.list_conversations(LIST_LIMIT)?))
}

/// Conversations whose title or messages contain `query`.
#[tauri::command]
pub async fn search_conversations(
    state: State<'_, AppState>,
    query: String,
) -> CommandResult<Vec<Conversation>> {
    let q = query.trim();
    state.store.with(|s| {
        Ok(if q.is_empty() {
            s.list_conversations(LIST_LIMIT)?
        } else {
            s.search_conversations(q, LIST_LIMIT)?
        })
    })
}

/// One conversation with its messages; image attachments come with a
/// preview when their file is still there.
#[tauri::command]
pub async fn get_conversation(
    state: State<'_, AppState>,
    id: ConversationId,
) -> CommandResult<ConversationView> {
    view(&state, id, None).await
}

/// Show another version of a message (regenerated answer, edited
/// question): the conversation continues from the newest message under
/// it. Returns the conversation as now shown.
#[tauri::command]
pub async fn select_version(
    state: State<'_, AppState>,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> CommandResult<ConversationView> {
    view(&state, conversation_id, Some(message_id)).await
}

/// The shown branch of `id` (after selecting version `select`, if given).
async fn view(
    state: &AppState,
    id: ConversationId,
    select: Option<MessageId>,
) -> CommandResult<ConversationView> {
    let (conversation, stored, mut calls) = state.store.with(|s| {
        let stored = match select {
            Some(m) => s.select_version(id, m)?,
            None => s.messages(id)?,
        };
        let mut calls = std::collections::HashMap::new();
        for m in stored.iter().filter(|m| m.role == Role::Assistant) {
            calls.insert(m.id, s.tool_calls(m.id)?);
        }
        Ok((s.conversation(id)?, stored, calls))
    })?;
    let messages = tauri::async_runtime::spawn_blocking(move || {
        stored
            .into_iter()
            .map(|m| MessageView {
                id: m.id,
                role: m.role,
                attachments: m
                    .attachments
                    .iter()
                    .map(|a| {
                        let path = Path::new(&a.path);
                        let img = (a.kind == "image")
                            .then(|| media::image::load(path, &ImageLimits::default()).ok())
                            .flatten();
                        AttachmentView {
                            id: None,
                            name: path
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                            kind: a.kind.clone(),
                            thumbnail: img.as_ref().and_then(thumbnail),
                            width: img.as_ref().map(|i| i.width),
                            height: img.as_ref().map(|i| i.height),
                            transcript: None,
                        }
                    })
                    .collect(),
                tool_calls: calls.remove(&m.id).unwrap_or_default(),
                parent_id: m.parent_id,
                versions: m.versions,
                content: m.content,
                stats: m.stats.as_ref().and_then(AnswerStats::read),
            })
            .collect()
    })
    .await?;
    Ok(ConversationView {
        conversation,
        messages,
    })
}

/// Give a conversation a new title.
#[tauri::command]
pub async fn rename_conversation(
    state: State<'_, AppState>,
    id: ConversationId,
    title: String,
) -> CommandResult<()> {
    let title = title.trim();
    if title.is_empty() {
        return Err(CommandError::invalid("the title cannot be empty"));
    }
    if title.chars().count() > 200 {
        return Err(CommandError::invalid(
            "the title is longer than 200 characters",
        ));
    }
    state.store.with(|s| Ok(s.rename_conversation(id, title)?))
}

/// Delete a conversation and its messages.
#[tauri::command]
pub async fn delete_conversation(
    state: State<'_, AppState>,
    id: ConversationId,
) -> CommandResult<()> {
    state.store.with(|s| Ok(s.delete_conversation(id)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_answer_stats_are_read_field_by_field() {
        let stored = serde_json::json!({
            "finish": "max_tokens",
            "stats": { "prompt_tokens": "not a number" },
            "sources": [{ "number": 1, "chunk_id": 7, "path": "a.md", "page": null,
                          "heading": "A", "lines": [1, 2] }],
            "talk": { "speech_end_to_first_token_ms": 812.5 },
        });
        let read = AnswerStats::read(&stored).expect("an object");
        assert_eq!(read.finish, Some(FinishReason::MaxTokens));
        // A field that no longer parses is dropped, not the whole answer.
        assert_eq!(read.stats, None);
        assert_eq!(read.sources.len(), 1);
        let talk = read.talk.expect("talk timings");
        assert_eq!(talk.speech_end_to_first_token_ms, Some(812.5));
        assert_eq!(talk.speech_end_to_first_audio_ms, None);
        assert_eq!(AnswerStats::read(&serde_json::json!("text")), None);
    }
}
