//! Tool calling in the window: the library's call loop with the app's
//! tools (clock, documents, camera, configured MCP servers), the answer
//! streamed into the same chat channel, and consent asked in a dialog:
//! a `consent` event goes out and the loop waits for
//! [`answer_tool_consent`] (or a stop, or a timeout, which decline).

use std::sync::Arc;

use omnidesk::tools::builtin::{CameraTool, DateTimeTool, SearchDocumentsTool};
use omnidesk::tools::mcp::{McpConnection, McpServers};
use omnidesk::tools::run::ToolChoice;
use omnidesk::tools::{
    Consent, ConsentDecision, ConsentGate, ToolCall, ToolOptions, ToolRegistry, ToolSpec,
};
use omnidesk::turn::{TurnTools, CONSENT_TIMEOUT};
use serde::Deserialize;
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use super::chat::ChatEvent;
use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, Docs, ToolConsents};

/// The library's boxed future (`futures_util::future::BoxFuture`).
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What the consent dialog answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ts_rs::TS)]
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

/// The window's tools for one turn, asked about in the dialog.
pub struct WindowTools {
    toolbox: Toolbox,
    gate: ConsentGate,
    require_tool: bool,
}

impl WindowTools {
    /// The library's view of them.
    pub fn turn_tools(&self) -> TurnTools<'_> {
        TurnTools {
            registry: &self.toolbox.registry,
            gate: &self.gate,
            options: ToolOptions {
                tool_choice: if self.require_tool {
                    ToolChoice::Required
                } else {
                    ToolChoice::Auto
                },
                ..ToolOptions::default()
            },
        }
    }

    /// Close the MCP connections.
    pub async fn close(self) {
        for conn in self.toolbox.connections {
            conn.close().await;
        }
    }
}

/// The tools a window turn offers (`only` these, by name, when given), with
/// consent asked through `channel`; a stop (`stop`) declines open questions.
///
/// # Errors
/// `UNKNOWN_TOOL` for a name in `only` that is not offered.
pub async fn window_tools(
    state: &AppState,
    vision: bool,
    only: Option<&[String]>,
    require_tool: bool,
    channel: &Channel<ChatEvent>,
    stop: CancellationToken,
) -> CommandResult<WindowTools> {
    let mut toolbox = toolbox(state, vision, channel).await?;
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
        stop,
    }));
    for tool in state.consents.always() {
        gate.allow_always(&tool);
    }
    Ok(WindowTools {
        toolbox,
        gate,
        require_tool,
    })
}
