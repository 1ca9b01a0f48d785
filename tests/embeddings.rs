//! Embeddings over HTTP, both ways: `omnidesk serve --embed-model` with the
//! real MiniLM GGUF through llama.cpp (driven by reqwest and by the real
//! `openai` Python package), and the remote embedder sending the document
//! index's embeddings to that server on 127.0.0.1.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::serve::ServeProcess;
use omnidesk::engine::RemoteConfig;
use omnidesk::rag::embed::cosine;
use omnidesk::rag::{
    Embedder, IngestOptions, LlamaEmbedder, Rag, RagError, RemoteEmbedder, SearchOptions,
};
use serde_json::{json, Value};

/// Gemma for chat plus MiniLM for embeddings.
fn serve_with_embeddings() -> ServeProcess {
    let embed = common::embed_model();
    ServeProcess::start(
        &common::test_model(),
        &["--embed-model", embed.to_str().unwrap()],
    )
}

fn local() -> LlamaEmbedder {
    LlamaEmbedder::start(&common::embed_model(), Some(2)).expect("MiniLM loads")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn assert_close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "vectors differ by {worst}");
}

const TEXTS: [&str; 3] = [
    "The cat sat on the mat.",
    "A cat was sitting on a rug.",
    "Quarterly tax returns are due in April.",
];

#[tokio::test(flavor = "multi_thread")]
async fn serve_embeds_with_the_real_model_in_openai_shape() {
    let s = serve_with_embeddings();
    let local = local();

    let (status, body) = s
        .post("/embeddings", &json!({"input": TEXTS, "model": "x"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "all-minilm-l6-v2-f16");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let served: Vec<Vec<f32>> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["object"], "embedding");
            assert_eq!(d["index"], i);
            floats(&d["embedding"])
        })
        .collect();
    let direct = local.embed(&TEXTS).unwrap();
    for (a, b) in served.iter().zip(&direct) {
        assert_eq!(a.len(), 384);
        assert_close(a, b);
    }
    // Meaning, not noise: the two cat sentences are closest.
    assert!(cosine(&served[0], &served[1]) > cosine(&served[0], &served[2]) + 0.2);
    let usage = &body["usage"];
    let tokens = usage["prompt_tokens"].as_u64().unwrap();
    assert!(tokens >= 20, "{usage}");
    assert_eq!(usage["total_tokens"].as_u64(), Some(tokens));

    // One string, base64: the same numbers as little-endian f32s.
    let (status, body) = s
        .post(
            "/embeddings",
            &json!({"input": TEXTS[2], "encoding_format": "base64"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_close(&decoded, &served[2]);

    // Typed 400s: too long for the model (never silently cut), token ids,
    // empty strings, an unknown encoding, another dimension.
    let long = "word ".repeat(2000);
    let (status, body) = s.post("/embeddings", &json!({"input": ["ok", long]})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "input_too_long");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("input 1"));
    for (req, code) in [
        (json!({"input": [1, 2, 3]}), "unsupported_input"),
        (json!({"input": ["a", ""]}), "invalid_input"),
        (json!({"input": []}), "invalid_input"),
        (
            json!({"input": "a", "encoding_format": "int8"}),
            "invalid_encoding_format",
        ),
        (
            json!({"input": "a", "dimensions": 128}),
            "unsupported_dimensions",
        ),
    ] {
        let (status, body) = s.post("/embeddings", &req).await;
        assert_eq!(status, 400, "{req} → {body}");
        assert_eq!(body["error"]["code"], code, "{req} → {body}");
    }
    // Still behind the token.
    let res = reqwest::Client::new()
        .post(format!("{}/embeddings", s.base))
        .json(&json!({"input": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Listed next to the chat model.
    let models: Value = reqwest::Client::new()
        .get(format!("{}/models", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"all-minilm-l6-v2-f16"), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_rejects_a_body_over_the_limit_on_embeddings() {
    let embed = common::embed_model();
    let s = ServeProcess::start(
        &common::test_model(),
        &[
            "--embed-model",
            embed.to_str().unwrap(),
            "--max-body-mib",
            "1",
        ],
    );
    let big = "x".repeat(1 << 20);
    let (status, body) = s.post("/embeddings", &json!({ "input": big })).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "request_too_large");
}

#[test]
fn the_openai_python_client_embeds() {
    let python = common::openai_python();
    let s = serve_with_embeddings();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/openai_embeddings.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([&s.base, &s.token, "all-minilm-l6-v2-f16"])
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

fn remote_config(s: &ServeProcess, model: &str) -> RemoteConfig {
    RemoteConfig {
        api_key: Some(s.token.clone()),
        model: Some(model.into()),
        backoff: Duration::from_millis(20),
        max_retries: 1,
        ..RemoteConfig::new(s.base.clone())
    }
}

#[test]
fn the_document_index_embeds_on_a_remote_server() {
    let s = serve_with_embeddings();
    let remote = RemoteEmbedder::connect(remote_config(&s, "all-minilm-l6-v2-f16")).unwrap();
    assert_eq!(remote.dimension(), 384);
    assert!(
        remote.model_id().starts_with("remote:"),
        "{}",
        remote.model_id()
    );
    let local = local();
    for (a, b) in remote
        .embed(&TEXTS)
        .unwrap()
        .iter()
        .zip(&local.embed(&TEXTS).unwrap())
    {
        assert_close(a, b);
    }

    // An index built locally, reopened with the remote embedder: a new
    // model id, so every chunk is re-embedded (never mixed), and search
    // still finds the right document.
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    common::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/rag/docs"),
        &docs,
    );
    let index = tmp.path().join("index");
    let rag = Rag::open(&index, Arc::new(local)).unwrap();
    let report = rag
        .add_blocking(
            std::slice::from_ref(&docs),
            &IngestOptions::default(),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
    assert!(report.chunks_added > 0);
    drop(rag);
    let rag = Rag::open(&index, Arc::new(remote)).unwrap();
    let stats = rag.stats().unwrap();
    assert_eq!(stats.reembedded, report.chunks_added);
    assert_eq!(stats.vectors, report.chunks_added);
    let hits = rag
        .search(
            "When do the nightly backups run?",
            &SearchOptions::default(),
        )
        .unwrap();
    assert!(
        hits[0].chunk.path.ends_with("guide.md"),
        "{:?}",
        hits[0].chunk.path
    );
}

#[test]
fn remote_embedding_failures_are_typed() {
    let s = serve_with_embeddings();
    // Wrong token: the server's 401 comes back as a remote status error.
    let mut bad = remote_config(&s, "all-minilm-l6-v2-f16");
    bad.api_key = Some("wrong".into());
    match RemoteEmbedder::connect(bad) {
        Err(RagError::Embedding(e)) => assert_eq!(e.code(), "REMOTE_STATUS", "{e}"),
        other => panic!("expected a remote status error, got {other:?}"),
    }
    // Nobody listening: unreachable after the retries.
    let gone = RemoteConfig {
        model: Some("m".into()),
        max_retries: 1,
        backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(2),
        ..RemoteConfig::new("http://127.0.0.1:9/v1")
    };
    match RemoteEmbedder::connect(gone) {
        Err(RagError::Embedding(e)) => assert_eq!(e.code(), "REMOTE_UNREACHABLE", "{e}"),
        other => panic!("expected unreachable, got {other:?}"),
    }
    // No model named: refused before any request.
    let unnamed = RemoteConfig::new(s.base.clone());
    assert!(matches!(
        RemoteEmbedder::connect(unnamed),
        Err(RagError::Embedding(_))
    ));
}

/// The document index's remote embedder against the real `llama-server`
/// (built from PyPI's llama-cpp-python sdist) running MiniLM in
/// embeddings mode: the same vectors as the local model, up to the small
/// numeric drift between the two llama.cpp versions.
#[tokio::test(flavor = "multi_thread")]
async fn the_remote_embedder_works_against_the_real_llama_server() {
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
            .args(["-t", "2", "-c", "1024", "--embeddings", "--pooling", "mean"])
            .args(["--api-key", "secret", "-m"])
            .arg(common::embed_model())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !reqwest::get(format!("{base}/health"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "llama-server did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let remote = RemoteEmbedder::connect(RemoteConfig {
        api_key: Some("secret".into()),
        model: Some("all-minilm".into()),
        ..RemoteConfig::new(format!("{base}/v1"))
    })
    .unwrap();
    assert_eq!(remote.dimension(), 384);
    let got = remote.embed(&TEXTS).unwrap();
    let want = local().embed(&TEXTS).unwrap();
    for (a, b) in got.iter().zip(&want) {
        assert!(cosine(a, b) > 0.999, "cosine {}", cosine(a, b));
    }
}
