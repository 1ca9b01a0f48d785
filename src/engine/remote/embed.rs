//! Embeddings from an OpenAI-compatible server (`POST {url}/embeddings`),
//! so the document index can use a remote embedder.
//!
//! Embedding is idempotent, so unlike chat every failed attempt that is
//! retryable (connection, timeout, 429, 5xx) is retried with the same
//! backoff, and answers are checked (count, order, one dimension) before a
//! vector reaches the index. Async; the blocking `rag` adapter runs it on
//! its own thread.

use super::error::RemoteError;
use super::{backoff, RemoteConfig, Shared};
use crate::openai::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse};

/// Inputs per HTTP request: keeps bodies well under servers' limits.
const BATCH: usize = 64;

/// A client for one server and embedding model.
#[derive(Debug)]
pub struct EmbeddingClient {
    shared: Shared,
}

impl EmbeddingClient {
    /// Check the URL and build the client. `config.model` must name the
    /// embedding model: the server's first model is usually its chat model.
    ///
    /// # Errors
    /// `BadUrl` for an unusable URL, or a config without a model.
    pub fn new(config: RemoteConfig) -> Result<Self, RemoteError> {
        if config.model.as_deref().is_none_or(str::is_empty) {
            return Err(RemoteError::BadUrl {
                url: config.url.clone(),
                reason: "remote embeddings need the embedding model's id on that server".into(),
            });
        }
        Ok(Self {
            shared: Shared::new(config)?,
        })
    }

    /// The model id sent to the server.
    pub fn model(&self) -> &str {
        &self.shared.model
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.shared.base
    }

    /// One vector per text, in order, and the prompt tokens the server
    /// reported (0 when it reports none).
    ///
    /// # Errors
    /// Transport, status and protocol errors after the configured retries;
    /// `Protocol` when the answer has the wrong count or mixed lengths.
    pub async fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64), RemoteError> {
        let mut vectors = Vec::with_capacity(texts.len());
        let mut tokens = 0;
        for batch in texts.chunks(BATCH) {
            let (v, t) = self.embed_batch(batch).await?;
            if let (Some(first), Some(new)) = (vectors.first().map(Vec::len), v.first()) {
                if new.len() != first {
                    return Err(self.protocol(format!(
                        "vectors of {} and {} dimensions in one answer",
                        first,
                        new.len()
                    )));
                }
            }
            vectors.extend(v);
            tokens += t;
        }
        Ok((vectors, tokens))
    }

    fn protocol(&self, reason: String) -> RemoteError {
        RemoteError::Protocol {
            url: self.shared.base.clone(),
            reason,
        }
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64), RemoteError> {
        let body = EmbeddingRequest {
            model: Some(self.shared.model.clone()),
            input: EmbeddingInput::Many(texts.to_vec()),
            encoding_format: Some("float".into()),
            dimensions: None,
            user: None,
        };
        let cfg = &self.shared.config;
        let mut attempt = 0u32;
        loop {
            match self.attempt(&body, texts.len()).await {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt < cfg.max_retries => {
                    let delay = backoff(cfg.backoff, attempt, &e);
                    tracing::warn!(attempt, ?delay, error = %e, "remote embeddings: retrying");
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn attempt(
        &self,
        body: &EmbeddingRequest,
        expected: usize,
    ) -> Result<(Vec<Vec<f32>>, u64), RemoteError> {
        let shared = &self.shared;
        let limit = shared.config.response_timeout;
        let send = shared
            .request(shared.http.post(shared.url("embeddings")))
            .json(body)
            .send();
        let res = tokio::time::timeout(limit, send)
            .await
            .map_err(|_| shared.timeout(limit))?
            .map_err(|e| shared.transport(&e))?;
        let res = shared.check(res).await?;
        let answer: EmbeddingResponse = tokio::time::timeout(limit, res.json())
            .await
            .map_err(|_| shared.timeout(limit))?
            .map_err(|e| self.protocol(format!("bad embeddings answer: {e}")))?;
        if answer.data.len() != expected {
            return Err(self.protocol(format!(
                "{} vectors for {expected} inputs",
                answer.data.len()
            )));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
        for d in answer.data {
            let i = d.index as usize;
            let v = d.embedding.into_floats().map_err(|e| self.protocol(e))?;
            match slots.get_mut(i) {
                Some(slot @ None) => *slot = Some(v),
                _ => return Err(self.protocol(format!("bad or repeated index {i}"))),
            }
        }
        let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
        let dim = vectors.first().map_or(0, Vec::len);
        if dim == 0 || vectors.iter().any(|v| v.len() != dim) {
            return Err(self.protocol("empty or mixed-length vectors".into()));
        }
        Ok((vectors, answer.usage.prompt_tokens))
    }
}
