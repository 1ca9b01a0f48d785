//! What the command tests share: the app on Tauri's mock runtime with the
//! real library underneath, the test models, and a `Channel` that collects.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnidesk::config::Config;
use omnidesk::store::Store;
use omnidesk_app::state::{AppState, EngineState, Settings};
use serde_json::Value;
use tauri::ipc::{CallbackFn, Channel, InvokeBody, InvokeResponseBody};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

/// The real test model (see `scripts/fetch-test-models.sh`).
pub fn test_model() -> PathBuf {
    if let Some(p) = std::env::var_os("OMNIDESK_TEST_MODEL") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME or OMNIDESK_TEST_MODEL");
    PathBuf::from(home).join(".cache/omnidesk/test-models/gemma-3-270m-q4_k_m.gguf")
}

/// The real embedding model (all-MiniLM-L6-v2, converted; see
/// `scripts/fetch-test-models.sh`).
pub fn embed_model() -> PathBuf {
    if let Some(p) = std::env::var_os("OMNIDESK_TEST_EMBED_MODEL") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME or OMNIDESK_TEST_EMBED_MODEL");
    PathBuf::from(home).join(".cache/omnidesk/test-models/all-minilm-l6-v2-f16.gguf")
}

/// The tiny random-weight omni model (its projector beside it), made by
/// `scripts/make-omni-fixture.sh`.
pub fn omni_model() -> PathBuf {
    let dir = std::env::var_os("OMNIDESK_TEST_OMNI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME or OMNIDESK_TEST_OMNI_DIR");
            PathBuf::from(home).join(".cache/omnidesk/test-models/omni-tiny")
        });
    dir.join("omni-tiny.gguf")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/fixtures")
        .join(name)
}

pub struct TestApp {
    pub app: App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub fn new(model: Option<PathBuf>) -> Self {
        Self::with_config(model, |_| {})
    }

    pub fn with_config(model: Option<PathBuf>, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::build(model, adjust, |s| s)
    }

    /// The app with `model`, settings changed by `adjust`, and state
    /// changed by `wrap` (e.g. a fake camera).
    pub fn build(
        model: Option<PathBuf>,
        adjust: impl FnOnce(&mut Config),
        wrap: impl FnOnce(AppState) -> AppState,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            model,
            max_tokens: 24,
            ..Config::default()
        };
        config.engine.threads = 2;
        config.engine.n_ctx = 1024;
        config.sampling.temperature = 0.0;
        config.sampling.seed = Some(1);
        adjust(&mut config);
        let data = dir.path().join("data");
        let store = Store::open(&data.join("omnidesk.db")).map_err(Into::into);
        let settings = Settings::new(config, dir.path().join("config.toml"), data);
        let app = omnidesk_app::run_app(mock_builder(), wrap(AppState::new(store, settings)))
            .build(mock_context(noop_assets()))
            .expect("the app builds on the mock runtime");
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        // The mock runtime never reaches `Ready`, where the setup hook would
        // start the configured model: start it the same way here.
        let state = app.state::<AppState>().inner().clone();
        omnidesk_app::commands::models::load_configured(app.handle(), &state);
        Self { app, window, dir }
    }

    pub fn state(&self) -> AppState {
        self.app.state::<AppState>().inner().clone()
    }

    pub fn invoke(&self, cmd: &str, body: InvokeBody) -> Result<Value, Value> {
        self.invoke_with(cmd, body, Default::default())
    }

    pub fn invoke_with(
        &self,
        cmd: &str,
        body: InvokeBody,
        headers: tauri::http::HeaderMap,
    ) -> Result<Value, Value> {
        invoke_on(&self.window, cmd, body, headers)
    }

    pub fn wait_for_model(&self) {
        let start = Instant::now();
        loop {
            match self.state().engine.get() {
                EngineState::Ready { .. } => return,
                EngineState::Failed { error, .. } => panic!("model failed to load: {error}"),
                _ if start.elapsed() > Duration::from_secs(120) => panic!("model load timed out"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// Invoke `cmd` as the window would; usable from any thread.
pub fn invoke_on(
    window: &WebviewWindow<MockRuntime>,
    cmd: &str,
    body: InvokeBody,
    headers: tauri::http::HeaderMap,
) -> Result<Value, Value> {
    tauri::test::get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body,
            headers,
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

/// A plain HTTP/1.1 request to `addr` (the app's API server); returns the
/// status code and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("the API server accepts connections");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn collecting_channel<T: tauri::ipc::IpcResponse>() -> (Channel<T>, Arc<Mutex<Vec<Value>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let channel = Channel::new(move |body| {
        let v = match body {
            InvokeResponseBody::Json(s) => serde_json::from_str(&s).unwrap(),
            InvokeResponseBody::Raw(_) => Value::Null,
        };
        sink.lock().unwrap().push(v);
        Ok(())
    });
    (channel, events)
}

/// A sound card made of files, for ALSA's `file` plugin: the default
/// capture device plays espeak-ng speech, the default playback device
/// writes into `played`. Select it with `ALSA_CONFIG_PATH` = `config_path`
/// (read once per process).
pub struct FileSoundCard {
    pub config_path: String,
    pub played: PathBuf,
}

/// Speak `text` (raw S16_LE mono 16 kHz, `pad` seconds of silence around
/// it) and write the ALSA configuration for it under `dir`.
pub fn file_sound_card(dir: &Path, text: &str, pad: f32) -> FileSoundCard {
    let wav = dir.join("speech.wav");
    let raw = dir.join("speech.raw");
    let ok = std::process::Command::new("espeak-ng")
        .arg("-w")
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is installed")
        .success();
    assert!(ok, "espeak-ng failed");
    let ok = std::process::Command::new("sox")
        .arg(&wav)
        .args(["-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .args(["-t", "raw"])
        .arg(&raw)
        .args(["pad", &pad.to_string(), &pad.to_string()])
        .status()
        .expect("sox is installed")
        .success();
    assert!(ok, "sox failed");
    let played = dir.join("played.raw");
    let conf = dir.join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.!default {{ type asym; playback.pcm \"out\"; capture.pcm \"in\" }}\n\
             pcm.out {{ type plug; slave {{ pcm \"outfile\"; format S16_LE; rate 16000; channels 1 }} }}\n\
             pcm.outfile {{ type file; slave.pcm \"null\"; file \"{}\"; format \"raw\" }}\n\
             pcm.in {{ type plug; slave {{ pcm \"infile\"; format S16_LE; rate 16000; channels 1 }} }}\n\
             pcm.infile {{ type file; slave.pcm \"null\"; file \"/dev/null\"; infile \"{}\"; format \"raw\" }}\n",
            played.display(),
            raw.display()
        ),
    )
    .unwrap();
    FileSoundCard {
        config_path: format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
        played,
    }
}
