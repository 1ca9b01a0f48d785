//! The app's commands on Tauri's mock runtime: the real wiring of
//! `run_app`, the real library underneath and, for chat, the real Gemma 3
//! 270M model streaming into a `Channel`.

mod common;

use std::path::{Path, PathBuf};

use common::{collecting_channel, embed_model, fixture, test_model, TestApp};
use omnidesk::config::Config;
use omnidesk_app::commands::chat::{send_message, SendMessage};
use omnidesk_app::state::AppState;
use serde_json::json;
use tauri::ipc::InvokeBody;
use tauri::Manager;

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
            regenerate: None,
            use_docs: false,
            ..Default::default()
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
            regenerate: None,
            use_docs: false,
            ..Default::default()
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

#[test]
fn documents_are_listed_cited_opened_rescanned_and_removed() {
    let t = TestApp::with_config(Some(test_model()), |c| {
        c.embedding_model = Some(embed_model());
        c.max_tokens = 32;
    });
    let docs = t.dir.path().join("notes");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("tides.md"),
        "# Tides\n\nThe Moon's gravity pulls the oceans, raising two high tides a day.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("volcanoes.txt"),
        "Volcanoes erupt when magma rises through the crust.\n",
    )
    .unwrap();
    std::fs::write(docs.join("broken.pdf"), b"%PDF-1.7 not really").unwrap();
    // Index with the library, into the app's own index (as `docs add` would).
    let state = t.state();
    let rag = tauri::async_runtime::block_on(state.docs.open(&state.settings)).unwrap();
    rag.add_blocking(
        std::slice::from_ref(&docs),
        &omnidesk::rag::IngestOptions::default(),
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();

    let status = t.invoke("docs_status", InvokeBody::default()).unwrap();
    let listed = status["documents"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{status}");
    let broken = listed
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with("broken.pdf"))
        .unwrap();
    assert_eq!(broken["status"], "skipped");
    assert!(!broken["skipReason"].as_str().unwrap().is_empty());
    assert_eq!(
        status["embeddingModel"].as_str().map(PathBuf::from),
        Some(embed_model())
    );

    t.wait_for_model();
    let (channel, events) = collecting_channel();
    let result = tauri::async_runtime::block_on(send_message(
        t.app.state::<AppState>(),
        SendMessage {
            conversation_id: None,
            text: "What raises the ocean tides?".into(),
            attachment_ids: vec![],
            truncate_after: None,
            regenerate: None,
            use_docs: true,
            ..Default::default()
        },
        channel,
    ))
    .expect("a documents answer completes");
    let events = events.lock().unwrap().clone();
    assert_eq!(events[0]["kind"], "sources", "{events:?}");
    let sources = events[0]["sources"].as_array().unwrap();
    assert!(
        sources[0]["path"].as_str().unwrap().ends_with("tides.md"),
        "best source first: {sources:?}"
    );
    let done = events.last().unwrap();
    assert_eq!(done["kind"], "done");
    assert!(done["citations"].is_object(), "{done}");
    // The stored answer keeps its sources, so citations work after reload.
    let conv = t
        .invoke(
            "get_conversation",
            json!({ "id": result.conversation_id }).into(),
        )
        .unwrap();
    let answer = &conv["messages"][1];
    assert_eq!(
        answer["stats"]["sources"][0]["chunk_id"],
        sources[0]["chunk_id"]
    );
    let source = t
        .invoke(
            "get_source",
            json!({ "chunkId": sources[0]["chunk_id"] }).into(),
        )
        .unwrap();
    assert!(
        source["text"].as_str().unwrap().contains("Moon"),
        "{source}"
    );

    // A new file is picked up by a rescan, with progress on the channel.
    std::fs::write(
        docs.join("comets.md"),
        "# Comets\n\nComets are icy bodies.\n",
    )
    .unwrap();
    let (channel, events) = collecting_channel();
    let report = tauri::async_runtime::block_on(omnidesk_app::commands::docs::rescan_documents(
        t.app.state::<AppState>(),
        channel,
    ))
    .unwrap();
    assert_eq!(report.files_indexed, 1, "{report:?}");
    let events = events.lock().unwrap().clone();
    assert!(events.iter().any(|e| e["kind"] == "progress"), "{events:?}");
    assert_eq!(events.last().unwrap()["kind"], "finished");

    let tides = docs.join("tides.md");
    let after = t
        .invoke(
            "remove_document",
            json!({ "path": tides.to_string_lossy() }).into(),
        )
        .unwrap();
    let paths: Vec<&str> = after["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(!paths.iter().any(|p| p.ends_with("tides.md")));
    let gone = t
        .invoke(
            "get_source",
            json!({ "chunkId": sources[0]["chunk_id"] }).into(),
        )
        .unwrap_err();
    assert_eq!(gone["code"], "NOT_FOUND", "{gone}");
}

#[test]
fn documents_without_an_embedding_model_say_so() {
    let t = TestApp::new(None);
    let status = t.invoke("docs_status", InvokeBody::default()).unwrap();
    assert!(status["embeddingModel"].is_null());
    assert!(status["documents"].as_array().unwrap().is_empty());
    let err = t
        .invoke(
            "rescan_documents",
            json!({ "onEvent": "__CHANNEL__:3" }).into(),
        )
        .unwrap_err();
    assert_eq!(err["code"], "NO_EMBEDDING_MODEL", "{err}");
    let err = t
        .invoke("get_source", json!({ "chunkId": 1 }).into())
        .unwrap_err();
    assert_eq!(err["code"], "NO_EMBEDDING_MODEL", "{err}");
}

/// Events of one message; a `consent` event is answered (through the
/// `answer_tool_consent` command, from another thread, as the window would)
/// with the next of `answers`.
fn ask_with_tools(
    t: &TestApp,
    conversation_id: Option<i64>,
    text: &str,
    answers: Vec<&'static str>,
) -> (
    Result<omnidesk_app::commands::chat::SendResult, String>,
    Vec<serde_json::Value>,
) {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    let window = t.window.clone();
    let answers = std::sync::Mutex::new(answers.into_iter());
    let channel = tauri::ipc::Channel::new(move |body| {
        let v: serde_json::Value = match body {
            tauri::ipc::InvokeResponseBody::Json(s) => serde_json::from_str(&s).unwrap(),
            tauri::ipc::InvokeResponseBody::Raw(_) => serde_json::Value::Null,
        };
        if v["kind"] == "consent" {
            let answer = answers.lock().unwrap().next().unwrap_or("deny");
            let id = v["requestId"].clone();
            let w = window.clone();
            std::thread::spawn(move || {
                common::invoke_on(
                    &w,
                    "answer_tool_consent",
                    json!({ "requestId": id, "answer": answer }).into(),
                    Default::default(),
                )
                .expect("the consent answer is taken");
            });
        }
        sink.lock().unwrap().push(v);
        Ok(())
    });
    let result = tauri::async_runtime::block_on(send_message(
        t.app.state::<AppState>(),
        SendMessage {
            conversation_id,
            text: text.into(),
            use_tools: true,
            tools: Some(vec!["camera_snapshot".into()]),
            require_tool: true,
            ..Default::default()
        },
        channel,
    ))
    .map_err(|e| e.code.to_string());
    let events = events.lock().unwrap().clone();
    (result, events)
}

fn of_kind<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

#[test]
fn tools_ask_consent_in_a_dialog_and_calls_are_stored() {
    let t = TestApp::build(
        Some(test_model()),
        |c| c.max_tokens = 64,
        |s| s.with_camera(std::sync::Arc::new(omnidesk::camera::FakeSource)),
    );
    t.wait_for_model();

    // Declined: the camera is not used, the model is told so.
    let (result, events) = ask_with_tools(&t, None, "Take a photo of me.", vec!["deny"]);
    let result = result.expect("a declined call is not a failure");
    let consents = of_kind(&events, "consent");
    assert!(!consents.is_empty(), "{events:?}");
    assert_eq!(consents[0]["tool"], "camera_snapshot");
    let calls = of_kind(&events, "toolCall");
    let results = of_kind(&events, "toolResult");
    assert_eq!(calls[0]["name"], "camera_snapshot", "the call is forced");
    assert_eq!(results[0]["error"], "DECLINED", "{events:?}");
    let first_consent = events.iter().position(|e| e["kind"] == "consent").unwrap();
    let first_result = events
        .iter()
        .position(|e| e["kind"] == "toolResult")
        .unwrap();
    assert!(first_consent < first_result, "asked before running");
    assert_eq!(events.last().unwrap()["kind"], "done");

    // "Always": runs now, and later calls of it are not asked about.
    let id = result.conversation_id;
    let (result, events) = ask_with_tools(&t, Some(id), "Try again, please.", vec!["always"]);
    result.expect("the answer completes");
    assert_eq!(of_kind(&events, "consent").len(), 1, "{events:?}");
    let ok = of_kind(&events, "toolResult");
    assert!(ok[0]["error"].is_null(), "{events:?}");
    assert!(
        ok[0]["output"].as_str().unwrap().contains("photo"),
        "{events:?}"
    );
    let (result, events) = ask_with_tools(&t, Some(id), "Once more.", vec![]);
    result.expect("the answer completes");
    assert!(of_kind(&events, "consent").is_empty(), "{events:?}");
    assert!(of_kind(&events, "toolResult")[0]["error"].is_null());

    // Every call is stored with its answer and comes back with the history.
    let conv = t
        .invoke("get_conversation", json!({ "id": id }).into())
        .unwrap();
    let answers: Vec<&serde_json::Value> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["toolCalls"][0]["error"], "DECLINED");
    assert_eq!(answers[1]["toolCalls"][0]["tool"], "camera_snapshot");
    assert!(answers[2]["toolCalls"][0]["error"].is_null());

    // A tool that is not offered is a clear error, nothing is stored.
    let (channel, _) = collecting_channel();
    let err = tauri::async_runtime::block_on(send_message(
        t.app.state::<AppState>(),
        SendMessage {
            text: "Hi".into(),
            use_tools: true,
            tools: Some(vec!["teleport".into()]),
            ..Default::default()
        },
        channel,
    ))
    .unwrap_err();
    assert_eq!(err.code, "TOOL_UNKNOWN", "{err:?}");
    let err = t
        .invoke(
            "answer_tool_consent",
            json!({ "requestId": 999, "answer": "once" }).into(),
        )
        .unwrap_err();
    assert_eq!(err["code"], "INVALID_INPUT");
}

#[test]
fn the_api_switch_serves_the_model_and_a_second_app_uses_it_as_remote_backend() {
    let t = TestApp::new(Some(test_model()));
    t.wait_for_model();
    let off = t.invoke("get_api_server", InvokeBody::default()).unwrap();
    assert_eq!(off["running"], false);
    let on = t
        .invoke(
            "set_api_server",
            json!({ "enabled": true, "port": 0 }).into(),
        )
        .unwrap();
    assert_eq!(on["running"], true, "{on}");
    let url = on["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    let token = on["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32);
    assert_eq!(common::http(&addr, "GET", "/v1/models", None, "").0, 401);
    let (status, body) = common::http(&addr, "GET", "/v1/models", Some(&token), "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("gemma-3-270m"), "{body}");
    let saved = Config::load(Some(&t.dir.path().join("config.toml"))).unwrap();
    assert!(saved.serve.enabled, "the switch is remembered");

    // A second app answers through it: the remote backend setting.
    let remote = TestApp::new(None);
    let mut s = remote
        .invoke("get_settings", InvokeBody::default())
        .unwrap();
    s["backendKind"] = "openai".into();
    s["backendUrl"] = "ftp://127.0.0.1/v1".into();
    let err = remote
        .invoke("update_settings", json!({ "settings": s }).into())
        .unwrap_err();
    assert_eq!(err["code"], "CONFIG", "{err}");
    s["backendUrl"] = url.clone().into();
    s["backendApiKey"] = token.clone().into();
    let saved = remote
        .invoke("update_settings", json!({ "settings": s }).into())
        .unwrap();
    assert_eq!(saved["backendApiKeySet"], true);
    assert!(
        saved["backendApiKey"].is_null(),
        "the key is never sent back"
    );
    remote.wait_for_model();
    let status = remote
        .invoke("get_model_status", InvokeBody::default())
        .unwrap();
    assert_eq!(status["state"], "ready", "{status}");
    assert!(
        status["notice"]
            .as_str()
            .unwrap()
            .contains("remote backend"),
        "{status}"
    );
    let (channel, events) = collecting_channel();
    let answer = tauri::async_runtime::block_on(send_message(
        remote.app.state::<AppState>(),
        SendMessage {
            text: "Say hello.".into(),
            ..Default::default()
        },
        channel,
    ))
    .expect("the remote backend answers");
    assert!(!answer.text.trim().is_empty());
    let events = events.lock().unwrap().clone();
    assert!(events.iter().any(|e| e["kind"] == "token"), "streamed");
    assert_eq!(events.last().unwrap()["kind"], "done");
    // Tools need the local engine.
    let (channel, _) = collecting_channel();
    let err = tauri::async_runtime::block_on(send_message(
        remote.app.state::<AppState>(),
        SendMessage {
            text: "What time is it?".into(),
            use_tools: true,
            ..Default::default()
        },
        channel,
    ))
    .unwrap_err();
    assert_eq!(err.code, "REMOTE_BACKEND");

    // Off: the port is closed.
    let off = t
        .invoke(
            "set_api_server",
            json!({ "enabled": false, "port": 0 }).into(),
        )
        .unwrap();
    assert_eq!(off["running"], false);
    assert!(std::net::TcpStream::connect(&addr).is_err(), "closed");
}
