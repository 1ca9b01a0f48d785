//! Conversation store: the SQLite file that is the source of truth for chat
//! history (conversations, their messages, attachments metadata and stats).
//!
//! Threading: a [`Store`] owns one `rusqlite::Connection`; it is `Send` but not
//! `Sync`. Share it behind a `Mutex`, or open one `Store` per thread on the same
//! file: WAL lets readers run alongside the single writer, and writers wait up
//! to 5 s on each other before failing.

mod branches;
mod error;
mod import;
mod schema;
mod tool_calls;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

pub use error::{Result, StoreError};
pub use import::{ImportHeader, ImportMessage};
pub use schema::{MIGRATIONS, SCHEMA_VERSION};
pub use tool_calls::{NewToolCall, StoredToolCall};

/// Row id of a conversation; stable for the life of the database (never reused).
pub type ConversationId = i64;
/// Row id of a message; increases in insertion order and is never reused.
pub type MessageId = i64;

pub use crate::chat::Role;

/// The attachment record a message keeps (defined beside the media it
/// describes, so media needs nothing from the store).
pub use crate::media::attach::Attachment;

/// A conversation's header as listed in the sidebar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct Conversation {
    /// Row id.
    pub id: ConversationId,
    /// Display title.
    pub title: String,
    /// Model the conversation was started with, if chosen.
    pub model: Option<String>,
    /// System prompt in effect for the conversation, if any.
    pub system_prompt: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Time of the last message change (append or truncate), unix ms;
    /// strictly increases on each such change, so ordering by it is stable.
    pub updated_at: i64,
    /// Number of messages currently stored.
    pub message_count: i64,
}

/// A message as stored, with its id and timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Row id; orders messages within a conversation.
    pub id: MessageId,
    /// Conversation the message belongs to.
    pub conversation_id: ConversationId,
    /// The message this one answers or follows; `None` at the start.
    #[serde(default)]
    pub parent_id: Option<MessageId>,
    /// Every version of this message (it and its siblings: answers to the
    /// same parent, regenerated or edited), oldest first. Filled on the
    /// messages a read returns; empty on a message just appended.
    #[serde(default)]
    pub versions: Vec<MessageId>,
    /// Who wrote it.
    pub role: Role,
    /// Text content.
    pub content: String,
    /// Attached files, in order.
    pub attachments: Vec<Attachment>,
    /// Free-form generation statistics (tokens, timings), if recorded.
    pub stats: Option<serde_json::Value>,
    /// Insertion time, unix ms.
    pub created_at: i64,
}

/// A message to append; borrows so callers need not clone large content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewMessage<'a> {
    /// Who wrote it.
    pub role: Role,
    /// Text content.
    pub content: &'a str,
    /// Attached files, in order.
    pub attachments: &'a [Attachment],
    /// Generation statistics to keep alongside, if any.
    pub stats: Option<&'a serde_json::Value>,
}

/// Handle to the conversation database. See the module docs for threading.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    version: i64,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.title, c.model, c.system_prompt, c.created_at, \
     c.updated_at, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)";

impl Store {
    /// Opens the database at `path`, creating its directory and file if
    /// missing, and migrates it to [`SCHEMA_VERSION`]. An existing file is
    /// checked (`PRAGMA quick_check`, schema version) before anything is
    /// written to it, so a refused file is left byte-for-byte untouched.
    ///
    /// # Errors
    /// [`StoreError::NewerSchema`] if the file comes from a newer build,
    /// [`StoreError::Corrupt`] if it is not a healthy SQLite database,
    /// [`StoreError::Io`] if the directory cannot be created, and
    /// [`StoreError::Sqlite`] for other SQLite failures (e.g. locked).
    pub fn open(path: &Path) -> Result<Store> {
        let conn = schema::open_and_migrate(path)?;
        let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            version,
        })
    }

    /// The file this store was opened on, for messages to the user.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Schema version of the open file; equals [`SCHEMA_VERSION`] after a
    /// successful [`Store::open`].
    pub fn schema_version(&self) -> i64 {
        self.version
    }

    /// Starts an empty conversation.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] if the insert fails.
    pub fn create_conversation(
        &self,
        title: &str,
        model: Option<&str>,
        system_prompt: Option<&str>,
    ) -> Result<Conversation> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO conversations (title, model, system_prompt, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![title, model, system_prompt, now],
        )?;
        Ok(Conversation {
            id: self.conn.last_insert_rowid(),
            title: title.to_owned(),
            model: model.map(str::to_owned),
            system_prompt: system_prompt.map(str::to_owned),
            created_at: now,
            updated_at: now,
            message_count: 0,
        })
    }

    /// Fetches one conversation's header.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if `id` does not exist; [`StoreError::Sqlite`]
    /// on database failure.
    pub fn conversation(&self, id: ConversationId) -> Result<Conversation> {
        self.conn
            .query_row(
                &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?1"),
                [id],
                conversation_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound(id))
    }

    /// Lists up to `limit` conversations, most recently updated first.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure.
    pub fn list_conversations(&self, limit: usize) -> Result<Vec<Conversation>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c
             ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([sql_limit(limit)], conversation_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Finds up to `limit` conversations whose title or any message contains
    /// `query` literally (`%` and `_` are not wildcards; ASCII case-insensitive),
    /// most recently updated first.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on database failure.
    pub fn search_conversations(&self, query: &str, limit: usize) -> Result<Vec<Conversation>> {
        let pattern = format!("%{}%", escape_like(query));
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c
             WHERE c.title LIKE ?1 ESCAPE '\\'
                OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id
                           AND m.content LIKE ?1 ESCAPE '\\')
             ORDER BY c.updated_at DESC, c.id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![pattern, sql_limit(limit)], conversation_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Changes a conversation's title. Does not reorder the list: `updated_at`
    /// tracks message activity only.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if `id` does not exist; [`StoreError::Sqlite`]
    /// on database failure.
    pub fn rename_conversation(&self, id: ConversationId, title: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE conversations SET title = ?2 WHERE id = ?1",
            params![id, title],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Deletes a conversation and, by cascade, all its messages.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if `id` does not exist; [`StoreError::Sqlite`]
    /// on database failure.
    pub fn delete_conversation(&self, id: ConversationId) -> Result<()> {
        let n = self
            .conn
            .execute("DELETE FROM conversations WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Appends a message after the conversation's shown leaf (see
    /// [`Store::messages`]), makes it the shown leaf and bumps `updated_at`,
    /// all in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if `conv` does not exist; [`StoreError::Json`]
    /// if the stats cannot be encoded; [`StoreError::Sqlite`] on database failure.
    pub fn append_message(
        &self,
        conv: ConversationId,
        msg: NewMessage<'_>,
    ) -> Result<StoredMessage> {
        self.insert_message(conv, None, msg)
    }

    /// Inserts `msg` as a child of `parent` (`Some(None)`: a new first
    /// message; `None`: after the shown leaf), in one transaction with the
    /// leaf and `updated_at` moves.
    fn insert_message(
        &self,
        conv: ConversationId,
        parent: Option<Option<MessageId>>,
        msg: NewMessage<'_>,
    ) -> Result<StoredMessage> {
        let attachments = serde_json::to_string(msg.attachments)?;
        let stats = msg.stats.map(serde_json::to_string).transpose()?;
        let now = now_ms();
        let tx = self.conn.unchecked_transaction()?;
        touch(&tx, conv, now)?;
        let parent = match parent {
            Some(p) => {
                if let Some(id) = p {
                    branches::check_member(&tx, conv, id)?;
                }
                p
            }
            None => branches::current_leaf(&tx, conv)?,
        };
        tx.execute(
            "INSERT INTO messages (conversation_id, parent_id, role, content, attachments, stats, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                conv,
                parent,
                msg.role.as_str(),
                msg.content,
                attachments,
                stats,
                now
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE conversations SET current_leaf = ?2 WHERE id = ?1",
            params![conv, id],
        )?;
        tx.commit()?;
        Ok(StoredMessage {
            id,
            conversation_id: conv,
            parent_id: parent,
            versions: Vec::new(),
            role: msg.role,
            content: msg.content.to_owned(),
            attachments: msg.attachments.to_vec(),
            stats: msg.stats.cloned(),
            created_at: now,
        })
    }

    /// The conversation as shown: the branch from its first message to the
    /// shown leaf (the last appended, or the version chosen with
    /// [`Store::select_version`]), oldest first, each with its versions.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if `conv` does not exist; [`StoreError::Json`]
    /// if a stored JSON column is malformed; [`StoreError::Sqlite`] on database failure.
    pub fn messages(&self, conv: ConversationId) -> Result<Vec<StoredMessage>> {
        let tx = self.conn.unchecked_transaction()?; // one consistent snapshot
        let leaf = branches::current_leaf(&tx, conv)?;
        let path = branches::path(&tx, conv, leaf)?;
        tx.finish()?;
        Ok(path)
    }
}

/// A message row before its JSON columns and role are decoded, so decode
/// failures surface as [`StoreError::Json`] rather than SQLite errors.
struct RawMessage {
    id: MessageId,
    conversation_id: ConversationId,
    parent_id: Option<MessageId>,
    role: String,
    content: String,
    attachments: String,
    stats: Option<String>,
    created_at: i64,
}

impl RawMessage {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawMessage {
            id: r.get(0)?,
            conversation_id: r.get(1)?,
            parent_id: r.get(2)?,
            role: r.get(3)?,
            content: r.get(4)?,
            attachments: r.get(5)?,
            stats: r.get(6)?,
            created_at: r.get(7)?,
        })
    }

    fn decode(self) -> Result<StoredMessage> {
        let role = self.role.parse::<Role>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
        })?;
        Ok(StoredMessage {
            id: self.id,
            conversation_id: self.conversation_id,
            parent_id: self.parent_id,
            versions: Vec::new(),
            role,
            content: self.content,
            attachments: serde_json::from_str(&self.attachments)?,
            stats: self
                .stats
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            created_at: self.created_at,
        })
    }
}

fn conversation_from_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: r.get(0)?,
        title: r.get(1)?,
        model: r.get(2)?,
        system_prompt: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        message_count: r.get(6)?,
    })
}

/// Moves `updated_at` to now, or one past the newest conversation's if the
/// clock has not advanced (same millisecond, or stepped back), so the
/// conversation just touched always lists first.
fn touch(conn: &Connection, conv: ConversationId, now: i64) -> Result<()> {
    let n = conn.execute(
        "UPDATE conversations SET updated_at = \
         MAX(?2, (SELECT MAX(updated_at) FROM conversations) + 1) WHERE id = ?1",
        params![conv, now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(conv));
    }
    Ok(())
}

/// Escapes LIKE wildcards so `query` matches literally under `ESCAPE '\'`.
fn escape_like(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for c in query.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Wall-clock time in unix milliseconds (0 if the clock is before 1970).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("omnidesk.db")).unwrap();
        (dir, store)
    }

    fn msg(role: Role, content: &str) -> NewMessage<'_> {
        NewMessage {
            role,
            content,
            attachments: &[],
            stats: None,
        }
    }

    fn raw_count(store: &Store, sql: &str) -> i64 {
        store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn store_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Store>();
        assert_send::<StoreError>();
    }

    #[test]
    fn opens_empty_path_at_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/omnidesk.db");
        let store = Store::open(&path).unwrap();
        assert!(path.is_file());
        assert_eq!(store.path(), path);
        assert_eq!(store.schema_version(), SCHEMA_VERSION);
        assert!(store.list_conversations(10).unwrap().is_empty());
    }

    #[test]
    fn reopen_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omnidesk.db");
        let stats = json!({"tokens": 12, "tok_per_s": 33.5});
        let att = [Attachment {
            kind: "image".into(),
            path: "/tmp/cat.png".into(),
            sha256: Some("ab".repeat(32)),
        }];
        let (conv, sent) = {
            let store = Store::open(&path).unwrap();
            let conv = store
                .create_conversation("Trip", Some("qwen3"), Some("be brief"))
                .unwrap();
            store
                .append_message(conv.id, msg(Role::User, "hi"))
                .unwrap();
            let sent = store
                .append_message(
                    conv.id,
                    NewMessage {
                        role: Role::Assistant,
                        content: "hello",
                        attachments: &att,
                        stats: Some(&stats),
                    },
                )
                .unwrap();
            (store.conversation(conv.id).unwrap(), sent)
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version(), SCHEMA_VERSION);
        let again = store.conversation(conv.id).unwrap();
        assert_eq!(again, conv);
        assert_eq!(again.message_count, 2);
        assert_eq!(again.model.as_deref(), Some("qwen3"));
        assert_eq!(again.system_prompt.as_deref(), Some("be brief"));
        let msgs = store.messages(conv.id).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].role, Role::User);
        assert_eq!(msgs[0].stats, None);
        assert!(msgs[0].attachments.is_empty());
        // A read fills in the versions; an append does not know them.
        assert_eq!(msgs[1].versions, [sent.id]);
        assert_eq!(
            msgs[1],
            StoredMessage {
                versions: vec![sent.id],
                ..sent
            }
        );
        assert_eq!(msgs[1].attachments, att);
        assert_eq!(msgs[1].stats.as_ref(), Some(&stats));
    }

    fn assert_refused_untouched(path: &Path, check: impl Fn(&StoreError) -> bool) {
        let before = std::fs::read(path).unwrap();
        let err = Store::open(path).unwrap_err();
        assert!(check(&err), "unexpected error: {err:?}");
        assert_eq!(std::fs::read(path).unwrap(), before, "file was modified");
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn newer_schema_refused_and_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        // A plain rollback-journal file from some future build.
        let plain = dir.path().join("plain.db");
        {
            let c = Connection::open(&plain).unwrap();
            c.execute_batch("CREATE TABLE future (x); INSERT INTO future VALUES (1);")
                .unwrap();
            c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let is_newer = |e: &StoreError| {
            matches!(e, StoreError::NewerSchema { found, supported }
                if *found == SCHEMA_VERSION + 1 && *supported == SCHEMA_VERSION)
        };
        assert_refused_untouched(&plain, is_newer);
        let msg = Store::open(&plain).unwrap_err().to_string();
        assert!(msg.contains("newer") && msg.contains("untouched"), "{msg}");

        // One of ours (WAL mode, with data) that a newer build migrated.
        let ours = dir.path().join("omnidesk.db");
        {
            let store = Store::open(&ours).unwrap();
            let conv = store.create_conversation("keep me", None, None).unwrap();
            store.append_message(conv.id, msg_user()).unwrap();
            store
                .conn
                .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        assert_refused_untouched(&ours, is_newer);
        assert!(!dir.path().join("omnidesk.db-wal").exists());
    }

    fn msg_user() -> NewMessage<'static> {
        msg(Role::User, "precious")
    }

    #[test]
    fn random_bytes_refused_as_corrupt_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omnidesk.db");
        // Deterministic pseudo-random bytes (xorshift), 3 pages' worth.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let bytes: Vec<u8> = (0..12_288)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        assert_refused_untouched(
            &path,
            |e| matches!(e, StoreError::Corrupt { path: p, .. } if p == &path),
        );
    }

    #[test]
    fn truncated_text_file_refused_as_corrupt_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omnidesk.db");
        std::fs::write(&path, "these are my notes, not a datab").unwrap();
        assert_refused_untouched(&path, |e| matches!(e, StoreError::Corrupt { .. }));
        let msg = Store::open(&path).unwrap_err().to_string();
        assert!(
            msg.contains("omnidesk.db") && msg.contains("untouched"),
            "{msg}"
        );
    }

    #[test]
    fn truncated_database_refused_as_corrupt_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omnidesk.db");
        {
            let store = Store::open(&path).unwrap();
            let conv = store.create_conversation("big", None, None).unwrap();
            let text = "x".repeat(2000);
            for _ in 0..50 {
                store
                    .append_message(conv.id, msg(Role::User, &text))
                    .unwrap();
            }
        }
        let full = std::fs::read(&path).unwrap();
        assert!(full.len() > 16 * 4096, "test database too small");
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert_refused_untouched(&path, |e| matches!(e, StoreError::Corrupt { .. }));
    }

    #[test]
    fn delete_conversation_cascades_to_messages() {
        let (_dir, store) = temp_store();
        let a = store.create_conversation("a", None, None).unwrap();
        let b = store.create_conversation("b", None, None).unwrap();
        for conv in [a.id, b.id] {
            store.append_message(conv, msg(Role::User, "q")).unwrap();
            store
                .append_message(conv, msg(Role::Assistant, "r"))
                .unwrap();
        }
        store.delete_conversation(a.id).unwrap();
        assert_eq!(raw_count(&store, "SELECT COUNT(*) FROM messages"), 2);
        assert!(matches!(store.conversation(a.id), Err(StoreError::NotFound(id)) if id == a.id));
        assert!(matches!(store.messages(a.id), Err(StoreError::NotFound(_))));
        assert!(matches!(
            store.delete_conversation(a.id),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.messages(b.id).unwrap().len(), 2);
    }

    #[test]
    fn not_found_everywhere() {
        let (_dir, store) = temp_store();
        let nf = |r: Result<()>| matches!(r, Err(StoreError::NotFound(42)));
        assert!(nf(store.rename_conversation(42, "x")));
        assert!(nf(store.delete_conversation(42)));
        assert!(nf(store
            .append_message(42, msg(Role::User, "x"))
            .map(|_| ())));
        assert!(nf(store.messages(42).map(|_| ())));
        assert!(nf(store.conversation(42).map(|_| ())));
        assert_eq!(raw_count(&store, "SELECT COUNT(*) FROM messages"), 0);
    }

    #[test]
    fn rename_changes_title_only() {
        let (_dir, store) = temp_store();
        let c = store.create_conversation("old", None, None).unwrap();
        store.rename_conversation(c.id, "new").unwrap();
        let after = store.conversation(c.id).unwrap();
        assert_eq!(after.title, "new");
        assert_eq!(after.updated_at, c.updated_at);
    }

    #[test]
    fn search_treats_wildcards_literally() {
        let (_dir, store) = temp_store();
        let pct = store.create_conversation("100% sure", None, None).unwrap();
        let plain = store
            .create_conversation("1000 reasons", None, None)
            .unwrap();
        let under = store.create_conversation("snake_case", None, None).unwrap();
        let body = store.create_conversation("misc", None, None).unwrap();
        store
            .append_message(body.id, msg(Role::Assistant, "a 50% discount, C:\\temp"))
            .unwrap();
        store.create_conversation("snakeXcase", None, None).unwrap();

        let ids = |q: &str| -> Vec<i64> {
            let mut v: Vec<i64> = store
                .search_conversations(q, 10)
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(ids("100%"), vec![pct.id]);
        assert_eq!(ids("%"), vec![pct.id, body.id]);
        assert_eq!(ids("e_c"), vec![under.id]);
        assert_eq!(ids("DISCOUNT"), vec![body.id]);
        assert_eq!(ids("C:\\temp"), vec![body.id]);
        assert_eq!(ids("100"), vec![pct.id, plain.id]);
        assert!(ids("nothing here").is_empty());
        assert_eq!(store.search_conversations("", 2).unwrap().len(), 2);
    }

    #[test]
    fn cjk_and_emoji_round_trip() {
        let (_dir, store) = temp_store();
        let title = "東京旅行の計画";
        let content = "你好，世界！日本語とか한국어도 OK 🌏🍣";
        let att = [Attachment {
            kind: "file".into(),
            path: "/home/用户/文档/メモ.txt".into(),
            sha256: None,
        }];
        let c = store
            .create_conversation(title, Some("模型"), Some("用中文回答"))
            .unwrap();
        store
            .append_message(
                c.id,
                NewMessage {
                    role: Role::User,
                    content,
                    attachments: &att,
                    stats: Some(&json!({"注": "値"})),
                },
            )
            .unwrap();
        let got = store.conversation(c.id).unwrap();
        assert_eq!(got.title, title);
        assert_eq!(got.system_prompt.as_deref(), Some("用中文回答"));
        let m = &store.messages(c.id).unwrap()[0];
        assert_eq!(m.content, content);
        assert_eq!(m.attachments, att);
        assert_eq!(m.stats, Some(json!({"注": "値"})));
        let found = store.search_conversations("世界", 5).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, c.id);
        assert_eq!(store.search_conversations("東京", 5).unwrap().len(), 1);
    }

    #[test]
    fn append_bumps_updated_at_and_list_order() {
        let (_dir, store) = temp_store();
        let a = store.create_conversation("a", None, None).unwrap();
        let b = store.create_conversation("b", None, None).unwrap();
        let order = || -> Vec<i64> {
            store
                .list_conversations(10)
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect()
        };
        assert_eq!(order(), vec![b.id, a.id]);

        let m = store.append_message(a.id, msg(Role::User, "ping")).unwrap();
        let a2 = store.conversation(a.id).unwrap();
        assert!(a2.updated_at > a.updated_at);
        assert!(a2.updated_at >= m.created_at);
        assert_eq!(a2.created_at, a.created_at);
        assert_eq!(a2.message_count, 1);
        assert_eq!(order(), vec![a.id, b.id]);

        store
            .append_message(a.id, msg(Role::Assistant, "pong"))
            .unwrap();
        assert!(store.conversation(a.id).unwrap().updated_at > a2.updated_at);
        assert_eq!(store.list_conversations(1).unwrap().len(), 1);
    }

    #[test]
    fn two_stores_on_one_file_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("omnidesk.db");
        let writer = Store::open(&path).unwrap();
        let reader = Store::open(&path).unwrap();
        let c = writer.create_conversation("shared", None, None).unwrap();
        writer.append_message(c.id, msg(Role::User, "hi")).unwrap();
        let handle = std::thread::spawn(move || reader.messages(c.id).unwrap().len());
        assert_eq!(handle.join().unwrap(), 1);
    }
}
