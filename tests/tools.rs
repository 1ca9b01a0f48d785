//! Tool calling end to end: the call loop with scripted model outputs fed
//! through the real parser (while the real llama.cpp prompt rendering and
//! grammar compilation run on the real test model), and the real model
//! making grammar-constrained calls.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::segments::strip;
use omnidesk::engine::{
    ConstrainedRequest, EngineError, EngineHandle, GenerateRequest, GenerationOutcome,
};
use omnidesk::tools::builtin::DateTimeTool;
use omnidesk::tools::run::{EarlierCalls, ToolChoice};
use omnidesk::tools::{
    ConsentDecision, ConsentGate, Generator, ScriptedConsent, ScriptedGenerator, Tool, ToolCall,
    ToolEvent, ToolFailure, ToolLoop, ToolOptions, ToolOutput, ToolRecord, ToolRegistry,
    ToolRunOutcome, ToolSpec,
};

/// A tool whose behaviour the test picks.
struct Fake {
    spec: ToolSpec,
    behaviour: Behaviour,
    calls: Mutex<Vec<Value>>,
}

#[derive(Clone, Copy)]
enum Behaviour {
    Answer,
    Fail,
    Hang,
    Panic,
}

impl Fake {
    fn new(name: &str, side_effects: bool, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            spec: ToolSpec {
                name: name.into(),
                description: format!("The {name} tool"),
                parameters: json!({
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"]
                }),
                side_effects,
            },
            behaviour,
            calls: Mutex::new(Vec::new()),
        })
    }
}

impl Tool for Fake {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: Value) -> BoxFuture<'_, Result<ToolOutput, ToolFailure>> {
        self.calls.lock().unwrap().push(args.clone());
        let behaviour = self.behaviour;
        let name = self.spec.name.clone();
        Box::pin(async move {
            match behaviour {
                Behaviour::Answer => Ok(ToolOutput::text(format!(
                    "Sunny in {}",
                    args["city"].as_str().unwrap_or("?")
                ))),
                Behaviour::Fail => Err(ToolFailure::Failed {
                    tool: name,
                    reason: "the weather service is down".into(),
                }),
                Behaviour::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(ToolOutput::text("never"))
                }
                Behaviour::Panic => panic!("tool bug"),
            }
        })
    }
}

fn registry(tools: Vec<Arc<dyn Tool>>) -> ToolRegistry {
    let mut r = ToolRegistry::new();
    for t in tools {
        r.add(t).unwrap();
    }
    r
}

fn call(name: &str, args: Value) -> String {
    format!(
        "<tool_call>\n{}\n</tool_call>",
        json!({"name": name, "arguments": args})
    )
}

fn question(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::new(Role::User, text)]
}

async fn run(
    generator: &dyn Generator,
    tools: &ToolRegistry,
    gate: &ConsentGate,
    options: ToolOptions,
) -> (ToolRunOutcome, Vec<ToolEvent>) {
    let mut events = Vec::new();
    let request = GenerateRequest::new(Vec::new());
    let outcome = ToolLoop::new(generator, tools, gate, options)
        .run(question("Weather in Oslo?"), &request, &mut |e| {
            events.push(e)
        })
        .await
        .expect("the loop finishes");
    (outcome, events)
}

fn no_consent() -> ConsentGate {
    ConsentGate::new(Arc::new(ScriptedConsent::new([])))
}

/// Scripted outputs, but every prompt first goes through the real engine:
/// llama.cpp renders the template, tokenizes, compiles the grammar and
/// generates one token, so a prompt or grammar it rejects fails the test.
struct EngineChecked {
    engine: EngineHandle,
    script: ScriptedGenerator,
    prompt_tokens: Mutex<Vec<usize>>,
}

impl Generator for EngineChecked {
    fn chat_template(&self) -> Option<String> {
        self.script.chat_template()
    }

    fn generate<'a>(
        &'a self,
        mut request: ConstrainedRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, Result<GenerationOutcome, EngineError>> {
        Box::pin(async move {
            let mut real = request.clone();
            real.request.max_tokens = 1;
            real.request.sampling = common::greedy();
            let outcome = self.engine.generate_constrained(real)?.finish().await?;
            self.prompt_tokens
                .lock()
                .unwrap()
                .push(outcome.stats.prompt_tokens);
            request.request.max_tokens = 1;
            self.script.generate(request, on_text).await
        })
    }
}

#[tokio::test]
async fn a_call_is_run_and_its_result_fed_back_through_the_real_template() {
    let engine = common::engine(2048).await;
    let weather = Fake::new("weather", false, Behaviour::Answer);
    let tools = registry(vec![weather.clone()]);
    let generator = EngineChecked {
        engine,
        script: ScriptedGenerator::new(
            None,
            [
                format!("Let me check. {}", call("weather", json!({"city": "Oslo"}))),
                "It is sunny in Oslo.".to_string(),
            ],
        ),
        prompt_tokens: Mutex::new(Vec::new()),
    };
    let (outcome, events) = run(&generator, &tools, &no_consent(), ToolOptions::default()).await;
    assert_eq!(outcome.text, "It is sunny in Oslo.");
    assert_eq!(
        outcome.prompt_mode, "system-prompt",
        "Gemma's GGUF has no tool template"
    );
    assert_eq!(outcome.steps, 2);
    assert_eq!(outcome.records.len(), 1);
    let r = &outcome.records[0];
    assert_eq!(r.call.name, "weather");
    assert_eq!(r.call.id, "call_0_0");
    assert_eq!(r.output, "Sunny in Oslo");
    assert_eq!(r.error, None);
    assert_eq!(
        *weather.calls.lock().unwrap(),
        vec![json!({"city": "Oslo"})]
    );

    // What the model saw: tools in the system prompt, then its call and the result.
    let requests = generator.script.requests();
    let first = &requests[0];
    assert!(first.request.messages[0]
        .content
        .contains("\"name\":\"weather\""));
    let grammar = first
        .grammar
        .as_ref()
        .expect("calls are grammar-constrained");
    assert_eq!(grammar.triggers, vec!["<tool_call>".to_string()]);
    let second = &requests[1].request.messages;
    let n = second.len();
    assert_eq!(second[n - 2].role, Role::Assistant);
    assert!(second[n - 2].content.contains("<tool_call>"));
    assert!(second[n - 1].content.contains("<tool_response>"));
    assert!(second[n - 1].content.contains("Sunny in Oslo"));
    let tokens = generator.prompt_tokens.lock().unwrap().clone();
    assert!(
        tokens[1] > tokens[0],
        "the second prompt holds the call and result: {tokens:?}"
    );

    // The user saw the prose, never the call markup, then the call and its result.
    let shown: String = events
        .iter()
        .filter_map(|e| match e {
            ToolEvent::Token(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(shown.starts_with("Let me check. "), "{shown:?}");
    assert!(!shown.contains("tool_call"), "{shown:?}");
    assert!(events
        .iter()
        .any(|e| matches!(e, ToolEvent::Call(c) if c.name == "weather")));
    assert!(events
        .iter()
        .any(|e| matches!(e, ToolEvent::Result(r) if r.error.is_none())));
}

/// A Gemma-turn template that renders tools Hermes-style, written for this
/// test: it drives the Jinja path with the real model's tokenizer.
const GEMMA_TOOLS_TEMPLATE: &str = r#"{{ bos_token }}
{%- for message in messages %}
{%- if message.role == 'assistant' %}<start_of_turn>model
{% if message.tool_calls %}{% for tc in message.tool_calls %}<tool_call>
{"name": "{{ tc.function.name }}", "arguments": {{ tc.function.arguments | tojson }}}
</tool_call>{% endfor %}{% else %}{{ message.content | trim }}{% endif %}<end_of_turn>
{% elif message.role == 'tool' %}<start_of_turn>user
<tool_response>{{ message.content }}</tool_response><end_of_turn>
{% else %}<start_of_turn>user
{% if loop.first and tools %}Tools you can call with <tool_call>{"name": ..., "arguments": {...}}</tool_call>:
{% for t in tools %}{{ t | tojson }}
{% endfor %}
{% endif %}{{ message.content | trim }}<end_of_turn>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<start_of_turn>model
{% endif %}"#;

#[tokio::test]
async fn the_jinja_path_renders_tools_calls_and_results_for_the_real_model() {
    let engine = common::engine(2048).await;
    let tools = registry(vec![Fake::new("weather", false, Behaviour::Answer)]);
    let generator = EngineChecked {
        engine,
        script: ScriptedGenerator::new(
            Some(GEMMA_TOOLS_TEMPLATE.to_string()),
            [
                call("weather", json!({"city": "Bergen"})),
                "Sunny.".to_string(),
            ],
        ),
        prompt_tokens: Mutex::new(Vec::new()),
    };
    let (outcome, _) = run(&generator, &tools, &no_consent(), ToolOptions::default()).await;
    assert_eq!(outcome.prompt_mode, "jinja");
    assert_eq!(outcome.text, "Sunny.");
    let requests = generator.script.requests();
    // What the model reads: content-as-data delimiters are not text.
    let first = &strip(requests[0].prompt.as_deref().expect("a rendered prompt"));
    assert!(
        first.starts_with("<start_of_turn>user\nTools you can call"),
        "{first}"
    );
    assert!(first.contains("\"name\": \"weather\""), "{first}");
    assert!(first.ends_with("<start_of_turn>model\n"), "{first}");
    let second = &strip(requests[1].prompt.as_deref().unwrap());
    assert!(
        second.contains("<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Bergen\"}}\n</tool_call>"),
        "{second}"
    );
    assert!(
        second.contains("<tool_response>Sunny in Bergen</tool_response>"),
        "{second}"
    );
}

#[tokio::test]
async fn bad_calls_become_tool_errors_and_the_conversation_goes_on() {
    let tools = registry(vec![
        Fake::new("weather", false, Behaviour::Answer),
        Fake::new("broken", false, Behaviour::Fail),
        Fake::new("stuck", false, Behaviour::Hang),
        Fake::new("buggy", false, Behaviour::Panic),
    ]);
    let script = ScriptedGenerator::new(
        None,
        [
            "<tool_call>{\"name\": \"weather\", \"arguments\": {</tool_call>".to_string(),
            call("teleport", json!({})),
            call("weather", json!({"town": "Oslo"})),
            call("broken", json!({"city": "Oslo"})),
            call("stuck", json!({"city": "Oslo"})),
            call("buggy", json!({"city": "Oslo"})),
            "I could not get the weather.".to_string(),
        ],
    );
    let options = ToolOptions {
        max_steps: 10,
        call_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let started = Instant::now();
    let (outcome, _) = run(&script, &tools, &no_consent(), options).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the hung tool was abandoned"
    );
    assert_eq!(outcome.text, "I could not get the weather.");
    let codes: Vec<_> = outcome
        .records
        .iter()
        .map(|r| r.error.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        codes,
        [
            "MALFORMED_CALL",
            "UNKNOWN_TOOL",
            "INVALID_ARGUMENTS",
            "TOOL_FAILED",
            "TOOL_TIMEOUT",
            "TOOL_FAILED"
        ]
    );
    // Each error is what the model read next.
    let requests = script.requests();
    for (i, record) in outcome.records.iter().enumerate() {
        let next = &requests[i + 1].request.messages;
        let fed = &next[next.len() - 1].content;
        assert!(
            fed.contains(&record.output.replace('"', "\\\"")),
            "{fed} / {}",
            record.output
        );
        assert!(record.output.starts_with("error: "), "{}", record.output);
    }
    assert!(outcome.records[1].output.contains("teleport"));
    assert!(
        outcome.records[1].output.contains("weather"),
        "lists what exists"
    );
    assert!(outcome.records[4].output.contains("did not finish"));
}

#[tokio::test]
async fn side_effects_need_consent_once_or_always() {
    let camera = Fake::new("camera", true, Behaviour::Answer);
    let tools = registry(vec![camera.clone()]);
    let consent = Arc::new(ScriptedConsent::new([
        ConsentDecision::Deny,
        ConsentDecision::Always,
    ]));
    let gate = ConsentGate::new(consent.clone());
    let c = || call("camera", json!({"city": "Oslo"}));
    let script = ScriptedGenerator::new(None, [c(), c(), c(), "Done.".to_string()]);
    let (outcome, _) = run(&script, &tools, &gate, ToolOptions::default()).await;
    let codes: Vec<_> = outcome.records.iter().map(|r| r.error.clone()).collect();
    assert_eq!(codes, [Some("DECLINED".to_string()), None, None]);
    assert_eq!(
        consent.asked(),
        ["camera", "camera"],
        "always is remembered"
    );
    assert_eq!(
        camera.calls.lock().unwrap().len(),
        2,
        "the declined call never ran"
    );
}

#[tokio::test]
async fn the_step_limit_ends_a_model_that_keeps_calling() {
    let tools = registry(vec![Fake::new("weather", false, Behaviour::Answer)]);
    let outputs = (0..10).map(|_| call("weather", json!({"city": "Oslo"})));
    let script = ScriptedGenerator::new(None, outputs);
    let options = ToolOptions {
        max_steps: 3,
        ..Default::default()
    };
    let (outcome, _) = run(&script, &tools, &no_consent(), options).await;
    assert_eq!(outcome.steps, 3);
    assert!(outcome.step_limit_reached);
    assert_eq!(outcome.records.len(), 2, "the last step runs no tools");
    let last = script.requests().pop().unwrap();
    assert!(last.grammar.is_none(), "the last step offers no tools");
    assert!(!last.request.messages[0]
        .content
        .contains("You can call tools"));
}

#[tokio::test]
async fn the_real_model_makes_a_valid_call_when_one_is_required() {
    let engine = common::engine(2048).await;
    let tools = registry(vec![Arc::new(DateTimeTool::default())]);
    let options = ToolOptions {
        max_steps: 2,
        tool_choice: ToolChoice::Required,
        ..Default::default()
    };
    let mut request = GenerateRequest::new(Vec::new());
    request.sampling = common::greedy();
    request.max_tokens = 64;
    let gate = no_consent();
    let tool_loop = ToolLoop::new(&engine, &tools, &gate, options);
    let started = Instant::now();
    let mut steps = Vec::new();
    let outcome = tool_loop
        .run(question("What day is it today?"), &request, &mut |e| {
            if let ToolEvent::Step(_) = e {
                steps.push(started.elapsed().as_secs_f64());
            }
        })
        .await
        .unwrap();
    eprintln!(
        "steps started at {steps:?} s; last stats {:?}",
        outcome.last.stats
    );
    eprintln!(
        "real model: {} steps in {:.1} s, answer {:?}",
        outcome.steps,
        started.elapsed().as_secs_f64(),
        outcome.text
    );
    assert_eq!(outcome.records.len(), 1, "{:?}", outcome.records);
    let r = &outcome.records[0];
    assert_eq!(r.call.name, "current_datetime");
    assert_eq!(r.error, None, "{}", r.output);
    let year = jiff::Zoned::now().year().to_string();
    assert!(r.output.contains(&year), "{}", r.output);
    assert_eq!(outcome.steps, 2);
}

#[tokio::test]
async fn the_real_model_calls_through_the_jinja_path_too() {
    let engine = common::engine(2048).await;
    let tools = registry(vec![Arc::new(DateTimeTool::default())]);
    let options = ToolOptions {
        max_steps: 2,
        tool_choice: ToolChoice::Required,
        template: Some(GEMMA_TOOLS_TEMPLATE.to_string()),
        ..Default::default()
    };
    let mut request = GenerateRequest::new(Vec::new());
    request.sampling = common::greedy();
    request.max_tokens = 48;
    let gate = no_consent();
    let outcome = ToolLoop::new(&engine, &tools, &gate, options)
        .run(question("What time is it?"), &request, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(outcome.prompt_mode, "jinja");
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(
        outcome.records[0].error, None,
        "{}",
        outcome.records[0].output
    );
}

// ---- the CLI: `omnidesk mcp …` and `omnidesk ask --tools …` ----

fn omnidesk(data: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_omnidesk"));
    let config = data.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "[engine]\nthreads = 2\nn_ctx = 2048\n").unwrap();
    }
    c.env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env("OMNIDESK_MODEL", common::test_model())
        .env_remove("OMNIDESK_LOG")
        .stdin(std::process::Stdio::null());
    c
}

fn run_ok(c: &mut std::process::Command) -> std::process::Output {
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{c:?} failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    out
}

fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn mcp_add_list_remove_keep_the_server_list() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(omnidesk(dir.path()).args([
        "mcp",
        "add",
        "files",
        "--env",
        "ROOT=/tmp",
        "--",
        "mcp-files",
        "--root",
        "/tmp",
    ]));
    run_ok(omnidesk(dir.path()).args([
        "mcp",
        "add",
        "web",
        "--url",
        "http://127.0.0.1:9/mcp",
        "--trusted",
    ]));
    let list = stdout_json(&run_ok(
        omnidesk(dir.path()).args(["mcp", "list", "--json"]),
    ));
    assert_eq!(list[0]["name"], "files");
    assert_eq!(list[0]["transport"], "stdio");
    assert_eq!(list[0]["args"], json!(["--root", "/tmp"]));
    assert_eq!(list[0]["env"]["ROOT"], "/tmp");
    assert_eq!(list[1]["url"], "http://127.0.0.1:9/mcp");
    assert_eq!(list[1]["trusted"], true);
    let text = run_ok(omnidesk(dir.path()).args(["mcp", "list"]));
    assert!(String::from_utf8_lossy(&text.stdout).contains("files\tstdio: mcp-files --root /tmp"));
    run_ok(omnidesk(dir.path()).args(["mcp", "remove", "files"]));
    let out = omnidesk(dir.path())
        .args(["mcp", "remove", "files"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no MCP server named \"files\""));
    let list = stdout_json(&run_ok(
        omnidesk(dir.path()).args(["mcp", "list", "--json"]),
    ));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        dir.path().join("mcp.toml").is_file(),
        "kept beside config.toml"
    );
}

#[test]
fn ask_with_tools_runs_calls_and_stores_them_with_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let out = ask_forced(dir.path(), "current_datetime", &[], "What day is it?");
    let calls = out["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{out}");
    assert_eq!(calls[0]["call"]["name"], "current_datetime");
    assert_eq!(calls[0]["error"], Value::Null);
    let id = out["conversation_id"].as_i64().unwrap();
    let store = omnidesk::store::Store::open(&dir.path().join("omnidesk.db")).unwrap();
    let messages = store.messages(id).unwrap();
    assert_eq!(messages.len(), 2);
    let stored = store.tool_calls(messages[1].id).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].tool, "current_datetime");
    assert_eq!(stored[0].output, calls[0]["output"].as_str().unwrap());

    // The conversation goes on with its earlier call shown to the model.
    let id_arg = id.to_string();
    let next = ask_forced(
        dir.path(),
        "current_datetime",
        &["--conversation", &id_arg],
        "And what time is it?",
    );
    assert_eq!(next["conversation_id"], id);
    assert_eq!(next["tool_calls"].as_array().unwrap().len(), 1, "{next}");
    let messages = store.messages(id).unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(store.tool_calls(messages[3].id).unwrap().len(), 1);
}

/// `ask --json` with only `tool` offered and the first step forced to call
/// it (greedy, at most two steps).
fn ask_forced(dir: &std::path::Path, tool: &str, extra: &[&str], question: &str) -> Value {
    stdout_json(&run_ok(
        omnidesk(dir)
            .args(["ask", "--json", "--tools", tool, "--require-tool"])
            .args(["--max-steps", "2", "--temp", "0", "-n", "48"])
            .args(extra)
            .arg(question),
    ))
}

#[test]
fn ask_with_an_mcp_tool_starts_only_the_configured_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::mcp_test_server();
    run_ok(
        omnidesk(dir.path())
            .args(["mcp", "add", "fixture", "--"])
            .arg(&server),
    );
    let out = ask_forced(dir.path(), "add", &["--no-save"], "Add 2 and 3.");
    let calls = out["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{out}");
    assert_eq!(calls[0]["call"]["name"], "add");
    assert_eq!(calls[0]["error"], Value::Null, "{out}");
    // Whatever numbers the model chose, the server computed their sum.
    let args = &calls[0]["call"]["arguments"];
    let sum = args["a"].as_f64().unwrap() + args["b"].as_f64().unwrap();
    assert_eq!(
        calls[0]["output"].as_str().unwrap().parse::<f64>().unwrap(),
        sum
    );
}

#[test]
fn a_side_effect_tool_without_a_terminal_is_declined_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_json(&run_ok(omnidesk(dir.path()).args([
        "ask",
        "--json",
        "--no-save",
        "--tools",
        "camera_snapshot",
        "--fake-camera",
        "--require-tool",
        "--max-steps",
        "2",
        "--temp",
        "0",
        "-n",
        "32",
        "Take a photo.",
    ])));
    let calls = out["tool_calls"].as_array().unwrap();
    assert_eq!(calls[0]["call"]["name"], "camera_snapshot");
    assert_eq!(calls[0]["error"], "DECLINED", "{out}");
}

/// Measures what a grammar costs per token on the real model (Gemma's
/// 262k-token vocabulary is the worst case for grammar masking). Prints
/// numbers; run with `--ignored --nocapture`.
#[tokio::test]
#[ignore = "measurement, prints timings"]
async fn grammar_cost_per_token() {
    use omnidesk::tools::grammar::tool_call_grammar;
    let engine = common::engine(2048).await;
    let spec = DateTimeTool::default().spec().clone();
    let lazy = tool_call_grammar(&[&spec], false, false).unwrap();
    let forced = tool_call_grammar(&[&spec], true, false).unwrap();
    for (label, grammar) in [
        ("none", None),
        ("lazy", Some(lazy)),
        ("required", Some(forced)),
    ] {
        for _ in 0..2 {
            let mut request = GenerateRequest::new(question("Write a long story about a cat."));
            request.sampling = common::greedy();
            request.max_tokens = 48;
            let outcome = engine
                .generate_constrained(ConstrainedRequest {
                    request,
                    prompt: None,
                    grammar: grammar.clone(),
                })
                .unwrap()
                .finish()
                .await
                .unwrap();
            eprintln!(
                "grammar {label:8}: {} tokens, {:.1} tok/s, {:?}",
                outcome.stats.generated_tokens,
                outcome.stats.tokens_per_s,
                outcome.text.chars().take(60).collect::<String>()
            );
        }
    }
}

#[tokio::test]
async fn earlier_calls_are_replayed_before_the_answers_they_led_to() {
    let engine = common::engine(2048).await;
    let tools = registry(vec![Fake::new("weather", false, Behaviour::Answer)]);
    let generator = EngineChecked {
        engine,
        script: ScriptedGenerator::new(
            Some(GEMMA_TOOLS_TEMPLATE.to_string()),
            ["Still sunny.".to_string()],
        ),
        prompt_tokens: Mutex::new(Vec::new()),
    };
    let messages = vec![
        ChatMessage::new(Role::User, "Weather in Oslo?"),
        ChatMessage::new(Role::Assistant, "It is sunny in Oslo."),
        ChatMessage::new(Role::User, "And tomorrow?"),
    ];
    let earlier = [EarlierCalls {
        before: 1,
        records: vec![ToolRecord {
            step: 0,
            call: ToolCall {
                id: "call_0_0".into(),
                name: "weather".into(),
                arguments: json!({"city": "Oslo"}),
            },
            output: "Sunny in Oslo".into(),
            error: None,
            duration_ms: 2.0,
        }],
    }];
    let gate = no_consent();
    let request = GenerateRequest::new(Vec::new());
    let outcome = ToolLoop::new(&generator, &tools, &gate, ToolOptions::default())
        .run_continuing(messages, &earlier, &request, &mut |_| {})
        .await
        .expect("the loop finishes");
    assert_eq!(outcome.text, "Still sunny.");
    assert!(outcome.records.is_empty(), "nothing is called again");
    let prompt = strip(
        generator.script.requests()[0]
            .prompt
            .as_deref()
            .expect("a rendered prompt"),
    );
    let at = |needle: &str| {
        prompt
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from {prompt}"))
    };
    let question = at("Weather in Oslo?");
    let call = at("{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}");
    let result = at("<tool_response>Sunny in Oslo</tool_response>");
    let answer = at("It is sunny in Oslo.");
    let follow_up = at("And tomorrow?");
    assert!(
        question < call && call < result && result < answer && answer < follow_up,
        "{prompt}"
    );
    assert_eq!(generator.prompt_tokens.lock().unwrap().len(), 1);
}
