//! A model that took the app down while loading is not loaded again on the
//! next start, and a chosen model is saved only once it has loaded.

mod common;

use std::time::{Duration, Instant};

use common::{test_model, TestApp};
use omnidesk_app::commands::models::{crash_guard, load_chosen, load_configured};
use omnidesk_app::state::EngineState;
use tauri::ipc::InvokeBody;

/// Wait until the engine slot is no longer loading.
fn settle(t: &TestApp) -> EngineState {
    let start = Instant::now();
    loop {
        match t.state().engine.get() {
            EngineState::Loading { .. } if start.elapsed() < Duration::from_secs(120) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

#[test]
fn a_model_that_crashed_the_app_is_not_loaded_again() {
    let t = TestApp::new(None);
    let state = t.state();
    let data = state.settings.data_dir.clone();
    let previous = t.dir.path().join("previous-good.gguf");
    // The saved model was loading when the app died last time.
    state
        .settings
        .update(|c| c.model = Some(test_model()))
        .unwrap();
    crash_guard::mark(&data, &test_model(), Some(&previous));
    load_configured(t.app.handle(), &state);
    let EngineState::Failed { error, model } = settle(&t) else {
        panic!("the crashed model was loaded again");
    };
    assert_eq!(model, test_model());
    assert_eq!(error.code, "MODEL_CRASHED", "{}", error.message);
    let status = t.invoke("get_model_status", InvokeBody::default()).unwrap();
    assert_eq!(status["state"], "failed", "{status}");
    assert_eq!(status["error"]["code"], "MODEL_CRASHED", "{status}");
    assert_eq!(
        status["previousModel"].as_str(),
        previous.to_str(),
        "the window can offer the model before it: {status}"
    );
    // The mark stays until a load ends without a crash.
    assert!(crash_guard::read(&data).is_some());
}

#[test]
fn after_a_crash_on_an_unsaved_model_the_saved_one_loads_with_a_notice() {
    let t = TestApp::new(None);
    let state = t.state();
    let data = state.settings.data_dir.clone();
    let crashed = t.dir.path().join("crashed-on-load.gguf");
    state
        .settings
        .update(|c| c.model = Some(test_model()))
        .unwrap();
    crash_guard::mark(&data, &crashed, Some(&test_model()));
    load_configured(t.app.handle(), &state);
    t.wait_for_model();
    let status = t.invoke("get_model_status", InvokeBody::default()).unwrap();
    assert_eq!(status["state"], "ready", "{status}");
    let notice = status["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("crashed-on-load.gguf"), "{status}");
    assert!(
        crash_guard::read(&data).is_none(),
        "a clean load clears the mark"
    );
}

#[test]
fn a_chosen_model_is_saved_only_once_it_has_loaded() {
    let t = TestApp::new(None);
    let state = t.state();
    // Header-valid, but its vocabulary holds one string twice.
    let hostile = t.dir.path().join("hostile.gguf");
    std::fs::write(&hostile, hostile_gguf()).unwrap();
    load_chosen(t.app.handle(), &state, hostile.clone());
    let EngineState::Failed { error, .. } = settle(&t) else {
        panic!("the hostile model loaded");
    };
    assert_eq!(error.code, "INVALID_MODEL", "{}", error.message);
    assert!(error.message.contains("twice"), "{}", error.message);
    assert_eq!(
        state.settings.get().model,
        None,
        "a model that failed is not saved"
    );
    load_chosen(t.app.handle(), &state, test_model());
    t.wait_for_model();
    assert_eq!(state.settings.get().model, Some(test_model()));
    assert!(crash_guard::read(&state.settings.data_dir).is_none());
}

/// A tiny llama GGUF whose vocabulary lists "a" twice.
fn hostile_gguf() -> Vec<u8> {
    let mut b = Vec::new();
    let u32 = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
    let u64 = |b: &mut Vec<u8>, v: u64| b.extend_from_slice(&v.to_le_bytes());
    let s = |b: &mut Vec<u8>, v: &str| {
        b.extend_from_slice(&(v.len() as u64).to_le_bytes());
        b.extend_from_slice(v.as_bytes());
    };
    b.extend_from_slice(b"GGUF");
    u32(&mut b, 3);
    u64(&mut b, 0);
    u64(&mut b, 2);
    s(&mut b, "general.architecture");
    u32(&mut b, 8);
    s(&mut b, "llama");
    s(&mut b, "tokenizer.ggml.tokens");
    u32(&mut b, 9);
    u32(&mut b, 8);
    u64(&mut b, 3);
    for t in ["a", "b", "a"] {
        s(&mut b, t);
    }
    b
}
