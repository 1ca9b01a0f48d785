//! A whole conversation written at once (an imported export): header,
//! message tree and tool calls in one transaction, so a failed import
//! leaves nothing behind.

use rusqlite::params;

use super::error::{Result, StoreError};
use super::{now_ms, touch, Conversation, MessageId, NewMessage, NewToolCall, Store};

/// One message of a conversation being imported.
#[derive(Debug, Clone)]
pub struct ImportMessage<'a> {
    /// Index of the message this one follows, in the same slice; it must
    /// come earlier. `None` for a first message.
    pub parent: Option<usize>,
    pub message: NewMessage<'a>,
    pub created_at: i64,
    pub tool_calls: Vec<NewToolCall<'a>>,
}

/// The header of a conversation being imported.
#[derive(Debug, Clone, Copy)]
pub struct ImportHeader<'a> {
    pub title: &'a str,
    pub model: Option<&'a str>,
    pub system_prompt: Option<&'a str>,
    pub created_at: i64,
}

impl Store {
    /// Writes a new conversation with `messages` (a tree through their
    /// `parent` indices) and shows message `shown` (by index; the last one
    /// when `None`). It lists first, as the conversation just touched.
    ///
    /// # Errors
    /// [`StoreError::BadImport`] for a parent index that is not earlier in
    /// the slice or a `shown` out of range; JSON and SQLite errors. On any
    /// error nothing is written.
    pub fn import_conversation(
        &self,
        header: ImportHeader<'_>,
        messages: &[ImportMessage<'_>],
        shown: Option<usize>,
    ) -> Result<Conversation> {
        let tx = self.conn.unchecked_transaction()?;
        let now = now_ms();
        tx.execute(
            "INSERT INTO conversations (title, model, system_prompt, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                header.title,
                header.model,
                header.system_prompt,
                header.created_at,
                now
            ],
        )?;
        let conv = tx.last_insert_rowid();
        let mut ids: Vec<MessageId> = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            let parent = match m.parent {
                Some(p) if p < i => Some(ids[p]),
                Some(p) => {
                    return Err(StoreError::BadImport(format!(
                        "message {i} follows message {p}, which does not come before it"
                    )))
                }
                None => None,
            };
            tx.execute(
                "INSERT INTO messages (conversation_id, parent_id, role, content, attachments, stats, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    conv,
                    parent,
                    m.message.role.as_str(),
                    m.message.content,
                    serde_json::to_string(m.message.attachments)?,
                    m.message.stats.map(serde_json::to_string).transpose()?,
                    m.created_at
                ],
            )?;
            let id = tx.last_insert_rowid();
            ids.push(id);
            for c in &m.tool_calls {
                tx.execute(
                    "INSERT INTO tool_calls (message_id, step, call_id, tool, arguments, output, error, duration_ms, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        id,
                        i64::try_from(c.step).unwrap_or(i64::MAX),
                        c.call_id,
                        c.tool,
                        serde_json::to_string(c.arguments)?,
                        c.output,
                        c.error,
                        c.duration_ms,
                        m.created_at
                    ],
                )?;
            }
        }
        let leaf = match shown {
            Some(i) => Some(*ids.get(i).ok_or_else(|| {
                StoreError::BadImport(format!(
                    "the shown message {i} is not one of the {} messages",
                    ids.len()
                ))
            })?),
            None => ids.last().copied(),
        };
        tx.execute(
            "UPDATE conversations SET current_leaf = ?2 WHERE id = ?1",
            params![conv, leaf],
        )?;
        touch(&tx, conv, now)?;
        tx.commit()?;
        self.conversation(conv)
    }
}
