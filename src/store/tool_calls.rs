//! Tool calls stored with the assistant message they belong to: what the
//! model asked for and what it was told, so a conversation's history shows
//! every action taken on the user's behalf. Rows go when their message does.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::error::{Result, StoreError};
use super::{now_ms, MessageId, Store};

/// A call to keep: the store's own row type, so the store needs nothing
/// from the tools module (the caller maps its records onto it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewToolCall<'a> {
    /// Which generation step of the answer made the call (0-based).
    pub step: usize,
    pub call_id: &'a str,
    pub tool: &'a str,
    pub arguments: &'a serde_json::Value,
    /// What the model was told (output or error text).
    pub output: &'a str,
    /// Failure code, `None` on success.
    pub error: Option<&'a str>,
    pub duration_ms: f64,
}

/// One stored call and its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct StoredToolCall {
    pub message_id: MessageId,
    pub step: i64,
    pub call_id: String,
    pub tool: String,
    pub arguments: serde_json::Value,
    /// What the model was told (output or error text).
    pub output: String,
    /// Failure code, `None` on success.
    pub error: Option<String>,
    pub duration_ms: f64,
    pub created_at: i64,
}

impl Store {
    /// Keep `records` with message `message`, in order, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Json`] if arguments cannot be encoded;
    /// [`StoreError::Sqlite`] (e.g. a foreign-key failure for an unknown
    /// message) on database failure.
    pub fn append_tool_calls(&self, message: MessageId, records: &[NewToolCall<'_>]) -> Result<()> {
        let now = now_ms();
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO tool_calls (message_id, step, call_id, tool, arguments, output, error, duration_ms, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for r in records {
                stmt.execute(params![
                    message,
                    i64::try_from(r.step).unwrap_or(i64::MAX),
                    r.call_id,
                    r.tool,
                    serde_json::to_string(r.arguments)?,
                    r.output,
                    r.error,
                    r.duration_ms,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The calls stored with `message`, in order.
    ///
    /// # Errors
    /// [`StoreError::Json`] for malformed stored arguments;
    /// [`StoreError::Sqlite`] on database failure.
    pub fn tool_calls(&self, message: MessageId) -> Result<Vec<StoredToolCall>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT message_id, step, call_id, tool, arguments, output, error, duration_ms, created_at
             FROM tool_calls WHERE message_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([message], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, f64>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(
                |(
                    message_id,
                    step,
                    call_id,
                    tool,
                    args,
                    output,
                    error,
                    duration_ms,
                    created_at,
                )| {
                    Ok(StoredToolCall {
                        message_id,
                        step,
                        call_id,
                        tool,
                        arguments: serde_json::from_str(&args).map_err(StoreError::from)?,
                        output,
                        error,
                        duration_ms,
                        created_at,
                    })
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewMessage, Role};

    #[test]
    fn calls_are_kept_with_their_message_and_go_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let conv = store.create_conversation("t", None, None).unwrap();
        let msg = store
            .append_message(
                conv.id,
                NewMessage {
                    role: Role::Assistant,
                    content: "It is noon.",
                    attachments: &[],
                    stats: None,
                },
            )
            .unwrap();
        let args = serde_json::json!({"timezone": "UTC"});
        let record = NewToolCall {
            step: 0,
            call_id: "call_0_0",
            tool: "current_datetime",
            arguments: &args,
            output: "Monday 12:00",
            error: None,
            duration_ms: 1.5,
        };
        let failed = NewToolCall {
            error: Some("UNKNOWN_TOOL"),
            output: "error: no such tool",
            ..record
        };
        store.append_tool_calls(msg.id, &[record, failed]).unwrap();
        let calls = store.tool_calls(msg.id).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].tool, "current_datetime");
        assert_eq!(calls[0].arguments["timezone"], "UTC");
        assert_eq!(calls[1].error.as_deref(), Some("UNKNOWN_TOOL"));
        store.delete_conversation(conv.id).unwrap();
        assert!(store.tool_calls(msg.id).unwrap().is_empty());
    }
}
