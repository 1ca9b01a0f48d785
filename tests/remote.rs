//! The remote backend: `EngineHandle` fronting an OpenAI-compatible server
//! — our own `omnidesk serve`, the real `llama-server` from llama.cpp, and
//! scripted fake servers for retries and broken streams.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::serve::ServeProcess;
use common::{greedy, request, user};
use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::{
    EngineError, EngineHandle, FinishReason, GenerationEvent, RemoteConfig, RemoteError,
};
use omnidesk::media::{self, Media};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn remote_config(url: &str, key: Option<&str>) -> RemoteConfig {
    RemoteConfig {
        api_key: key.map(str::to_string),
        backoff: Duration::from_millis(20),
        max_retries: 2,
        ..RemoteConfig::new(url)
    }
}

/// The plain answer of `s` to `question`, asked over HTTP directly.
async fn direct_answer(s: &ServeProcess, question: &str, max_tokens: u32) -> String {
    let body = serde_json::json!({
        "messages": [{"role": "user", "content": question}],
        "temperature": 0, "seed": 1, "max_tokens": max_tokens,
    });
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/chat/completions", s.base))
        .bearer_auth(&s.token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn round_trip_through_our_own_server() {
    let s = ServeProcess::start(&common::test_model(), &[]);
    let engine = EngineHandle::start_remote(remote_config(&s.base, Some(&s.token)))
        .await
        .unwrap();
    assert!(engine.is_remote());
    assert_eq!(engine.info().name.as_deref(), Some("gemma-3-270m-q4_k_m"));

    let question = "Name three colours.";
    let expected = direct_answer(&s, question, 20).await;
    let mut stream = engine
        .generate(request(vec![user(question)], greedy(), 20))
        .unwrap();
    let mut started = false;
    let mut tokens = String::new();
    let outcome = loop {
        match stream.next().await.expect("events until Done") {
            GenerationEvent::Started { .. } => started = true,
            GenerationEvent::Token(t) => {
                assert!(started, "Token before Started");
                tokens.push_str(&t);
            }
            GenerationEvent::Done(o) => break o,
            GenerationEvent::Failed(e) => panic!("{e}"),
        }
    };
    assert_eq!(tokens, expected);
    assert_eq!(outcome.text, expected);
    assert!(outcome.stats.prompt_tokens > 5, "usage comes back");
    assert!(outcome.stats.generated_tokens > 0);
    assert!(matches!(
        outcome.finish,
        FinishReason::Stop | FinishReason::MaxTokens
    ));

    // Dropping a stream aborts the HTTP request, which frees the server.
    let mut long = engine
        .generate(request(
            vec![user("Count from 1 to 1000, one number per line.")],
            greedy(),
            1500,
        ))
        .unwrap();
    let mut n = 0;
    while n < 5 {
        if let Some(GenerationEvent::Token(_)) = long.next().await {
            n += 1;
        }
    }
    drop(long);
    let t = Instant::now();
    let again = engine
        .complete(request(vec![user("Say hello.")], greedy(), 4))
        .await
        .unwrap();
    assert!(!again.text.is_empty());
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "waited {:?}",
        t.elapsed()
    );

    // Explicit cancel ends with Done(Cancelled).
    let mut c = engine
        .generate(request(vec![user("Tell a long story.")], greedy(), 1000))
        .unwrap();
    let token = c.cancel_token();
    while !matches!(c.next().await, Some(GenerationEvent::Token(_))) {}
    token.cancel();
    let done = c.finish().await.unwrap();
    assert_eq!(done.finish, FinishReason::Cancelled);
}

#[tokio::test]
async fn images_and_audio_travel_to_the_remote_model() {
    let (model, mmproj) = common::omni_fixture();
    let s = ServeProcess::start(&model, &["--mmproj", mmproj.to_str().unwrap()]);
    let engine = EngineHandle::start_remote(remote_config(&s.base, Some(&s.token)))
        .await
        .unwrap();
    let ask = |media: Vec<Media>| {
        request(
            vec![ChatMessage::with_media(Role::User, "What is this?", media)],
            greedy(),
            2,
        )
    };
    let plain = engine.complete(ask(vec![])).await.unwrap();
    let image = Media::Image(
        media::image::load(&common::asset("cat-64x48.png"), &Default::default()).unwrap(),
    );
    let audio = Media::Audio(
        media::audio::load(&common::asset("hello.wav"), 16_000, &Default::default()).unwrap(),
    );
    let both = engine.complete(ask(vec![image, audio])).await.unwrap();
    let extra = both.stats.prompt_tokens - plain.stats.prompt_tokens;
    assert!(
        (12 + 750..12 + 750 + 16).contains(&extra),
        "image (12) + clip (750) tokens; got {extra}"
    );
}

#[tokio::test]
async fn auth_and_connection_failures_are_typed() {
    let s = ServeProcess::start(&common::test_model(), &[]);
    let err = EngineHandle::start_remote(remote_config(&s.base, Some("wrong")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Remote(RemoteError::Status { status: 401, .. })
        ),
        "{err}"
    );
    // With the model named, start does not contact the server; the first
    // generation reports the 401 (without retrying it).
    let mut cfg = remote_config(&s.base, Some("wrong"));
    cfg.model = Some("m".into());
    let engine = EngineHandle::start_remote(cfg).await.unwrap();
    let err = engine
        .complete(request(vec![user("hi")], greedy(), 2))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Remote(RemoteError::Status { status: 401, .. })
        ),
        "{err}"
    );
    assert_eq!(err.code(), "REMOTE_STATUS");

    // Nothing listens on a just-freed port: retried, then Connect.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = remote_config(&format!("http://127.0.0.1:{port}/v1"), None);
    cfg.model = Some("m".into());
    let engine = EngineHandle::start_remote(cfg).await.unwrap();
    let err = engine
        .complete(request(vec![user("hi")], greedy(), 2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Remote(RemoteError::Connect { .. })),
        "{err}"
    );

    let bad = EngineHandle::start_remote(remote_config("ftp://x/v1", None))
        .await
        .unwrap_err();
    assert!(
        matches!(bad, EngineError::Remote(RemoteError::BadUrl { .. })),
        "{bad}"
    );
}

/// A one-shot HTTP server answering request N with `responses[N]` (the
/// last one repeats); counts requests.
async fn scripted_server(responses: Vec<String>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let response = responses[n.min(responses.len() - 1)].clone();
            tokio::spawn(async move {
                // Read the head and the body announced by Content-Length.
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let Ok(k) = sock.read(&mut tmp).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..k]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, count)
}

fn http(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn sse(chunks: &[&str], done: bool) -> String {
    let mut body: String = chunks
        .iter()
        .map(|c| {
            format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{c}\"}},\"finish_reason\":null}}]}}\n\n"
            )
        })
        .collect();
    if done {
        body.push_str(
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        );
        body.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\ndata: [DONE]\n\n");
    }
    http("200 OK", "text/event-stream", &body)
}

#[tokio::test]
async fn overload_and_server_errors_are_retried_before_the_first_token() {
    let busy = http(
        "503 Service Unavailable",
        "application/json",
        r#"{"error":{"message":"loading","type":"server_error","code":503}}"#,
    );
    let (url, count) = scripted_server(vec![busy.clone(), busy, sse(&["Hel", "lo"], true)]).await;
    let mut cfg = remote_config(&url, None);
    cfg.model = Some("m".into());
    let engine = EngineHandle::start_remote(cfg).await.unwrap();
    let out = engine
        .complete(request(vec![user("hi")], greedy(), 8))
        .await
        .unwrap();
    assert_eq!(out.text, "Hello");
    assert_eq!(out.finish, FinishReason::Stop);
    assert_eq!(
        (out.stats.prompt_tokens, out.stats.generated_tokens),
        (9, 2)
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);

    // Too many failures: the last error is reported.
    let always = http("500 Internal Server Error", "text/plain", "boom");
    let (url, count) = scripted_server(vec![always]).await;
    let mut cfg = remote_config(&url, None);
    cfg.model = Some("m".into());
    let engine = EngineHandle::start_remote(cfg).await.unwrap();
    let err = engine
        .complete(request(vec![user("hi")], greedy(), 8))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Remote(RemoteError::Status { status: 500, message, .. }) if message == "boom"),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3, "1 try + 2 retries");
}

#[tokio::test]
async fn a_stream_broken_after_tokens_is_not_retried() {
    let (url, count) = scripted_server(vec![sse(&["partial"], false)]).await;
    let mut cfg = remote_config(&url, None);
    cfg.model = Some("m".into());
    let engine = EngineHandle::start_remote(cfg).await.unwrap();
    let mut stream = engine
        .generate(request(vec![user("hi")], greedy(), 8))
        .unwrap();
    let mut text = String::new();
    let err = loop {
        match stream.next().await.unwrap() {
            GenerationEvent::Token(t) => text.push_str(&t),
            GenerationEvent::Failed(e) => break e,
            GenerationEvent::Done(o) => panic!("unexpected success {o:?}"),
            GenerationEvent::Started { .. } => {}
        }
    };
    assert_eq!(text, "partial");
    assert!(
        matches!(
            err,
            EngineError::Remote(RemoteError::Interrupted { tokens: 1, .. })
        ),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn against_the_real_llama_server() {
    let Some(server) = common::reference_llama_server() else {
        return;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _child = common::Killed(
        std::process::Command::new(&server)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-t", "2", "-c", "2048", "--api-key", "secret", "-m"])
            .arg(common::test_model())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = reqwest::get(format!("{base}/health"))
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "llama-server did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let engine = EngineHandle::start_remote(remote_config(&format!("{base}/v1"), Some("secret")))
        .await
        .unwrap();
    let mut stream = engine
        .generate(request(vec![user("Name three colours.")], greedy(), 16))
        .unwrap();
    let mut tokens = 0;
    let out = loop {
        match stream.next().await.unwrap() {
            GenerationEvent::Token(_) => tokens += 1,
            GenerationEvent::Done(o) => break o,
            GenerationEvent::Failed(e) => panic!("{e}"),
            GenerationEvent::Started { .. } => {}
        }
    };
    assert!(tokens > 0 && !out.text.trim().is_empty(), "{out:?}");
    assert!(
        out.stats.prompt_tokens > 5,
        "llama-server reports usage: {:?}",
        out.stats
    );
    assert!(out.stats.generated_tokens > 0 && out.stats.generated_tokens <= 16);

    // A wrong key is a typed 401 from llama-server too.
    let mut cfg = remote_config(&format!("{base}/v1"), Some("nope"));
    cfg.model = Some("x".into());
    let wrong = EngineHandle::start_remote(cfg).await.unwrap();
    let err = wrong
        .complete(request(vec![user("hi")], greedy(), 2))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Remote(RemoteError::Status { status: 401, .. })
        ),
        "{err}"
    );
}
