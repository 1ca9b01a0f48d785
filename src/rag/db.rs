//! The document index's SQLite file (`<data_dir>/rag/index.db`): the source
//! of truth for collections, folders, documents, chunks (with their vectors
//! as blobs) and the FTS5 keyword index, which triggers keep in step with
//! `chunks`.
//!
//! Threading: a [`Db`] owns one `rusqlite::Connection` (`Send`, not `Sync`);
//! the [`super::Rag`] handle serialises access behind its mutex. Every write
//! is a transaction; one document's chunks are replaced together with its
//! "ingested" status, so a killed ingest never leaves half a document.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::error::{RagError, Result};

/// Ordered migrations; entry `i` moves the schema from version `i` to `i + 1`.
/// Append only.
const MIGRATIONS: &[&str] = &[
    // 1: collections, folders, documents, chunks and their FTS5 index.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE collections (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE folders (
        id            INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        path          TEXT NOT NULL UNIQUE
    );
    CREATE TABLE documents (
        id            INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        path          TEXT NOT NULL UNIQUE,
        format        TEXT,
        size          INTEGER NOT NULL,
        mtime         INTEGER NOT NULL,
        sha256        TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('ingested', 'skipped')),
        skip_reason   TEXT,
        chunk_count   INTEGER NOT NULL DEFAULT 0,
        updated_at    INTEGER NOT NULL
    );
    -- AUTOINCREMENT: a chunk id is never reused, so (count, sum of ids)
    -- fingerprints the set of vectors (see vector.rs).
    CREATE TABLE chunks (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ord         INTEGER NOT NULL,
        text        TEXT NOT NULL,
        heading     TEXT NOT NULL DEFAULT '',
        page        INTEGER,
        line_start  INTEGER,
        line_end    INTEGER,
        tokens      INTEGER NOT NULL,
        embedding   BLOB
    );
    CREATE INDEX chunks_document ON chunks(document_id, ord);
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, heading, content='chunks', content_rowid='id', tokenize='trigram'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
        VALUES ('delete', old.id, old.text, old.heading);
    END;",
    // 2: a word-level FTS5 index beside the trigram one. Trigram doclists
    // are huge for common letter triples, so Latin-script queries on large
    // indexes were slow (p95 > 100 ms at 100k chunks); words go here and
    // the trigram index keeps serving CJK. `chunks_words_vocab` gives each
    // word's document count, to drop near-universal words from a query.
    "CREATE VIRTUAL TABLE chunks_words USING fts5(
        text, heading, content='chunks', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE chunks_words_vocab USING fts5vocab(chunks_words, 'row');
    CREATE TRIGGER chunks_words_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_words(rowid, text, heading) VALUES (new.id, new.text, new.heading);
    END;
    CREATE TRIGGER chunks_words_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_words(chunks_words, rowid, text, heading)
        VALUES ('delete', old.id, old.text, old.heading);
    END;
    INSERT INTO chunks_words(chunks_words) VALUES ('rebuild');",
    // 3: "being parsed" marks, written before a file goes to the parser and
    // cleared after; one left behind means the process died mid-parse, so
    // the next scan skips that file instead of crashing on it again.
    "CREATE TABLE parsing (
        path       TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        mtime      INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        pid        INTEGER NOT NULL,
        started_at INTEGER NOT NULL
    );",
];

const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A file as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub id: i64,
    pub collection: String,
    pub path: PathBuf,
    pub format: Option<String>,
    pub size: u64,
    /// Modification time, unix ms.
    pub mtime: i64,
    pub sha256: String,
    /// `ingested` or `skipped`.
    pub status: String,
    /// Why a skipped file was skipped.
    pub skip_reason: Option<String>,
    pub chunk_count: i64,
}

/// A chunk ready to store: text, location and its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    pub text: String,
    pub heading: String,
    pub page: Option<u32>,
    pub lines: Option<(u32, u32)>,
    pub tokens: u32,
    pub embedding: Vec<f32>,
}

/// A stored chunk with where it came from, for results and citations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkInfo {
    pub id: i64,
    pub document_id: i64,
    pub collection: String,
    pub path: PathBuf,
    pub ord: i64,
    pub text: String,
    pub heading: String,
    pub page: Option<u32>,
    pub line_start: Option<u32>,
    pub line_end: Option<u32>,
}

/// What a document row says after stat/hash, before parsing.
#[derive(Debug, Clone)]
pub struct FileState {
    pub size: u64,
    pub mtime: i64,
    pub sha256: String,
}

/// A "being parsed" mark: which version of a file went to the parser, and
/// from which process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMark {
    pub size: u64,
    pub mtime: i64,
    pub sha256: String,
    pub pid: u32,
    /// Unix ms.
    pub started_at: i64,
}

/// The open index database. See the module docs.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

impl Db {
    /// Open or create the database and migrate it.
    ///
    /// # Errors
    /// `Corrupt` for a file that is not a healthy index of a known schema.
    pub fn open(path: &Path) -> Result<Self> {
        crate::private_file::prepare_db(path)?;
        let corrupt = |reason: String| RagError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let mut conn = Connection::open(path).map_err(|e| corrupt(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))?;
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))?;
        if check != "ok" {
            return Err(corrupt(format!("quick_check: {check}")));
        }
        if !(0..=SCHEMA_VERSION).contains(&found) {
            return Err(corrupt(format!("schema version {found}")));
        }
        let _: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        // NORMAL is durable across process crashes (SIGKILL) in WAL mode.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let start = usize::try_from(found).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(Self { conn })
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Set a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Id of `name`, creating the collection if needed.
    pub fn collection_id(&self, name: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT OR IGNORE INTO collections (name) VALUES (?1)",
            [name],
        )?;
        Ok(self
            .conn
            .query_row("SELECT id FROM collections WHERE name = ?1", [name], |r| {
                r.get(0)
            })?)
    }

    /// Remember an added root (file or folder) so `rescan` revisits it.
    pub fn add_root(&self, collection_id: i64, path: &Path) -> Result<()> {
        self.conn.execute(
            "INSERT INTO folders (collection_id, path) VALUES (?1, ?2)
             ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id",
            params![collection_id, path_str(path)],
        )?;
        Ok(())
    }

    /// Every added root with its collection name.
    pub fn roots(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT f.path, c.name FROM folders f JOIN collections c ON c.id = f.collection_id
             ORDER BY f.path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((PathBuf::from(r.get::<_, String>(0)?), r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forget a root (its documents are removed separately).
    pub fn remove_root(&self, path: &Path) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM folders WHERE path = ?1", [path_str(path)])?
            > 0)
    }

    /// The document stored for `path`, if any.
    pub fn document_by_path(&self, path: &Path) -> Result<Option<Document>> {
        self.query_documents("WHERE d.path = ?1", [path_str(path)])
            .map(|mut v| v.pop())
    }

    /// The document with this id, if any.
    pub fn document(&self, id: i64) -> Result<Option<Document>> {
        self.query_documents("WHERE d.id = ?1", [id])
            .map(|mut v| v.pop())
    }

    /// All documents, by path.
    pub fn documents(&self) -> Result<Vec<Document>> {
        self.query_documents("", rusqlite::params![])
    }

    /// Documents at or under `root`.
    pub fn documents_under(&self, root: &Path) -> Result<Vec<Document>> {
        let exact = path_str(root);
        let prefix = format!("{}/", exact.trim_end_matches('/'));
        Ok(self
            .documents()?
            .into_iter()
            .filter(|d| {
                let p = path_str(&d.path);
                p == exact || p.starts_with(&prefix)
            })
            .collect())
    }

    fn query_documents<P: rusqlite::Params>(&self, filter: &str, p: P) -> Result<Vec<Document>> {
        let sql = format!(
            "SELECT d.id, c.name, d.path, d.format, d.size, d.mtime, d.sha256, d.status,
                    d.skip_reason, d.chunk_count
             FROM documents d JOIN collections c ON c.id = d.collection_id {filter}
             ORDER BY d.path"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(p, |r| {
            Ok(Document {
                id: r.get(0)?,
                collection: r.get(1)?,
                path: PathBuf::from(r.get::<_, String>(2)?),
                format: r.get(3)?,
                size: r.get::<_, i64>(4)?.max(0) as u64,
                mtime: r.get(5)?,
                sha256: r.get(6)?,
                status: r.get(7)?,
                skip_reason: r.get(8)?,
                chunk_count: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Only the modification time changed (same content): note it.
    pub fn touch(&self, id: i64, mtime: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE documents SET mtime = ?2 WHERE id = ?1",
            params![id, mtime],
        )?;
        Ok(())
    }

    /// Replace everything stored for `path` in one transaction: the old
    /// chunks (returned, for the vector index) go, the new ones and the
    /// document's status arrive together.
    #[allow(clippy::too_many_arguments)]
    pub fn replace_document(
        &mut self,
        collection_id: i64,
        path: &Path,
        format: Option<&str>,
        state: &FileState,
        skip_reason: Option<&str>,
        chunks: &[NewChunk],
    ) -> Result<(i64, Vec<i64>, Vec<i64>)> {
        let tx = self.conn.transaction()?;
        let p = path_str(path);
        let old_id: Option<i64> = tx
            .query_row("SELECT id FROM documents WHERE path = ?1", [&p], |r| {
                r.get(0)
            })
            .optional()?;
        let mut removed = Vec::new();
        if let Some(id) = old_id {
            let mut stmt = tx.prepare("SELECT id FROM chunks WHERE document_id = ?1")?;
            removed = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            drop(stmt);
            tx.execute("DELETE FROM chunks WHERE document_id = ?1", [id])?;
        }
        let status = if skip_reason.is_some() {
            "skipped"
        } else {
            "ingested"
        };
        let now = now_ms();
        tx.execute(
            "INSERT INTO documents (collection_id, path, format, size, mtime, sha256, status,
                                    skip_reason, chunk_count, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(path) DO UPDATE SET collection_id = excluded.collection_id,
                format = excluded.format, size = excluded.size, mtime = excluded.mtime,
                sha256 = excluded.sha256, status = excluded.status,
                skip_reason = excluded.skip_reason, chunk_count = excluded.chunk_count,
                updated_at = excluded.updated_at",
            params![
                collection_id,
                p,
                format,
                state.size as i64,
                state.mtime,
                state.sha256,
                status,
                skip_reason,
                chunks.len() as i64,
                now
            ],
        )?;
        let doc_id: i64 = tx.query_row("SELECT id FROM documents WHERE path = ?1", [&p], |r| {
            r.get(0)
        })?;
        let mut added = Vec::with_capacity(chunks.len());
        {
            let mut stmt = tx.prepare(
                "INSERT INTO chunks (document_id, ord, text, heading, page, line_start, line_end,
                                     tokens, embedding)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (ord, c) in chunks.iter().enumerate() {
                stmt.execute(params![
                    doc_id,
                    ord as i64,
                    c.text,
                    c.heading,
                    c.page,
                    c.lines.map(|l| l.0),
                    c.lines.map(|l| l.1),
                    c.tokens,
                    vector_to_blob(&c.embedding),
                ])?;
                added.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok((doc_id, removed, added))
    }

    /// Note that `path` (as `state`) is being handed to the parser by
    /// process `pid`. Committed before parsing starts.
    pub fn mark_parsing(&self, path: &Path, state: &FileState, pid: u32) -> Result<()> {
        self.conn.execute(
            "INSERT INTO parsing (path, size, mtime, sha256, pid, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime,
                sha256 = excluded.sha256, pid = excluded.pid, started_at = excluded.started_at",
            params![
                path_str(path),
                state.size as i64,
                state.mtime,
                state.sha256,
                pid,
                now_ms()
            ],
        )?;
        Ok(())
    }

    /// The "being parsed" mark of `path`, if one was left.
    pub fn parse_mark(&self, path: &Path) -> Result<Option<ParseMark>> {
        Ok(self
            .conn
            .query_row(
                "SELECT size, mtime, sha256, pid, started_at FROM parsing WHERE path = ?1",
                [path_str(path)],
                |r| {
                    Ok(ParseMark {
                        size: r.get::<_, i64>(0)?.max(0) as u64,
                        mtime: r.get(1)?,
                        sha256: r.get(2)?,
                        pid: r.get(3)?,
                        started_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// The parse of `path` ended (whatever its outcome).
    pub fn clear_parsing(&self, path: &Path) -> Result<()> {
        self.conn
            .execute("DELETE FROM parsing WHERE path = ?1", [path_str(path)])?;
        Ok(())
    }

    /// Delete a document and its chunks; returns the removed chunk ids.
    pub fn remove_document(&mut self, id: i64) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let removed: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT id FROM chunks WHERE document_id = ?1")?;
            let ids = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids
        };
        tx.execute("DELETE FROM chunks WHERE document_id = ?1", [id])?;
        tx.execute("DELETE FROM documents WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(removed)
    }

    /// Number of chunks and the sum of their ids: a cheap fingerprint of
    /// the set of vectors the usearch file must hold.
    pub fn vector_fingerprint(&self) -> Result<(u64, u64)> {
        let (n, sum): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(id), 0) FROM chunks WHERE embedding IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((n.max(0) as u64, sum.max(0) as u64))
    }

    /// Every stored vector, for rebuilding the usearch index.
    pub fn for_each_vector(&self, mut f: impl FnMut(i64, Vec<f32>) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, embedding FROM chunks WHERE embedding IS NOT NULL ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let blob: Vec<u8> = r.get(1)?;
            f(r.get(0)?, blob_to_vector(&blob))?;
        }
        Ok(())
    }

    /// Every chunk's id and what was embedded for it (see
    /// [`super::embed_input`]), for re-embedding with a new model.
    pub fn chunk_texts(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, heading, text FROM chunks ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let heading: String = r.get(1)?;
            let text: String = r.get(2)?;
            Ok((r.get(0)?, super::embed_input(&heading, &text)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stored vectors of these chunks (absent ones are left out).
    pub fn vectors_of(&self, ids: &[i64]) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT embedding FROM chunks WHERE id = ?1 AND embedding IS NOT NULL",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let blob: Option<Vec<u8>> = stmt.query_row([id], |r| r.get(0)).optional()?;
            if let Some(b) = blob {
                out.push((*id, blob_to_vector(&b)));
            }
        }
        Ok(out)
    }

    /// Store new vectors for existing chunks, in one transaction.
    pub fn set_vectors(&mut self, vectors: &[(i64, Vec<f32>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare("UPDATE chunks SET embedding = ?2 WHERE id = ?1")?;
            for (id, v) in vectors {
                stmt.execute(params![id, vector_to_blob(v)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Drop every vector (the embedding model changed).
    pub fn clear_vectors(&self) -> Result<()> {
        self.conn
            .execute("UPDATE chunks SET embedding = NULL", [])?;
        Ok(())
    }

    /// Chunks by id with their document, in the order asked.
    pub fn chunks(&self, ids: &[i64]) -> Result<Vec<ChunkInfo>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT k.id, k.document_id, c.name, d.path, k.ord, k.text, k.heading, k.page,
                    k.line_start, k.line_end
             FROM chunks k JOIN documents d ON d.id = k.document_id
             JOIN collections c ON c.id = d.collection_id WHERE k.id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = stmt
                .query_row([id], |r| {
                    Ok(ChunkInfo {
                        id: r.get(0)?,
                        document_id: r.get(1)?,
                        collection: r.get(2)?,
                        path: PathBuf::from(r.get::<_, String>(3)?),
                        ord: r.get(4)?,
                        text: r.get(5)?,
                        heading: r.get(6)?,
                        page: r.get(7)?,
                        line_start: r.get(8)?,
                        line_end: r.get(9)?,
                    })
                })
                .optional()?;
            out.extend(row);
        }
        Ok(out)
    }

    /// Every chunk as (path, ord, text), sorted: what tests compare.
    pub fn chunk_set(&self) -> Result<Vec<(String, i64, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.path, k.ord, k.text FROM chunks k JOIN documents d ON d.id = k.document_id
             ORDER BY d.path, k.ord",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The connection, for the FTS queries in [`super::fts`].
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Paths are stored as (lossy) UTF-8 text.
pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Little-endian f32s.
pub fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Inverse of [`vector_to_blob`]; a trailing partial value is ignored.
pub fn blob_to_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> NewChunk {
        NewChunk {
            text: text.into(),
            heading: String::new(),
            page: None,
            lines: Some((1, 1)),
            tokens: 3,
            embedding: vec![1.0, 0.0],
        }
    }

    #[test]
    fn replacing_a_document_swaps_its_chunks_and_fts_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("index.db")).unwrap();
        let c = db.collection_id("default").unwrap();
        let st = FileState {
            size: 1,
            mtime: 1,
            sha256: "x".into(),
        };
        let p = Path::new("/a.txt");
        let (_, removed, added) = db
            .replace_document(c, p, Some("text"), &st, None, &[chunk("alpha beta")])
            .unwrap();
        assert!(removed.is_empty() && added.len() == 1);
        let (_, removed2, _) = db
            .replace_document(c, p, Some("text"), &st, None, &[chunk("gamma delta")])
            .unwrap();
        assert_eq!(removed2, added);
        let n: i64 = db
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'alpha'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(db.vector_fingerprint().unwrap().0, 1);
    }

    #[test]
    fn a_parse_mark_stays_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("index.db")).unwrap();
        let st = FileState {
            size: 7,
            mtime: 9,
            sha256: "abc".into(),
        };
        let p = Path::new("/x.pdf");
        assert_eq!(db.parse_mark(p).unwrap(), None);
        db.mark_parsing(p, &st, 42).unwrap();
        drop(db);
        // Another process (the next run) finds it.
        let db = Db::open(&dir.path().join("index.db")).unwrap();
        let m = db.parse_mark(p).unwrap().unwrap();
        assert_eq!(
            (m.size, m.mtime, m.sha256.as_str(), m.pid),
            (7, 9, "abc", 42)
        );
        db.clear_parsing(p).unwrap();
        assert_eq!(db.parse_mark(p).unwrap(), None);
    }

    #[test]
    fn blob_round_trip() {
        let v = vec![0.5f32, -1.25, 3.0];
        assert_eq!(blob_to_vector(&vector_to_blob(&v)), v);
    }
}
