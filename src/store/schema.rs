//! Schema of the conversation store: the ordered migrations, the version
//! bookkeeping in `PRAGMA user_version`, and the safety checks run before the
//! first write to an existing file.
//!
//! Runs only inside [`super::Store::open`] on the connection it is about to own,
//! so it has no threading concerns of its own.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use super::error::{Result, StoreError};

/// Ordered migrations; entry `i` moves the schema from version `i` to `i + 1`.
/// Append only: never edit a shipped entry, since files already carry it.
pub const MIGRATIONS: &[&str] = &[
    // 1: conversations and their messages.
    "CREATE TABLE conversations (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        title         TEXT    NOT NULL,
        model         TEXT,
        system_prompt TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    CREATE INDEX conversations_updated ON conversations(updated_at DESC, id DESC);
    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role            TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
        content         TEXT    NOT NULL,
        attachments     TEXT    NOT NULL DEFAULT '[]',
        stats           TEXT,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, id);",
    // 2: tool calls made while writing an assistant message, with results.
    "CREATE TABLE tool_calls (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        step        INTEGER NOT NULL,
        call_id     TEXT    NOT NULL,
        tool        TEXT    NOT NULL,
        arguments   TEXT    NOT NULL,
        output      TEXT    NOT NULL,
        error       TEXT,
        duration_ms REAL    NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX tool_calls_message ON tool_calls(message_id, id);",
    // 3: messages form a tree (regenerate and edit keep the earlier version
    // as a sibling); the conversation remembers which leaf is shown. The
    // lists written before become one branch each.
    "ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE;
    UPDATE messages SET parent_id = (
        SELECT MAX(p.id) FROM messages p
        WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id);
    CREATE INDEX messages_parent ON messages(conversation_id, parent_id, id);
    ALTER TABLE conversations ADD COLUMN current_leaf INTEGER;
    UPDATE conversations SET current_leaf = (
        SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = conversations.id);",
];

/// Schema version this build writes and the newest it can read.
// The cast cannot truncate: there will never be 2^63 migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
const _: () = assert!(!MIGRATIONS.is_empty());

/// How long a statement waits on another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if missing) and prepares the database at `path`: checks it
/// is a healthy SQLite file of a schema this build knows, and only then turns
/// on WAL and applies pending migrations. Nothing is written to an existing
/// file before those checks pass.
pub(super) fn open_and_migrate(path: &Path) -> Result<Connection> {
    // Conversations are private: folder 0700, file (and SQLite's -wal/-shm,
    // which copy its mode) 0600, also for a file an older version made.
    crate::private_file::prepare_db(path)?;
    let mut conn = Connection::open(path).map_err(|e| classify(e, path))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;

    // Read-only checks first. Reading the header is what surfaces NOTADB.
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(e, path))?;
    if let Some(reason) = quick_check(&conn).map_err(|e| classify(e, path))? {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason,
        });
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 0 {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("negative schema version {found}"),
        });
    }

    // From here on the file is ours to write. WAL can silently stay "delete"
    // or "memory" on file systems without shared memory; that is only slower.
    let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    migrate(&mut conn, found)?;
    Ok(conn)
}

/// Applies `MIGRATIONS[from..]`, each in its own transaction together with
/// the `user_version` bump, so a crash leaves a consistent version.
fn migrate(conn: &mut Connection, from: i64) -> Result<()> {
    let start = usize::try_from(from).unwrap_or(usize::MAX);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Runs `PRAGMA quick_check`: `None` when healthy, else the first problems.
fn quick_check(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(None)
    } else {
        Ok(Some(format!("quick_check: {}", rows.join("; "))))
    }
}

/// Maps SQLite's "not a database" / "malformed" codes to [`StoreError::Corrupt`].
fn classify(err: rusqlite::Error, path: &Path) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: err.to_string(),
        },
        _ => StoreError::Sqlite(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_version_matches_migrations() {
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    }

    #[test]
    fn migrates_from_empty_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/omnidesk.db");
        let conn = open_and_migrate(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(fk);
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'
                 AND name IN ('conversations', 'messages')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 2);
        drop(conn);
        // Reopening an up-to-date file applies nothing and still succeeds.
        open_and_migrate(&path).unwrap();
    }

    #[test]
    fn check_constraint_rejects_unknown_role() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_and_migrate(&dir.path().join("omnidesk.db")).unwrap();
        conn.execute(
            "INSERT INTO conversations (title, created_at, updated_at) VALUES ('t', 0, 0)",
            [],
        )
        .unwrap();
        let err = conn.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at)
             VALUES (1, 'robot', 'x', 0)",
            [],
        );
        assert!(err.is_err());
    }
}
