//! MCP client: the servers the user configured (`omnidesk mcp add`), their
//! tools offered to the model, and calls forwarded to them.
//!
//! Nothing is spawned or contacted unless it is in the user's server list
//! (`mcp.toml` next to the config file) and tools were asked for. Stdio
//! servers run as child processes that die with their [`McpConnection`];
//! HTTP servers are reached over MCP's streamable HTTP transport.
//!
//! A server's tools count as having side effects (so each call needs
//! consent) unless the user set `trusted = true` for that server, or a
//! local (stdio) server marks them read-only; an HTTP server's own
//! `readOnlyHint` waives nothing (see [`super::consent::mcp_tool_needs_consent`]).
//! Stdio servers start with a minimal environment ([`INHERITED_ENV`] plus
//! their config's `env`), and `mcp.toml` is private to the user.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::service::RunningService;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{Peer, RoleClient, ServiceError, ServiceExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{Result, ToolError};
use super::{Tool, ToolFailure, ToolOutput, ToolRegistry, ToolSpec};

/// File name of the server list, beside `config.toml`.
pub const SERVERS_FILE: &str = "mcp.toml";

/// How long connecting (spawn + handshake + tool list) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "snake_case")]
pub enum McpTransport {
    /// A local program speaking MCP on stdin/stdout.
    Stdio {
        command: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
    /// A streamable HTTP endpoint (`http://…/mcp`).
    Http { url: String },
}

/// One configured server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerConfig {
    /// Name the user refers to it by.
    pub name: String,
    #[serde(flatten)]
    pub transport: McpTransport,
    /// Run its tools without asking (the user vouches for the server).
    #[serde(default)]
    pub trusted: bool,
}

impl McpServerConfig {
    /// One line for `mcp list`.
    pub fn describe(&self) -> String {
        let how = match &self.transport {
            McpTransport::Stdio { command, args, .. } => {
                let mut s = format!("stdio: {command}");
                for a in args {
                    s.push(' ');
                    s.push_str(a);
                }
                s
            }
            McpTransport::Http { url } => format!("http: {url}"),
        };
        if self.trusted {
            format!("{how} (trusted)")
        } else {
            how
        }
    }
}

/// The file's shape: `[[server]]` tables.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ServersFile {
    #[serde(default, rename = "server")]
    servers: Vec<McpServerConfig>,
}

/// The user's server list, read from and written to `path`.
#[derive(Debug, Clone)]
pub struct McpServers {
    path: PathBuf,
    servers: Vec<McpServerConfig>,
}

impl McpServers {
    /// The list beside the config file at `config_path`.
    pub fn path_for_config(config_path: &Path) -> PathBuf {
        config_path
            .parent()
            .map_or_else(|| PathBuf::from(SERVERS_FILE), |d| d.join(SERVERS_FILE))
    }

    /// Read `path`; a missing file is an empty list.
    ///
    /// # Errors
    /// `McpConfig` when the file is unreadable or not a valid list.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| ToolError::McpConfig {
            path: path.to_path_buf(),
            reason,
        };
        let servers = match std::fs::read_to_string(path) {
            Ok(text) => {
                // A list from an older version may be world-readable.
                if let Err(e) = crate::private_file::restrict(path) {
                    tracing::warn!("cannot make {} private: {e}", path.display());
                }
                toml::from_str::<ServersFile>(&text)
                    .map_err(|e| bad(e.to_string()))?
                    .servers
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(bad(e.to_string())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            servers,
        })
    }

    /// Configured servers, in the order they were added.
    pub fn servers(&self) -> &[McpServerConfig] {
        &self.servers
    }

    /// The server called `name`.
    pub fn get(&self, name: &str) -> Option<&McpServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// Add or replace (same name) a server and save.
    ///
    /// # Errors
    /// `McpConfig` for an empty name or when the file cannot be written.
    pub fn add(&mut self, server: McpServerConfig) -> Result<()> {
        if server.name.trim().is_empty() || server.name.contains(char::is_whitespace) {
            return Err(ToolError::McpConfig {
                path: self.path.clone(),
                reason: format!("invalid server name {:?}", server.name),
            });
        }
        match self.servers.iter_mut().find(|s| s.name == server.name) {
            Some(s) => *s = server,
            None => self.servers.push(server),
        }
        self.save()
    }

    /// Remove a server and save.
    ///
    /// # Errors
    /// `NoSuchServer` when it is not configured; `McpConfig` on write failure.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let before = self.servers.len();
        self.servers.retain(|s| s.name != name);
        if self.servers.len() == before {
            return Err(ToolError::NoSuchServer(name.to_string()));
        }
        self.save()
    }

    fn save(&self) -> Result<()> {
        let bad = |reason: String| ToolError::McpConfig {
            path: self.path.clone(),
            reason,
        };
        let text = toml::to_string(&ServersFile {
            servers: self.servers.clone(),
        })
        .map_err(|e| bad(e.to_string()))?;
        // Unique temp file, fsync, rename: a crash never leaves half a
        // list, and the file (which may hold tokens in `env`) is 0600.
        crate::private_file::write_private(&self.path, text.as_bytes())
            .map_err(|e| bad(e.to_string()))
    }
}

/// A live connection to one server. Dropping it stops a stdio server.
pub struct McpConnection {
    name: String,
    service: RunningService<RoleClient, ()>,
    tools: Vec<rmcp::model::Tool>,
    trusted: bool,
    reach: super::consent::ServerReach,
    pid: Option<u32>,
}

impl std::fmt::Debug for McpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpConnection")
            .field("name", &self.name)
            .field("tools", &self.tools.len())
            .field("pid", &self.pid)
            .finish()
    }
}

impl McpConnection {
    /// Start or reach `server`, do the MCP handshake and list its tools.
    ///
    /// # Errors
    /// `McpConnect` when the program cannot start, the handshake fails, or
    /// it takes longer than [`CONNECT_TIMEOUT`].
    pub async fn connect(server: &McpServerConfig) -> Result<Self> {
        let fail = |reason: String| ToolError::McpConnect {
            server: server.name.clone(),
            reason,
        };
        let connecting = async {
            let (service, pid) = match &server.transport {
                McpTransport::Stdio { command, args, env } => {
                    let mut cmd = tokio::process::Command::new(command);
                    cmd.args(args)
                        .env_clear()
                        .envs(inherited_env())
                        .envs(env)
                        .kill_on_drop(true);
                    let (transport, stderr) = TokioChildProcess::builder(cmd)
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .map_err(|e| fail(format!("cannot start {command}: {e}")))?;
                    if let Some(stderr) = stderr {
                        forward_stderr(server.name.clone(), stderr);
                    }
                    let pid = transport.id();
                    let service =
                        ().serve(transport)
                            .await
                            .map_err(|e| fail(format!("handshake failed: {e}")))?;
                    (service, pid)
                }
                McpTransport::Http { url } => {
                    // Without a process-wide provider reqwest 0.13 panics;
                    // an already installed one is fine.
                    let _ = rustls::crypto::ring::default_provider().install_default();
                    let transport = StreamableHttpClientTransport::from_uri(url.as_str());
                    let service =
                        ().serve(transport)
                            .await
                            .map_err(|e| fail(format!("handshake failed: {e}")))?;
                    (service, None)
                }
            };
            let tools = service
                .peer()
                .list_all_tools()
                .await
                .map_err(|e| fail(format!("cannot list tools: {e}")))?;
            Ok(Self {
                name: server.name.clone(),
                service,
                tools,
                trusted: server.trusted,
                reach: match server.transport {
                    McpTransport::Stdio { .. } => super::consent::ServerReach::Local,
                    McpTransport::Http { .. } => super::consent::ServerReach::Network,
                },
                pid,
            })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| fail(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process id of a stdio server.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The tools the server listed, as the model will see them.
    pub fn tools(&self) -> Vec<McpTool> {
        self.tools
            .iter()
            .map(|t| {
                let read_only = t
                    .annotations
                    .as_ref()
                    .and_then(|a| a.read_only_hint)
                    .unwrap_or(false);
                let side_effects =
                    super::consent::mcp_tool_needs_consent(read_only, self.trusted, self.reach);
                McpTool {
                    spec: ToolSpec {
                        name: t.name.to_string(),
                        description: t.description.as_deref().unwrap_or_default().to_string(),
                        parameters: Value::Object((*t.input_schema).clone()),
                        side_effects,
                    },
                    remote_name: t.name.to_string(),
                    server: self.name.clone(),
                    peer: self.service.peer().clone(),
                }
            })
            .collect()
    }

    /// Offer this server's tools in `registry`; a name another tool already
    /// has is offered as `<server>_<tool>`.
    ///
    /// # Errors
    /// `DuplicateTool` when even the prefixed name is taken.
    pub fn register(&self, registry: &mut ToolRegistry) -> Result<()> {
        for mut tool in self.tools() {
            if registry.get(&tool.spec.name).is_some() {
                tool.spec.name = format!("{}_{}", self.name, tool.spec.name);
            }
            registry.add(Arc::new(tool))?;
        }
        Ok(())
    }

    /// End the session (a stdio server is stopped).
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// What a stdio server inherits from us: enough to find programs, a home
/// and the user's language, nothing else (no API keys, tokens or
/// `OMNIDESK_*` settings of the parent). Its config's `env` adds the rest.
pub const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG"];

fn inherited_env() -> impl Iterator<Item = (&'static str, std::ffi::OsString)> {
    INHERITED_ENV
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (*k, v)))
}

/// Send a stdio server's stderr to the log instead of the user's terminal.
fn forward_stderr(server: String, stderr: tokio::process::ChildStderr) {
    use tokio::io::AsyncBufReadExt;
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(server = %server, "{line}");
        }
    });
}

/// One tool of an MCP server, callable by the model.
pub struct McpTool {
    spec: ToolSpec,
    remote_name: String,
    server: String,
    peer: Peer<RoleClient>,
}

impl std::fmt::Debug for McpTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTool")
            .field("name", &self.spec.name)
            .field("server", &self.server)
            .finish()
    }
}

impl Tool for McpTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: Value) -> BoxFuture<'_, std::result::Result<ToolOutput, ToolFailure>> {
        Box::pin(async move {
            let tool = self.spec.name.clone();
            let arguments = match args {
                Value::Object(map) => map,
                Value::Null => Default::default(),
                _ => {
                    return Err(ToolFailure::InvalidArguments {
                        tool,
                        reason: "arguments must be a JSON object".into(),
                    })
                }
            };
            let params =
                CallToolRequestParams::new(self.remote_name.clone()).with_arguments(arguments);
            let result = self.peer.call_tool(params).await.map_err(|e| match e {
                ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                    ToolFailure::ServerGone {
                        tool: tool.clone(),
                        reason: format!("{} ({e})", self.server),
                    }
                }
                other => ToolFailure::Failed {
                    tool: tool.clone(),
                    reason: other.to_string(),
                },
            })?;
            let text = content_text(&result.content, result.structured_content.as_ref());
            if result.is_error == Some(true) {
                return Err(ToolFailure::Failed { tool, reason: text });
            }
            Ok(ToolOutput::text(text))
        })
    }
}

/// A call result as text for the model: text blocks verbatim, other blocks
/// named, structured content as JSON when there is no text.
fn content_text(content: &[ContentBlock], structured: Option<&Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for block in content {
        match block {
            ContentBlock::Text(t) => parts.push(t.text.clone()),
            ContentBlock::Image(_) => parts.push("[an image]".into()),
            ContentBlock::Audio(_) => parts.push("[an audio clip]".into()),
            ContentBlock::Resource(_) => parts.push("[an embedded resource]".into()),
            ContentBlock::ResourceLink(r) => parts.push(format!("[resource {}]", r.uri)),
            _ => parts.push("[unsupported content]".into()),
        }
    }
    if parts.is_empty() {
        if let Some(v) = structured {
            return v.to_string();
        }
    }
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_list_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.toml");
        let mut list = McpServers::load(&path).unwrap();
        assert!(list.servers().is_empty());
        list.add(McpServerConfig {
            name: "files".into(),
            transport: McpTransport::Stdio {
                command: "mcp-files".into(),
                args: vec!["--root".into(), "/tmp".into()],
                env: BTreeMap::new(),
            },
            trusted: false,
        })
        .unwrap();
        list.add(McpServerConfig {
            name: "web".into(),
            transport: McpTransport::Http {
                url: "http://127.0.0.1:9/mcp".into(),
            },
            trusted: true,
        })
        .unwrap();
        let again = McpServers::load(&path).unwrap();
        assert_eq!(again.servers(), list.servers());
        assert_eq!(
            again.get("files").unwrap().describe(),
            "stdio: mcp-files --root /tmp"
        );
        let mut again = again;
        again.remove("files").unwrap();
        assert!(matches!(
            again.remove("files"),
            Err(ToolError::NoSuchServer(_))
        ));
        assert_eq!(McpServers::load(&path).unwrap().servers().len(), 1);
    }

    #[test]
    fn a_broken_list_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.toml");
        std::fs::write(&path, "[[server]]\nname = 1").unwrap();
        assert!(matches!(
            McpServers::load(&path),
            Err(ToolError::McpConfig { .. })
        ));
    }

    #[tokio::test]
    async fn a_missing_program_is_a_connect_error() {
        let server = McpServerConfig {
            name: "nope".into(),
            transport: McpTransport::Stdio {
                command: "/nonexistent/omnidesk-mcp".into(),
                args: Vec::new(),
                env: BTreeMap::new(),
            },
            trusted: false,
        };
        let err = McpConnection::connect(&server).await.unwrap_err();
        assert!(matches!(err, ToolError::McpConnect { .. }), "{err}");
    }
}
