//! End to end: the real `omnidesk-app` binary in a real WebKitGTK WebView
//! under Xvfb, driven over WebDriver (`tauri-driver` + `WebKitWebDriver`),
//! answering with the real Gemma 3 270M model. Screenshots of each step go
//! to `<target>/e2e-screenshots/`.
//!
//! Needs `Xvfb`, `WebKitWebDriver`, `tauri-driver` (on PATH or in
//! `$TAURI_DRIVER`), ImageMagick's `import`, and the UI built into `ui/dist`
//! before the app was compiled; `scripts/test-e2e.sh` (called by
//! `scripts/test.sh`) provides all of them.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{embed_model, test_model};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const APP: &str = env!("CARGO_BIN_EXE_omnidesk-app");

/// A child process killed (SIGTERM, then reaped) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM lets tauri-driver stop its WebKitWebDriver and the app.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An X server of our own, so the test never depends on the caller's DISPLAY.
fn start_xvfb() -> (Proc, String) {
    for n in 90..130 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (apt-get install xvfb)");
        let proc = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (proc, display);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Xvfb {display} did not start");
    }
    panic!("no free X display number");
}

struct Session {
    client: Client,
    shots: PathBuf,
    display: String,
    step: usize,
}

impl Session {
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Poll `script` until it returns something truthy.
    async fn until(&self, what: &str, secs: u64, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.js(script, vec![]).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                self.shot("timeout").await;
                let notices = self
                    .js(
                        "return document.getElementById('notices').innerText",
                        vec![],
                    )
                    .await;
                panic!("timed out after {secs}s waiting for {what}; notices: {notices}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The whole X screen (ImageMagick `import`), as a person would see it.
    async fn shot(&self, name: &str) {
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        let ok = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(&path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            // Fall back to WebDriver's own screenshot of the page.
            if let Ok(png) = self.client.screenshot().await {
                let _ = std::fs::write(&path, png);
            }
        }
    }

    /// axe-core (from ui/node_modules) on the page as it is: no serious or
    /// critical accessibility violation.
    async fn axe(&self, screen: &str) {
        if self.js("return typeof window.axe", vec![]).await != "object" {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../ui/node_modules/axe-core/axe.min.js");
            let src = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{} ({e}): run scripts/build-ui.sh", path.display()));
            let loaded = self
                .js(&format!("{src}\n;return typeof window.axe"), vec![])
                .await;
            assert_eq!(loaded, "object", "axe-core did not load");
        }
        let found = self
            .client
            .execute_async(AXE_RUN, vec![])
            .await
            .unwrap_or_else(|e| panic!("axe-core failed on {screen}: {e}"));
        let serious = found.as_array().map_or(0, Vec::len);
        assert_eq!(
            serious, 0,
            "axe-core: serious or critical violations on {screen}:\n{found:#}"
        );
    }

    async fn step(&mut self, name: &str) {
        self.step += 1;
        self.shot(name).await;
    }

    async fn ask(&self, question: &str) {
        let input = self.client.find(Locator::Id("input")).await.unwrap();
        input.send_keys(question).await.unwrap();
        self.client
            .find(Locator::Id("send"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
}

struct Harness {
    _xvfb: Proc,
    display: String,
    shots: PathBuf,
    config: PathBuf,
    data: PathBuf,
    /// ALSA configuration whose microphone plays recorded speech.
    alsa: String,
}

impl Harness {
    /// Start tauri-driver and open one app session on it.
    async fn open(&self) -> (Proc, Session) {
        let port = free_port();
        let native = free_port();
        let driver = std::env::var_os("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
        let child = Command::new(driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", &self.display)
            .env("OMNIDESK_CONFIG", &self.config)
            .env("OMNIDESK_DATA_DIR", &self.data)
            .env("ALSA_CONFIG_PATH", &self.alsa)
            .env("GDK_BACKEND", "x11")
            // Software rendering: Xvfb has no GPU.
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver is installed (cargo install tauri-driver) or $TAURI_DRIVER set");
        let driver = Proc(child);
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), json!({ "application": APP }));
        caps.insert("browserName".into(), json!("wry"));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot open a WebDriver session on {url}: {e}"),
            }
        };
        let session = Session {
            client,
            shots: self.shots.clone(),
            display: self.display.clone(),
            step: 0,
        };
        session
            .until(
                "the window to be ready",
                30,
                "return document.body.dataset.ready === 'true'",
            )
            .await;
        (driver, session)
    }
}

/// `Files` built in the page from bytes, delivered by a paste event (or a
/// drop event where this WebKit cannot construct a ClipboardEvent with data).
const DELIVER_FILES: &str = r#"
const [files, how] = arguments;
const dt = new DataTransfer();
for (const f of files) {
  const bin = atob(f.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  dt.items.add(new File([bytes], f.name, { type: f.type }));
}
let ev;
if (how === 'paste') {
  ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
  if (!ev.clipboardData || ev.clipboardData.files.length === 0) how = 'drop';
}
if (how === 'drop') {
  document.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
  ev = new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true });
}
document.getElementById('input').dispatchEvent(ev);
return how;
"#;

/// axe-core's WCAG 2.x A/AA and best-practice rules; the serious and
/// critical violations, each with the elements it found.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
  resultTypes: ["violations"],
}).then(
  (r) => done(r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.map((n) => n.target.join(" ") + " :: " + n.failureSummary) }))),
  (e) => done([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }]),
);
"#;

const LAST_ANSWER: &str = "const m = [...document.querySelectorAll('.message.assistant')].pop(); \
    return m ? { text: m.querySelector('.content').innerText, streaming: m.classList.contains('streaming'), stats: m.querySelector('.stats').innerText } : null";

#[test]
#[ignore = "needs Xvfb, WebKitWebDriver and tauri-driver: run by scripts/test-e2e.sh"]
fn app_answers_streams_stops_persists_and_takes_images() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run());
}

async fn run() {
    let model = test_model();
    assert!(model.is_file(), "test model missing: {}", model.display());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "model = {:?}\nembedding_model = {:?}\nmax_tokens = 200\n[engine]\nn_ctx = 2048\nthreads = 2\n[sampling]\ntemperature = 0.0\nseed = 1\n[audio]\nmax_seconds = 3.0\n",
            model.display().to_string(),
            embed_model().display().to_string()
        ),
    )
    .unwrap();
    // A folder of the user's notes, indexed as `omnidesk docs add` would
    // (the window's own picker is native and cannot be driven here).
    let notes = dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("tides.md"),
        "# Tides\n\nThe Moon's gravity pulls the oceans, raising two high tides a day.\n",
    )
    .unwrap();
    std::fs::write(
        notes.join("bread.txt"),
        "Bread rises because yeast makes gas.\n",
    )
    .unwrap();
    index_notes(&notes, &dir.path().join("data"));
    let shots = std::env::var_os("OMNIDESK_E2E_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(APP).parent().unwrap().join("e2e-screenshots"));
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let (xvfb, display) = start_xvfb();
    let h = Harness {
        _xvfb: xvfb,
        display,
        shots: shots.clone(),
        config,
        data: dir.path().join("data"),
        alsa: common::file_sound_card(dir.path(), "What does this sound like?", 0.3).config_path,
    };

    let (driver, mut s) = h.open().await;
    s.until(
        "the model to load",
        120,
        "return document.getElementById('model-status').dataset.state === 'ready'",
    )
    .await;
    s.step("model-loaded").await;

    // 1. A long answer streams; Stop ends it and keeps what was written.
    s.ask("Write a long story about a dragon who learns to cook.")
        .await;
    s.until(
        "streamed tokens",
        60,
        "const m = document.querySelector('.message.assistant.streaming .content'); return m && !m.querySelector('.typing') && m.innerText.trim().length > 0",
    )
    .await;
    s.step("streaming").await;
    s.client
        .find(Locator::Id("stop"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let stopped = s
        .until(
            "the stopped answer",
            60,
            &format!(
                "const r = (() => {{ {LAST_ANSWER} }})(); return r && !r.streaming ? r : null"
            ),
        )
        .await;
    assert!(
        !stopped["text"].as_str().unwrap().trim().is_empty(),
        "{stopped}"
    );
    assert!(
        stopped["stats"].as_str().unwrap().contains("stopped"),
        "{stopped}"
    );
    s.step("stopped").await;

    // 2. A question answered to the end, with speed shown.
    s.ask("What is 2+2?").await;
    let answered = s
        .until(
            "the second answer",
            120,
            &format!("const r = (() => {{ {LAST_ANSWER} }})(); const n = document.querySelectorAll('.message.assistant').length; return r && n === 2 && !r.streaming ? r : null"),
        )
        .await;
    assert!(
        !answered["text"].as_str().unwrap().trim().is_empty(),
        "{answered}"
    );
    assert!(
        answered["stats"].as_str().unwrap().contains("tok/s"),
        "{answered}"
    );

    // 3. The conversation is in the sidebar.
    let title = s
        .until(
            "the conversation in the sidebar",
            10,
            "const b = document.querySelector('#conversations .conversation-open'); return b ? b.innerText : null",
        )
        .await;
    assert!(title.as_str().unwrap().contains("dragon"), "{title}");
    s.step("answered").await;
    s.axe("the chat").await;

    // 3b. Regenerate keeps the first answer as a version: "‹ 2/2 ›", and
    //     the previous version is the first answer again.
    s.js("const m = [...document.querySelectorAll('.message.assistant')].pop(); m.querySelector('.regenerate').click(); return true", vec![])
        .await;
    let label = s
        .until(
            "the regenerated answer's versions",
            120,
            "const m = [...document.querySelectorAll('.message.assistant')].pop(); const l = m && !m.classList.contains('streaming') && m.querySelector('.versions .version-label'); return l ? l.innerText : null",
        )
        .await;
    assert_eq!(label, "2/2");
    s.js("const m = [...document.querySelectorAll('.message.assistant')].pop(); m.querySelector('.version-prev').click(); return true", vec![])
        .await;
    let first = s
        .until(
            "the first version shown again",
            20,
            "const m = [...document.querySelectorAll('.message.assistant')].pop(); const l = m && m.querySelector('.versions .version-label'); return l && l.innerText === '1/2' ? m.querySelector('.content').innerText : null",
        )
        .await;
    assert_eq!(
        first.as_str().unwrap().trim(),
        answered["text"].as_str().unwrap().trim()
    );
    s.step("versions").await;

    // 4. An image pasted (built from bytes in the page) shows a thumbnail;
    //    a text file gets a clear notice.
    let png = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/fixtures/cat-64x48.png"),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    let how = s
        .js(
            DELIVER_FILES,
            vec![
                json!([{ "name": "cat.png", "type": "image/png", "b64": b64 }]),
                json!("paste"),
            ],
        )
        .await;
    s.until(
        "the thumbnail",
        20,
        "const i = document.querySelector('#attachments .thumb img'); return i && i.complete && i.naturalWidth > 0",
    )
    .await;
    let text_b64 = base64::engine::general_purpose::STANDARD.encode("just some notes");
    s.js(
        DELIVER_FILES,
        vec![
            json!([{ "name": "notes.txt", "type": "text/plain", "b64": text_b64 }]),
            json!("drop"),
        ],
    )
    .await;
    let notice = s
        .until(
            "the not-an-image notice",
            20,
            "const n = [...document.querySelectorAll('.notice.error')].map(n => n.innerText).find(t => t.includes('notes.txt')); return n || null",
        )
        .await;
    assert!(
        notice.as_str().unwrap().contains("not an image"),
        "{notice}"
    );
    s.step(&format!("image-{}", how.as_str().unwrap_or("paste")))
        .await;

    // 5. Sending the image to a text-only model is refused with a notice,
    //    not a dead window.
    s.ask("What is in this picture?").await;
    let refused = s
        .until(
            "the unsupported-media notice",
            60,
            "const n = document.querySelector('.notice[data-code=UNSUPPORTED_MEDIA]'); return n ? n.innerText : null",
        )
        .await;
    assert!(refused.as_str().unwrap().contains("image"), "{refused}");
    s.step("image-refused").await;

    // 6. Documents: the panel lists the indexed notes; a new file is picked
    //    up by Rescan with a progress bar; an answer from the documents
    //    cites them, and a citation opens the passage.
    std::fs::write(
        notes.join("comets.md"),
        "# Comets\n\nComets are icy bodies.\n",
    )
    .unwrap();
    s.js("document.getElementById('input').value = ''; document.getElementById('open-docs').click(); return true", vec![])
        .await;
    s.until(
        "the indexed notes in the panel",
        60,
        "const l = [...document.querySelectorAll('#docs-list .doc-path')].map(e => e.innerText); return l.some(p => p.endsWith('tides.md')) && l.length === 2",
    )
    .await;
    s.axe("the documents panel").await;
    s.js(
        "document.getElementById('docs-rescan').click(); return true",
        vec![],
    )
    .await;
    let done = s
        .until(
            "the rescan to finish",
            60,
            "const t = document.getElementById('docs-progress-text').innerText; return t.startsWith('Done') ? t : null",
        )
        .await;
    assert!(done.as_str().unwrap().contains("1 indexed"), "{done}");
    s.until(
        "the new file in the list",
        10,
        "return [...document.querySelectorAll('#docs-list .doc-path')].some(e => e.innerText.endsWith('comets.md'))",
    )
    .await;
    s.step("documents").await;
    s.js("document.getElementById('docs-close').click(); document.getElementById('use-docs').checked = true; return true", vec![])
        .await;
    s.ask("What raises the ocean tides?").await;
    s.until(
        "an answer with its sources",
        120,
        "const m = [...document.querySelectorAll('.message.assistant')].pop(); return m && !m.classList.contains('streaming') && m.querySelector('.sources .source-link')",
    )
    .await;
    let first = s
        .js(
            "const m = [...document.querySelectorAll('.message.assistant')].pop(); const b = m.querySelector('.sources .source-link'); const t = b.innerText; b.click(); return t",
            vec![],
        )
        .await;
    assert!(first.as_str().unwrap().contains("tides.md"), "{first}");
    let passage = s
        .until(
            "the cited passage",
            20,
            "const d = document.getElementById('source'); return d.open ? document.getElementById('source-text').innerText : null",
        )
        .await;
    assert!(passage.as_str().unwrap().contains("Moon"), "{passage}");
    s.step("citation-opened").await;
    s.js("document.getElementById('source-close').click(); document.getElementById('use-docs').checked = false; return true", vec![])
        .await;

    // 7. Push-to-talk (held F2) records the speech the microphone plays
    //    into an audio attachment; the camera button on a machine without
    //    a camera says so.
    s.js("document.dispatchEvent(new KeyboardEvent('keydown', { key: 'F2', bubbles: true })); return true", vec![])
        .await;
    // Hold it long enough to get past the 0.3 s of silence before the speech.
    s.until(
        "the level meter after a second and a half",
        20,
        "return (!document.getElementById('recording').hidden && parseFloat(document.getElementById('rec-time').innerText) >= 1.5) || document.querySelector('#attachments .thumb.audio') !== null",
    )
    .await;
    s.js("document.dispatchEvent(new KeyboardEvent('keyup', { key: 'F2', bubbles: true })); return true", vec![])
        .await;
    let chip = s
        .until(
            "the recording in the composer",
            30,
            "const c = document.querySelector('#attachments .thumb.audio'); return c ? c.innerText : null",
        )
        .await;
    assert!(chip.as_str().unwrap().contains("Recording"), "{chip}");
    s.step("recorded").await;
    s.js("document.querySelector('#attachments .thumb.audio .thumb-remove').click(); document.getElementById('camera').click(); return true", vec![])
        .await;
    s.until(
        "the no-camera notice",
        20,
        "return document.querySelector('.notice[data-code=NO_CAMERA]') !== null",
    )
    .await;
    s.step("no-camera").await;

    // 7b. Settings switch the OpenAI-compatible API on: it serves on
    //     127.0.0.1 and shows the URL and the token to use.
    s.js("document.querySelectorAll('.notice').forEach((n) => n.remove()); document.getElementById('open-settings').click(); return true", vec![])
        .await;
    s.until(
        "the settings dialog with the API switch",
        20,
        "return document.getElementById('settings').open && document.getElementById('api-status').innerText",
    )
    .await;
    s.axe("the settings").await;
    // A bad output-filter pattern is refused with its code, nothing saved.
    s.js("document.getElementById('setting-safetyEnabled').checked = true; document.getElementById('setting-safetyPatterns').value = '(unclosed'; document.getElementById('settings-save').click(); return true", vec![])
        .await;
    let refused = s
        .until(
            "the bad-filter notice",
            20,
            "const n = document.querySelector('.notice[data-code=BAD_FILTER]'); return n && document.getElementById('settings').open ? n.innerText : null",
        )
        .await;
    assert!(refused.as_str().unwrap().contains("unclosed"), "{refused}");
    s.js("document.getElementById('setting-safetyEnabled').checked = false; document.getElementById('setting-safetyPatterns').value = ''; return true", vec![])
        .await;
    s.js("document.getElementById('api-enabled').checked = true; document.getElementById('api-port').value = '0'; document.getElementById('settings-save').click(); return true", vec![])
        .await;
    let served = s
        .until(
            "the API serving notice",
            30,
            "const n = [...document.querySelectorAll('.notice')].find((n) => n.innerText.includes('local API serves')); return n ? n.innerText : null",
        )
        .await;
    assert!(
        served.as_str().unwrap().contains("http://127.0.0.1:"),
        "{served}"
    );
    s.step("api-on").await;

    // 7b'. Talk mode: the button reaches the shell's start_talk; without the
    //      voice-activity model installed it says so and leaves talk mode.
    s.js("document.querySelectorAll('.notice').forEach((n) => n.remove()); document.getElementById('talk').click(); return true", vec![])
        .await;
    let talk = s
        .until(
            "the talk-mode notice",
            30,
            "const n = document.querySelector('.notice[data-code=VAD_MISSING], .notice[data-code=NO_MICROPHONE]'); return n && document.getElementById('talk').getAttribute('aria-pressed') === 'false' && document.getElementById('talk-status').hidden ? n.innerText : null",
        )
        .await;
    assert!(talk.as_str().unwrap().len() > 10, "{talk}");
    s.step("talk-unavailable").await;

    // 7c. Tools: "@camera_snapshot …" makes the model call the camera; the
    //     consent dialog asks first, "Don't allow" declines, and the call
    //     shows above the answer.
    s.js("document.getElementById('use-tools').click(); return document.getElementById('use-tools').checked && !document.getElementById('use-docs').checked", vec![])
        .await;
    s.ask("@camera_snapshot Take a picture of me.").await;
    let asked = s
        .until(
            "the consent dialog",
            120,
            "const d = document.getElementById('consent'); return d.open ? document.getElementById('consent-text').innerText + ' focus=' + document.activeElement.id : null",
        )
        .await;
    assert!(
        asked.as_str().unwrap().contains("camera_snapshot"),
        "{asked}"
    );
    assert!(
        asked.as_str().unwrap().ends_with("focus=consent-deny"),
        "the default button declines: {asked}"
    );
    // Let the dialog paint before the screenshot.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.step("consent-dialog").await;
    s.axe("the consent dialog").await;
    let call = s
        .until(
            "the declined call above the answer",
            180,
            "const d = document.getElementById('consent'); if (d.open) { document.getElementById('consent-deny').click(); return null; } const m = [...document.querySelectorAll('.message.assistant')].pop(); const c = m && m.querySelector('.tool-call summary'); return m && !m.classList.contains('streaming') && c ? c.innerText : null",
        )
        .await;
    assert!(call.as_str().unwrap().contains("DECLINED"), "{call}");
    s.step("tool-declined").await;
    s.js(
        "document.getElementById('use-tools').click(); return true",
        vec![],
    )
    .await;
    // The models screen (first run) shown over the chat for the check.
    s.js(
        "document.getElementById('setup').hidden = false; return true",
        vec![],
    )
    .await;
    s.axe("the models screen").await;
    s.js(
        "document.getElementById('setup').hidden = true; return true",
        vec![],
    )
    .await;
    s.client.close().await.unwrap();
    drop(driver);

    // 8. After a restart the conversation is still there, with its answers,
    //    the documents answer's sources and the declined tool call.
    let (driver, mut s) = h.open().await;
    s.until(
        "the stored conversation after restart",
        20,
        "const b = document.querySelector('#conversations .conversation-open'); if (b) b.click(); const a = document.querySelectorAll('.message.assistant'); return a.length === 4 && a[2].querySelector('.sources .source-link') !== null && a[3].querySelector('.tool-call') !== null",
    )
    .await;
    s.step("after-restart").await;
    s.client.close().await.unwrap();
    drop(driver);
    eprintln!("screenshots: {}", shots.display());
}

/// Index `notes` into the app's document index under `data` with the real
/// embedding model, through the library as `omnidesk docs add` does.
fn index_notes(notes: &Path, data: &Path) {
    let embedder = omnidesk::rag::LlamaEmbedder::start(&embed_model(), Some(2)).unwrap();
    let rag = omnidesk::rag::Rag::open(
        &omnidesk::rag::default_dir(data),
        std::sync::Arc::new(embedder),
    )
    .unwrap();
    let report = rag
        .add_blocking(
            &[notes.to_path_buf()],
            &omnidesk::rag::IngestOptions::default(),
            &mut |_| {},
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
    assert_eq!(report.files_indexed, 2, "{report:?}");
}
