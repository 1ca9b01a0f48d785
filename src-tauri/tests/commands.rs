//! The app's commands on Tauri's mock runtime: the real wiring of
//! `run_app`, the real library underneath and, for chat, the real Gemma 3
//! 270M model streaming into a `Channel`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnidesk::config::Config;
use omnidesk::store::Store;
use omnidesk_app::commands::chat::{send_message, SendMessage};
use omnidesk_app::state::{AppState, EngineState, Settings};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, Channel, InvokeBody, InvokeResponseBody};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

/// The real test model (see `scripts/fetch-test-models.sh`).
fn test_model() -> PathBuf {
    if let Some(p) = std::env::var_os("OMNIDESK_TEST_MODEL") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME or OMNIDESK_TEST_MODEL");
    PathBuf::from(home).join(".cache/omnidesk/test-models/gemma-3-270m-q4_k_m.gguf")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/fixtures")
        .join(name)
}

struct TestApp {
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    fn new(model: Option<PathBuf>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            model,
            max_tokens: 24,
            ..Config::default()
        };
        config.engine.threads = 2;
        config.engine.n_ctx = 1024;
        config.sampling.temperature = 0.0;
        config.sampling.seed = Some(1);
        let data = dir.path().join("data");
        let store = Store::open(&data.join("omnidesk.db")).map_err(Into::into);
        let settings = Settings::new(config, dir.path().join("config.toml"), data);
        let app = omnidesk_app::run_app(mock_builder(), AppState::new(store, settings))
            .build(mock_context(noop_assets()))
            .expect("the app builds on the mock runtime");
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        // The mock runtime never reaches `Ready`, where the setup hook would
        // start the configured model: start it the same way here.
        let state = app.state::<AppState>().inner().clone();
        omnidesk_app::commands::models::load_configured(app.handle(), &state);
        Self {
            app,
            window,
            _dir: dir,
        }
    }

    fn state(&self) -> AppState {
        self.app.state::<AppState>().inner().clone()
    }

    fn invoke(&self, cmd: &str, body: InvokeBody) -> Result<Value, Value> {
        self.invoke_with(cmd, body, Default::default())
    }

    fn invoke_with(
        &self,
        cmd: &str,
        body: InvokeBody,
        headers: tauri::http::HeaderMap,
    ) -> Result<Value, Value> {
        tauri::test::get_ipc_response(
            &self.window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body,
                headers,
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap())
    }

    fn wait_for_model(&self) {
        let start = Instant::now();
        loop {
            match self.state().engine.get() {
                EngineState::Ready { .. } => return,
                EngineState::Failed { error, .. } => panic!("model failed to load: {error}"),
                _ if start.elapsed() > Duration::from_secs(120) => panic!("model load timed out"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

fn collecting_channel() -> (
    Channel<omnidesk_app::commands::chat::ChatEvent>,
    Arc<Mutex<Vec<Value>>>,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let channel = Channel::new(move |body| {
        let v = match body {
            InvokeResponseBody::Json(s) => serde_json::from_str(&s).unwrap(),
            InvokeResponseBody::Raw(_) => Value::Null,
        };
        sink.lock().unwrap().push(v);
        Ok(())
    });
    (channel, events)
}

#[test]
fn chat_streams_real_tokens_into_a_channel_and_is_stored() {
    let t = TestApp::new(Some(test_model()));
    t.wait_for_model();
    let status = t.invoke("get_model_status", InvokeBody::default()).unwrap();
    assert_eq!(status["state"], "ready");
    assert!(status["model"]["nCtx"].as_u64().unwrap() >= 1024);

    let (channel, events) = collecting_channel();
    let result = tauri::async_runtime::block_on(send_message(
        t.app.state::<AppState>(),
        SendMessage {
            conversation_id: None,
            text: "What is the capital of France?".into(),
            attachment_ids: vec![],
            truncate_after: None,
        },
        channel,
    ))
    .expect("the answer completes");
    let events = events.lock().unwrap().clone();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"done"), "{kinds:?}");
    let streamed: String = events
        .iter()
        .filter(|e| e["kind"] == "token")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert!(!streamed.trim().is_empty(), "tokens were streamed");
    assert_eq!(streamed, result.text, "the stream is the answer");
    let done = events.last().unwrap();
    assert!(done["stats"]["generated_tokens"].as_u64().unwrap() > 0);
    assert!(done["stats"]["tokens_per_s"].as_f64().unwrap() > 0.0);

    let list = t
        .invoke("list_conversations", InvokeBody::default())
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["title"], "What is the capital of France?");
    let conv = t
        .invoke(
            "get_conversation",
            json!({ "id": result.conversation_id }).into(),
        )
        .unwrap();
    let msgs = conv["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"], result.text.as_str());

    // A follow-up continues the same stored conversation.
    let (channel, _) = collecting_channel();
    let next = tauri::async_runtime::block_on(send_message(
        t.app.state::<AppState>(),
        SendMessage {
            conversation_id: Some(result.conversation_id),
            text: "And of Italy?".into(),
            attachment_ids: vec![],
            truncate_after: None,
        },
        channel,
    ))
    .unwrap();
    assert_eq!(next.conversation_id, result.conversation_id);
    let conv = t
        .invoke(
            "get_conversation",
            json!({ "id": result.conversation_id }).into(),
        )
        .unwrap();
    assert_eq!(conv["messages"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_input_comes_back_as_a_command_error_code() {
    let t = TestApp::new(None);
    let err = t
        .invoke(
            "send_message",
            json!({ "message": { "conversationId": null, "text": "  ", "attachmentIds": [] }, "onEvent": "__CHANNEL__:1" }).into(),
        )
        .unwrap_err();
    assert_eq!(err["code"], "INVALID_INPUT", "{err}");
    let err = t
        .invoke(
            "send_message",
            json!({ "message": { "conversationId": null, "text": "hi" }, "onEvent": "__CHANNEL__:2" }).into(),
        )
        .unwrap_err();
    assert_eq!(err["code"], "NO_MODEL", "{err}");
    let err = t
        .invoke("get_conversation", json!({ "id": 42 }).into())
        .unwrap_err();
    assert_eq!(err["code"], "NOT_FOUND", "{err}");
    let err = t
        .invoke(
            "rename_conversation",
            json!({ "id": 1, "title": " " }).into(),
        )
        .unwrap_err();
    assert_eq!(err["code"], "INVALID_INPUT", "{err}");
    let status = t.invoke("get_model_status", InvokeBody::default()).unwrap();
    assert_eq!(status["state"], "empty");
    assert!(status["offer"]["totalMb"].as_u64().unwrap() > 0, "{status}");
}

#[test]
fn pasted_image_is_staged_with_a_thumbnail_and_text_is_refused() {
    let t = TestApp::new(None);
    let mut headers = tauri::http::HeaderMap::new();
    headers.insert("x-file-name", "cat%2064x48.png".parse().unwrap());
    let bytes = std::fs::read(fixture("cat-64x48.png")).unwrap();
    let view = t
        .invoke_with("attach_image", InvokeBody::Raw(bytes), headers.clone())
        .unwrap();
    assert_eq!(view["name"], "cat 64x48.png");
    assert_eq!(
        (view["width"].as_u64(), view["height"].as_u64()),
        (Some(64), Some(48))
    );
    assert!(view["thumbnail"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let id = view["id"].as_u64().unwrap();
    t.invoke("discard_attachment", json!({ "id": id }).into())
        .unwrap();

    headers.insert("x-file-name", "notes.txt".parse().unwrap());
    let err = t
        .invoke_with(
            "attach_image",
            InvokeBody::Raw(b"just text".to_vec()),
            headers,
        )
        .unwrap_err();
    assert_eq!(err["code"], "INVALID_MEDIA", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("notes.txt: not an image"),
        "{err}"
    );
}

#[test]
fn settings_round_trip_and_are_validated() {
    let t = TestApp::new(None);
    let mut s = t.invoke("get_settings", InvokeBody::default()).unwrap();
    s["systemPrompt"] = "Be brief.".into();
    s["maxTokens"] = 99.into();
    let saved = t
        .invoke("update_settings", json!({ "settings": s }).into())
        .unwrap();
    assert_eq!(saved["maxTokens"], 99);
    let again = t.invoke("get_settings", InvokeBody::default()).unwrap();
    assert_eq!(again["systemPrompt"], "Be brief.");
    let cfg = Config::load(Some(Path::new(saved["configPath"].as_str().unwrap()))).unwrap();
    assert_eq!(cfg.max_tokens, 99);
    s["topP"] = 0.0.into();
    let err = t
        .invoke("update_settings", json!({ "settings": s }).into())
        .unwrap_err();
    assert_eq!(err["code"], "INVALID_REQUEST", "{err}");
}
