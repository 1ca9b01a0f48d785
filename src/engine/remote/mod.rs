//! The remote backend: chat sent to any OpenAI-compatible server
//! (llama.cpp's `llama-server`, vLLM, Ollama, a hosted API, or another
//! `omnidesk serve`) instead of the local llama.cpp thread.
//!
//! Each generation is a tokio task on the runtime that created the handle.
//! It feeds the same [`GenerationEvent`] channel as the local engine, so
//! streaming, cancelling (a dropped stream aborts the HTTP request) and
//! errors look the same to callers. Connection failures, timeouts, 429 and
//! 5xx answers are retried with exponential backoff, but only until the
//! first text arrived: a retry after that would repeat text. TLS is rustls
//! with the bundled Mozilla roots.

mod embed;
mod encode;
pub mod error;
mod sse;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, Semaphore};

pub use embed::EmbeddingClient;
pub use error::RemoteError;

use super::error::{EngineError, Result};
use super::{
    BackendInfo, Capabilities, FinishReason, GenerateRequest, GenerationEvent, GenerationOutcome,
    GenerationStats, GenerationStream, ModelInfo, QUEUE_CAPACITY,
};
use crate::openai::{ChatCompletionChunk, ChatCompletionRequest, ErrorBody, ModelList};

/// How often a running request checks its cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(25);
/// Longest wait between retries, whatever the backoff or `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where and how to reach the server.
#[derive(Clone, PartialEq)]
pub struct RemoteConfig {
    /// Base URL including the API prefix, e.g. `http://127.0.0.1:8080/v1`.
    pub url: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    /// Model id to request; `None` takes the server's first listed model.
    pub model: Option<String>,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit from sending a request to its response headers.
    pub response_timeout: Duration,
    /// Limit between two chunks of a streamed answer.
    pub idle_timeout: Duration,
    /// Extra attempts after a retryable failure before the first text.
    pub max_retries: u32,
    /// First backoff delay; doubled per attempt.
    pub backoff: Duration,
}

impl RemoteConfig {
    /// Defaults for `url`: 10 s to connect, 5 min to answer (a big prompt
    /// on a busy server), 60 s between chunks, 3 retries from 250 ms.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            model: None,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(60),
            max_retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// Keeps the API key out of logs.
impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// A connected remote backend (shared by every clone of the handle).
#[derive(Debug)]
pub(crate) struct Remote {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    /// In-flight generations, bounded like the local queue.
    slots: Arc<Semaphore>,
}

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    config: RemoteConfig,
    base: String,
    model: String,
}

impl Remote {
    /// Check the URL, build the client, resolve the model id.
    pub(crate) async fn connect(config: RemoteConfig) -> Result<(Self, ModelInfo)> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| EngineError::Backend("the remote backend needs a tokio runtime".into()))?;
        let mut shared = Shared::new(config)?;
        if shared.model.is_empty() {
            shared.model = shared.first_model().await?;
        }
        let info = shared.info();
        Ok((
            Self {
                shared: Arc::new(shared),
                runtime,
                slots: Arc::new(Semaphore::new(QUEUE_CAPACITY + 1)),
            },
            info,
        ))
    }

    /// Start a generation task; events arrive on the returned stream.
    pub(crate) fn generate(&self, request: GenerateRequest) -> Result<GenerationStream> {
        request.sampling.validate()?;
        if request.max_tokens == 0 {
            return Err(EngineError::InvalidRequest("max_tokens must be ≥ 1".into()));
        }
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| EngineError::Busy(QUEUE_CAPACITY))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let shared = self.shared.clone();
        let flag = cancel.clone();
        self.runtime.spawn(async move {
            let _permit = permit;
            let seed = request.sampling.effective_seed();
            let body = match tokio::task::spawn_blocking(move || {
                encode::request(&request, &shared.model).map(|b| (b, shared))
            })
            .await
            {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    let _ = tx.send(GenerationEvent::Failed(e.into()));
                    return;
                }
                Err(e) => {
                    let _ = tx.send(GenerationEvent::Failed(EngineError::Backend(format!(
                        "request encoding failed: {e}"
                    ))));
                    return;
                }
            };
            let (body, shared) = body;
            let run = Run {
                shared: &shared,
                tx: &tx,
                cancel: &flag,
                seed,
            };
            let result = tokio::select! {
                r = run.generate(&body) => r,
                // The caller dropped the stream: dropping the request future
                // closes the connection, which stops the server.
                () = tx.closed() => return,
            };
            let _ = tx.send(match result {
                Ok(outcome) => GenerationEvent::Done(outcome),
                Err(e) => GenerationEvent::Failed(e.into()),
            });
        });
        Ok(GenerationStream::from_parts(rx, cancel))
    }
}

impl Shared {
    /// Check the URL and build the HTTP client; no request is sent.
    fn new(config: RemoteConfig) -> Result<Self, RemoteError> {
        let base = config.url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| RemoteError::BadUrl {
            url: config.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(RemoteError::BadUrl {
                url: config.url.clone(),
                reason: "the scheme must be http or https".into(),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| RemoteError::BadUrl {
                url: config.url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base,
            model: config.model.clone().unwrap_or_default(),
            config,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn request(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.config.api_key {
            Some(k) => builder.bearer_auth(k),
            None => builder,
        }
    }

    async fn first_model(&self) -> Result<String, RemoteError> {
        let url = self.url("models");
        let send = self.request(self.http.get(&url)).send();
        let res = tokio::time::timeout(self.config.response_timeout, send)
            .await
            .map_err(|_| self.timeout(self.config.response_timeout))?
            .map_err(|e| self.transport(&e))?;
        let res = self.check(res).await?;
        let list: ModelList = res.json().await.map_err(|e| RemoteError::Protocol {
            url: url.clone(),
            reason: format!("bad model list: {e}"),
        })?;
        list.data
            .into_iter()
            .next()
            .map(|m| m.id)
            .ok_or(RemoteError::Protocol {
                url,
                reason: "the server lists no models; set [backend] model".into(),
            })
    }

    fn info(&self) -> ModelInfo {
        ModelInfo {
            path: PathBuf::from(format!("{} ({})", self.base, self.model)),
            architecture: "remote".into(),
            name: Some(self.model.clone()),
            n_params: 0,
            size_bytes: 0,
            n_ctx_train: 0,
            n_ctx: 0,
            n_embd: 0,
            n_layer: 0,
            n_vocab: 0,
            n_threads: 0,
            n_gpu_layers: 0,
            chat_template: "applied by the remote server".into(),
            mmproj: None,
            // What the server takes is only known when it answers; let it decide.
            capabilities: Capabilities {
                vision: true,
                audio: true,
                audio_sample_rate: Some(16_000),
            },
            metadata: vec![
                ("backend.kind".into(), "openai".into()),
                ("backend.url".into(), self.base.clone()),
                ("backend.model".into(), self.model.clone()),
            ],
            backend: BackendInfo {
                modules: Default::default(),
                gpu_offload: false,
                devices: Vec::new(),
            },
        }
    }

    fn timeout(&self, limit: Duration) -> RemoteError {
        RemoteError::Timeout {
            url: self.base.clone(),
            seconds: limit.as_secs().max(1),
        }
    }

    fn transport(&self, e: &reqwest::Error) -> RemoteError {
        if e.is_timeout() {
            return self.timeout(self.config.connect_timeout);
        }
        RemoteError::Connect {
            url: self.base.clone(),
            reason: error_chain(e),
        }
    }

    /// Turn an error status into `Status` with the server's own message.
    async fn check(&self, res: reqwest::Response) -> Result<reqwest::Response, RemoteError> {
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = res.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| text.chars().take(300).collect());
        let message = match retry_after {
            Some(s) => format!("{message} (retry after {s} s)"),
            None => message,
        };
        Err(RemoteError::Status {
            url: self.base.clone(),
            status: status.as_u16(),
            message,
        })
    }
}

/// `e` with its sources, since reqwest's top line is often just "error
/// sending request".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// One generation in flight.
struct Run<'a> {
    shared: &'a Shared,
    tx: &'a mpsc::UnboundedSender<GenerationEvent>,
    cancel: &'a AtomicBool,
    seed: u32,
}

/// What one attempt produced.
enum Attempt {
    Finished(GenerationOutcome),
    /// Failed; `streamed` says whether text already went out.
    Failed {
        error: RemoteError,
        streamed: bool,
    },
}

impl Run<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Resolves once the cancel flag is set.
    async fn wait_cancel(&self) {
        let mut tick = tokio::time::interval(CANCEL_POLL);
        loop {
            tick.tick().await;
            if self.cancelled() {
                return;
            }
        }
    }

    fn cancelled_outcome(&self, started: Instant) -> GenerationOutcome {
        GenerationOutcome {
            text: String::new(),
            finish: FinishReason::Cancelled,
            stats: GenerationStats {
                seed: self.seed,
                prompt_ms: super::worker::ms_since(started),
                ..Default::default()
            },
        }
    }

    async fn generate(
        &self,
        body: &ChatCompletionRequest,
    ) -> Result<GenerationOutcome, RemoteError> {
        let started = Instant::now();
        let cfg = &self.shared.config;
        let mut attempt = 0u32;
        let mut announced = false;
        loop {
            let outcome = tokio::select! {
                a = self.attempt(body, started, &mut announced) => a,
                () = self.wait_cancel() => return Ok(self.cancelled_outcome(started)),
            };
            let (error, streamed) = match outcome {
                Attempt::Finished(o) => return Ok(o),
                Attempt::Failed { error, streamed } => (error, streamed),
            };
            if streamed || !error.retryable() || attempt >= cfg.max_retries {
                return Err(error);
            }
            let delay = backoff(cfg.backoff, attempt, &error);
            tracing::warn!(attempt, ?delay, %error, "remote backend: retrying");
            attempt += 1;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.wait_cancel() => return Ok(self.cancelled_outcome(started)),
            }
        }
    }

    async fn attempt(
        &self,
        body: &ChatCompletionRequest,
        started: Instant,
        announced: &mut bool,
    ) -> Attempt {
        let shared = self.shared;
        let cfg = &shared.config;
        let fail = |error| Attempt::Failed {
            error,
            streamed: false,
        };
        let send = shared
            .request(shared.http.post(shared.url("chat/completions")))
            .json(body)
            .send();
        let res = match tokio::time::timeout(cfg.response_timeout, send).await {
            Err(_) => return fail(shared.timeout(cfg.response_timeout)),
            Ok(Err(e)) => return fail(shared.transport(&e)),
            Ok(Ok(res)) => res,
        };
        let res = match shared.check(res).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        if !*announced {
            *announced = true;
            let _ = self.tx.send(GenerationEvent::Started {
                prompt_tokens: 0,
                reused_tokens: 0,
                dropped_messages: 0,
            });
        }
        let mut state = StreamState {
            url: shared.base.clone(),
            text: String::new(),
            chunks: 0,
            finish: None,
            prompt_tokens: None,
            completion_tokens: None,
            first_token_ms: None,
        };
        let mut bytes = res.bytes_stream();
        let mut reader = sse::SseReader::default();
        loop {
            let next = tokio::time::timeout(cfg.idle_timeout, bytes.next()).await;
            let payloads = match next {
                Err(_) => return state.failed(shared.timeout(cfg.idle_timeout)),
                Ok(None) => match reader.finish() {
                    Some(p) => vec![p],
                    None => {
                        return state.failed(RemoteError::Protocol {
                            url: shared.base.clone(),
                            reason: "the stream ended without [DONE]".into(),
                        })
                    }
                },
                Ok(Some(Err(e))) => return state.failed(shared.transport(&e)),
                Ok(Some(Ok(chunk))) => reader.push(&chunk),
            };
            for payload in payloads {
                if payload.trim() == "[DONE]" {
                    return Attempt::Finished(state.outcome(started, self.seed));
                }
                if let Err(error) = state.apply(&payload, shared, self.tx, started) {
                    return state.failed(error);
                }
            }
        }
    }
}

/// Exponential backoff, or the server's `Retry-After` when it gave one.
fn backoff(base: Duration, attempt: u32, error: &RemoteError) -> Duration {
    let asked = match error {
        RemoteError::Status { message, .. } => message
            .rsplit_once("(retry after ")
            .and_then(|(_, s)| s.trim_end_matches(" s)").parse::<u64>().ok())
            .map(Duration::from_secs),
        _ => None,
    };
    asked
        .unwrap_or_else(|| base.saturating_mul(1u32 << attempt.min(16)))
        .min(MAX_BACKOFF)
}

/// What the chunks so far said.
struct StreamState {
    url: String,
    text: String,
    chunks: usize,
    finish: Option<FinishReason>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    first_token_ms: Option<f64>,
}

impl StreamState {
    fn failed(&self, error: RemoteError) -> Attempt {
        let streamed = self.chunks > 0;
        let error = if streamed {
            RemoteError::Interrupted {
                url: self.url.clone(),
                tokens: self.chunks,
                reason: error.to_string(),
            }
        } else {
            error
        };
        Attempt::Failed { error, streamed }
    }

    /// Apply one `data:` payload, forwarding its text.
    fn apply(
        &mut self,
        payload: &str,
        shared: &Shared,
        tx: &mpsc::UnboundedSender<GenerationEvent>,
        started: Instant,
    ) -> Result<(), RemoteError> {
        if let Ok(e) = serde_json::from_str::<ErrorBody>(payload) {
            return Err(RemoteError::Status {
                url: shared.base.clone(),
                status: e
                    .error
                    .code
                    .as_ref()
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(500),
                message: e.error.message,
            });
        }
        let chunk: ChatCompletionChunk =
            serde_json::from_str(payload).map_err(|e| RemoteError::Protocol {
                url: shared.base.clone(),
                reason: format!(
                    "bad chunk ({e}): {}",
                    payload.chars().take(200).collect::<String>()
                ),
            })?;
        if let Some(u) = chunk.usage {
            self.prompt_tokens = Some(u.prompt_tokens);
            self.completion_tokens = Some(u.completion_tokens);
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                if self.first_token_ms.is_none() {
                    self.first_token_ms = Some(super::worker::ms_since(started));
                }
                self.chunks += 1;
                self.text.push_str(&text);
                // A closed receiver is noticed by the task's select.
                let _ = tx.send(GenerationEvent::Token(text));
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(match reason.as_str() {
                    "length" => FinishReason::MaxTokens,
                    _ => FinishReason::Stop,
                });
            }
        }
        Ok(())
    }

    fn outcome(&mut self, started: Instant, seed: u32) -> GenerationOutcome {
        let generated = self
            .completion_tokens
            .map(|n| n as usize)
            .unwrap_or(self.chunks);
        let total_ms = super::worker::ms_since(started);
        // Remote prompt time is only visible as the wait for the first text.
        let prompt_ms = self.first_token_ms.unwrap_or(total_ms);
        let generation_ms = (total_ms - prompt_ms).max(0.0);
        let prompt_tokens = self.prompt_tokens.unwrap_or(0) as usize;
        GenerationOutcome {
            text: std::mem::take(&mut self.text),
            finish: self.finish.unwrap_or(FinishReason::Stop),
            stats: GenerationStats {
                prompt_tokens,
                prompt_evaluated: prompt_tokens,
                generated_tokens: generated,
                time_to_first_token_ms: self.first_token_ms.unwrap_or(0.0),
                prompt_ms,
                generation_ms,
                tokens_per_s: super::worker::per_second(generated, generation_ms),
                seed,
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let e = RemoteError::Connect {
            url: "u".into(),
            reason: "r".into(),
        };
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 0, &e), Duration::from_millis(100));
        assert_eq!(backoff(base, 3, &e), Duration::from_millis(800));
        assert_eq!(backoff(base, 30, &e), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_is_honoured() {
        let e = RemoteError::Status {
            url: "u".into(),
            status: 429,
            message: "busy (retry after 2 s)".into(),
        };
        assert!(e.retryable());
        assert_eq!(
            backoff(Duration::from_millis(1), 0, &e),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn client_errors_are_not_retried() {
        let e = RemoteError::Status {
            url: "u".into(),
            status: 400,
            message: "bad".into(),
        };
        assert!(!e.retryable());
    }
}
