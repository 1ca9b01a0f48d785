//! A conversation as front ends drive it: history read back from the store
//! (attachments re-decoded) ready for the engine, and a finished exchange
//! written to the store. The CLI and the desktop app both go through here so
//! a conversation started in one continues in the other.
//!
//! Threading: plain functions over a borrowed [`Store`]; call them where the
//! store lives (they do blocking SQLite and file I/O).

pub mod export;

use crate::chat::{ChatMessage, Role};
use crate::engine::GenerationOutcome;
use crate::media::attach::{self, ReloadSkip};
use crate::rag::answer::Source;
use crate::store::{
    Attachment, Conversation, ConversationId, MessageId, NewMessage, NewToolCall, Store,
    StoredMessage,
};
use crate::tools::run::EarlierCalls;
use crate::tools::{ToolCall, ToolRecord};

/// A stored conversation ready to be continued.
#[derive(Debug)]
pub struct History {
    pub conversation: Conversation,
    /// System prompt first, then every stored message with its media.
    pub messages: Vec<ChatMessage>,
    /// The stored rows, for display.
    pub stored: Vec<StoredMessage>,
    /// Attachments that could not be re-read and are left out.
    pub skipped: Vec<ReloadSkip>,
}

/// The opening messages of a new conversation.
pub fn fresh(system_prompt: Option<&str>) -> Vec<ChatMessage> {
    system_prompt
        .map(|s| ChatMessage::new(Role::System, s))
        .into_iter()
        .collect()
}

/// Where in a stored conversation the next exchange goes. Nothing is ever
/// replaced: an edited question or a regenerated answer is a new version
/// beside the old one (see [`crate::store::Store::select_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Branch {
    /// After the message shown last.
    #[default]
    Latest,
    /// A new question after this message (`None`: a new first question):
    /// edit and resend.
    After(Option<MessageId>),
    /// A new answer to this stored question: regenerate.
    Regenerate(MessageId),
}

/// Read conversation `id` for continuing it (the branch shown); audio is
/// resampled to `audio_rate`.
///
/// # Errors
/// [`crate::store::StoreError::NotFound`] for an unknown id, other store
/// errors on database failure.
pub fn history(store: &Store, id: ConversationId, audio_rate: u32) -> crate::Result<History> {
    let stored = store.messages(id)?;
    history_of(store, id, stored, audio_rate)
}

/// Read the branch of conversation `id` that ends at `leaf` (`None`: only
/// the system prompt), for an exchange written after it.
///
/// # Errors
/// As [`history`], and `MessageNotFound` for a `leaf` of another conversation.
pub fn history_until(
    store: &Store,
    id: ConversationId,
    leaf: Option<MessageId>,
    audio_rate: u32,
) -> crate::Result<History> {
    let stored = store.path_to(id, leaf)?;
    history_of(store, id, stored, audio_rate)
}

fn history_of(
    store: &Store,
    id: ConversationId,
    stored: Vec<StoredMessage>,
    audio_rate: u32,
) -> crate::Result<History> {
    let conversation = store.conversation(id)?;
    let mut messages = fresh(conversation.system_prompt.as_deref());
    let mut skipped = Vec::new();
    for m in &stored {
        let (media, skip) = attach::reload(&m.attachments, audio_rate);
        skipped.extend(skip);
        messages.push(ChatMessage::with_media(m.role, m.content.clone(), media));
    }
    Ok(History {
        conversation,
        messages,
        stored,
        skipped,
    })
}

/// The stored tool calls of `history`'s answers, placed for
/// [`crate::tools::ToolLoop::run_continuing`] so a continued conversation
/// shows the model what it already did.
///
/// # Errors
/// Store errors.
pub fn earlier_tool_calls(store: &Store, history: &History) -> crate::Result<Vec<EarlierCalls>> {
    let offset = history.messages.len() - history.stored.len();
    let mut earlier = Vec::new();
    for (i, m) in history.stored.iter().enumerate() {
        if m.role != Role::Assistant {
            continue;
        }
        let records: Vec<ToolRecord> = store
            .tool_calls(m.id)?
            .into_iter()
            .map(|c| ToolRecord {
                step: usize::try_from(c.step).unwrap_or(0),
                call: ToolCall {
                    id: c.call_id,
                    name: c.tool,
                    arguments: c.arguments,
                },
                output: c.output,
                error: c.error,
                duration_ms: c.duration_ms,
            })
            .collect();
        if !records.is_empty() {
            earlier.push(EarlierCalls {
                before: offset + i,
                records,
            });
        }
    }
    Ok(earlier)
}

/// What one exchange adds to the store.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    pub question: &'a str,
    pub attachments: &'a [Attachment],
    pub outcome: &'a GenerationOutcome,
    /// Document snippets the answer was given, so its `[n]` citations
    /// still resolve when the conversation is read back.
    pub sources: &'a [Source],
    /// Calls the answer was written after (tool-calling turns).
    pub tool_calls: &'a [ToolRecord],
}

/// Where a new conversation's header comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewConversation<'a> {
    pub model: Option<&'a str>,
    pub system_prompt: Option<&'a str>,
}

/// The stored ids of a saved exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub conversation: ConversationId,
    pub question: crate::store::MessageId,
    pub answer: crate::store::MessageId,
}

/// Store question and answer in `conversation`, creating it (titled after
/// the question) when `None`, at `branch` (a regenerated answer is stored
/// beside the earlier ones, its question not again). The answer keeps its
/// finish reason and stats.
///
/// # Errors
/// Store errors; `NotFound` if `conversation` was deleted meanwhile.
pub fn save_exchange(
    store: &Store,
    conversation: Option<ConversationId>,
    branch: Branch,
    new: NewConversation<'_>,
    exchange: Exchange<'_>,
) -> crate::Result<Saved> {
    let id = match conversation {
        Some(id) => id,
        None => {
            store
                .create_conversation(&title_for(exchange.question), new.model, new.system_prompt)?
                .id
        }
    };
    let question = NewMessage {
        role: Role::User,
        content: exchange.question,
        attachments: exchange.attachments,
        stats: None,
    };
    let question = match branch {
        Branch::Latest => store.append_message(id, question)?.id,
        Branch::After(parent) => store.append_message_after(id, parent, question)?.id,
        Branch::Regenerate(q) => q,
    };
    let mut stats = serde_json::json!({
        "finish": exchange.outcome.finish,
        "stats": exchange.outcome.stats,
    });
    if !exchange.sources.is_empty() {
        stats["sources"] = serde_json::json!(exchange.sources);
    }
    let answer = store.append_message_after(
        id,
        Some(question),
        NewMessage {
            role: Role::Assistant,
            content: &exchange.outcome.text,
            attachments: &[],
            stats: Some(&stats),
        },
    )?;
    if !exchange.tool_calls.is_empty() {
        store.append_tool_calls(answer.id, &tool_call_rows(exchange.tool_calls))?;
    }
    Ok(Saved {
        conversation: id,
        question,
        answer: answer.id,
    })
}

/// `records` as the store keeps them.
pub fn tool_call_rows(records: &[ToolRecord]) -> Vec<NewToolCall<'_>> {
    records
        .iter()
        .map(|r| NewToolCall {
            step: r.step,
            call_id: &r.call.id,
            tool: &r.call.name,
            arguments: &r.call.arguments,
            output: &r.output,
            error: r.error.as_deref(),
            duration_ms: r.duration_ms,
        })
        .collect()
}

/// The first 60 characters of the question, trimmed; "Image" for a
/// question that is only an attachment.
pub fn title_for(question: &str) -> String {
    let t: String = question.trim().chars().take(60).collect();
    let t = t.trim();
    if t.is_empty() {
        "Untitled".to_owned()
    } else {
        t.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{FinishReason, GenerationStats};

    #[test]
    fn saved_exchange_reads_back_as_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let outcome = GenerationOutcome {
            text: "Four.".into(),
            finish: FinishReason::Stop,
            stats: GenerationStats::default(),
        };
        let saved = save_exchange(
            &store,
            None,
            Branch::Latest,
            NewConversation {
                model: Some("m"),
                system_prompt: Some("Be brief."),
            },
            Exchange {
                question: "  2+2?  ",
                attachments: &[],
                outcome: &outcome,
                sources: &[Source {
                    number: 1,
                    chunk_id: 7,
                    path: "/docs/a.md".into(),
                    page: None,
                    heading: "Sums".into(),
                    lines: Some((3, 4)),
                }],
                tool_calls: &[],
            },
        )
        .unwrap();
        let stored = store.messages(saved.conversation).unwrap();
        let sources = &stored[1].stats.as_ref().unwrap()["sources"];
        assert_eq!(sources[0]["chunk_id"], 7);
        assert!(stored[0].stats.is_none());
        let h = history(&store, saved.conversation, 16_000).unwrap();
        assert_eq!(h.conversation.title, "2+2?");
        let roles: Vec<Role> = h.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::System, Role::User, Role::Assistant]);
        assert_eq!(h.messages[2].content, "Four.");
        assert!(saved.answer > saved.question);
        assert!(earlier_tool_calls(&store, &h).unwrap().is_empty());

        // A second exchange that called a tool: its calls come back placed
        // before that answer (index 4: system, q, a, q, [calls] a).
        let record = ToolRecord {
            step: 0,
            call: ToolCall {
                id: "call_0_0".into(),
                name: "current_datetime".into(),
                arguments: serde_json::json!({}),
            },
            output: "Monday".into(),
            error: None,
            duration_ms: 1.5,
        };
        save_exchange(
            &store,
            Some(saved.conversation),
            Branch::Latest,
            NewConversation::default(),
            Exchange {
                question: "What day is it?",
                attachments: &[],
                outcome: &outcome,
                sources: &[],
                tool_calls: std::slice::from_ref(&record),
            },
        )
        .unwrap();
        let h = history(&store, saved.conversation, 16_000).unwrap();
        let earlier = earlier_tool_calls(&store, &h).unwrap();
        assert_eq!(earlier.len(), 1);
        assert_eq!(earlier[0].before, 4);
        assert_eq!(h.messages[4].role, Role::Assistant);
        assert_eq!(earlier[0].records, vec![record]);
    }

    #[test]
    fn empty_question_gets_a_title() {
        assert_eq!(title_for("   "), "Untitled");
        assert_eq!(title_for(&"x".repeat(100)).len(), 60);
    }
}
