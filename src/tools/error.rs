//! Errors of tool calling. A failing *tool* is not an error of the loop: it
//! becomes a [`ToolFailure`] the model reads as the call's result, so the
//! conversation goes on. [`ToolError`] is reserved for what stops the loop
//! (the engine failed, the template cannot render, the config is unreadable).

use std::path::PathBuf;

use crate::engine::EngineError;

/// What stopped a tool-calling turn or an MCP configuration command.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The model's Jinja chat template failed to render with tools.
    #[error("the chat template cannot render this conversation: {0}")]
    Template(String),
    /// The chat template ran past its instruction budget (a loop that does
    /// not end, from a hostile or broken GGUF); it was stopped.
    #[error(
        "the chat template did too much work and was stopped (a loop in the model's template?)"
    )]
    TemplateTooExpensive,
    /// A tool's JSON Schema cannot be turned into a grammar.
    #[error("tool {tool:?}: its parameter schema cannot be used: {reason}")]
    Schema { tool: String, reason: String },
    /// Two tools share a name; the model could not tell them apart.
    #[error("two tools are named {0:?}")]
    DuplicateTool(String),
    /// `--tools` named a tool that does not exist.
    #[error("unknown tool {name:?} (available: {available})")]
    UnknownTool { name: String, available: String },
    /// The MCP server list (`mcp.toml`) cannot be read or written.
    #[error("MCP server list {}: {reason}", path.display())]
    McpConfig { path: PathBuf, reason: String },
    /// No configured MCP server has this name.
    #[error("no MCP server named {0:?} is configured (see `omnidesk mcp list`)")]
    NoSuchServer(String),
    /// A configured MCP server could not be started or reached.
    #[error("MCP server {server:?}: {reason}")]
    McpConnect { server: String, reason: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ToolError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::Template(_) => "TOOL_TEMPLATE",
            ToolError::TemplateTooExpensive => "TOOL_TEMPLATE_FUEL",
            ToolError::Schema { .. } => "TOOL_SCHEMA",
            ToolError::DuplicateTool(_) => "TOOL_DUPLICATE",
            ToolError::UnknownTool { .. } => "TOOL_UNKNOWN",
            ToolError::McpConfig { .. } => "MCP_CONFIG",
            ToolError::NoSuchServer(_) => "MCP_NO_SUCH_SERVER",
            ToolError::McpConnect { .. } => "MCP_CONNECT",
            ToolError::Engine(e) => e.code(),
            ToolError::Io(_) => "IO",
        }
    }
}

/// Result with [`ToolError`].
pub type Result<T, E = ToolError> = std::result::Result<T, E>;

/// Why one call produced no result. The model sees the message as the
/// call's output; the user sees it in the transcript and the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolFailure {
    /// The model wrote something that is not a well-formed call.
    #[error("malformed tool call: {0}")]
    Malformed(String),
    /// The model called a tool that is not offered.
    #[error("there is no tool named {name:?}; available tools: {available}")]
    UnknownTool { name: String, available: String },
    /// The arguments do not fit the tool's schema.
    #[error("invalid arguments for {tool}: {reason}")]
    InvalidArguments { tool: String, reason: String },
    /// The user declined the call.
    #[error("the user declined to run {0}")]
    Declined(String),
    /// The tool ran and reported a failure.
    #[error("{tool} failed: {reason}")]
    Failed { tool: String, reason: String },
    /// The tool did not answer in time and was abandoned.
    #[error("{tool} did not finish within {seconds} s")]
    Timeout { tool: String, seconds: u64 },
    /// The MCP server behind the tool went away.
    #[error("the MCP server for {tool} stopped: {reason}")]
    ServerGone { tool: String, reason: String },
}

impl ToolFailure {
    /// Stable code stored with the call.
    pub fn code(&self) -> &'static str {
        match self {
            ToolFailure::Malformed(_) => "MALFORMED_CALL",
            ToolFailure::UnknownTool { .. } => "UNKNOWN_TOOL",
            ToolFailure::InvalidArguments { .. } => "INVALID_ARGUMENTS",
            ToolFailure::Declined(_) => "DECLINED",
            ToolFailure::Failed { .. } => "TOOL_FAILED",
            ToolFailure::Timeout { .. } => "TOOL_TIMEOUT",
            ToolFailure::ServerGone { .. } => "SERVER_GONE",
        }
    }
}
