//! Push-to-talk and the camera through the app's commands. The microphone
//! is real ALSA reading espeak-ng speech through the `file` plugin (ALSA
//! reads `ALSA_CONFIG_PATH` once per process, which is why these tests have
//! a binary of their own); the camera is the library's fake frame source,
//! as this machine has none (the real path's "no camera" error is tested in
//! the core crate).

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{collecting_channel, file_sound_card, test_model, FileSoundCard, TestApp};
use omnidesk::camera::FakeSource;
use omnidesk_app::commands::capture::{self, PreviewView};
use omnidesk_app::commands::chat::{send_message, SendMessage};
use omnidesk_app::state::AppState;
use serde_json::{json, Value};
use tauri::ipc::InvokeBody;
use tauri::Manager;

/// This process's sound card (see [`common::file_sound_card`]), set up
/// once, before any test touches ALSA.
fn alsa() -> &'static FileSoundCard {
    static CARD: OnceLock<FileSoundCard> = OnceLock::new();
    CARD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let card = file_sound_card(&dir, "What is the weather like today?", 0.5);
        std::env::set_var("ALSA_CONFIG_PATH", &card.config_path);
        card
    })
}

#[test]
fn push_to_talk_records_real_speech_into_an_audio_attachment() {
    alsa();
    let t = TestApp::build(None, |c| c.audio.max_seconds = 3.0, |s| s);

    let (channel, events) = collecting_channel();
    let device = tauri::async_runtime::block_on(capture::start_recording(
        t.app.state::<AppState>(),
        channel,
    ))
    .expect("the file-backed microphone opens");
    assert!(!device.is_empty());
    let again = t
        .invoke(
            "start_recording",
            json!({ "onEvent": "__CHANNEL__:9" }).into(),
        )
        .unwrap_err();
    assert_eq!(again["code"], "BUSY", "{again}");
    // The file plugin is not clocked: the whole clip arrives at once, and
    // the recording then stops itself at the 3 s maximum.
    wait_until_stopped(&events);
    let events = events.lock().unwrap().clone();
    let levels: Vec<&Value> = events.iter().filter(|e| e["kind"] == "level").collect();
    assert!(!levels.is_empty(), "level-meter events: {events:?}");
    assert!(
        levels.iter().any(|e| e["peak"].as_f64().unwrap() > 0.05),
        "speech shows on the meter: {levels:?}"
    );
    let view = t
        .invoke("stop_recording", InvokeBody::default())
        .expect("the clip becomes an attachment");
    assert_eq!(view["kind"], "audio", "{view}");
    assert!(view["id"].as_u64().is_some());
    let kept: Vec<_> = std::fs::read_dir(t.dir.path().join("data/recordings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "the clip is kept for replay: {kept:?}");
    let wav = hound_len(&kept[0]);
    // Speech of about 2 s survives; the padding silence is trimmed.
    assert!((0.8..3.0).contains(&wav), "{wav} s kept");
    let err = t
        .invoke("stop_recording", InvokeBody::default())
        .unwrap_err();
    assert_eq!(err["code"], "INVALID_INPUT", "{err}");
}

/// Wait (at most 20 s) for the recording's `stopped` event.
fn wait_until_stopped(events: &Mutex<Vec<Value>>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !events
        .lock()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "stopped")
    {
        assert!(Instant::now() < deadline, "no stop event");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Seconds of audio in a 16-bit mono WAV, from its header.
fn hound_len(path: &Path) -> f64 {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    let rate = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    let data = (bytes.len() - 44) as f64 / 2.0;
    data / f64::from(rate)
}

#[test]
fn the_camera_previews_and_snaps_into_the_composer() {
    let t = TestApp::build(None, |_| {}, |s| s.with_camera(Arc::new(FakeSource)));
    let cams = t.invoke("list_cameras", InvokeBody::default()).unwrap();
    assert_eq!(cams[0]["name"], "Fake camera", "{cams}");

    // A snapshot without a preview opens the camera briefly.
    let snap = t
        .invoke("snap_camera", json!({ "index": 0 }).into())
        .unwrap();
    assert_eq!(snap["kind"], "image");
    assert_eq!(
        (snap["width"].as_u64(), snap["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert!(snap["thumbnail"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));

    let (channel, frames) = collecting_channel::<PreviewView>();
    tauri::async_runtime::block_on(capture::start_camera(t.app.state::<AppState>(), 0, channel))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while frames.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "no preview frames");
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = frames.lock().unwrap()[0].clone();
    assert!(first["width"].as_u64().unwrap() <= 320, "{first}");
    let from_preview = t
        .invoke("snap_camera", json!({ "index": 0 }).into())
        .unwrap();
    assert_eq!(from_preview["width"], 1280);
    assert_eq!(
        t.invoke("stop_camera", InvokeBody::default()).unwrap(),
        true
    );
    assert_eq!(
        t.invoke("stop_camera", InvokeBody::default()).unwrap(),
        false
    );
    let kept = std::fs::read_dir(t.dir.path().join("data/snapshots"))
        .unwrap()
        .count();
    assert_eq!(kept, 2, "both pictures are kept for replay");

    let err = t
        .invoke("snap_camera", json!({ "index": 3 }).into())
        .unwrap_err();
    assert_eq!(err["code"], "NO_CAMERA", "{err}");
}

#[test]
fn answers_are_spoken_when_the_setting_is_on() {
    let played = &alsa().played;
    let t = TestApp::with_config(Some(test_model()), |c| {
        c.audio.speak_replies = true;
        c.max_tokens = 24;
    });
    t.wait_for_model();
    let (channel, events) = collecting_channel();
    let answer = tauri::async_runtime::block_on(send_message(
        t.app.state::<AppState>(),
        SendMessage {
            conversation_id: None,
            text: "Say hello to the world.".into(),
            attachment_ids: vec![],
            truncate_after: None,
            regenerate: None,
            use_docs: false,
            ..Default::default()
        },
        channel,
    ))
    .unwrap();
    assert!(!answer.text.trim().is_empty());
    let events = events.lock().unwrap().clone();
    assert!(
        !events.iter().any(|e| e["kind"] == "notice"),
        "speech started: {events:?}"
    );
    let state = t.state();
    tauri::async_runtime::block_on(async {
        tokio::time::timeout(Duration::from_secs(60), state.speech.wait_idle())
            .await
            .expect("the answer is spoken within a minute")
    });
    let bytes = std::fs::metadata(played).map_or(0, |m| m.len());
    // At least a quarter second of 16 kHz 16-bit audio reached the device.
    assert!(bytes > 8_000, "{bytes} bytes played");
}

#[test]
fn a_photo_documents_a_tool_and_a_spoken_reply_in_one_message() {
    let played = &alsa().played;
    let t = TestApp::with_config(Some(common::omni_model()), |c| {
        c.audio.speak_replies = true;
        c.embedding_model = Some(common::embed_model());
        // The fixture's vocabulary is nearly byte-level: the tool prompt,
        // the sources and a forced call each take hundreds of tokens.
        c.engine.n_ctx = 4096;
        c.max_tokens = 160;
    });
    let notes = t.dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("warranty.md"),
        "# Warranty\n\nThe kettle's warranty covers a cracked lid for two years.\n",
    )
    .unwrap();
    let state = t.state();
    let rag = tauri::async_runtime::block_on(state.docs.open(&state.settings)).unwrap();
    rag.add_blocking(
        std::slice::from_ref(&notes),
        &omnidesk::rag::IngestOptions::default(),
        &mut |_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    let mut headers = tauri::http::HeaderMap::new();
    headers.insert("x-file-name", "kettle.png".parse().unwrap());
    let bytes = std::fs::read(common::fixture("cat-64x48.png")).unwrap();
    let staged = t
        .invoke_with("attach_image", InvokeBody::Raw(bytes), headers)
        .unwrap();
    let id = staged["id"].as_u64().unwrap();
    t.wait_for_model();
    let before = std::fs::metadata(played).map_or(0, |m| m.len());
    let (channel, events) = collecting_channel();
    let answer = tauri::async_runtime::block_on(send_message(
        t.app.state::<AppState>(),
        SendMessage {
            text: "What is on this photo, and does my warranty cover a cracked lid?".into(),
            attachment_ids: vec![id],
            use_docs: true,
            use_tools: true,
            tools: Some(vec!["current_datetime".into()]),
            require_tool: true,
            ..Default::default()
        },
        channel,
    ))
    .expect("the combined question is answered");
    let events = events.lock().unwrap().clone();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"sources"), "{kinds:?}");
    let call = events
        .iter()
        .find(|e| e["kind"] == "toolCall")
        .expect("a tool call");
    assert_eq!(call["name"], "current_datetime", "{events:?}");
    assert!(kinds.contains(&"toolResult"), "{kinds:?}");
    let done = events.last().unwrap();
    assert_eq!(done["kind"], "done", "{done}");
    assert_eq!(done["imageTokens"], 12, "the photo was seen: {done}");
    state
        .store
        .with(|s| {
            let m = s.messages(answer.conversation_id).unwrap();
            assert_eq!(m[0].attachments.len(), 1, "the photo is kept");
            assert_eq!(s.tool_calls(m[1].id).unwrap().len(), 1, "the call is kept");
            Ok(())
        })
        .unwrap();
    tauri::async_runtime::block_on(async {
        tokio::time::timeout(Duration::from_secs(60), state.speech.wait_idle())
            .await
            .expect("the answer is spoken within a minute")
    });
    let after = std::fs::metadata(played).map_or(0, |m| m.len());
    assert!(after > before + 4_000, "{} bytes played", after - before);
}

#[test]
fn push_to_talk_with_a_model_that_cannot_hear_gives_whispers_transcript() {
    alsa();
    let Some(whisper_model) =
        std::env::var_os("OMNIDESK_TEST_WHISPER_MODEL").filter(|v| !v.is_empty())
    else {
        eprintln!("skipped: set OMNIDESK_TEST_WHISPER_MODEL (scripts/test.sh does)");
        return;
    };
    // The helper program is built beside the test binaries' folder
    // (target/<profile>/omnidesk-whisper) by `cargo test --workspace`.
    let helper = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("omnidesk-whisper");
    assert!(
        helper.is_file(),
        "{}: cargo build -p omnidesk-whisper",
        helper.display()
    );
    std::env::set_var("OMNIDESK_WHISPER", &helper);
    let t = TestApp::with_config(Some(test_model()), |c| {
        c.audio.max_seconds = 3.0;
        c.audio.whisper_model = Some(whisper_model.into());
    });
    t.wait_for_model();
    let (channel, events) = collecting_channel();
    tauri::async_runtime::block_on(capture::start_recording(t.app.state::<AppState>(), channel))
        .expect("the file-backed microphone opens");
    wait_until_stopped(&events);
    let view = t
        .invoke("stop_recording", InvokeBody::default())
        .expect("the clip is transcribed");
    assert_eq!(view["kind"], "transcript", "{view}");
    assert!(view["id"].is_null(), "nothing is staged: {view}");
    let heard = view["transcript"].as_str().unwrap().to_lowercase();
    assert!(heard.contains("weather"), "Whisper heard {heard:?}");
}
