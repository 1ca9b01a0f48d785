//! Streaming answers as server-sent events: one `data: {chunk}` per token,
//! a final chunk with `finish_reason`, optionally a usage chunk, then
//! `data: [DONE]`.
//!
//! The SSE body owns the [`GenerationStream`]: when a client disconnects,
//! hyper drops the body, the stream is dropped with it, and the engine
//! cancels the generation before its next token.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::OwnedSemaphorePermit;

use super::error::ApiError;
use super::types::{finish_reason, usage};
use crate::engine::{GenerationEvent, GenerationStream};
use crate::openai::{ChatCompletionChunk, ChunkChoice, Delta};

/// Identity shared by every chunk of one answer.
#[derive(Debug, Clone)]
pub struct ChunkMeta {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub include_usage: bool,
}

impl ChunkMeta {
    fn chunk(&self, delta: Delta, finish: Option<&str>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish.map(str::to_string),
            }],
            usage: None,
        }
    }
}

/// The body's state: events ready to send, and the generation while it runs.
struct State {
    pending: VecDeque<Event>,
    /// `None` once `Done`/`Failed` arrived.
    stream: Option<GenerationStream>,
    meta: ChunkMeta,
    /// The server slot this request holds, released with the body.
    _slot: OwnedSemaphorePermit,
}

/// The SSE response for a generation whose first event (`first`) the
/// handler already received, so that errors before any output can still be
/// answered with a proper HTTP status.
pub fn response(
    first: GenerationEvent,
    stream: GenerationStream,
    meta: ChunkMeta,
    slot: OwnedSemaphorePermit,
) -> Response {
    let mut state = State {
        pending: VecDeque::new(),
        stream: Some(stream),
        meta,
        _slot: slot,
    };
    state.push(first);
    let body = stream::unfold(state, |mut state| async move {
        loop {
            if let Some(ev) = state.pending.pop_front() {
                return Some((Ok::<_, Infallible>(ev), state));
            }
            let next = state.stream.as_mut()?.next().await;
            match next {
                Some(ev) => state.push(ev),
                None => {
                    let e = ApiError::from(crate::engine::EngineError::Stopped);
                    state.pending.push_back(error_event(&e));
                    state.stream = None;
                }
            }
        }
    });
    Sse::new(body).into_response()
}

impl State {
    fn push(&mut self, ev: GenerationEvent) {
        let out = events_for(ev, &self.meta);
        self.pending.extend(out.events);
        if out.terminal {
            self.stream = None;
        }
    }
}

/// Events produced by one engine event.
struct Output {
    events: Vec<Event>,
    terminal: bool,
}

impl Output {
    fn terminal(events: Vec<Event>) -> Self {
        Self {
            events,
            terminal: true,
        }
    }
}

fn data(chunk: &ChatCompletionChunk) -> Event {
    Event::default().data(serde_json::to_string(chunk).unwrap_or_default())
}

fn error_event(e: &ApiError) -> Event {
    Event::default().data(serde_json::to_string(&e.body()).unwrap_or_default())
}

fn events_for(ev: GenerationEvent, meta: &ChunkMeta) -> Output {
    match ev {
        GenerationEvent::Started { .. } => Output {
            events: vec![data(&meta.chunk(
                Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                },
                None,
            ))],
            terminal: false,
        },
        GenerationEvent::Token(text) => Output {
            events: vec![data(&meta.chunk(
                Delta {
                    role: None,
                    content: Some(text),
                },
                None,
            ))],
            terminal: false,
        },
        GenerationEvent::Done(outcome) => {
            let mut events = vec![data(
                &meta.chunk(Delta::default(), Some(finish_reason(outcome.finish))),
            )];
            if meta.include_usage {
                let mut last = meta.chunk(Delta::default(), None);
                last.choices.clear();
                last.usage = Some(usage(&outcome));
                events.push(data(&last));
            }
            events.push(Event::default().data("[DONE]"));
            Output::terminal(events)
        }
        GenerationEvent::Failed(e) => Output::terminal(vec![error_event(&ApiError::from(e))]),
    }
}
