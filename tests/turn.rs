//! One turn with every capability at once, through the real CLI: an image,
//! the user's documents, a tool call and a spoken reply in one question,
//! on the tiny omni fixture (it sees the image) and on the real Gemma 3
//! (which writes real text). The voice plays into an ALSA file device, so
//! "spoken" means audio samples came out.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// An ALSA config whose default playback device writes raw samples to `out`.
fn playback_conf(dir: &Path, out: &Path) -> PathBuf {
    let conf = dir.join("asound-playback.conf");
    std::fs::write(
        &conf,
        format!(
            r#"pcm.!default {{
    type plug
    slave {{ pcm "omnidesk_out"; format S16_LE; rate 22050; channels 1 }}
}}
pcm.omnidesk_out {{
    type file
    slave.pcm "null"
    file "{}"
    format "raw"
}}
"#,
            out.display()
        ),
    )
    .unwrap();
    conf
}

/// Index one short note about warranties into `data`'s document index.
fn index_notes(data: &Path) -> PathBuf {
    let notes = data.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("warranty.md"),
        "# Warranty\n\nThe kettle's warranty covers a cracked lid for two years from purchase. \
         Water damage to the base is not covered.\n",
    )
    .unwrap();
    let out = omnidesk(data)
        .args(["docs", "add"])
        .arg(&notes)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docs add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    notes
}

fn omnidesk(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
    let config = data.join("config.toml");
    if !config.exists() {
        std::fs::write(
            &config,
            "[engine]\nthreads = 2\nn_ctx = 4096\n[audio]\nvoice = \"espeak\"\n",
        )
        .unwrap();
    }
    c.env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env("OMNIDESK_EMBED_MODEL", common::embed_model())
        .env_remove("OMNIDESK_LOG")
        .stdin(std::process::Stdio::null());
    c
}

/// `ask` with image, documents, a forced clock call and speech; the JSON.
fn ask_everything(
    data: &Path,
    model: &Path,
    image: Option<&Path>,
    max_tokens: &str,
    max_steps: &str,
) -> (Value, Vec<u8>) {
    let raw = data.join("spoken.raw");
    let conf = playback_conf(data, &raw);
    let mut c = omnidesk(data);
    c.env(
        "ALSA_CONFIG_PATH",
        format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
    )
    .arg("ask")
    .arg("--model")
    .arg(model)
    .args(["--json", "--speak", "--temp", "0", "-n", max_tokens])
    .args(["--docs", "--embed-model"])
    .arg(common::embed_model())
    .args(["--tools", "current_datetime", "--require-tool"])
    .args(["--max-steps", max_steps]);
    if let Some(image) = image {
        c.arg("--image").arg(image);
    }
    let out = c
        .arg("What is on this photo, and does my warranty cover a cracked lid?")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ask failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let audio = std::fs::read(&raw).unwrap_or_default();
    (body, audio)
}

fn assert_everything_happened(body: &Value, audio: &[u8]) {
    let sources = body["sources"].as_array().expect("sources listed");
    assert!(!sources.is_empty(), "{body}");
    assert!(
        sources[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("warranty.md"),
        "{body}"
    );
    let calls = body["tool_calls"].as_array().expect("tool calls listed");
    assert_eq!(calls[0]["call"]["name"], "current_datetime", "{body}");
    assert_eq!(calls[0]["error"], Value::Null, "{body}");
    let spoken = body["spoken"].as_array().expect("spoken sentences listed");
    assert!(!spoken.is_empty(), "{body}");
    // Real samples reached the speaker: 16-bit, not all silence.
    let loud = audio
        .chunks_exact(2)
        .filter(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs() > 300)
        .count();
    assert!(loud > 1000, "{loud} loud samples of {}", audio.len() / 2);
    // Everything was stored with the answer.
    let id = body["conversation_id"].as_i64().expect("saved");
    assert!(id > 0);
}

#[test]
fn an_image_documents_tools_and_speech_in_one_question_on_the_omni_fixture() {
    let dir = tempfile::tempdir().unwrap();
    index_notes(dir.path());
    let (model, _) = common::omni_fixture();
    let cat = common::asset("cat-64x48.png");
    // Byte-level tokens and noise weights: the grammar lets the call's JSON
    // hold up to 20 tabs per space, so a whole forced call needs room.
    let (body, audio) = ask_everything(dir.path(), &model, Some(&cat), "256", "2");
    assert_everything_happened(&body, &audio);
    // The picture was read by the model in both steps (call, then answer).
    assert_eq!(body["image_tokens"], 24, "{body}");
}

#[test]
fn documents_tools_and_speech_in_one_question_on_gemma() {
    let dir = tempfile::tempdir().unwrap();
    index_notes(dir.path());
    let (body, audio) = ask_everything(dir.path(), &common::test_model(), None, "48", "3");
    assert_everything_happened(&body, &audio);
    assert!(!body["text"].as_str().unwrap().trim().is_empty(), "{body}");
}
