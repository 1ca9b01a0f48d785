//! Personal-document retrieval (RAG): ingest files and folders, search them
//! with keywords and vectors together, and answer with cited sources.
//!
//! Layout of the index directory (`<data_dir>/rag/` by default):
//! `index.db` (SQLite: collections, folders, documents, chunks with their
//! vectors, FTS5) is the source of truth; `vectors.usearch` (+ `.json`
//! sidecar) is a rebuildable cache of the vectors for fast search.
//!
//! Threading: [`Rag`] is a cheap `Clone + Send + Sync` handle. Its database
//! and vector index sit behind one mutex, taken per document write and per
//! search, so searches interleave with a running ingest. Parsing and
//! embedding happen outside the lock; parsing in a worker process
//! ([`isolate`]), embeddings on the [`Embedder`]'s own thread.

pub mod answer;
pub mod chunk;
pub mod db;
pub mod embed;
pub mod error;
pub mod eval;
pub mod fts;
pub mod ingest;
pub mod isolate;
pub mod parse;
pub mod remote;
pub mod search;
pub mod source;
pub mod vector;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use db::{ChunkInfo, Document};
pub use embed::{Embedded, Embedder, LlamaEmbedder, Overflow};
pub use error::{RagError, Result};
pub use ingest::{IngestEvent, IngestJob, IngestOptions, IngestReport};
pub use remote::RemoteEmbedder;
pub use search::{SearchHit, SearchMode, SearchOptions};
pub use source::EmbedSource;
pub use watch::{FolderWatch, WatchEvent};

use db::Db;
use vector::VectorIndex;

/// Meta keys recording which model made the stored vectors.
const META_MODEL: &str = "embedding_model";
const META_DIM: &str = "embedding_dimension";

/// The index directory under a data dir.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("rag")
}

/// What is embedded for a chunk: its heading path, then its text, so a
/// section title helps find the paragraphs under it.
pub fn embed_input(heading: &str, text: &str) -> String {
    if heading.is_empty() {
        text.to_string()
    } else {
        format!("{heading}\n{text}")
    }
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) vectors: VectorIndex,
}

/// Handle to an open document index. See the module docs.
#[derive(Clone)]
pub struct Rag {
    inner: Arc<Mutex<Inner>>,
    embedder: Arc<dyn Embedder>,
    dir: PathBuf,
    rebuilt: bool,
    reembedded: usize,
    parser: isolate::ParserConfig,
}

impl std::fmt::Debug for Rag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rag")
            .field("dir", &self.dir)
            .field("model", &self.embedder.model_id())
            .finish()
    }
}

/// Counts for `docs list` and the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct RagStats {
    pub documents: usize,
    pub skipped: usize,
    pub chunks: usize,
    pub vectors: usize,
    pub vector_index_bytes: usize,
    /// The vector file was rebuilt from SQLite when the index was opened.
    pub rebuilt_vectors: bool,
    /// Chunks re-embedded at open because the embedding model changed.
    pub reembedded: usize,
}

impl Rag {
    /// Open (or create) the index in `dir` for `embedder`'s model.
    ///
    /// A usearch file that is missing, stale or corrupt is rebuilt from the
    /// vectors in SQLite. When the stored vectors come from another model
    /// (or dimension), every chunk is re-embedded before the index is used:
    /// vectors of two models are never mixed.
    ///
    /// # Errors
    /// `Corrupt` for a database that is not a healthy index, SQLite, I/O
    /// and embedding failures.
    pub fn open(dir: &Path, embedder: Arc<dyn Embedder>) -> Result<Self> {
        crate::private_file::private_dir(dir)?;
        let mut db = Db::open(&dir.join("index.db"))?;
        let model = embedder.model_id().to_string();
        let dim = embedder.dimension();
        let stored = (db.meta(META_MODEL)?, db.meta(META_DIM)?);
        let mut reembedded = 0;
        if stored.0.as_deref() != Some(model.as_str())
            || stored.1.as_deref() != Some(dim.to_string().as_str())
        {
            if stored.0.is_some() {
                tracing::info!(
                    "embedding model changed ({:?} → {model}); re-embedding",
                    stored.0
                );
            }
            db.clear_vectors()?;
            let texts = db.chunk_texts()?;
            for batch in texts.chunks(ingest::EMBED_BATCH) {
                let inputs: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
                let vecs = embedder.embed(&inputs)?;
                let pairs: Vec<(i64, Vec<f32>)> =
                    batch.iter().map(|(id, _)| *id).zip(vecs).collect();
                db.set_vectors(&pairs)?;
                reembedded += pairs.len();
            }
            db.set_meta(META_MODEL, &model)?;
            db.set_meta(META_DIM, &dim.to_string())?;
        }
        let (vectors, rebuilt) = VectorIndex::open(&dir.join("vectors.usearch"), dim, &model, &db)?;
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner { db, vectors })),
            embedder,
            dir: dir.to_path_buf(),
            rebuilt,
            reembedded,
            parser: isolate::ParserConfig::from_env(),
        })
    }

    /// The same index, parsing documents as `parser` says (a worker
    /// program, limits). [`Rag::open`] uses [`isolate::ParserConfig::from_env`].
    pub fn with_parser(mut self, parser: isolate::ParserConfig) -> Self {
        self.parser = parser;
        self
    }

    /// How this index parses documents.
    pub fn parser(&self) -> &isolate::ParserConfig {
        &self.parser
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves SQLite consistent (its
        // transaction rolls back), so the data stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The embedder this index was opened with.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every known document (ingested and skipped), by path.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn documents(&self) -> Result<Vec<Document>> {
        self.lock().db.documents()
    }

    /// Added roots (files and folders) with their collection.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn roots(&self) -> Result<Vec<(PathBuf, String)>> {
        self.lock().db.roots()
    }

    /// Chunks by id, with their source.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn chunks(&self, ids: &[i64]) -> Result<Vec<ChunkInfo>> {
        self.lock().db.chunks(ids)
    }

    /// Every chunk as (path, ordinal, text), sorted; for comparing indexes.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn chunk_set(&self) -> Result<Vec<(String, i64, String)>> {
        self.lock().db.chunk_set()
    }

    /// Whether the vector index holds this chunk.
    pub fn has_vector(&self, chunk_id: i64) -> bool {
        self.lock().vectors.contains(chunk_id)
    }

    /// Counts of documents, chunks and vectors.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn stats(&self) -> Result<RagStats> {
        let inner = self.lock();
        let docs = inner.db.documents()?;
        Ok(RagStats {
            documents: docs.iter().filter(|d| d.status == "ingested").count(),
            skipped: docs.iter().filter(|d| d.status == "skipped").count(),
            chunks: docs.iter().map(|d| d.chunk_count.max(0) as usize).sum(),
            vectors: inner.vectors.len(),
            vector_index_bytes: inner.vectors.memory_bytes(),
            rebuilt_vectors: self.rebuilt,
            reembedded: self.reembedded,
        })
    }

    /// Remove a document (by id or path) or an added folder (by path) from
    /// both indexes. Returns how many documents were removed.
    ///
    /// # Errors
    /// `UnknownDocument` when nothing matches; SQLite/vector failures.
    pub fn remove(&self, target: &str) -> Result<usize> {
        let mut inner = self.lock();
        let ids: Vec<i64> = if let Ok(id) = target.parse::<i64>() {
            inner.db.document(id)?.map(|d| d.id).into_iter().collect()
        } else {
            let path = absolute_path(Path::new(target));
            inner.db.remove_root(&path)?;
            inner
                .db
                .documents_under(&path)?
                .into_iter()
                .map(|d| d.id)
                .collect()
        };
        if ids.is_empty() {
            return Err(RagError::UnknownDocument(target.to_string()));
        }
        for id in &ids {
            let removed = inner.db.remove_document(*id)?;
            inner.vectors.remove(&removed)?;
        }
        let model = self.embedder.model_id().to_string();
        let Inner { db, vectors } = &mut *inner;
        vectors.save(&model, db)?;
        Ok(ids.len())
    }
}

/// `path` made absolute and canonical when it exists (symlinks resolved),
/// else joined to the current directory.
pub fn absolute_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(path))
                .unwrap_or_else(|_| path.to_path_buf())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn hybrid_search_over_a_fake_embedder_and_scope_by_collection() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("x.md"), "# Ports\n\nThe proxy listens on port 8443.").unwrap();
        std::fs::write(b.join("y.txt"), "Bread needs flour, water and salt.").unwrap();
        let rag = Rag::open(
            &tmp.path().join("index"),
            Arc::new(embed::FakeEmbedder { dimension: 64 }),
        )
        .unwrap();
        let no = AtomicBool::new(false);
        for (dir, col) in [(&a, "work"), (&b, "home")] {
            let opts = IngestOptions {
                collection: col.into(),
                ..Default::default()
            };
            rag.add_blocking(std::slice::from_ref(dir), &opts, &mut |_| {}, &no)
                .unwrap();
        }
        let hits = rag.search("proxy port", &SearchOptions::default()).unwrap();
        assert!(hits[0].chunk.path.ends_with("x.md"));
        assert_eq!(hits[0].chunk.heading, "Ports");
        assert!(hits[0].keyword_rank.is_some() && hits[0].vector_rank.is_some());
        let scoped = SearchOptions {
            collection: Some("home".into()),
            ..SearchOptions::default()
        }
        .ungated();
        let hits = rag.search("proxy port", &scoped).unwrap();
        assert!(hits.iter().all(|h| h.chunk.collection == "home"));
        assert!(matches!(
            rag.search("   ", &SearchOptions::default()),
            Err(RagError::InvalidRequest(_))
        ));
    }
}
