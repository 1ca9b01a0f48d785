//! Ingest: walk files and folders, decide what changed, parse, chunk,
//! embed and store, one document at a time.
//!
//! Change detection is cheap first: a file whose size and mtime match its
//! row is not read; one whose content hash (SHA-256) still matches only has
//! its mtime updated. Each document's chunks, vectors-as-blobs and status
//! are committed in one SQLite transaction, so a process killed at any
//! point resumes with whole documents only (no duplicates, no halves).
//! Files under an added folder that disappeared leave both indexes.
//!
//! Parsing is untrusted: it runs in a worker process ([`super::isolate`]),
//! so a file that crashes, hangs or bloats the parser is recorded as
//! skipped with the reason and the walk goes on. A "being parsed" mark is
//! committed before a file goes to the parser and cleared after; a mark
//! left behind (the whole process died mid-parse) makes the next scan skip
//! that file. A skipped file is retried once its size, mtime or content
//! changes.
//!
//! Threading: [`Rag::add_blocking`] runs on the caller's thread and takes
//! the index lock only while writing one document. [`Rag::add`] runs it on
//! tokio's blocking pool and streams [`IngestEvent`]s over a channel;
//! cancelling stops before the next file, or kills the parse worker when
//! a file is being parsed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::chunk::{self, ChunkParams};
use super::db::{FileState, NewChunk};
use super::error::{RagError, Result};
use super::isolate::{ParseSession, Parsed};
use super::parse::{Format, MAX_FILE_BYTES};
use super::{absolute_path, embed_input, Inner, Rag};

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Collection the files join (created if new).
    pub collection: String,
    pub chunk: ChunkParams,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            collection: "default".into(),
            chunk: ChunkParams::default(),
        }
    }
}

/// What an ingest reports as it goes.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IngestEvent {
    /// The walk found this many candidate files.
    Scanned { files: usize },
    /// One more file handled.
    Progress {
        files_done: usize,
        files_total: usize,
        chunks: usize,
        /// Estimated time left, from the average so far.
        eta_ms: Option<u64>,
        path: PathBuf,
    },
    /// A file was not indexed, and why.
    Skipped { path: PathBuf, reason: String },
}

/// Counters for one ingest run; tests assert on them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct IngestReport {
    /// Candidate files found.
    pub files_seen: usize,
    /// New or changed files parsed and stored.
    pub files_indexed: usize,
    /// Files left alone (same size and mtime, or same content hash).
    pub files_unchanged: usize,
    /// Files recorded as skipped (with their reasons).
    pub files_skipped: usize,
    /// Documents removed because their file is gone.
    pub files_removed: usize,
    /// Chunks written.
    pub chunks_added: usize,
    /// Chunks deleted (replaced or removed).
    pub chunks_removed: usize,
    /// Embeddings computed.
    pub embedded: usize,
    /// The run stopped early on request.
    pub cancelled: bool,
    pub elapsed_ms: u64,
    /// Skipped files with their reasons.
    pub skipped: Vec<(PathBuf, String)>,
    /// Files indexed only up to [`ChunkParams::max_chunks`], with the
    /// chunks they would have made.
    pub truncated: Vec<(PathBuf, usize)>,
}

/// Chunks embedded per call (ingest, and re-embedding at open): a cancel is
/// seen within a long file, and one call holds a bounded number of vectors.
pub(crate) const EMBED_BATCH: usize = 256;

/// A running ingest: events as they happen, then the report.
#[derive(Debug)]
pub struct IngestJob {
    pub events: mpsc::UnboundedReceiver<IngestEvent>,
    cancel: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<Result<IngestReport>>,
}

impl IngestJob {
    /// Stop before the next file; the report says `cancelled`.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// A flag that cancels this job from elsewhere (a Ctrl-C handler).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Wait for the report.
    ///
    /// # Errors
    /// The ingest's error, or `Cancelled` if its task was lost.
    pub async fn finish(self) -> Result<IngestReport> {
        self.handle.await.map_err(|_| RagError::Cancelled)?
    }
}

/// A file found by the walk, with the root it was found under.
struct Candidate {
    path: PathBuf,
    format: Option<Format>,
}

impl Rag {
    /// Ingest `paths` on tokio's blocking pool; see [`Rag::add_blocking`].
    /// Must be called inside a tokio runtime.
    pub fn add(&self, paths: Vec<PathBuf>, options: IngestOptions) -> IngestJob {
        let (tx, events) = mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let rag = self.clone();
        let flag = cancel.clone();
        let handle = tokio::task::spawn_blocking(move || {
            rag.add_blocking(&paths, &options, &mut |e| drop(tx.send(e)), &flag)
        });
        IngestJob {
            events,
            cancel,
            handle,
        }
    }

    /// Ingest files and folders (recursively, skipping hidden entries).
    /// Each path becomes a root that [`Rag::rescan`] revisits.
    ///
    /// # Errors
    /// `NotFound` for a path that does not exist (checked before anything
    /// is written); SQLite, vector and embedding failures. A file that
    /// cannot be parsed is not an error: it is recorded as skipped.
    pub fn add_blocking(
        &self,
        paths: &[PathBuf],
        options: &IngestOptions,
        on_event: &mut dyn FnMut(IngestEvent),
        cancel: &AtomicBool,
    ) -> Result<IngestReport> {
        let roots: Vec<PathBuf> = paths.iter().map(|p| absolute_path(p)).collect();
        if let Some(missing) = roots.iter().find(|p| !p.exists()) {
            return Err(RagError::NotFound(missing.clone()));
        }
        let targets: Vec<(PathBuf, String)> = roots
            .into_iter()
            .map(|r| (r, options.collection.clone()))
            .collect();
        self.ingest_roots(&targets, options.chunk, on_event, cancel, true)
    }

    /// Re-walk every added root: index new and changed files, drop removed
    /// ones (a root that vanished takes its documents with it).
    ///
    /// # Errors
    /// As [`Rag::add_blocking`].
    pub fn rescan_blocking(
        &self,
        chunk: ChunkParams,
        on_event: &mut dyn FnMut(IngestEvent),
        cancel: &AtomicBool,
    ) -> Result<IngestReport> {
        let roots = self.roots()?;
        let mut gone = 0;
        let mut present = Vec::new();
        for (root, collection) in roots {
            if root.exists() {
                present.push((root, collection));
            } else {
                gone += self.remove(&root.to_string_lossy()).unwrap_or(0);
            }
        }
        let mut report = self.ingest_roots(&present, chunk, on_event, cancel, true)?;
        report.files_removed += gone;
        Ok(report)
    }

    /// Async [`Rag::rescan_blocking`] with events; call inside tokio.
    pub fn rescan(&self, chunk: ChunkParams) -> IngestJob {
        let (tx, events) = mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let rag = self.clone();
        let flag = cancel.clone();
        let handle = tokio::task::spawn_blocking(move || {
            rag.rescan_blocking(chunk, &mut |e| drop(tx.send(e)), &flag)
        });
        IngestJob {
            events,
            cancel,
            handle,
        }
    }

    /// Bring just `paths` up to date: files or folders under an added root
    /// that changed, appeared or vanished (what a folder watcher reports).
    /// Changed files are re-embedded, new ones added, vanished ones (and
    /// everything under a vanished folder) removed; nothing else is
    /// walked. Paths outside every root, hidden ones, files of unknown
    /// formats and the index's own directory are ignored.
    ///
    /// # Errors
    /// As [`Rag::add_blocking`].
    pub fn update_paths_blocking(
        &self,
        paths: &[PathBuf],
        chunk: ChunkParams,
        on_event: &mut dyn FnMut(IngestEvent),
        cancel: &AtomicBool,
    ) -> Result<IngestReport> {
        let roots = self.roots()?;
        let own = absolute_path(self.dir());
        let mut targets: Vec<(PathBuf, String)> = Vec::new();
        for p in paths {
            let p = absolute_path(p);
            if p.starts_with(&own) {
                continue;
            }
            let Some((root, collection)) = roots
                .iter()
                .filter(|(r, _)| p.starts_with(r))
                .max_by_key(|(r, _)| r.as_os_str().len())
            else {
                continue;
            };
            let hidden = p
                .strip_prefix(root)
                .map(|rel| {
                    rel.components()
                        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
                })
                .unwrap_or(true);
            if hidden || (p != *root && p.is_file() && Format::of(&p).is_none()) {
                continue;
            }
            targets.push((p, collection.clone()));
        }
        targets.sort();
        targets.dedup();
        let outer: Vec<(PathBuf, String)> = targets
            .iter()
            .filter(|(p, _)| !targets.iter().any(|(q, _)| q != p && p.starts_with(q)))
            .cloned()
            .collect();
        if outer.is_empty() {
            return Ok(IngestReport::default());
        }
        self.ingest_roots(&outer, chunk, on_event, cancel, false)
    }

    /// Walk each root, drop its documents whose files are gone, then index
    /// new and changed files. `register` records the roots for rescans
    /// (not done for the sub-paths a watcher reports).
    fn ingest_roots(
        &self,
        roots: &[(PathBuf, String)],
        params: ChunkParams,
        on_event: &mut dyn FnMut(IngestEvent),
        cancel: &AtomicBool,
        register: bool,
    ) -> Result<IngestReport> {
        let started = Instant::now();
        let mut report = IngestReport::default();
        // Walk first, so progress has a total and removals are known.
        let mut work: Vec<(Candidate, i64)> = Vec::new();
        for (root, collection) in roots {
            let files = walk(root);
            let (collection_id, stale) = {
                let mut inner = self.lock();
                let cid = inner.db.collection_id(collection)?;
                if register {
                    inner.db.add_root(cid, root)?;
                }
                let seen: std::collections::HashSet<&Path> =
                    files.iter().map(|c| c.path.as_path()).collect();
                let stale: Vec<i64> = inner
                    .db
                    .documents_under(root)?
                    .into_iter()
                    .filter(|d| !seen.contains(d.path.as_path()))
                    .map(|d| d.id)
                    .collect();
                for id in &stale {
                    let removed = inner.db.remove_document(*id)?;
                    report.chunks_removed += removed.len();
                    inner.vectors.remove(&removed)?;
                }
                (cid, stale)
            };
            report.files_removed += stale.len();
            work.extend(files.into_iter().map(|c| (c, collection_id)));
        }
        report.files_seen = work.len();
        on_event(IngestEvent::Scanned { files: work.len() });
        let total = work.len();
        let mut chunks_total = 0;
        // One worker for the run (a new one after each crash); dropping
        // the session at the end of the run ends it.
        let mut parser = ParseSession::new(self.parser.clone());
        for (done, (cand, collection_id)) in work.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                report.cancelled = true;
                break;
            }
            let outcome = self.ingest_file(
                cand,
                *collection_id,
                params,
                &mut parser,
                cancel,
                &mut report,
            )?;
            if report.cancelled {
                break;
            }
            if let Some(reason) = outcome {
                on_event(IngestEvent::Skipped {
                    path: cand.path.clone(),
                    reason: reason.clone(),
                });
                report.skipped.push((cand.path.clone(), reason));
            }
            chunks_total = report.chunks_added;
            let elapsed = started.elapsed().as_millis() as u64;
            let eta =
                (done + 1 < total).then(|| elapsed / (done as u64 + 1) * (total - done - 1) as u64);
            on_event(IngestEvent::Progress {
                files_done: done + 1,
                files_total: total,
                chunks: chunks_total,
                eta_ms: eta,
                path: cand.path.clone(),
            });
        }
        let model = self.embedder.model_id().to_string();
        {
            let mut inner = self.lock();
            let Inner { db, vectors } = &mut *inner;
            vectors.save(&model, db)?;
        }
        let _ = chunks_total;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Handle one file; returns a skip reason when it was recorded as
    /// skipped. A cancel while it is parsed sets `report.cancelled` and
    /// leaves the file as it was.
    fn ingest_file(
        &self,
        cand: &Candidate,
        collection_id: i64,
        params: ChunkParams,
        parser: &mut ParseSession,
        cancel: &AtomicBool,
        report: &mut IngestReport,
    ) -> Result<Option<String>> {
        let path = &cand.path;
        let Ok(meta) = std::fs::metadata(path) else {
            // Vanished between walk and read: nothing to index.
            return Ok(None);
        };
        let size = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let existing = self.lock().db.document_by_path(path)?;
        if let Some(d) = &existing {
            if d.size == size && d.mtime == mtime {
                report.files_unchanged += 1;
                return Ok(None);
            }
        }
        let format = cand.format;
        let (bytes, sha256) = if size > MAX_FILE_BYTES {
            (None, format!("size:{size}"))
        } else {
            match std::fs::read(path) {
                Ok(b) => {
                    let sha = hex(&Sha256::digest(&b));
                    (Some(b), sha)
                }
                Err(e) => (None, format!("unreadable:{e}")),
            }
        };
        if let Some(d) = &existing {
            // A skipped file is retried when touched; an indexed one whose
            // content is the same only has its mtime noted.
            if d.sha256 == sha256 && d.status != "skipped" {
                self.lock().db.touch(d.id, mtime)?;
                report.files_unchanged += 1;
                return Ok(None);
            }
        }
        let state = FileState {
            size,
            mtime,
            sha256,
        };
        let parsed = match (&bytes, format) {
            (_, None) => Err("unsupported file type".to_string()),
            (None, _) if size > MAX_FILE_BYTES => {
                Err(format!("file is larger than {} MiB", MAX_FILE_BYTES >> 20))
            }
            (None, _) => Err("cannot read the file".to_string()),
            (Some(b), Some(f)) => match self.left_mid_parse(path, &state)? {
                Unfinished::Crashed => Err(UNFINISHED_PARSE.to_string()),
                Unfinished::ElsewhereNow => {
                    // Another Omnidesk process is parsing it right now.
                    report.files_unchanged += 1;
                    return Ok(None);
                }
                Unfinished::No => {
                    self.lock()
                        .db
                        .mark_parsing(path, &state, std::process::id())?;
                    let result = parser.parse(f, b, cancel);
                    self.lock().db.clear_parsing(path)?;
                    match result? {
                        Parsed::Blocks(blocks) => Ok(blocks),
                        Parsed::Skipped(s) => Err(s.0),
                        Parsed::Cancelled => {
                            report.cancelled = true;
                            return Ok(None);
                        }
                    }
                }
            },
        };
        let blocks = match parsed {
            Ok(b) => b,
            Err(reason) => {
                let mut inner = self.lock();
                let (_, removed, _) = inner.db.replace_document(
                    collection_id,
                    path,
                    format.map(Format::name),
                    &state,
                    Some(&reason),
                    &[],
                )?;
                inner.db.clear_parsing(path)?;
                inner.vectors.remove(&removed)?;
                report.chunks_removed += removed.len();
                report.files_skipped += 1;
                return Ok(Some(reason));
            }
        };
        let mut chunks = chunk::chunk(&blocks, params);
        if chunks.len() > params.max_chunks {
            tracing::warn!(
                path = %path.display(),
                chunks = chunks.len(),
                "indexing only the first {} chunks of a very long file",
                params.max_chunks
            );
            report.truncated.push((path.clone(), chunks.len()));
            chunks.truncate(params.max_chunks);
        }
        let inputs: Vec<String> = chunks
            .iter()
            .map(|c| embed_input(&c.heading, &c.text))
            .collect();
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let mut vectors = Vec::with_capacity(refs.len());
        for batch in refs.chunks(EMBED_BATCH) {
            if cancel.load(Ordering::Relaxed) {
                // Nothing of this file was written; the next run does it again.
                report.cancelled = true;
                return Ok(None);
            }
            vectors.extend(self.embedder.embed(batch)?);
        }
        report.embedded += vectors.len();
        let rows: Vec<NewChunk> = chunks
            .into_iter()
            .zip(vectors)
            .map(|(c, v)| NewChunk {
                text: c.text,
                heading: c.heading,
                page: c.page,
                lines: c.lines,
                tokens: c.tokens as u32,
                embedding: v,
            })
            .collect();
        let mut inner = self.lock();
        let (_, removed, added) = inner.db.replace_document(
            collection_id,
            path,
            format.map(Format::name),
            &state,
            None,
            &rows,
        )?;
        inner.vectors.remove(&removed)?;
        for (id, row) in added.iter().zip(&rows) {
            inner.vectors.add(*id, &row.embedding)?;
        }
        report.chunks_removed += removed.len();
        report.chunks_added += added.len();
        report.files_indexed += 1;
        Ok(None)
    }
}

/// The skip reason of a file whose parse was under way when Omnidesk died.
pub const UNFINISHED_PARSE: &str =
    "a previous parse of this file did not finish (Omnidesk stopped while parsing it)";

/// What a "being parsed" mark left for a file says.
enum Unfinished {
    No,
    /// Left by a process that died while parsing this very content.
    Crashed,
    /// Another live process is parsing it now.
    ElsewhereNow,
}

impl Rag {
    /// Whether a mark from an earlier parse of this content was left.
    fn left_mid_parse(&self, path: &Path, state: &FileState) -> Result<Unfinished> {
        let inner = self.lock();
        let Some(mark) = inner.db.parse_mark(path)? else {
            return Ok(Unfinished::No);
        };
        if mark.sha256 != state.sha256 {
            // The file changed since: parse the new content.
            inner.db.clear_parsing(path)?;
            return Ok(Unfinished::No);
        }
        if mark.pid != std::process::id() && process_alive(mark.pid) {
            return Ok(Unfinished::ElsewhereNow);
        }
        Ok(Unfinished::Crashed)
    }
}

/// Whether process `pid` exists (it may be an unrelated one that reused
/// the number: then the file waits for the next scan).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: kill with signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// Files under `root` (or `root` itself), sorted, skipping hidden entries
/// and not following symlinked directories (no loops). Files of unknown
/// type inside folders are ignored; a file named directly is kept so its
/// skip reason is recorded.
fn walk(root: &Path) -> Vec<Candidate> {
    let mut out = Vec::new();
    if root.is_file() {
        out.push(Candidate {
            path: root.to_path_buf(),
            format: Format::of(root),
        });
        return out;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            let path = e.path();
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                if let Some(format) = Format::of(&path) {
                    out.push(Candidate {
                        path,
                        format: Some(format),
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
