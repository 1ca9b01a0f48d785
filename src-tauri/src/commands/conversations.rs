//! The sidebar: conversations listed, searched, opened, renamed and deleted
//! in the SQLite store, which stays the only source of truth.

use std::path::Path;

use omnidesk::media::{self, image::ImageLimits};
use omnidesk::store::{Conversation, ConversationId, MessageId, Role, StoredToolCall};
use serde::Serialize;
use tauri::State;

use super::media::thumbnail;
use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, AttachmentView};

/// How many conversations the sidebar shows.
const LIST_LIMIT: usize = 200;

/// A stored message as the chat view shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: MessageId,
    pub role: Role,
    pub content: String,
    pub attachments: Vec<AttachmentView>,
    pub stats: Option<serde_json::Value>,
    /// Tools the model called before this answer, with their results.
    pub tool_calls: Vec<StoredToolCall>,
    /// The message this one follows (`None` for a first question).
    pub parent_id: Option<MessageId>,
    /// Every version of this message, itself included, oldest first
    /// (regenerated answers, edited questions): the window shows "‹ 2/3 ›".
    pub versions: Vec<MessageId>,
}

/// A conversation with its messages.
#[derive(Debug, Clone, Serialize)]
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
                stats: m.stats,
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
