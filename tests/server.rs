//! `omnidesk serve` end to end: the real binary on 127.0.0.1 with the real
//! Gemma model (and the omni fixture for media), driven over HTTP with
//! reqwest and with the `openai` Python package.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::serve::ServeProcess;
use futures_util::StreamExt;
use serde_json::{json, Value};

fn gemma() -> ServeProcess {
    ServeProcess::start(&common::test_model(), &[])
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap()
}

fn ask(text: &str, max_tokens: u32) -> Value {
    json!({
        "model": "whatever",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
        "seed": 7,
        "max_tokens": max_tokens,
    })
}

fn assert_openai_error(body: &Value, code: &str) {
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e["type"].as_str().is_some(), "{body}");
    assert_eq!(e["code"], code, "{body}");
}

/// Every `data:` payload of a streamed answer, `[DONE]` included.
async fn stream_events(s: &ServeProcess, body: &Value) -> Vec<String> {
    read_events(start_stream(s, body).await).await
}

/// Send a streamed request; returns once the server answered with its
/// headers (the request is then queued on the engine).
async fn start_stream(s: &ServeProcess, body: &Value) -> reqwest::Response {
    let res = client()
        .post(format!("{}/chat/completions", s.base))
        .bearer_auth(&s.token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    res
}

async fn read_events(res: reqwest::Response) -> Vec<String> {
    let text = res.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|ev| ev.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

fn streamed_text(events: &[String]) -> String {
    events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test]
async fn every_route_needs_the_token() {
    let s = gemma();
    let c = client();
    let routes = [
        ("GET", "/models"),
        ("GET", "/models/x"),
        ("POST", "/chat/completions"),
        ("POST", "/embeddings"),
        ("GET", "/nope"),
    ];
    for (method, path) in routes {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some(&*format!("Basic {}", s.token)),
        ] {
            let mut req = c.request(method.parse().unwrap(), format!("{}{path}", s.base));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let res = req.json(&ask("hi", 1)).send().await.unwrap();
            assert_eq!(res.status(), 401, "{method} {path} with {auth:?}");
            assert_eq!(res.headers()["www-authenticate"], "Bearer");
            assert_openai_error(&res.json().await.unwrap(), "invalid_api_key");
        }
    }
    // The right token opens the same routes.
    let res = c
        .get(format!("{}/models", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn models_lists_the_loaded_model() {
    let s = gemma();
    let res = client()
        .get(format!("{}/models", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], "gemma-3-270m-q4_k_m");
    assert_eq!(body["data"][0]["object"], "model");
    assert_eq!(s.model_id, "gemma-3-270m-q4_k_m");
    assert!(
        s.base.starts_with("http://127.0.0.1:"),
        "loopback by default"
    );
    let one = client()
        .get(format!("{}/models/{}", s.base, s.model_id))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
}

/// A repeated request is read from the kept slot, and the API says so as
/// OpenAI does.
#[tokio::test]
async fn a_repeated_prompt_reports_its_cached_tokens() {
    let s = gemma();
    let body = ask("Which planet is the largest? Say why in a sentence.", 8);
    let (status, first) = s.post("/chat/completions", &body).await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = s.post("/chat/completions", &body).await;
    let usage = &second["usage"];
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    let cached = usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(cached * 2 > prompt && cached < prompt, "{usage}");
}

#[tokio::test]
async fn streamed_deltas_add_up_to_the_plain_answer() {
    let s = gemma();
    let (status, plain) = s
        .post("/chat/completions", &ask("Name three colours.", 24))
        .await;
    assert_eq!(status, 200, "{plain}");
    assert_eq!(plain["object"], "chat.completion");
    let text = plain["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!text.is_empty());
    assert_eq!(plain["choices"][0]["message"]["role"], "assistant");
    let usage = &plain["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 5);
    let completion = usage["completion_tokens"].as_u64().unwrap();
    assert!(completion > 0 && completion <= 24);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + completion
    );

    let mut body = ask("Name three colours.", 24);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = stream_events(&s, &body).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(streamed_text(&events), text);
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    assert!(chunks
        .iter()
        .all(|c| c["id"] == id && c["object"] == "chat.completion.chunk"));
    let finish = &chunks[chunks.len() - 2]["choices"][0]["finish_reason"];
    assert_eq!(finish, &plain["choices"][0]["finish_reason"]);
    let last = &chunks[chunks.len() - 1];
    assert_eq!(last["choices"].as_array().map(Vec::len), Some(0));
    assert_eq!(last["usage"]["completion_tokens"], completion);

    // A length-limited answer says so.
    let (_, short) = s
        .post(
            "/chat/completions",
            &ask("Tell me a long story about a dragon.", 3),
        )
        .await;
    assert_eq!(short["choices"][0]["finish_reason"], "length");
    assert_eq!(short["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn a_stop_string_ends_the_answer_before_it() {
    let s = gemma();
    let question = "Write the numbers from 1 to 20 separated by commas.";
    let (_, plain) = s.post("/chat/completions", &ask(question, 40)).await;
    let text = plain["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    // Stop at the fourth character onwards of the answer: whatever it is,
    // the answer must end right before its first occurrence.
    let cut = text
        .char_indices()
        .nth(4)
        .map(|(i, _)| i)
        .expect("a long enough answer");
    let stop: String = text[cut..].chars().take(2).collect();
    let first = text.find(&stop).unwrap();
    for stop_value in [json!(stop), json!(["@@never@@", stop])] {
        let mut body = ask(question, 40);
        body["stop"] = stop_value;
        let (status, stopped) = s.post("/chat/completions", &body).await;
        assert_eq!(status, 200, "{stopped}");
        assert_eq!(stopped["choices"][0]["message"]["content"], &text[..first]);
        assert_eq!(stopped["choices"][0]["finish_reason"], "stop");
    }
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_errors() {
    let s = gemma();
    let c = client();
    let url = format!("{}/chat/completions", s.base);

    let res = c
        .post(&url)
        .bearer_auth(&s.token)
        .header("content-type", "application/json")
        .body("{\"messages\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_openai_error(&res.json().await.unwrap(), "invalid_json");

    let (status, body) = s
        .post("/chat/completions", &json!({"messages": "hi"}))
        .await;
    assert_eq!(status, 400);
    assert_openai_error(&body, "invalid_json");

    let http_image = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "http://example.com/cat.png"}}]}]});
    let (status, body) = s.post("/chat/completions", &http_image).await;
    assert_eq!(status, 400);
    assert_openai_error(&body, "remote_url_refused");

    // The text model has no projector: a valid image is refused, not ignored.
    let png = std::fs::read(common::asset("cat-64x48.png")).unwrap();
    let image = json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png))}}]}]});
    let (status, body) = s.post("/chat/completions", &image).await;
    assert_eq!(status, 400, "{body}");
    assert_openai_error(&body, "unsupported_media");

    let (status, body) = s.post("/embeddings", &json!({"input": "hello"})).await;
    assert_eq!(status, 501);
    assert_openai_error(&body, "embeddings_unavailable");

    let res = c
        .get(format!("{}/nope", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // 33 MiB: over the 32 MiB default.
    let huge = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
        "a".repeat(33 << 20)
    );
    let res = c
        .post(&url)
        .bearer_auth(&s.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_openai_error(&res.json().await.unwrap(), "request_too_large");
}

#[tokio::test]
async fn image_and_audio_parts_reach_the_projector() {
    let (model, mmproj) = common::omni_fixture();
    let s = ServeProcess::start(&model, &["--mmproj", mmproj.to_str().unwrap()]);
    let b64 = |name: &str| {
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(common::asset(name)).unwrap())
    };
    let prompt_tokens = |body: &Value| body["usage"]["prompt_tokens"].as_u64().unwrap();
    let text_only = json!({"messages": [{"role": "user", "content": "What is this?"}],
        "max_tokens": 2, "temperature": 0});
    let (status, plain) = s.post("/chat/completions", &text_only).await;
    assert_eq!(status, 200, "{plain}");

    let with_image = json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", b64("cat-64x48.png"))}},
        {"type": "text", "text": "What is this?"}]}], "max_tokens": 2, "temperature": 0});
    let (status, image) = s.post("/chat/completions", &with_image).await;
    assert_eq!(status, 200, "{image}");
    let extra = prompt_tokens(&image) - prompt_tokens(&plain);
    assert!(
        (12..12 + 8).contains(&extra),
        "a 64×48 image is 12 tokens; got {extra} more"
    );

    let with_audio = json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": b64("hello.mp3"), "format": "mp3"}},
        {"type": "text", "text": "What is this?"}]}], "max_tokens": 2, "temperature": 0,
        "stream": true, "stream_options": {"include_usage": true}});
    let events = stream_events(&s, &with_audio).await;
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    let extra = usage["usage"]["prompt_tokens"].as_u64().unwrap() - prompt_tokens(&plain);
    assert!(
        (750..750 + 8).contains(&extra),
        "a clip is one 750-token window; got {extra} more"
    );

    let bad_audio = json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": b64("cat-64x48.png"), "format": "wav"}}]}]});
    let (status, body) = s.post("/chat/completions", &bad_audio).await;
    assert_eq!(status, 400);
    assert_openai_error(&body, "invalid_media");
}

#[tokio::test]
async fn a_client_that_disconnects_frees_the_engine() {
    let s = gemma();
    let mut long = ask("Count from 1 to 1000, one number per line.", 1500);
    long["stream"] = json!(true);
    let res = client()
        .post(format!("{}/chat/completions", s.base))
        .bearer_auth(&s.token)
        .json(&long)
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let mut first_token = None;
    while seen.matches("\"content\"").count() < 12 {
        let chunk = body.next().await.expect("more chunks").unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if first_token.is_none() && seen.matches("\"content\"").count() >= 2 {
            first_token = Some(Instant::now());
        }
    }
    assert!(
        !seen.contains("finish_reason\":\""),
        "still generating: {seen}"
    );
    // The machine's own pace (shared CI boxes vary tenfold): ~10 tokens.
    let per_token = first_token.expect("a token").elapsed() / 10;
    drop(body);

    // The cancelled request still had ~1,490 tokens to go; the next one
    // needs a short prompt and 4 tokens. Waiting a third of the rest of
    // the long answer would mean it was not cancelled.
    let t = Instant::now();
    let (status, after) = s.post("/chat/completions", &ask("Say hello.", 4)).await;
    assert_eq!(status, 200, "{after}");
    let bound = (per_token * 500).max(Duration::from_secs(2));
    assert!(
        t.elapsed() < bound,
        "the next request waited {:?} (bound {bound:?} at {per_token:?} per token)",
        t.elapsed()
    );
}

/// Eight greedy streams at once (decoded together in one batch per token)
/// are answered whole, each with its own question's answer.
#[tokio::test]
async fn eight_concurrent_streams_are_answered_whole_and_unmixed() {
    let s = gemma();
    let questions = [
        "Name three colours.",
        "What is the capital of France?",
        "Write a haiku about rain.",
        "Explain what a compiler does.",
        "List four animals that live in the sea.",
        "Why do leaves change colour in autumn?",
        "Give me a tip for sleeping well.",
        "What is two plus two? Explain.",
    ];
    let mut expected = Vec::new();
    for q in questions {
        let (_, plain) = s.post("/chat/completions", &ask(q, 24)).await;
        expected.push(
            plain["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_ne!(expected[0], expected[1]);
    let stream_body = |q: &str| {
        let mut b = ask(q, 24);
        b["stream"] = json!(true);
        b
    };
    let streams = futures_util::future::join_all(
        questions
            .iter()
            .map(|q| async { read_events(start_stream(&s, &stream_body(q)).await).await }),
    )
    .await;
    let texts: Vec<String> = streams.iter().map(|e| streamed_text(e)).collect();
    common::assert_unmixed(&texts, &expected, 16);
}

#[tokio::test]
async fn overload_is_answered_429_with_retry_after() {
    let s = gemma();
    let c = client();
    let sends = (0..40).map(|i| {
        c.post(format!("{}/chat/completions", s.base))
            .bearer_auth(&s.token)
            .json(&ask(&format!("Say {i}."), 1))
            .send()
    });
    let results = futures_util::future::join_all(sends).await;
    let mut busy = 0;
    for r in results {
        let r = r.unwrap();
        match r.status().as_u16() {
            200 => {}
            429 => {
                busy += 1;
                assert_eq!(r.headers()["retry-after"], "1");
                assert_openai_error(&r.json().await.unwrap(), "server_busy");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        busy > 0,
        "40 simultaneous requests should overflow a queue of 16"
    );
}

#[test]
fn ctrl_c_stops_the_server_cleanly() {
    let mut s = gemma();
    let status = s.interrupt();
    assert!(status.success(), "{status:?}: {}", s.log());
    assert!(s.log().contains("Server stopped."), "{}", s.log());
}

#[test]
fn a_non_loopback_host_is_warned_about() {
    let s = ServeProcess::start(&common::test_model(), &["--host", "0.0.0.0"]);
    assert!(s.base.starts_with("http://0.0.0.0:"), "{}", s.base);
    assert!(s.log().contains("warning: binding 0.0.0.0"), "{}", s.log());
}

/// A stand-in for the RAG module's embedder.
struct FakeEmbedder;

impl omnidesk::server::EmbeddingBackend for FakeEmbedder {
    fn model_id(&self) -> &str {
        "fake-embed"
    }

    fn dimension(&self) -> usize {
        2
    }

    fn embed(
        &self,
        inputs: Vec<String>,
    ) -> omnidesk::server::BoxFuture<'_, Result<omnidesk::rag::Embedded, omnidesk::rag::RagError>>
    {
        Box::pin(async move {
            Ok(omnidesk::rag::Embedded {
                vectors: inputs.iter().map(|t| vec![t.len() as f32, 1.0]).collect(),
                tokens: inputs.len(),
            })
        })
    }
}

#[tokio::test]
async fn an_embedding_backend_plugs_into_the_seam() {
    use omnidesk::engine::{EngineHandle, RemoteConfig};
    use omnidesk::server::{Defaults, Server, ServerOptions};
    // A chat engine that is never asked: a remote one with a fixed model
    // does not contact its server until a generation starts.
    let engine = EngineHandle::start_remote(RemoteConfig {
        model: Some("unused".into()),
        ..RemoteConfig::new("http://127.0.0.1:9/v1")
    })
    .await
    .unwrap();
    let options = ServerOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        token: "t0ken".into(),
        model_id: "chat".into(),
        body_limit: 1 << 20,
        defaults: Defaults {
            max_tokens: 8,
            ..Default::default()
        },
        embedder: Some(std::sync::Arc::new(FakeEmbedder)),
        speech: Default::default(),
        limits: Default::default(),
    };
    let server = Server::bind(engine, options).await.unwrap();
    let base = format!("http://{}/v1", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let res = client()
        .post(format!("{base}/embeddings"))
        .bearer_auth("t0ken")
        .json(&json!({"input": ["a", "abc"], "model": "fake-embed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"][1]["embedding"], json!([3.0, 1.0]));
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["model"], "fake-embed");
    let models: Value = client()
        .get(format!("{base}/models"))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][1]["id"], "fake-embed");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[test]
fn show_token_prints_the_stored_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnidesk"))
            .args(["serve", "--show-token"])
            .env("OMNIDESK_DATA_DIR", dir.path())
            .env("OMNIDESK_CONFIG", dir.path().join("config.toml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let token = run();
    assert_eq!(token.len(), 64);
    assert_eq!(run(), token);
    let stored = std::fs::read_to_string(dir.path().join("server-token")).unwrap();
    assert_eq!(stored.trim(), token);
}

#[test]
fn the_openai_python_client_works_unchanged() {
    let python = common::openai_python();
    let s = gemma();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/openai_client.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([&s.base, &s.token, &s.model_id])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "python client failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

/// The speech routes through the real `openai` package: Whisper hears an
/// espeak-ng question, the voice speaks a non-silent WAV and a streamed PCM.
#[test]
fn the_openai_python_client_transcribes_and_speaks() {
    let Some(whisper) = std::env::var("OMNIDESK_TEST_WHISPER_MODEL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("skipped: set OMNIDESK_TEST_WHISPER_MODEL (scripts/test.sh does)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("question.wav");
    let st = std::process::Command::new("espeak-ng")
        .arg("-w")
        .arg(&wav)
        .arg("What is the capital of France?")
        .status()
        .unwrap();
    assert!(st.success());
    let s = ServeProcess::start(
        &common::test_model(),
        &["--whisper-model", &whisper, "--voice", "espeak"],
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/openai_audio.py");
    let out = std::process::Command::new(common::openai_python())
        .arg(script)
        .args([&s.base, &s.token])
        .arg(&wav)
        .args(["capital", "france"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "python client failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

/// Without a way to hear, a transcription is 501; a malformed upload or
/// speech input is 400, each with its code.
#[tokio::test]
async fn speech_routes_refuse_what_they_cannot_do() {
    let s = gemma();
    let url = |p: &str| format!("{}{p}", s.base);
    let boundary = "omnideskboundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\
         Content-Type: audio/wav\r\n\r\nnot audio\r\n--{boundary}--\r\n"
    );
    let send = |body: String, mime: String| {
        client()
            .post(url("/audio/transcriptions"))
            .bearer_auth(&s.token)
            .header("content-type", mime)
            .body(body)
            .send()
    };
    let res = send(
        form.clone(),
        format!("multipart/form-data; boundary={boundary}"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 501);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "transcription_unavailable", "{body}");
    let res = send(form, "application/json".into()).await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_multipart", "{body}");

    for (input, code) in [
        (json!(""), "invalid_input"),
        (json!("a".repeat(4097)), "input_too_long"),
    ] {
        let (status, body) = s
            .post(
                "/audio/speech",
                &json!({"model": "tts-1", "voice": "alloy", "input": input}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    let (status, body) = s
        .post(
            "/audio/speech",
            &json!({"model": "tts-1", "voice": "alloy", "input": "Hi.", "speed": 2.0}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_speed", "{body}");
}
