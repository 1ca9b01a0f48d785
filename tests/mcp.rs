//! The MCP client against a real MCP server (rmcp's server side, built from
//! `examples/mcp_test_server.rs`) over stdio: listing, calling, tool
//! errors, and a server that dies mid-call.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::GenerateRequest;
use omnidesk::tools::mcp::{McpConnection, McpServerConfig, McpTransport};
use omnidesk::tools::{
    ConsentDecision, ConsentGate, ScriptedConsent, ScriptedGenerator, Tool, ToolFailure, ToolLoop,
    ToolOptions, ToolRegistry,
};

fn server() -> McpServerConfig {
    McpServerConfig {
        name: "fixture".into(),
        transport: McpTransport::Stdio {
            command: common::mcp_test_server().display().to_string(),
            args: Vec::new(),
            env: BTreeMap::new(),
        },
        trusted: false,
    }
}

async fn connect() -> McpConnection {
    McpConnection::connect(&server())
        .await
        .expect("the test server starts")
}

fn tool(conn: &McpConnection, name: &str) -> omnidesk::tools::mcp::McpTool {
    conn.tools()
        .into_iter()
        .find(|t| t.spec().name == name)
        .unwrap_or_else(|| panic!("{name} listed"))
}

#[tokio::test]
async fn tools_are_listed_with_schemas_and_side_effects() {
    let conn = connect().await;
    let tools = conn.tools();
    let mut names: Vec<_> = tools.iter().map(|t| t.spec().name.clone()).collect();
    names.sort();
    assert_eq!(names, ["add", "crash", "echo", "env", "fail", "slow"]);
    let add = tool(&conn, "add");
    assert_eq!(add.spec().parameters["required"], json!(["a", "b"]));
    assert!(!add.spec().side_effects, "marked read-only by the server");
    assert!(
        tool(&conn, "echo").spec().side_effects,
        "unmarked tools ask first"
    );
    conn.close().await;
}

#[tokio::test]
async fn calls_return_results_and_tool_errors() {
    let conn = connect().await;
    let out = tool(&conn, "add")
        .call(json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(out.text, "5");
    let out = tool(&conn, "echo")
        .call(json!({"text": "héllo"}))
        .await
        .unwrap();
    assert_eq!(out.text, "héllo");
    let err = tool(&conn, "fail").call(json!({})).await.unwrap_err();
    assert_eq!(
        err,
        ToolFailure::Failed {
            tool: "fail".into(),
            reason: "the disk is on fire".into()
        }
    );
    // The connection still works after a failed call.
    assert_eq!(
        tool(&conn, "add")
            .call(json!({"a": 1, "b": 1}))
            .await
            .unwrap()
            .text,
        "2"
    );
    conn.close().await;
}

#[tokio::test]
async fn killing_the_server_mid_call_gives_a_clean_tool_error() {
    let conn = connect().await;
    let pid = conn.pid().expect("a stdio server has a pid");
    let slow = tool(&conn, "slow");
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
    let started = Instant::now();
    let err = slow.call(json!({"seconds": 60})).await.unwrap_err();
    killer.await.unwrap();
    eprintln!("server death noticed after {:?}: {err}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "noticed promptly, not at the 60 s answer"
    );
    assert!(matches!(err, ToolFailure::ServerGone { .. }), "{err:?}");
    // Later calls fail the same way instead of hanging.
    let again = tool(&conn, "add")
        .call(json!({"a": 1, "b": 2}))
        .await
        .unwrap_err();
    assert!(matches!(again, ToolFailure::ServerGone { .. }), "{again:?}");
}

#[tokio::test]
async fn a_server_crashing_during_a_call_is_a_tool_error_in_the_loop() {
    let conn = connect().await;
    let mut tools = ToolRegistry::new();
    conn.register(&mut tools).unwrap();
    let consent = Arc::new(ScriptedConsent::new([ConsentDecision::Always]));
    let gate = ConsentGate::new(consent.clone());
    let call = |name: &str, args: serde_json::Value| {
        format!(
            "<tool_call>{}</tool_call>",
            json!({"name": name, "arguments": args})
        )
    };
    let script = ScriptedGenerator::new(
        None,
        [
            call("add", json!({"a": 20, "b": 22})),
            call("crash", json!({})),
            "The sum is 42; the other tool broke.".to_string(),
        ],
    );
    let options = ToolOptions {
        call_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let outcome = ToolLoop::new(&script, &tools, &gate, options)
        .run(
            vec![ChatMessage::new(Role::User, "Add 20 and 22, then crash.")],
            &GenerateRequest::new(Vec::new()),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(outcome.text, "The sum is 42; the other tool broke.");
    assert_eq!(outcome.records[0].output, "42");
    assert_eq!(outcome.records[1].error.as_deref(), Some("SERVER_GONE"));
    assert_eq!(consent.asked(), ["crash"], "only the unmarked tool asked");
}

#[tokio::test]
async fn the_same_server_over_streamable_http() {
    use std::io::BufRead;
    /// Kills the server even when an assertion fails first.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut server = Server(
        std::process::Command::new(common::mcp_test_server())
            .args(["--http", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = format!("http://{}/mcp", line.trim());
    let config = McpServerConfig {
        name: "http-fixture".into(),
        transport: McpTransport::Http { url },
        trusted: true,
    };
    let conn = McpConnection::connect(&config)
        .await
        .expect("connects over HTTP");
    assert_eq!(conn.pid(), None);
    assert_eq!(conn.tools().len(), 6);
    assert!(
        !tool(&conn, "echo").spec().side_effects,
        "a trusted server asks nothing"
    );
    let out = tool(&conn, "add")
        .call(json!({"a": 40, "b": 2}))
        .await
        .unwrap();
    assert_eq!(out.text, "42");
    // Untrusted, the network server's own readOnlyHint waives nothing.
    let untrusted = McpConnection::connect(&McpServerConfig {
        trusted: false,
        ..config.clone()
    })
    .await
    .expect("connects over HTTP");
    assert!(
        tool(&untrusted, "add").spec().side_effects,
        "readOnlyHint from an HTTP server still asks"
    );
    untrusted.close().await;
    // The server goes away: the next call is a tool error, not a hang.
    drop(server);
    let started = Instant::now();
    let err = tool(&conn, "add")
        .call(json!({"a": 1, "b": 2}))
        .await
        .unwrap_err();
    eprintln!(
        "HTTP server death noticed after {:?}: {err}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        matches!(
            err,
            ToolFailure::ServerGone { .. } | ToolFailure::Failed { .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stdio_server_sees_only_a_minimal_environment_plus_its_own() {
    use omnidesk::tools::mcp::INHERITED_ENV;
    let mut config = server();
    if let McpTransport::Stdio { env, .. } = &mut config.transport {
        env.insert("FIXTURE_GIVEN".into(), "1".into());
    }
    let conn = McpConnection::connect(&config).await.expect("starts");
    let out = tool(&conn, "env").call(json!({})).await.unwrap();
    let seen: Vec<&str> = out.text.lines().collect();
    let allowed = |k: &str| INHERITED_ENV.contains(&k) || k == "FIXTURE_GIVEN";
    assert!(seen.contains(&"FIXTURE_GIVEN"), "{seen:?}");
    assert!(seen.contains(&"PATH"), "{seen:?}");
    assert!(seen.iter().all(|k| allowed(k)), "leaked: {seen:?}");
    // Not vacuous: this test process has variables the server must not
    // see (cargo's CARGO_*, the test fixtures' OMNIDESK_*, any API keys).
    let parent_only: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .filter(|k| !allowed(k))
        .collect();
    assert!(!parent_only.is_empty());
    assert!(!seen.iter().any(|k| parent_only.iter().any(|p| p == k)));
    // The server's own readOnlyHint is believed from a local program.
    assert!(!tool(&conn, "env").spec().side_effects);
    conn.close().await;
}
