//! A small MCP server over stdio, used by `tests/mcp.rs` to drive the real
//! client against the official SDK's server side. Not part of the product.
//!
//! Tools: `add` (read-only), `echo`, `slow` (sleeps), `fail` (reports a
//! tool error), `crash` (the process exits mid-call) and `env` (read-only:
//! the names of the environment variables it was started with).

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{json, Value};

struct Fixture;

fn schema(v: Value) -> Arc<serde_json::Map<String, Value>> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(serde_json::Map::new()),
    }
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "add",
            "Add two numbers",
            schema(json!({
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            })),
        )
        .annotate(ToolAnnotations::new().read_only(true)),
        Tool::new(
            "echo",
            "Repeat the text",
            schema(json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            })),
        ),
        Tool::new(
            "slow",
            "Sleep for some seconds, then answer",
            schema(json!({
                "type": "object",
                "properties": {"seconds": {"type": "number"}},
                "required": ["seconds"]
            })),
        ),
        Tool::new("fail", "Always fails", schema(json!({"type": "object"}))),
        Tool::new(
            "crash",
            "The server dies",
            schema(json!({"type": "object"})),
        ),
        Tool::new(
            "env",
            "Names of the environment variables this server sees",
            schema(json!({"type": "object"})),
        )
        .annotate(ToolAnnotations::new().read_only(true)),
    ]
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let text = |s: String| Ok(CallToolResult::success(vec![ContentBlock::text(s)]).into());
        match request.name.as_ref() {
            "add" => {
                let a = args["a"].as_f64().unwrap_or(0.0);
                let b = args["b"].as_f64().unwrap_or(0.0);
                text(format!("{}", a + b))
            }
            "echo" => text(args["text"].as_str().unwrap_or_default().to_string()),
            "slow" => {
                let s = args["seconds"].as_f64().unwrap_or(1.0).clamp(0.0, 600.0);
                tokio::time::sleep(Duration::from_secs_f64(s)).await;
                text(format!("slept {s} s"))
            }
            "fail" => {
                Ok(CallToolResult::error(vec![ContentBlock::text("the disk is on fire")]).into())
            }
            "crash" => std::process::exit(3),
            "env" => {
                let mut names: Vec<String> = std::env::vars_os()
                    .map(|(k, _)| k.to_string_lossy().into_owned())
                    .collect();
                names.sort();
                text(names.join("\n"))
            }
            other => Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        }
    }
}

/// Stdio by default; `--http 127.0.0.1:0` serves streamable HTTP at `/mcp`
/// instead and prints the bound address on stdout.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(addr) = args
        .iter()
        .position(|a| a == "--http")
        .and_then(|i| args.get(i + 1))
    {
        use rmcp::transport::streamable_http_server::{
            session::local::LocalSessionManager, StreamableHttpService,
        };
        let service = StreamableHttpService::new(
            || Ok(Fixture),
            Arc::new(LocalSessionManager::default()),
            Default::default(),
        );
        let router = axum::Router::new().nest_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!("{}", listener.local_addr()?);
        axum::serve(listener, router).await?;
        return Ok(());
    }
    let service = Fixture.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
