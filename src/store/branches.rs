//! Messages as a tree: regenerating an answer or editing a question adds a
//! sibling instead of replacing anything, and the conversation remembers
//! which leaf is shown. What the user sees and what the model is given is
//! the branch from the first message down to that leaf.
//!
//! Parents always have smaller ids than their children (a message is
//! inserted after the one it follows), so a branch sorted by id is in
//! conversation order and the newest message under a version is a leaf.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::error::{Result, StoreError};
use super::{ConversationId, MessageId, NewMessage, RawMessage, Store, StoredMessage};

const COLUMNS: &str =
    "id, conversation_id, parent_id, role, content, attachments, stats, created_at";

impl Store {
    /// Appends `msg` as a reply to `parent` (`None`: as a new first message),
    /// beside the replies `parent` already has, and shows it. This is how an
    /// answer is regenerated or a question edited without losing the old one.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown conversation,
    /// [`StoreError::MessageNotFound`] if `parent` is not one of its
    /// messages, otherwise as [`Store::append_message`].
    pub fn append_message_after(
        &self,
        conv: ConversationId,
        parent: Option<MessageId>,
        msg: NewMessage<'_>,
    ) -> Result<StoredMessage> {
        self.insert_message(conv, Some(parent), msg)
    }

    /// Add `extra`'s keys to message `id`'s stats (e.g. talk mode's
    /// timings, known only once the reply was heard), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::MessageNotFound`], or a
    /// database/JSON error.
    pub fn merge_message_stats(
        &self,
        conv: ConversationId,
        id: MessageId,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        check_member(&tx, conv, id)?;
        let stats: Option<String> =
            tx.query_row("SELECT stats FROM messages WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        let mut value = match stats {
            Some(s) => serde_json::from_str(&s)?,
            None => serde_json::Value::Object(serde_json::Map::new()),
        };
        if let serde_json::Value::Object(map) = &mut value {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        tx.execute(
            "UPDATE messages SET stats = ?1 WHERE id = ?2",
            params![serde_json::to_string(&value)?, id],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One message of `conv`, with its versions.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::MessageNotFound`], or a
    /// database/JSON error.
    pub fn message(&self, conv: ConversationId, id: MessageId) -> Result<StoredMessage> {
        let tx = self.conn.unchecked_transaction()?;
        check_member(&tx, conv, id)?;
        let mut m = select(
            &tx,
            &format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"),
            id,
        )?
        .pop()
        .ok_or(StoreError::MessageNotFound {
            conversation: conv,
            message: id,
        })?;
        m.versions = siblings(&tx, conv)?
            .remove(&m.parent_id)
            .unwrap_or_default();
        tx.finish()?;
        Ok(m)
    }

    /// The branch that ends at `leaf`, first message first (`None`: empty),
    /// e.g. the history a regenerated answer is written after.
    ///
    /// # Errors
    /// As [`Store::message`].
    pub fn path_to(
        &self,
        conv: ConversationId,
        leaf: Option<MessageId>,
    ) -> Result<Vec<StoredMessage>> {
        let tx = self.conn.unchecked_transaction()?;
        current_leaf(&tx, conv)?; // the conversation exists
        if let Some(id) = leaf {
            check_member(&tx, conv, id)?;
        }
        let out = path(&tx, conv, leaf)?;
        tx.finish()?;
        Ok(out)
    }

    /// Every message of `conv`, all versions, in insertion order (for
    /// export and `history --json`).
    ///
    /// # Errors
    /// As [`Store::messages`].
    pub fn all_messages(&self, conv: ConversationId) -> Result<Vec<StoredMessage>> {
        let tx = self.conn.unchecked_transaction()?;
        current_leaf(&tx, conv)?;
        let mut all = select(
            &tx,
            &format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 ORDER BY id"),
            conv,
        )?;
        let versions = siblings(&tx, conv)?;
        tx.finish()?;
        for m in &mut all {
            m.versions = versions.get(&m.parent_id).cloned().unwrap_or_default();
        }
        Ok(all)
    }

    /// Shows version `id`: the shown leaf becomes the newest message under
    /// it, so the conversation continues from there. Returns the branch now
    /// shown. Does not reorder the conversation list.
    ///
    /// # Errors
    /// As [`Store::message`].
    pub fn select_version(
        &self,
        conv: ConversationId,
        id: MessageId,
    ) -> Result<Vec<StoredMessage>> {
        let tx = self.conn.unchecked_transaction()?;
        check_member(&tx, conv, id)?;
        let leaf: MessageId = tx.query_row(
            "WITH RECURSIVE under(id) AS (
                 SELECT ?1
                 UNION ALL
                 SELECT m.id FROM messages m JOIN under u ON m.parent_id = u.id
             )
             SELECT MAX(id) FROM under",
            [id],
            |r| r.get(0),
        )?;
        tx.execute(
            "UPDATE conversations SET current_leaf = ?2 WHERE id = ?1",
            params![conv, leaf],
        )?;
        let out = path(&tx, conv, Some(leaf))?;
        tx.commit()?;
        Ok(out)
    }
}

/// The shown leaf of `conv` (`None` for an empty conversation).
pub(super) fn current_leaf(conn: &Connection, conv: ConversationId) -> Result<Option<MessageId>> {
    conn.query_row(
        "SELECT current_leaf FROM conversations WHERE id = ?1",
        [conv],
        |r| r.get::<_, Option<MessageId>>(0),
    )
    .optional()?
    .ok_or(StoreError::NotFound(conv))
}

/// `Ok` when `id` is a message of `conv`.
pub(super) fn check_member(conn: &Connection, conv: ConversationId, id: MessageId) -> Result<()> {
    let found = conn
        .query_row(
            "SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2",
            params![id, conv],
            |_| Ok(()),
        )
        .optional()?;
    found.ok_or(StoreError::MessageNotFound {
        conversation: conv,
        message: id,
    })
}

/// The branch from the first message down to `leaf`, with versions.
pub(super) fn path(
    conn: &Connection,
    conv: ConversationId,
    leaf: Option<MessageId>,
) -> Result<Vec<StoredMessage>> {
    let Some(leaf) = leaf else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(&format!(
        "WITH RECURSIVE up(id) AS (
             SELECT ?1
             UNION ALL
             SELECT m.parent_id FROM messages m JOIN up u ON m.id = u.id
             WHERE m.parent_id IS NOT NULL
         )
         SELECT {COLUMNS} FROM messages
         WHERE id IN up AND conversation_id = ?2 ORDER BY id"
    ))?;
    let raw = stmt
        .query_map(params![leaf, conv], RawMessage::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(stmt);
    let mut versions = siblings(conn, conv)?;
    raw.into_iter()
        .map(|r| {
            let mut m = r.decode()?;
            m.versions = versions.remove(&m.parent_id).unwrap_or_default();
            Ok(m)
        })
        .collect()
}

fn select(conn: &Connection, sql: &str, arg: i64) -> Result<Vec<StoredMessage>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let raw = stmt
        .query_map([arg], RawMessage::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raw.into_iter().map(RawMessage::decode).collect()
}

/// The children of each parent in `conv` (`None`: the first messages),
/// oldest first.
fn siblings(
    conn: &Connection,
    conv: ConversationId,
) -> Result<HashMap<Option<MessageId>, Vec<MessageId>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, parent_id FROM messages WHERE conversation_id = ?1 ORDER BY id",
    )?;
    let mut out: HashMap<Option<MessageId>, Vec<MessageId>> = HashMap::new();
    let rows = stmt.query_map([conv], |r| {
        Ok((r.get::<_, MessageId>(0)?, r.get::<_, Option<MessageId>>(1)?))
    })?;
    for row in rows {
        let (id, parent) = row?;
        out.entry(parent).or_default().push(id);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::Role;
    use super::*;

    fn msg(role: Role, content: &str) -> NewMessage<'_> {
        NewMessage {
            role,
            content,
            attachments: &[],
            stats: None,
        }
    }

    fn texts(ms: &[StoredMessage]) -> Vec<&str> {
        ms.iter().map(|m| m.content.as_str()).collect()
    }

    #[test]
    fn regenerate_and_edit_keep_every_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("omnidesk.db")).unwrap();
        let c = store.create_conversation("t", None, None).unwrap();
        let q1 = store.append_message(c.id, msg(Role::User, "q1")).unwrap();
        let a1 = store
            .append_message(c.id, msg(Role::Assistant, "a1"))
            .unwrap();
        assert_eq!(a1.parent_id, Some(q1.id));

        // Regenerate twice: siblings of a1, the newest shown.
        let a1b = store
            .append_message_after(c.id, Some(q1.id), msg(Role::Assistant, "a1b"))
            .unwrap();
        let a1c = store
            .append_message_after(c.id, Some(q1.id), msg(Role::Assistant, "a1c"))
            .unwrap();
        let shown = store.messages(c.id).unwrap();
        assert_eq!(texts(&shown), ["q1", "a1c"]);
        assert_eq!(shown[1].versions, [a1.id, a1b.id, a1c.id]);
        assert_eq!(shown[0].versions, [q1.id]);

        // Continue from version 2, then edit the first question.
        let shown = store.select_version(c.id, a1b.id).unwrap();
        assert_eq!(texts(&shown), ["q1", "a1b"]);
        store.append_message(c.id, msg(Role::User, "q2")).unwrap();
        assert_eq!(texts(&store.messages(c.id).unwrap()), ["q1", "a1b", "q2"]);
        let q1e = store
            .append_message_after(c.id, None, msg(Role::User, "q1 edited"))
            .unwrap();
        assert_eq!(q1e.parent_id, None);
        let shown = store.messages(c.id).unwrap();
        assert_eq!(texts(&shown), ["q1 edited"]);
        assert_eq!(shown[0].versions, [q1.id, q1e.id]);

        // Back to the first question: its newest branch (through a1b).
        let shown = store.select_version(c.id, q1.id).unwrap();
        assert_eq!(texts(&shown), ["q1", "a1b", "q2"]);
        assert_eq!(store.all_messages(c.id).unwrap().len(), 6);
        assert_eq!(
            texts(&store.path_to(c.id, Some(a1.id)).unwrap()),
            ["q1", "a1"]
        );
        assert_eq!(store.message(c.id, a1c.id).unwrap().versions.len(), 3);
    }

    #[test]
    fn messages_of_another_conversation_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("omnidesk.db")).unwrap();
        let a = store.create_conversation("a", None, None).unwrap();
        let b = store.create_conversation("b", None, None).unwrap();
        let qa = store.append_message(a.id, msg(Role::User, "qa")).unwrap();
        let wrong = |r: Result<()>| {
            matches!(r, Err(StoreError::MessageNotFound { conversation, message })
                if conversation == b.id && message == qa.id)
        };
        assert!(wrong(store.select_version(b.id, qa.id).map(|_| ())));
        assert!(wrong(
            store
                .append_message_after(b.id, Some(qa.id), msg(Role::User, "x"))
                .map(|_| ())
        ));
        assert!(wrong(store.path_to(b.id, Some(qa.id)).map(|_| ())));
        assert!(wrong(store.message(b.id, qa.id).map(|_| ())));
        assert!(store.messages(b.id).unwrap().is_empty());
        assert!(matches!(
            store.select_version(99, qa.id),
            Err(StoreError::MessageNotFound { .. })
        ));
        assert!(matches!(
            store.all_messages(99),
            Err(StoreError::NotFound(99))
        ));
    }

    #[test]
    fn lists_written_before_branches_become_one_branch() {
        // A version-2 file (messages as a list) migrates to a single branch
        // with the last message shown.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omnidesk.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &super::super::MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO conversations (title, created_at, updated_at) VALUES ('old', 1, 1), ('empty', 1, 1);
                 INSERT INTO messages (conversation_id, role, content, created_at) VALUES
                   (1, 'user', 'q1', 1), (1, 'assistant', 'a1', 1), (1, 'user', 'q2', 1), (1, 'assistant', 'a2', 1);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let shown = store.messages(1).unwrap();
        assert_eq!(texts(&shown), ["q1", "a1", "q2", "a2"]);
        assert_eq!(shown[0].parent_id, None);
        assert!(shown.windows(2).all(|w| w[1].parent_id == Some(w[0].id)));
        assert!(shown.iter().all(|m| m.versions == [m.id]));
        assert!(store.messages(2).unwrap().is_empty());
        let next = store.append_message(1, msg(Role::User, "q3")).unwrap();
        assert_eq!(next.parent_id, Some(shown[3].id));
    }
}
