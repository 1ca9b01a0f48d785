//! `omnidesk ask --tools …`: which tools a question may call (built-ins plus
//! configured MCP servers) and consent asked on the terminal; the turn
//! itself (calls, answer, storing them) is the library's.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use futures_util::future::BoxFuture;

use omnidesk::camera::{FakeSource, FrameSource, NokhwaSource};
use omnidesk::tools::builtin::{CameraTool, DateTimeTool, ReadFileTool, SearchDocumentsTool};
use omnidesk::tools::mcp::{McpConnection, McpServers};
use omnidesk::tools::run::ToolChoice;
use omnidesk::tools::{
    Consent, ConsentDecision, ConsentGate, ToolCall, ToolOptions, ToolRegistry, ToolSpec,
};
use omnidesk::turn::TurnTools;

use super::args::AskArgs;
use super::context::Context;

/// Flags of `ask` for tool calling.
#[derive(Debug, Args)]
pub struct ToolArgs {
    /// Let the model call tools: a comma-separated list of tool names
    /// (current_datetime, search_documents, read_file, camera_snapshot, or a
    /// tool of a configured MCP server), `mcp:SERVER` for all of a server's
    /// tools, or `all`
    #[arg(long, value_name = "LIST")]
    pub tools: Option<String>,
    /// A file (or folder) the read_file tool may read; repeatable
    #[arg(long, value_name = "PATH", action = clap::ArgAction::Append)]
    pub allow_file: Vec<PathBuf>,
    /// Run this tool without asking each time; repeatable
    #[arg(long, value_name = "NAME", action = clap::ArgAction::Append)]
    pub allow_tool: Vec<String>,
    /// Model generations per question at most, tool calls included
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_steps: usize,
    /// Seconds one tool call may take before it is abandoned
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub tool_timeout: u64,
    /// Make the first answer a tool call (grammar-enforced)
    #[arg(long)]
    pub require_tool: bool,
    /// Render prompts with this Jinja chat template instead of the model's
    #[arg(long, value_name = "FILE")]
    pub tool_template: Option<PathBuf>,
}

/// Asks on the terminal: `y` once, `a` always for this tool, anything else
/// declines. Without a terminal nothing can be asked, so it declines.
struct TerminalConsent;

impl Consent for TerminalConsent {
    fn ask<'a>(&'a self, call: &'a ToolCall, spec: &'a ToolSpec) -> BoxFuture<'a, ConsentDecision> {
        let prompt = format!(
            "\nThe model wants to run {} with {}.\nAllow? [y]es / [a]lways for this tool / [N]o: ",
            spec.name, call.arguments
        );
        Box::pin(async move {
            if !std::io::stdin().is_terminal() {
                eprintln!("\n{} needs your consent, but there is no terminal to ask on; declined (see --allow-tool)", spec.name);
                return ConsentDecision::Deny;
            }
            let answer = tokio::task::spawn_blocking(move || {
                eprint!("{prompt}");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).map(|_| line)
            })
            .await;
            parse_answer(answer.ok().and_then(|r| r.ok()).as_deref().unwrap_or(""))
        })
    }
}

/// `y`/`yes` → once, `a`/`always` → always, anything else → deny.
fn parse_answer(line: &str) -> ConsentDecision {
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => ConsentDecision::Once,
        "a" | "always" => ConsentDecision::Always,
        _ => ConsentDecision::Deny,
    }
}

/// The offered tools, who consents, and the MCP connections behind some.
pub struct Toolbox {
    registry: ToolRegistry,
    gate: ConsentGate,
    connections: Vec<McpConnection>,
}

/// Build what `--tools` asks for. MCP servers are started only when named
/// (`mcp:NAME`, one of their tools, or `all`).
pub async fn toolbox(ctx: &Context, args: &AskArgs, list: &str, vision: bool) -> Result<Toolbox> {
    let wanted: Vec<String> = list
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    anyhow::ensure!(
        !wanted.is_empty(),
        "--tools needs at least one tool name (or all)"
    );
    let all = wanted.iter().any(|w| w == "all");
    let wants = |name: &str| all || wanted.iter().any(|w| w == name);
    let mut available = ToolRegistry::new();
    available.add(Arc::new(DateTimeTool::default()))?;
    if wants("read_file") {
        anyhow::ensure!(
            !args.tools.allow_file.is_empty() || all,
            "read_file needs --allow-file PATH: the model may only read files you pick"
        );
        if !args.tools.allow_file.is_empty() {
            available.add(Arc::new(ReadFileTool::new(&args.tools.allow_file)))?;
        }
    }
    if wants("search_documents") {
        match ctx.open_rag(&args.embed) {
            Ok(rag) => available.add(Arc::new(SearchDocumentsTool::new(rag)))?,
            Err(e) if all => eprintln!("note: search_documents is unavailable: {e:#}"),
            Err(e) => return Err(e),
        }
    }
    let source: Arc<dyn FrameSource> = if args.fake_camera {
        Arc::new(FakeSource)
    } else {
        Arc::new(NokhwaSource)
    };
    available.add(Arc::new(CameraTool::new(source, args.camera_index, vision)))?;

    let servers = McpServers::load(&McpServers::path_for_config(&ctx.config_path))?;
    let mut connections = Vec::new();
    let mut selected: Vec<String> = wanted
        .iter()
        .filter(|w| !w.starts_with("mcp:"))
        .cloned()
        .collect();
    for server in servers.servers() {
        let by_prefix = wanted.iter().any(|w| *w == format!("mcp:{}", server.name));
        // A bare tool name may belong to a server; connect to find out only
        // when no built-in has it.
        let unknown_names = selected
            .iter()
            .any(|w| w != "all" && available.get(w).is_none());
        if !(all || by_prefix || unknown_names) {
            continue;
        }
        eprintln!("Connecting to MCP server {}…", server.name);
        let conn = McpConnection::connect(server).await?;
        if by_prefix {
            selected.extend(conn.tools().iter().map(|t| {
                use omnidesk::tools::Tool as _;
                t.spec().name.clone()
            }));
        }
        conn.register(&mut available)?;
        connections.push(conn);
    }
    for w in wanted.iter().filter(|w| w.starts_with("mcp:")) {
        let name = &w[4..];
        anyhow::ensure!(
            servers.get(name).is_some(),
            "no MCP server named {name:?} is configured (see `omnidesk mcp list`)"
        );
    }
    let registry = available.select(&selected)?;
    let gate = ConsentGate::new(Arc::new(TerminalConsent));
    for name in &args.tools.allow_tool {
        gate.allow_always(name);
    }
    Ok(Toolbox {
        registry,
        gate,
        connections,
    })
}

impl Toolbox {
    /// The tools for one turn: this registry, consent asked on the
    /// terminal (`--allow-tool` names are allowed up front), the flags'
    /// limits and template.
    pub fn turn_tools(&self, args: &AskArgs) -> Result<TurnTools<'_>> {
        let template = match &args.tools.tool_template {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the template {}", p.display()))?,
            ),
            None => None,
        };
        Ok(TurnTools {
            registry: &self.registry,
            gate: &self.gate,
            options: ToolOptions {
                max_steps: args.tools.max_steps,
                call_timeout: Duration::from_secs(args.tools.tool_timeout.max(1)),
                tool_choice: if args.tools.require_tool {
                    ToolChoice::Required
                } else {
                    ToolChoice::Auto
                },
                template,
                parallel_calls: false,
            },
        })
    }

    /// Close the MCP connections.
    pub async fn close(self) {
        for conn in self.connections {
            conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_answers() {
        assert_eq!(parse_answer("y\n"), ConsentDecision::Once);
        assert_eq!(parse_answer(" Always "), ConsentDecision::Always);
        assert_eq!(parse_answer(""), ConsentDecision::Deny);
        assert_eq!(parse_answer("no"), ConsentDecision::Deny);
    }
}
