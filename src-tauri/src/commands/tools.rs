//! Tool calling in the window: the library's call loop with the app's
//! tools (clock, documents, camera, configured MCP servers), the answer
//! streamed into the same chat channel, and consent asked in a dialog:
//! a `consent` event goes out and the loop waits for
//! [`answer_tool_consent`] (or a stop, or a timeout, which decline).

use std::sync::Arc;
use std::time::Duration;

use omnidesk::chat::ChatMessage;
use omnidesk::engine::{
    ConstrainedRequest, EngineError, EngineHandle, GenerateRequest, GenerationEvent,
    GenerationOutcome,
};
use omnidesk::tools::builtin::{CameraTool, DateTimeTool, SearchDocumentsTool};
use omnidesk::tools::mcp::{McpConnection, McpServers};
use omnidesk::tools::run::{EarlierCalls, ToolChoice};
use omnidesk::tools::{
    Consent, ConsentDecision, ConsentGate, Generator, ToolCall, ToolEvent, ToolLoop, ToolOptions,
    ToolRecord, ToolRegistry, ToolSpec,
};
use serde::Deserialize;
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use super::chat::ChatEvent;
use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, Docs, ToolConsents};

/// The library's boxed future (`futures_util::future::BoxFuture`).
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// How long the dialog waits for an answer before declining.
const CONSENT_TIMEOUT: Duration = Duration::from_secs(300);

/// What the consent dialog answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsentAnswer {
    Once,
    Always,
    Deny,
}

/// Answer consent question `request_id` (from a `consent` event).
#[tauri::command]
pub async fn answer_tool_consent(
    state: State<'_, AppState>,
    request_id: u64,
    answer: ConsentAnswer,
) -> CommandResult<()> {
    state.consents.answer(
        request_id,
        match answer {
            ConsentAnswer::Once => ConsentDecision::Once,
            ConsentAnswer::Always => ConsentDecision::Always,
            ConsentAnswer::Deny => ConsentDecision::Deny,
        },
    )
}

/// Asks in the window through the chat channel.
struct DialogConsent {
    consents: ToolConsents,
    channel: Channel<ChatEvent>,
    stop: CancellationToken,
}

impl Consent for DialogConsent {
    fn ask<'a>(&'a self, call: &'a ToolCall, spec: &'a ToolSpec) -> BoxFuture<'a, ConsentDecision> {
        Box::pin(async move {
            let (id, answer) = self.consents.ask();
            let sent = self.channel.send(ChatEvent::Consent {
                request_id: id,
                tool: spec.name.clone(),
                description: spec.description.clone(),
                arguments: call.arguments.clone(),
            });
            if sent.is_err() {
                self.consents.forget(id);
                return ConsentDecision::Deny;
            }
            let decision = tokio::select! {
                a = answer => a.unwrap_or(ConsentDecision::Deny),
                () = self.stop.cancelled() => ConsentDecision::Deny,
                () = tokio::time::sleep(CONSENT_TIMEOUT) => ConsentDecision::Deny,
            };
            self.consents.forget(id);
            if decision == ConsentDecision::Always {
                self.consents.allow_always(&spec.name);
            }
            decision
        })
    }
}

/// The engine, with every generation of the turn stopped by one token.
struct Stoppable {
    engine: EngineHandle,
    stop: CancellationToken,
}

impl Generator for Stoppable {
    fn chat_template(&self) -> Option<String> {
        Generator::chat_template(&self.engine)
    }

    fn generate<'a>(
        &'a self,
        request: ConstrainedRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, Result<GenerationOutcome, EngineError>> {
        Box::pin(async move {
            let mut stream = self.engine.generate_constrained(request)?;
            let token = stream.cancel_token();
            let stop = self.stop.clone();
            let watcher = tauri::async_runtime::spawn(async move {
                stop.cancelled().await;
                token.cancel();
            });
            let mut result = Err(EngineError::Stopped);
            while let Some(ev) = stream.next().await {
                match ev {
                    GenerationEvent::Token(t) => on_text(&t),
                    GenerationEvent::Done(o) => {
                        result = Ok(o);
                        break;
                    }
                    GenerationEvent::Failed(e) => {
                        result = Err(e);
                        break;
                    }
                    GenerationEvent::Started { .. } => {}
                }
            }
            watcher.abort();
            result
        })
    }
}

/// The tools offered in the window, and the MCP connections behind some.
struct Toolbox {
    registry: ToolRegistry,
    connections: Vec<McpConnection>,
}

/// Clock and camera always; documents when an embedding model is set up;
/// every configured MCP server (one that cannot start is reported and
/// left out). Files are not offered: the window has no way yet to pick
/// which ones the model may read.
async fn toolbox(
    state: &AppState,
    vision: bool,
    channel: &Channel<ChatEvent>,
) -> CommandResult<Toolbox> {
    let mut registry = ToolRegistry::new();
    registry.add(Arc::new(DateTimeTool::default()))?;
    if Docs::model(&state.settings).is_some() {
        match state.docs.open(&state.settings).await {
            Ok(rag) => registry.add(Arc::new(SearchDocumentsTool::new(rag)))?,
            Err(e) => notice(channel, &e, "searching your documents is unavailable"),
        }
    }
    registry.add(Arc::new(CameraTool::new(state.capture.camera(), 0, vision)))?;
    let path = McpServers::path_for_config(&state.settings.config_path);
    let servers = McpServers::load(&path)?;
    let mut connections = Vec::new();
    for server in servers.servers() {
        match McpConnection::connect(server).await {
            Ok(conn) => match conn.register(&mut registry) {
                Ok(()) => connections.push(conn),
                Err(e) => {
                    notice(channel, &e.into(), &format!("MCP server {}", server.name));
                    conn.close().await;
                }
            },
            Err(e) => notice(channel, &e.into(), &format!("MCP server {}", server.name)),
        }
    }
    Ok(Toolbox {
        registry,
        connections,
    })
}

fn notice(channel: &Channel<ChatEvent>, e: &CommandError, what: &str) {
    let _ = channel.send(ChatEvent::Notice {
        code: e.code,
        message: format!("{what}: {}", e.message),
    });
}

/// How a tool-calling turn ended, ready to be stored.
pub struct ToolTurn {
    pub outcome: GenerationOutcome,
    pub records: Vec<ToolRecord>,
}

/// One question to answer with tools.
pub struct ToolTurnRequest<'a> {
    pub engine: EngineHandle,
    /// The conversation, ending with the question.
    pub messages: Vec<ChatMessage>,
    /// Calls made earlier in the conversation, replayed to the model.
    pub earlier: &'a [EarlierCalls],
    /// Sampling and limits.
    pub request: GenerateRequest,
    /// Offer only these tools; all when `None`.
    pub only: Option<&'a [String]>,
    pub require_tool: bool,
}

/// Answer the last of the messages with tools, streaming answer text (and,
/// through `on_text`, to the narrator), calls and results to `channel`.
///
/// # Errors
/// `REMOTE_BACKEND` when the engine is remote, `UNKNOWN_TOOL` for a name
/// in `only` that is not offered; the loop's errors.
pub async fn answer_with_tools(
    state: &AppState,
    turn: ToolTurnRequest<'_>,
    channel: &Channel<ChatEvent>,
    on_text: &mut (dyn FnMut(&str) + Send),
) -> CommandResult<ToolTurn> {
    let ToolTurnRequest {
        engine,
        messages,
        earlier,
        request,
        only,
        require_tool,
    } = turn;
    if engine.is_remote() {
        return Err(CommandError::new(
            "REMOTE_BACKEND",
            "tools need the model on this computer; the remote backend cannot call them",
        ));
    }
    let stop = CancellationToken::new();
    let guard = state.generations.register_turn(stop.clone());
    let _ = channel.send(ChatEvent::Started {
        generation_id: guard.id,
        prompt_tokens: 0,
        reused_tokens: 0,
        dropped_messages: 0,
    });
    let mut toolbox = toolbox(state, engine.info().capabilities.vision, channel).await?;
    if let Some(names) = only {
        match toolbox.registry.select(names) {
            Ok(selected) => toolbox.registry = selected,
            Err(e) => {
                for conn in toolbox.connections {
                    conn.close().await;
                }
                return Err(e.into());
            }
        }
    }
    let gate = ConsentGate::new(Arc::new(DialogConsent {
        consents: state.consents.clone(),
        channel: channel.clone(),
        stop: stop.clone(),
    }));
    for tool in state.consents.always() {
        gate.allow_always(&tool);
    }
    let generator = Stoppable { engine, stop };
    let options = ToolOptions {
        tool_choice: if require_tool {
            ToolChoice::Required
        } else {
            ToolChoice::Auto
        },
        ..ToolOptions::default()
    };
    let tool_loop = ToolLoop::new(&generator, &toolbox.registry, &gate, options);
    let mut forward = |ev: ToolEvent| {
        let sent = match ev {
            ToolEvent::Token(text) => {
                on_text(&text);
                channel.send(ChatEvent::Token { text })
            }
            ToolEvent::Call(call) => channel.send(ChatEvent::ToolCall {
                call_id: call.id,
                name: call.name,
                arguments: call.arguments,
            }),
            ToolEvent::Result(r) => channel.send(ChatEvent::ToolResult {
                call_id: r.call.id,
                name: r.call.name,
                output: r.output,
                error: r.error,
                duration_ms: r.duration_ms,
            }),
            ToolEvent::Step(_) => Ok(()),
        };
        if sent.is_err() {
            // The window stopped listening: stop spending the engine on it.
            state.generations.stop(Some(guard.id));
        }
    };
    let result = tool_loop
        .run_continuing(messages, earlier, &request, &mut forward)
        .await;
    for conn in toolbox.connections {
        conn.close().await;
    }
    let run = result?;
    if run.step_limit_reached {
        let _ = channel.send(ChatEvent::Notice {
            code: "STEP_LIMIT",
            message: format!(
                "the model still wanted tools after {} steps; it was stopped there",
                run.steps
            ),
        });
    }
    Ok(ToolTurn {
        outcome: GenerationOutcome {
            text: run.text,
            finish: run.last.finish,
            stats: run.last.stats,
        },
        records: run.records,
    })
}
