//! Hostile files at the app's own entry points: the corpus of
//! `scripts/make-hostile-corpus.py` (the same table as the CLI's
//! `tests/hostile.rs`) goes to the commands a window uses — images to
//! `attach_image` (pasted or dropped bytes), documents beside a good note to
//! the app's indexing and `rescan_documents`, models to the path
//! `choose_model` takes after its dialog.
//!
//! Every case runs in a child process (this test binary again, running
//! only the ignored `app_case_worker`) with a wall-clock bound and an
//! address-space limit; the worker asserts that the command ended with a
//! typed error or a correct result and that the app still works after it
//! (another image attaches, the good note is found, the status is true).
//! Audio files have no entry in the window (clips come from the
//! microphone), and the app's API is the same server `tests/hostile.rs`
//! attacks. `OMNIDESK_HOSTILE_ONLY=name,name` runs a subset.

mod common;
#[path = "../../tests/hostile_harness/mod.rs"]
mod hostile_harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{collecting_channel, embed_model, fixture, omni_model, TestApp};
use hostile_harness::{cases, limit, report, run, verdict, Corpus, Entry, GOOD_NOTE, GOOD_QUERY};
use omnidesk_app::commands::docs::rescan_documents;
use omnidesk_app::commands::models::load_chosen;
use omnidesk_app::state::{AppState, EngineState};
use tauri::ipc::InvokeBody;
use tauri::Manager;

/// Which entry point and which file the worker takes.
const CASE_ENV: &str = "OMNIDESK_APP_HOSTILE_CASE";
const FILE_ENV: &str = "OMNIDESK_APP_HOSTILE_FILE";

fn corpus() -> &'static Corpus {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-hostile-corpus.py");
    hostile_harness::corpus(&script, &omni_model())
}

/// One case in a limited child process; its verdict.
fn case(entry: &str, file: &Path) -> Result<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "app_case_worker",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(CASE_ENV, entry)
    .env(FILE_ENV, file)
    // The app binary is its own parse worker, as when installed.
    .env(
        omnidesk::rag::isolate::WORKER_ENV,
        env!("CARGO_BIN_EXE_omnidesk-app"),
    )
    .env("MALLOC_ARENA_MAX", "2")
    .env("TMPDIR", tmp.path())
    .stdin(Stdio::null());
    limit(&mut c);
    let o = run(c, tmp.path());
    verdict(&o, false).and_then(|s| {
        let said = o
            .stdout
            .lines()
            // libtest may print it after "test app_case_worker ... ".
            .find_map(|l| l.split_once("APP-CASE: ").map(|(_, said)| said))
            .ok_or_else(|| format!("the worker said nothing: {}", o.stdout.trim()))?;
        Ok(format!("{said}; {s}"))
    })
}

#[test]
fn hostile_files_to_the_app_commands() {
    let c = corpus();
    let mut results = Vec::new();
    for (entry, kind) in [
        (Entry::Image, "image"),
        (Entry::Docs, "docs"),
        (Entry::Model, "model"),
    ] {
        for name in cases(|e| std::mem::discriminant(&e) == std::mem::discriminant(&entry)) {
            results.push((name.to_string(), case(kind, &c.file(name))));
        }
    }
    report("app commands", results);
}

/// The child side of [`hostile_files_to_the_app_commands`].
#[test]
#[ignore = "the child process of hostile_files_to_the_app_commands; does nothing on its own"]
fn app_case_worker() {
    let (Ok(kind), Some(file)) = (std::env::var(CASE_ENV), std::env::var_os(FILE_ENV)) else {
        return;
    };
    let file = PathBuf::from(file);
    let said = match kind.as_str() {
        "image" => image_case(&file),
        "docs" => docs_case(&file),
        "model" => model_case(&file),
        other => panic!("unknown case kind {other}"),
    };
    println!("\nAPP-CASE: {said}");
}

/// A typed error code: present and not the catch-all.
fn typed(err: &serde_json::Value) -> String {
    let code = err["code"].as_str().unwrap_or_default();
    assert!(
        !code.is_empty() && code != "INTERNAL" && code != "ERROR",
        "untyped error: {err}"
    );
    code.to_string()
}

fn attach(t: &TestApp, name: &str, bytes: Vec<u8>) -> Result<serde_json::Value, serde_json::Value> {
    let mut headers = tauri::http::HeaderMap::new();
    headers.insert("x-file-name", name.parse().unwrap());
    t.invoke_with("attach_image", InvokeBody::Raw(bytes), headers)
}

/// Pasted bytes to `attach_image`; then a good image still attaches.
fn image_case(file: &Path) -> String {
    let t = TestApp::new(None);
    let said = match attach(&t, "hostile", std::fs::read(file).unwrap()) {
        Ok(v) => format!("attached ({}×{})", v["width"], v["height"]),
        Err(e) => format!("refused {}", typed(&e)),
    };
    let good = std::fs::read(fixture("cat-64x48.png")).unwrap();
    let staged = attach(&t, "cat.png", good).expect("a good image attaches after the bad one");
    assert!(staged["id"].as_u64().is_some(), "{staged}");
    said
}

/// The bad document beside a good note, indexed as the add command does
/// after its dialog, then `rescan_documents`; the note must be found.
fn docs_case(file: &Path) -> String {
    let t = TestApp::with_config(None, |c| c.embedding_model = Some(embed_model()));
    let notes = t.dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("good.md"), GOOD_NOTE).unwrap();
    std::fs::copy(file, notes.join(file.file_name().unwrap())).unwrap();
    let state = t.state();
    let rag = tauri::async_runtime::block_on(state.docs.open(&state.settings)).unwrap();
    let report = rag
        .add_blocking(
            std::slice::from_ref(&notes),
            &omnidesk::rag::IngestOptions::default(),
            &mut |_| {},
            &std::sync::atomic::AtomicBool::new(false),
        )
        .expect("indexing goes on past a bad file");
    let (channel, events) = collecting_channel();
    tauri::async_runtime::block_on(rescan_documents(t.app.state::<AppState>(), channel))
        .expect("the rescan goes on past a bad file");
    let last = events.lock().unwrap().last().cloned().unwrap_or_default();
    assert_eq!(last["kind"], "finished", "{last}");
    let hits = rag
        .search(GOOD_QUERY, &omnidesk::rag::SearchOptions::default())
        .unwrap();
    let top = hits
        .first()
        .map(|h| h.chunk.path.clone())
        .unwrap_or_default();
    let all: Vec<_> = hits.iter().map(|h| &h.chunk.path).collect();
    assert!(
        top.ends_with("good.md"),
        "the good note was not found first: {all:?}"
    );
    format!("{} skipped, good note found", report.files_skipped)
}

/// The model to what `choose_model` does once a file is picked: the header
/// check, then the load; the app's status must say what happened and a
/// failed model is not saved.
fn model_case(file: &Path) -> String {
    let t = TestApp::new(None);
    let state = t.state();
    if let Err(e) = omnidesk::gguf::inspect(file) {
        return format!("refused at the header {}", e.code());
    }
    load_chosen(t.app.handle(), &state, file.to_path_buf());
    let started = Instant::now();
    let outcome = loop {
        match state.engine.get() {
            EngineState::Loading { .. } if started.elapsed() < Duration::from_secs(100) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => break other,
        }
    };
    let status = t
        .invoke("get_model_status", InvokeBody::default())
        .expect("the app answers after the load");
    match outcome {
        EngineState::Failed { error, .. } => {
            assert_eq!(status["state"], "failed", "{status}");
            assert_eq!(state.settings.get().model, None, "a failed model is saved");
            format!(
                "load failed {}",
                typed(&serde_json::json!({"code": error.code}))
            )
        }
        EngineState::Ready { .. } => {
            assert_eq!(status["state"], "ready", "{status}");
            "loaded".into()
        }
        other => panic!("the load did not end: {other:?}"),
    }
}
