//! [`RemoteEmbedder`]: the [`Embedder`] of an OpenAI-compatible server
//! (`llama-server`, vLLM, Ollama, another `omnidesk serve`), for users
//! whose documents outgrow their machine's embedding speed.
//!
//! Threading: like [`super::LlamaEmbedder`], one named OS thread owns the
//! HTTP client and a single-threaded tokio runtime; callers on any thread
//! (async or not) send jobs through a bounded channel and block for the
//! answer, so the handle never needs a runtime of its own.

use std::sync::mpsc as std_mpsc;

use super::embed::{normalize, Embedded, Embedder, Overflow};
use super::error::{RagError, Result};
use crate::engine::remote::{EmbeddingClient, RemoteConfig};
use crate::engine::EngineError;

/// Pending requests before callers block.
const QUEUE: usize = 4;

struct Job {
    texts: Vec<String>,
    reply: std_mpsc::SyncSender<Result<Embedded>>,
}

/// Embeddings from a remote server. See the module docs.
#[derive(Debug)]
pub struct RemoteEmbedder {
    jobs: std_mpsc::SyncSender<Job>,
    id: String,
    dimension: usize,
}

impl RemoteEmbedder {
    /// Connect and learn the vector length by embedding one probe text,
    /// so a wrong URL, key or model fails here rather than mid-ingest.
    ///
    /// # Errors
    /// `Embedding(Remote(..))` when the server cannot be reached or
    /// refuses; `EmbedderStopped` if the thread cannot start.
    pub fn connect(config: RemoteConfig) -> Result<Self> {
        let client = EmbeddingClient::new(config).map_err(EngineError::from)?;
        let id = format!("remote:{}:{}", client.url(), client.model());
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let (jobs, job_rx) = std_mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("omnidesk-remote-embed".into())
            .spawn(move || run(client, ready_tx, job_rx))
            .map_err(|e| EngineError::Backend(format!("cannot start embedding thread: {e}")))?;
        let dimension = ready_rx.recv().map_err(|_| RagError::EmbedderStopped)??;
        Ok(Self {
            jobs,
            // The dimension is part of the id: a server that swaps models
            // under the same name still triggers a re-embed.
            id: format!("{id}:{dimension}"),
            dimension,
        })
    }
}

impl Embedder for RemoteEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.embed_counted(texts, Overflow::Truncate)?.vectors)
    }

    /// The server decides about over-long inputs (most cut or refuse them
    /// themselves), so `overflow` is not enforced here.
    fn embed_counted(&self, texts: &[&str], _overflow: Overflow) -> Result<Embedded> {
        super::embed::on_worker(&self.jobs, texts, |texts, reply| Job { texts, reply })
    }
}

/// Thread body: probe, report the dimension, serve jobs until every
/// handle is dropped.
fn run(
    client: EmbeddingClient,
    ready: std_mpsc::SyncSender<Result<usize>>,
    jobs: std_mpsc::Receiver<Job>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(RagError::Io(e)));
            return;
        }
    };
    let embed = |texts: Vec<String>, dimension: Option<usize>| -> Result<Embedded> {
        let (vectors, tokens) = runtime
            .block_on(client.embed(&texts))
            .map_err(EngineError::from)?;
        if let Some(expected) = dimension {
            if let Some(v) = vectors.iter().find(|v| v.len() != expected) {
                return Err(RagError::Dimension {
                    expected,
                    found: v.len(),
                });
            }
        }
        Ok(Embedded {
            // Servers differ in whether they normalise; the index needs
            // unit vectors.
            vectors: vectors.iter().map(|v| normalize(v)).collect(),
            tokens: usize::try_from(tokens).unwrap_or(usize::MAX),
        })
    };
    let dimension = match embed(vec!["dimension probe".into()], None) {
        Ok(e) => e.vectors.first().map_or(0, Vec::len),
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(dimension)).is_err() {
        return;
    }
    while let Ok(job) = jobs.recv() {
        let _ = job.reply.send(embed(job.texts, Some(dimension)));
    }
}
