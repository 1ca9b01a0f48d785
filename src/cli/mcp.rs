//! `omnidesk mcp add|list|remove`: the user's MCP server list. Adding a
//! server only records it; nothing is started until `ask --tools` names it.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::{Args, Subcommand};

use omnidesk::tools::mcp::{McpServerConfig, McpServers, McpTransport};

use super::context::Context;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Add (or replace) a server: `mcp add NAME -- PROGRAM ARGS…` for a
    /// local stdio server, or `mcp add NAME --url http://…/mcp`
    Add {
        /// Name to refer to the server by
        name: String,
        /// Streamable HTTP endpoint instead of a program
        #[arg(long, value_name = "URL", conflicts_with = "command")]
        url: Option<String>,
        /// Environment variable for the program (KEY=VALUE); repeatable
        #[arg(long, value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
        env: Vec<String>,
        /// Run its tools without asking each time
        #[arg(long)]
        trusted: bool,
        /// The program and its arguments (after `--`)
        #[arg(last = true, value_name = "PROGRAM")]
        command: Vec<String>,
    },
    /// List configured servers
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a server
    Remove { name: String },
}

/// Run an `mcp` subcommand.
pub fn run(ctx: &Context, args: &McpArgs) -> Result<()> {
    let path = McpServers::path_for_config(&ctx.config_path);
    let mut servers = McpServers::load(&path)?;
    match &args.command {
        McpCommand::Add {
            name,
            url,
            env,
            trusted,
            command,
        } => {
            let transport = match (url, command.split_first()) {
                (Some(url), _) => {
                    anyhow::ensure!(
                        url.starts_with("http://") || url.starts_with("https://"),
                        "--url must be an http(s) URL"
                    );
                    McpTransport::Http { url: url.clone() }
                }
                (None, Some((program, rest))) => {
                    let mut vars = BTreeMap::new();
                    for kv in env {
                        let (k, v) = kv
                            .split_once('=')
                            .ok_or_else(|| anyhow::anyhow!("--env {kv:?} is not KEY=VALUE"))?;
                        vars.insert(k.to_string(), v.to_string());
                    }
                    McpTransport::Stdio {
                        command: program.clone(),
                        args: rest.to_vec(),
                        env: vars,
                    }
                }
                (None, None) => anyhow::bail!("give a program after `--`, or --url"),
            };
            servers.add(McpServerConfig {
                name: name.clone(),
                transport,
                trusted: *trusted,
            })?;
            eprintln!("Added MCP server {name} ({})", path.display());
        }
        McpCommand::List { json } => {
            if *json {
                println!("{}", serde_json::to_string_pretty(servers.servers())?);
            } else if servers.servers().is_empty() {
                println!("No MCP servers configured (add one with `omnidesk mcp add`).");
            } else {
                for s in servers.servers() {
                    println!("{}\t{}", s.name, s.describe());
                }
            }
        }
        McpCommand::Remove { name } => {
            servers.remove(name)?;
            eprintln!("Removed MCP server {name}");
        }
    }
    Ok(())
}
