//! The first-run download through the app's commands: a manifest (set by
//! `$OMNIDESK_MANIFEST`, once for this process, hence a binary of its own)
//! whose models are served by a real HTTP server on 127.0.0.1 — the real
//! test model, and a copy whose published sha256 is wrong.

mod common;
#[path = "../../tests/common/http_server.rs"]
#[allow(dead_code)]
mod http_server;

use std::sync::{Arc, OnceLock};

use common::{collecting_channel, test_model, TestApp};
use http_server::{Route, TestServer};
use omnidesk_app::commands::models::download_model;
use omnidesk_app::state::AppState;
use serde_json::Value;
use tauri::ipc::InvokeBody;
use tauri::Manager;

const GOOD: &str = "test-good";
const BAD_HASH: &str = "test-bad-hash";

/// The server and manifest, set up once for the process.
fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let bytes = std::fs::read(test_model()).expect("the test model");
        let sha = {
            use sha2::Digest;
            sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let body = Arc::new(bytes);
        let server = TestServer::start();
        server.route("/good.gguf", Route::file(body.clone()));
        server.route("/bad.gguf", Route::file(body.clone()));
        let entry = |id: &str, path: &str, hash: &str| {
            format!(
                "[[models]]\nid = \"{id}\"\nrole = \"chat\"\ndescription = \"{id}\"\nlicense = \"Gemma\"\n\
                 modalities = [\"text\"]\ncontext_length = 32768\nquantization = \"Q4_K_M\"\nram_gb = 0.5\nvram_gb = 0.5\n\n\
                 [[models.files]]\nkind = \"model\"\nname = \"{id}.gguf\"\nurl = \"{}\"\nsize = {}\nsha256 = \"{hash}\"\napprox_mb = 250\n\n",
                server.url(path),
                body.len()
            )
        };
        let manifest = format!(
            "default_chat = \"{GOOD}\"\nfallback_chat = \"{BAD_HASH}\"\n\n{}{}",
            entry(GOOD, "/good.gguf", &sha),
            entry(BAD_HASH, "/bad.gguf", &"0".repeat(64)),
        );
        let dir = tempfile::tempdir().unwrap().keep();
        let path = dir.join("manifest.toml");
        std::fs::write(&path, manifest).unwrap();
        std::env::set_var("OMNIDESK_MANIFEST", &path);
        server
    })
}

fn download(t: &TestApp, id: &str) -> (Result<Value, Value>, Vec<Value>) {
    let (channel, events) = collecting_channel();
    let r = tauri::async_runtime::block_on(download_model(
        t.app.handle().clone(),
        t.app.state::<AppState>(),
        Some(id.into()),
        channel,
    ));
    let events = events.lock().unwrap().clone();
    (
        r.map(|s| serde_json::to_value(s).unwrap())
            .map_err(|e| serde_json::to_value(e).unwrap()),
        events,
    )
}

#[test]
fn first_run_offers_the_default_downloads_it_with_progress_and_loads_it() {
    server();
    let t = TestApp::new(None);
    let status = t.invoke("get_model_status", InvokeBody::default()).unwrap();
    assert_eq!(status["state"], "empty");
    assert_eq!(status["offer"]["id"], GOOD, "{status}");
    assert_eq!(status["fallback"]["id"], BAD_HASH);

    let (r, events) = download(&t, GOOD);
    let status = r.expect("the download completes");
    assert_eq!(status["state"], "loading", "the model loads next: {status}");
    let progress: Vec<&Value> = events.iter().filter(|e| e["kind"] == "progress").collect();
    assert!(!progress.is_empty(), "progress was reported");
    let last = progress.last().unwrap();
    assert_eq!(last["done"], last["total"], "{last}");
    t.wait_for_model();
    let status = t.invoke("get_model_status", InvokeBody::default()).unwrap();
    assert_eq!(status["state"], "ready");
    assert!(t
        .dir
        .path()
        .join(format!("data/models/{GOOD}.gguf"))
        .is_file());
}

#[test]
fn a_download_that_fails_its_check_is_an_error_and_nothing_is_kept() {
    server();
    let t = TestApp::new(None);
    let (r, _) = download(&t, BAD_HASH);
    let err = r.expect_err("a wrong sha256 is refused");
    assert_eq!(err["code"], "HASH_MISMATCH", "{err}");
    let models = t.dir.path().join("data/models");
    let kept: Vec<_> = std::fs::read_dir(&models)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        !kept.iter().any(|n| n.to_string_lossy().ends_with(".gguf")),
        "{kept:?}"
    );
    let status = t.invoke("get_model_status", InvokeBody::default()).unwrap();
    assert_eq!(status["state"], "empty", "still on the first-run screen");
    assert_eq!(status["downloading"], false);
    let (r, _) = download(&t, "no-such-model");
    assert_eq!(r.unwrap_err()["code"], "UNKNOWN_MODEL");
}
