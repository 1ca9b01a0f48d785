//! Sentence embeddings: the [`Embedder`] trait and its llama.cpp
//! implementation, [`LlamaEmbedder`].
//!
//! Threading: a `LlamaEmbedder` starts one named OS thread that owns the
//! embedding `LlamaModel` and its `LlamaContext` (created with embeddings on
//! and the GGUF's own pooling); they never leave it. Callers on any thread
//! send a batch of texts through a bounded channel and block for the
//! vectors, so the handle is `Send + Sync` and cheap to share in an `Arc`.
//! The process-wide llama.cpp backend is shared with the chat engine.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use super::error::{RagError, Result};
use crate::engine::EngineError;
use crate::gguf;

/// Whether an embedding model covers CJK text, judged from its id (the
/// GGUF's name, else its file name): multilingual and Chinese families say so
/// in their names, English-only ones (all-MiniLM, all-mpnet, bge-*-en) do not.
/// A wrong "no" only shifts the fusion toward keywords for such queries.
pub fn covers_cjk(model_id: &str) -> bool {
    let id = model_id.to_ascii_lowercase();
    [
        "multilingual",
        "bge-m3",
        "embeddinggemma",
        "labse",
        "jina-embeddings-v3",
        "qwen3-embedding",
        "-zh",
        "chinese",
        "text2vec",
    ]
    .iter()
    .any(|k| id.contains(k))
}

/// Turns text into unit-length vectors; cosine similarity is then a dot
/// product. Behind a trait so fusion and ranking tests can use a fake.
pub trait Embedder: Send + Sync {
    /// Identifies the model; vectors from different ids are never mixed.
    fn model_id(&self) -> &str;
    /// Length of every vector.
    fn dimension(&self) -> usize;
    /// Whether the model was trained on Chinese/Japanese/Korean text, so
    /// its vectors rank such queries (see [`covers_cjk`]).
    fn covers_cjk(&self) -> bool {
        covers_cjk(self.model_id())
    }
    /// One L2-normalised vector per text, in order.
    ///
    /// # Errors
    /// The model failed, or its thread is gone.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// Like [`Embedder::embed`], and also count the tokens evaluated (for
    /// an API's `usage`). With [`Overflow::Reject`] a text longer than the
    /// model's window is an error instead of being cut: an API client must
    /// not get the vector of a prefix without knowing it.
    ///
    /// The default suits embedders that cannot count: it embeds and
    /// reports 0 tokens.
    ///
    /// # Errors
    /// As `embed`, plus `InputTooLong` under `Overflow::Reject`.
    fn embed_counted(&self, texts: &[&str], overflow: Overflow) -> Result<Embedded> {
        let _ = overflow;
        Ok(Embedded {
            vectors: self.embed(texts)?,
            tokens: 0,
        })
    }
}

/// Hand `texts` to an embedding thread as the job `make` builds and wait
/// for its reply; both embedders own such a thread.
///
/// # Errors
/// `EmbedderStopped` when the thread is gone; the job's own error.
pub(crate) fn on_worker<J>(
    jobs: &std_mpsc::SyncSender<J>,
    texts: &[&str],
    make: impl FnOnce(Vec<String>, std_mpsc::SyncSender<Result<Embedded>>) -> J,
) -> Result<Embedded> {
    if texts.is_empty() {
        return Ok(Embedded::default());
    }
    let (reply, rx) = std_mpsc::sync_channel(1);
    let texts = texts.iter().map(|t| t.to_string()).collect();
    jobs.send(make(texts, reply))
        .map_err(|_| RagError::EmbedderStopped)?;
    rx.recv().map_err(|_| RagError::EmbedderStopped)?
}

/// What to do with a text longer than the model's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Keep its start (document chunks: the chunker already bounds them,
    /// and a prefix vector still finds the chunk).
    #[default]
    Truncate,
    /// Refuse the whole request with `InputTooLong`.
    Reject,
}

/// Vectors plus the number of tokens the model evaluated for them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub tokens: usize,
}

/// Tokens evaluated per llama.cpp call: all sequences of one batch go
/// through a single non-causal ubatch, so this is also the ubatch size.
/// Attention spans the whole ubatch (masked per sequence), so a smaller one
/// wastes less: 1,024 embedded the eval corpus ~15% faster than 2,048 here,
/// and still takes any single text the small models' windows hold.
const BATCH_TOKENS: usize = 1024;
/// Sequences (chunks) packed into one decode.
const MAX_SEQS: usize = 32;
/// Pending requests before callers block.
const QUEUE: usize = 4;

struct Job {
    texts: Vec<String>,
    overflow: Overflow,
    reply: std_mpsc::SyncSender<Result<Embedded>>,
}

/// A llama.cpp embedding model on its own thread. See the module docs.
#[derive(Debug)]
pub struct LlamaEmbedder {
    jobs: std_mpsc::SyncSender<Job>,
    id: String,
    dimension: usize,
    path: PathBuf,
}

impl LlamaEmbedder {
    /// Validate `path` (GGUF header, pooling) and load it on a new thread.
    ///
    /// # Errors
    /// `Embedding(InvalidModel)` for a file that is not a usable GGUF,
    /// `NotAnEmbeddingModel` when it has no pooling (a chat model),
    /// `Embedding(LoadFailed/ContextFailed)` when llama.cpp refuses it.
    pub fn start(path: &Path, threads: Option<u32>) -> Result<Self> {
        let header = gguf::inspect(path).map_err(EngineError::from)?;
        let pooling_key = format!("{}.pooling_type", header.architecture);
        let pooling = header
            .metadata
            .iter()
            .find(|(k, _)| *k == pooling_key)
            .map(|(_, v)| v.trim().to_string());
        match pooling.as_deref() {
            None | Some("0") => {
                return Err(RagError::NotAnEmbeddingModel {
                    path: path.to_path_buf(),
                    reason: format!("no sentence pooling ({pooling_key} missing or none)"),
                })
            }
            Some(_) => {}
        }
        let threads = threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(4)
        });
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let (jobs, job_rx) = std_mpsc::sync_channel(QUEUE);
        let model_path = path.to_path_buf();
        let alive = crate::engine::Alive::new();
        std::thread::Builder::new()
            .name("omnidesk-embed".into())
            .spawn(move || {
                let _alive = alive;
                run(model_path, threads, ready_tx, job_rx)
            })
            .map_err(|e| EngineError::Backend(format!("cannot start embedding thread: {e}")))?;
        let dimension = ready_rx.recv().map_err(|_| RagError::EmbedderStopped)??;
        let name = header.name.clone().unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Self {
            jobs,
            id: format!("{name}:{}:{dimension}", header.file_size),
            dimension,
            path: path.to_path_buf(),
        })
    }

    /// The model file this embedder runs.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Embedder for LlamaEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.embed_counted(texts, Overflow::Truncate)?.vectors)
    }

    fn embed_counted(&self, texts: &[&str], overflow: Overflow) -> Result<Embedded> {
        on_worker(&self.jobs, texts, |texts, reply| Job {
            texts,
            overflow,
            reply,
        })
    }
}

/// Thread body: load, report the dimension, then serve jobs until every
/// handle is dropped.
fn run(
    path: PathBuf,
    threads: u32,
    ready: std_mpsc::SyncSender<Result<usize>>,
    jobs: std_mpsc::Receiver<Job>,
) {
    let loaded = load(&path, threads);
    let (model, params) = match loaded {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let backend = match crate::engine::worker::backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(EngineError::ContextFailed {
                n_ctx: BATCH_TOKENS as u32,
                reason: e.to_string(),
            }
            .into()));
            return;
        }
    };
    let dimension = usize::try_from(model.n_embd()).unwrap_or(0);
    if ready.send(Ok(dimension)).is_err() {
        return;
    }
    // One sequence never exceeds what the model was trained on.
    let max_seq = (model.n_ctx_train() as usize).clamp(8, BATCH_TOKENS);
    // Optional: without it every job takes the main context.
    let mut quick = model.new_context(backend, quick_params()).ok();
    while let Ok(job) = jobs.recv() {
        let short = job.texts.len() == 1 && job.texts[0].len() <= QUICK_BYTES;
        let ctx = match quick.as_mut() {
            Some(q) if short => q,
            _ => &mut ctx,
        };
        let result = embed_all(&model, ctx, &job.texts, (max_seq, job.overflow), dimension);
        let _ = job.reply.send(result);
    }
}

/// A single text of at most this many bytes (a search query) runs on a
/// one-thread context. Splitting a few tokens over OpenMP threads saves a
/// millisecond on an idle machine, but on a busy one the threads' spinning
/// barriers cost seconds: measured on 2 loaded cores (load 10), MiniLM
/// query p95 was 2,224 ms with 2 threads and 14 ms with 1.
const QUICK_BYTES: usize = 256;

/// The one-thread context: room for [`QUICK_BYTES`] bytes as tokens (no
/// tokenizer makes more tokens than bytes) plus special tokens.
fn quick_params() -> LlamaContextParams {
    let n = (QUICK_BYTES + 16) as u32;
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n))
        .with_n_batch(n)
        .with_n_ubatch(n)
        .with_n_seq_max(1)
        .with_n_threads(1)
        .with_n_threads_batch(1)
        .with_embeddings(true)
}

fn load(path: &Path, threads: u32) -> Result<(LlamaModel, LlamaContextParams)> {
    let backend = crate::engine::worker::backend()?;
    let model =
        LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|e| {
            EngineError::LoadFailed {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
    let t = i32::try_from(threads).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(BATCH_TOKENS as u32))
        .with_n_batch(BATCH_TOKENS as u32)
        .with_n_ubatch(BATCH_TOKENS as u32)
        .with_n_seq_max(MAX_SEQS as u32)
        .with_n_threads(t)
        .with_n_threads_batch(t)
        .with_embeddings(true);
    Ok((model, params))
}

/// Tokenise every text (cut to `max_seq` or refused, per `overflow`), pack
/// as many sequences as fit into one decode, and read back one pooled
/// vector per sequence.
fn embed_all(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    texts: &[String],
    (max_seq, overflow): (usize, Overflow),
    dimension: usize,
) -> Result<Embedded> {
    let vocab = model.vocab();
    let mut tokenized: Vec<Vec<LlamaToken>> = Vec::with_capacity(texts.len());
    for (index, t) in texts.iter().enumerate() {
        let mut toks = vocab.tokenize(t.as_bytes(), true, false);
        if toks.len() > max_seq {
            if overflow == Overflow::Reject {
                return Err(RagError::InputTooLong {
                    index,
                    tokens: toks.len(),
                    max: max_seq,
                });
            }
            // Keep the closing separator the model was trained with.
            let last = toks[toks.len() - 1];
            toks.truncate(max_seq - 1);
            toks.push(last);
        }
        tokenized.push(toks);
    }
    let tokens = tokenized.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(texts.len());
    let mut batch = LlamaBatch::new(BATCH_TOKENS, MAX_SEQS as i32);
    let mut start = 0;
    while start < tokenized.len() {
        let mut end = start;
        let mut used = 0;
        while end < tokenized.len()
            && end - start < MAX_SEQS
            && (end == start || used + tokenized[end].len() <= BATCH_TOKENS)
        {
            used += tokenized[end].len();
            end += 1;
        }
        batch.clear();
        for (seq, toks) in tokenized[start..end].iter().enumerate() {
            batch
                .add_sequence(toks, seq as i32, true)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
        }
        ctx.clear_kv_cache();
        ctx.decode(&mut batch)
            .map_err(|e| EngineError::Decode(e.to_string()))?;
        for seq in 0..(end - start) {
            let v = ctx
                .embeddings_seq_ith(seq as i32)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
            if v.len() != dimension {
                return Err(RagError::Dimension {
                    expected: dimension,
                    found: v.len(),
                });
            }
            out.push(normalize(v));
        }
        start = end;
    }
    Ok(Embedded {
        vectors: out,
        tokens,
    })
}

/// Unit length, so cosine similarity is a dot product. A zero vector stays
/// zero rather than becoming NaN.
pub fn normalize(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter().map(|x| x / norm).collect()
    } else {
        vec![0.0; v.len()]
    }
}

/// Dot product of two unit vectors: their cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A deterministic stand-in for tests of ranking logic: bag-of-trigram
/// hashing, so texts sharing words get similar vectors.
#[cfg(test)]
pub(crate) struct FakeEmbedder {
    pub dimension: usize,
}

#[cfg(test)]
impl Embedder for FakeEmbedder {
    fn model_id(&self) -> &str {
        "fake"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let chars: Vec<char> = t.to_lowercase().chars().collect();
                let mut v = vec![0.0f32; self.dimension];
                for w in chars.windows(3) {
                    let h = w
                        .iter()
                        .fold(7u64, |h, c| h.wrapping_mul(31).wrapping_add(*c as u64));
                    v[(h % self.dimension as u64) as usize] += 1.0;
                }
                normalize(&v)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multilingual_models_are_told_from_english_only_ones_by_name() {
        assert!(!covers_cjk("all-MiniLM-L6-v2:45949216:384"));
        assert!(!covers_cjk("all-mpnet-base-v2:1:768"));
        assert!(covers_cjk("paraphrase-multilingual-MiniLM-L12-v2:1:384"));
        assert!(covers_cjk("bge-m3:1:1024"));
        assert!(covers_cjk("embeddinggemma-300m:1:768"));
        assert!(covers_cjk("bge-small-zh-v1.5:1:512"));
    }

    #[test]
    fn normalize_gives_unit_length_and_keeps_zero() {
        let v = normalize(&[3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalize(&[0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn chat_model_is_not_an_embedding_model() {
        let Some(p) = std::env::var_os("OMNIDESK_TEST_MODEL") else {
            return;
        };
        let err = LlamaEmbedder::start(Path::new(&p), Some(1)).unwrap_err();
        assert!(matches!(err, RagError::NotAnEmbeddingModel { .. }), "{err}");
    }
}
