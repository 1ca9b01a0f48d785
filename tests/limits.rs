//! Requests and media that used to pin the engine or exhaust memory, made
//! here by code: a WAV claiming a 4 GHz sample rate, PNGs with lying
//! headers, too many images, a 10,000-message history, silent and
//! half-sent connections, a stop with long requests open. Each must end in
//! a typed error or a correct answer, and the server must keep serving.
//! Run against the real `omnidesk` binary and the real Gemma model.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::serve::ServeProcess;
use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::{FinishReason, GenerationEvent, Priority};
use serde_json::{json, Value};

/// A 16-bit mono WAV whose header claims `rate` Hz over 8 samples: 60 bytes.
fn lying_wav(rate: u32) -> Vec<u8> {
    let data = [0u8; 16];
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&rate.wrapping_mul(2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    b
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &byte in data {
        c ^= u32::from(byte);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A real 1×1 PNG whose IHDR (with a valid CRC) claims `w`×`h` pixels.
fn lying_png(w: u32, h: u32) -> Vec<u8> {
    let mut b = tiny_png();
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

fn tiny_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::new_rgb8(1, 1)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn image_part(png: &[u8]) -> Value {
    json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", b64(png))}})
}

fn with_parts(parts: Vec<Value>) -> Value {
    json!({"messages": [{"role": "user", "content": parts}], "max_tokens": 2})
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A history of `n` short messages, alternating user/assistant, ending with a question.
fn long_history(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            let text = if i + 1 == n {
                "Say hello.".to_string()
            } else {
                format!("message {i}")
            };
            json!({"role": role, "content": text})
        })
        .collect()
}

/// Peak resident memory of `pid` in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Wait for `child` with a generous safety bound; kill it and fail past it.
fn wait_bounded(mut child: std::process::Child, bound: Duration) -> std::process::Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            panic!("the command did not finish within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ask_refuses_a_wav_claiming_4_ghz_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("lie.wav");
    std::fs::write(&wav, lying_wav(4_294_967_291)).unwrap();
    assert_eq!(std::fs::metadata(&wav).unwrap().len(), 60);
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[engine]\nthreads = 2\nn_ctx = 1024\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .args(["ask", "--no-save", "--audio"])
        .arg(&wav)
        .arg("What do you hear?")
        .env("OMNIDESK_DATA_DIR", dir.path())
        .env("OMNIDESK_CONFIG", &config)
        .env("OMNIDESK_MODEL", common::test_model())
        .env_remove("OMNIDESK_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a lying WAV was accepted: {stderr}");
    assert!(
        stderr.contains("4294967291 Hz") && stderr.contains("lie.wav"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn lying_and_excessive_media_get_typed_errors_and_the_server_stays_up() {
    let s = ServeProcess::start(&common::test_model(), &[]);
    let wav = lying_wav(4_294_967_291);
    let (status, body) = s
        .post(
            "/chat/completions",
            &with_parts(vec![
                json!({"type": "text", "text": "what is this?"}),
                json!({"type": "input_audio", "input_audio": {"data": b64(&wav), "format": "wav"}}),
            ]),
        )
        .await;
    assert_error(status, &body, 400, "invalid_media");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4294967291 Hz"),
        "{body}"
    );

    for (w, h) in [(100_000, 100_000), (16_384, 16_384), (1, 1 << 30)] {
        let (status, body) = s
            .post(
                "/chat/completions",
                &with_parts(vec![image_part(&lying_png(w, h))]),
            )
            .await;
        assert_error(status, &body, 400, "invalid_media");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("over the limit"),
            "{w}×{h}: {body}"
        );
    }

    let png = tiny_png();
    let (status, body) = s
        .post(
            "/chat/completions",
            &with_parts((0..17).map(|_| image_part(&png)).collect()),
        )
        .await;
    assert_error(status, &body, 400, "too_many_media");

    // Within the count, but over the request's total of declared pixels:
    // each image alone is allowed (40 MP ≤ 50 MP), three are not, which
    // the headers tell before anything is decoded.
    let big = lying_png(8_000, 5_000);
    let (status, body) = s
        .post(
            "/chat/completions",
            &with_parts((0..3).map(|_| image_part(&big)).collect()),
        )
        .await;
    assert_error(status, &body, 413, "media_request_total");

    // Still serving.
    let (status, body) = s
        .post(
            "/chat/completions",
            &json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eprintln!(
        "peak RSS of serve after the media cases: {} MiB",
        peak_rss_kib(s.pid()) / 1024
    );
}

#[tokio::test]
async fn huge_histories_are_refused_or_fitted_and_others_are_still_served() {
    let s = ServeProcess::start(&common::test_model(), &[]);
    let t = Instant::now();
    let (status, body) = s
        .post(
            "/chat/completions",
            &json!({"messages": long_history(10_000), "max_tokens": 2}),
        )
        .await;
    eprintln!("10,000 messages: {status} after {:?}", t.elapsed());
    assert_error(status, &body, 400, "too_many_messages");

    // Under the count limit, a long history is fitted (oldest dropped) and
    // answered, while a second client's request is answered too.
    let long = json!({"messages": long_history(4_001), "max_tokens": 2, "temperature": 0});
    let short = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2});
    let t = Instant::now();
    let ((s1, b1), (s2, b2)) = tokio::join!(
        s.post("/chat/completions", &long),
        s.post("/chat/completions", &short)
    );
    eprintln!("4,001 messages + a short one: {:?}", t.elapsed());
    assert_eq!(s1, 200, "{b1}");
    assert_eq!(s2, 200, "{b2}");
    let prompt = b1["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 0 && prompt <= 2048, "{b1}");
    eprintln!(
        "peak RSS of serve after the history cases: {} MiB",
        peak_rss_kib(s.pid()) / 1024
    );
}

#[test]
fn silent_and_half_sent_connections_are_closed_by_the_server() {
    let s = ServeProcess::start(&common::test_model(), &["--header-timeout", "2"]);
    let addr = format!("127.0.0.1:{}", s.port());
    let silent = TcpStream::connect(&addr).unwrap();
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
        .unwrap();
    for (name, mut conn) in [("silent", silent), ("half a header", half)] {
        // A safety bound only: the server's own timeout is 2 s.
        conn.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut buf = [0u8; 1024];
        let closed = loop {
            match conn.read(&mut buf) {
                Ok(0) => break true,
                // Whatever it answers (a 408), it must then close.
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(e) => panic!("{name}: still open ({e})"),
            }
        };
        assert!(closed, "{name}");
    }
    // Others are still served.
    let mut ok = TcpStream::connect(&addr).unwrap();
    ok.write_all(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test]
async fn ctrl_c_stops_within_its_grace_period_with_long_requests_open() {
    let mut s = ServeProcess::start(&common::test_model(), &["--shutdown-grace", "2"]);
    let counting = |stream: bool| {
        json!({
            "messages": [{"role": "user", "content": "Count from 1 to 100000, one number per line."}],
            "max_tokens": 1000,
            "temperature": 0,
            "stream": stream,
        })
    };
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/chat/completions", s.base))
        .bearer_auth(&s.token)
        .json(&counting(true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Queued behind it: several more long answers, far more work than the grace.
    let mut queued = Vec::new();
    for _ in 0..4 {
        let c = client.clone();
        let url = format!("{}/chat/completions", s.base);
        let token = s.token.clone();
        let body = counting(false);
        queued.push(tokio::spawn(async move {
            c.post(url).bearer_auth(token).json(&body).send().await
        }));
    }
    let mut body = res.bytes_stream();
    use futures_util::StreamExt;
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    // Also a connection that never finishes its headers.
    let mut half = TcpStream::connect(format!("127.0.0.1:{}", s.port())).unwrap();
    half.write_all(b"POST /v1/chat/completions HTTP/1.1\r\n")
        .unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = s.interrupt();
        (status, s.log())
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{:?}: {}", status.0, status.1);
    assert!(status.1.contains("Server stopped."), "{}", status.1);
    for q in queued {
        // Each ended one way or another; none is left hanging.
        let _ = tokio::time::timeout(Duration::from_secs(30), q)
            .await
            .expect("a queued request still hangs after the server stopped");
    }
}

#[tokio::test]
async fn a_10000_message_history_is_fitted_and_the_window_goes_before_api_clients() {
    let engine = common::engine(2048).await;
    let api = engine.with_priority(Priority::Background);
    assert_eq!(api.priority(), Priority::Background);

    let history: Vec<ChatMessage> = (0..10_000)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            ChatMessage::new(role, format!("message {i}"))
        })
        .chain([common::user("Say hello.")])
        .collect();
    let t = Instant::now();
    let out = engine
        .complete(common::request(history.clone(), common::greedy(), 2))
        .await
        .unwrap();
    eprintln!("10,001 messages fitted and answered in {:?}", t.elapsed());
    assert!(out.stats.dropped_messages > 9_000, "{:?}", out.stats);
    assert!(out.stats.prompt_tokens <= 2048, "{:?}", out.stats);

    // An API client's long answer runs; more API requests and one from the
    // window queue behind it. The window's is answered next.
    let counting = || {
        common::request(
            vec![common::user("Count from 1 to 1000, one number per line.")],
            common::greedy(),
            48,
        )
    };
    let mut running = api.generate(counting()).unwrap();
    assert!(matches!(
        running.next().await,
        Some(GenerationEvent::Started { .. })
    ));
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiting = Vec::new();
    for (name, handle) in [("api-1", &api), ("api-2", &api), ("window", &engine)] {
        let mut stream = handle.generate(counting()).unwrap();
        let order = order.clone();
        waiting.push(tokio::spawn(async move {
            let out = stream.finish().await.unwrap();
            order.lock().unwrap().push(name);
            out
        }));
    }
    // Cancelled while waiting: the engine skips it without rendering its
    // 10,001-message history.
    let mut cancelled = api
        .generate(common::request(history, common::greedy(), 2))
        .unwrap();
    cancelled.cancel();
    running.finish().await.unwrap();
    for w in waiting {
        w.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec!["window", "api-1", "api-2"]);
    let skipped = cancelled.finish().await.unwrap();
    assert_eq!(skipped.finish, FinishReason::Cancelled);
    assert_eq!(skipped.stats.prompt_tokens, 0, "{:?}", skipped.stats);
}
