//! Voice and camera on real audio: speech made with espeak-ng and sox is
//! fed through ALSA's `file` plugin into the real cpal capture path, speech
//! is played to ALSA's `null` device and to a PulseAudio null sink (which,
//! unlike `null`, is clocked), and camera snapshots go to the omni fixture.
//!
//! ALSA reads `ALSA_CONFIG_PATH` once per process, so every test that needs
//! its own ALSA setup runs in a subprocess: the `omnidesk` binary, or this
//! test binary re-run as the `child` helper below.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{greedy, omni_fixture, request};
use omnidesk::audio::{
    self, AudioError, Recorder, RecorderSettings, RecordingEvent, StopReason, Whisper,
};
use omnidesk::camera::{self, CameraError, CameraSettings, FakeSource, FrameSource, NokhwaSource};
use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::{EngineConfig, EngineHandle, GenerationEvent};
use omnidesk::media::{self, Media};
use omnidesk::tts::{
    choose_speaker, EspeakSpeaker, Narrator, PiperPaths, PiperSpeaker, Speaker, SpeechEvent,
    TtsError, VoiceEngine,
};
use serde_json::{json, Value};

const QUESTION: &str = "What is the capital of France? Please answer in one short sentence.";
/// The rate the capture device runs at in these tests: not 16 kHz, so the
/// recorder's resampling is exercised too.
const DEVICE_RATE: u32 = 44_100;

// ---------------------------------------------------------------- helpers

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Speak `text` with espeak-ng, pad it with `pad` seconds of silence on
/// both sides, and write it as raw S16_LE mono at `rate`. Returns the raw
/// file and the same padded speech as f32 at 16 kHz (the reference).
fn spoken_raw(dir: &Path, text: &str, pad: f32, rate: u32) -> (PathBuf, Vec<f32>) {
    let wav = dir.join("speech.wav");
    run(Command::new("espeak-ng").arg("-w").arg(&wav).arg(text));
    let raw = dir.join(format!("speech-{rate}.raw"));
    let reference = dir.join("reference-16k.raw");
    for (out, r) in [(&raw, rate), (&reference, 16_000)] {
        run(Command::new("sox")
            .arg(&wav)
            .args(["-r", &r.to_string(), "-c", "1", "-b", "16"])
            .args(["-e", "signed-integer", "-t", "raw"])
            .arg(out)
            .args(["pad", &pad.to_string(), &pad.to_string()]));
    }
    (raw, read_raw(&reference))
}

fn read_raw(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

/// An ALSA config whose default capture device reads `infile` (raw S16_LE
/// mono at DEVICE_RATE), behind `plug` so cpal may ask for any format.
fn capture_conf(dir: &Path, infile: &Path) -> PathBuf {
    let conf = dir.join("asound-capture.conf");
    std::fs::write(
        &conf,
        format!(
            r#"pcm.!default {{
    type plug
    slave {{ pcm "omnidesk_file"; format S16_LE; rate {DEVICE_RATE}; channels 1 }}
}}
pcm.omnidesk_file {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{}"
    format "raw"
}}
"#,
            infile.display()
        ),
    )
    .unwrap();
    conf
}

fn alsa_path(conf: &Path) -> String {
    format!("/usr/share/alsa/alsa.conf:{}", conf.display())
}

/// Best normalised correlation of `a` and `b` over shifts up to `max_lag`.
fn correlation(a: &[f32], b: &[f32], max_lag: usize) -> f32 {
    let mut best = 0f32;
    for lag in -(max_lag as isize)..=(max_lag as isize) {
        let (x, y) = if lag >= 0 {
            (&a[lag as usize..], b)
        } else {
            (a, &b[(-lag) as usize..])
        };
        let n = x.len().min(y.len());
        let (mut xy, mut xx, mut yy) = (0f64, 0f64, 0f64);
        for i in 0..n {
            let (p, q) = (f64::from(x[i]), f64::from(y[i]));
            xy += p * q;
            xx += p * p;
            yy += q * q;
        }
        if xx > 0.0 && yy > 0.0 {
            best = best.max((xy / (xx.sqrt() * yy.sqrt())) as f32);
        }
    }
    best
}

fn rms(s: &[f32]) -> f32 {
    (s.iter().map(|x| x * x).sum::<f32>() / s.len().max(1) as f32).sqrt()
}

/// Re-run this test binary as the `child` helper with `mode`, extra env,
/// and return what it wrote.
fn run_child(mode: &str, env: &[(&str, String)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    run_child_in(mode, env, dir.path())
}

/// As [`run_child`], leaving the child's files (`child.json`, and
/// `child.wav` from a recording) in `dir`.
fn run_child_in(mode: &str, env: &[(&str, String)], dir: &Path) -> Value {
    let out = dir.join("child.json");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OMNIDESK_VOICE_CHILD", mode)
    .env("OMNIDESK_VOICE_OUT", &out)
    .env_remove("ALSA_CONFIG_PATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let res = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        res.status.success() && !stderr.contains("panicked"),
        "child {mode} failed: {stderr}\n{}",
        String::from_utf8_lossy(&res.stdout)
    );
    eprintln!("{}\n{stderr}", String::from_utf8_lossy(&res.stdout));
    serde_json::from_slice(&std::fs::read(&out).expect("the child wrote its result")).unwrap()
}

/// A PulseAudio daemon with a null sink, private to one test: the one
/// clocked output available without a sound card.
struct Pulse {
    child: Child,
    dir: tempfile::TempDir,
}

impl Pulse {
    fn start() -> Self {
        Self::with_modules(&["module-null-sink sink_name=omnidesk_null"], None)
    }

    /// A room for talk mode: the app plays into `speakers`, whose sound
    /// reaches the microphone (`mic`'s monitor) 40 ms later, as a loud
    /// speaker next to a microphone would; a test "speaks" by playing into
    /// `mic` with [`Pulse::live_mic`].
    fn room() -> Self {
        Self::with_modules(
            &[
                "module-null-sink sink_name=speakers",
                "module-null-sink sink_name=mic",
                "module-loopback source=speakers.monitor sink=mic latency_msec=40",
            ],
            Some(("speakers", "mic.monitor")),
        )
    }

    /// A live microphone stream into `mic`: silence until a clip is sent
    /// (see [`LiveMic::say`]). The pipe to pacat is shrunk to one page
    /// (~43 ms at 48 kHz) and written blocking, so a clip's onset reaches
    /// the sink within ~60 ms of the write that carries it.
    fn live_mic(&self) -> LiveMic {
        use std::os::fd::AsRawFd;
        let mut c = Command::new("pacat");
        c.args([
            "--playback",
            "--device=mic",
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
            "--latency-msec=10",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        for (k, v) in self.env() {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("pacat is installed (scripts/setup.sh)");
        let mut stdin = child.stdin.take().unwrap();
        // SAFETY: F_SETPIPE_SZ on a pipe we own; failure only keeps 64 KiB.
        unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
        let (clips, rx) = std::sync::mpsc::channel::<(Vec<i16>, std::sync::mpsc::Sender<f64>)>();
        std::thread::spawn(move || {
            use std::io::Write;
            let silence = [0u8; 960]; // 10 ms
            loop {
                let next = match rx.try_recv() {
                    Ok(c) => Some(c),
                    Err(std::sync::mpsc::TryRecvError::Empty) => None,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                };
                let Some((clip, reply)) = next else {
                    if stdin.write_all(&silence).is_err() {
                        break;
                    }
                    continue;
                };
                let onset = clip
                    .iter()
                    .position(|s| s.unsigned_abs() > 655)
                    .unwrap_or(0);
                let mut reply = Some(reply);
                for (i, chunk) in clip.chunks(480).enumerate() {
                    let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
                    if stdin.write_all(&bytes).is_err() {
                        return;
                    }
                    if (i + 1) * 480 > onset {
                        if let Some(r) = reply.take() {
                            let _ = r.send(now_ms());
                        }
                    }
                }
            }
        });
        LiveMic { child, clips }
    }

    fn with_modules(modules: &[&str], defaults: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("native");
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
            ])
            .args(["--use-pid-file=no", "--system=false", "--log-target=stderr"])
            .arg(format!(
                "--load=module-native-protocol-unix auth-anonymous=1 socket={}",
                socket.display()
            ))
            .args(modules.iter().map(|m| format!("--load={m}")))
            .env("HOME", dir.path())
            .env("PULSE_RUNTIME_PATH", dir.path().join("runtime"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pulseaudio is installed (scripts/setup.sh)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "pulseaudio did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let conf = dir.path().join("asound-pulse.conf");
        std::fs::write(
            &conf,
            "pcm.!default { type pulse }\nctl.!default { type pulse }\n",
        )
        .unwrap();
        let pulse = Self { child, dir };
        if let Some((sink, source)) = defaults {
            for (what, name) in [("set-default-sink", sink), ("set-default-source", source)] {
                let mut c = Command::new("pactl");
                c.args([what, name]);
                for (k, v) in pulse.env() {
                    c.env(k, v);
                }
                run(&mut c);
            }
        }
        pulse
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "PULSE_SERVER",
                format!("unix:{}", self.dir.path().join("native").display()),
            ),
            (
                "ALSA_CONFIG_PATH",
                alsa_path(&self.dir.path().join("asound-pulse.conf")),
            ),
        ]
    }
}

/// A paced microphone stream (see [`Pulse::live_mic`]).
struct LiveMic {
    child: Child,
    clips: std::sync::mpsc::Sender<(Vec<i16>, std::sync::mpsc::Sender<f64>)>,
}

impl LiveMic {
    /// Speak `wav` (16 kHz mono); returns when its first loud sample was
    /// written (Unix ms; it reaches the sink up to ~60 ms later, so
    /// latencies measured from it are overestimates).
    fn say(&self, wav: &Path) -> f64 {
        let clip: Vec<i16> = hound::WavReader::open(wav)
            .unwrap()
            .into_samples::<i16>()
            .map(|s| s.unwrap())
            .flat_map(|s| [s, s, s])
            .collect();
        let (tx, rx) = std::sync::mpsc::channel();
        self.clips.send((clip, tx)).unwrap();
        rx.recv_timeout(Duration::from_secs(30)).unwrap()
    }
}

impl Drop for LiveMic {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn omni() -> EngineHandle {
    let (model, mmproj) = omni_fixture();
    EngineHandle::start(EngineConfig {
        n_ctx: 4096,
        n_threads: Some(2),
        mmproj_path: Some(mmproj),
        ..EngineConfig::new(model)
    })
    .await
    .expect("the omni fixture loads")
}

// ------------------------------------------------------ the child helper

/// Not a test on its own: the other tests run it in a subprocess with
/// their ALSA configuration (see the module docs).
#[test]
#[ignore = "helper run in a subprocess by the other voice tests"]
fn child() {
    let Ok(mode) = std::env::var("OMNIDESK_VOICE_CHILD") else {
        return;
    };
    let out = PathBuf::from(std::env::var("OMNIDESK_VOICE_OUT").unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        match mode.as_str() {
            "record" => child_record().await,
            "play-stop" => child_play_stop().await,
            "bench" => child_bench().await,
            other => panic!("unknown child mode {other}"),
        }
    });
    std::fs::write(out, serde_json::to_vec(&result).unwrap()).unwrap();
}

/// Record with the settings in `OMNIDESK_VOICE_MAX`; report the clip,
/// stop reason and level events, or the error code.
async fn child_record() -> Value {
    let max: f64 = std::env::var("OMNIDESK_VOICE_MAX")
        .unwrap()
        .parse()
        .unwrap();
    let settings = RecorderSettings {
        max_seconds: max,
        ..Default::default()
    };
    let mut rec = match Recorder::start(settings) {
        Ok(r) => r,
        Err(e) => {
            return json!({ "error": e.code(), "message": e.to_string(),
                           "no_microphone": matches!(e, AudioError::NoMicrophone { .. }) })
        }
    };
    // Real-time source: play the clip into the PulseAudio null sink whose
    // monitor is being recorded.
    let mut player = std::env::var_os("OMNIDESK_VOICE_PLAY").map(|wav| {
        Command::new("paplay")
            .arg(wav)
            .spawn()
            .expect("paplay is installed")
    });
    let mut levels = Vec::new();
    let mut stopped = None;
    while let Some(ev) = rec.next_event().await {
        match ev {
            RecordingEvent::Level { rms, .. } => levels.push(rms),
            RecordingEvent::Stopped { reason, .. } => {
                stopped = Some(reason);
                break;
            }
        }
    }
    let event_json = serde_json::to_value(RecordingEvent::Stopped {
        reason: StopReason::MaxLength,
        seconds: 1.0,
        message: None,
    })
    .unwrap();
    if let Some(p) = player.as_mut() {
        assert!(p.wait().unwrap().success(), "paplay failed");
    }
    match rec.finish().await {
        Ok(clip) => {
            let wav =
                PathBuf::from(std::env::var("OMNIDESK_VOICE_OUT").unwrap()).with_extension("wav");
            audio::write_wav(&clip.audio, &wav).unwrap();
            json!({
                "stopped_event": stopped,
                "stop_reason": clip.stop_reason,
                "stop_reason_text": clip.stop_reason.to_string(),
                "captured_seconds": clip.captured_seconds,
                "seconds": clip.audio.seconds(),
                "rate": clip.audio.sample_rate,
                "device_rate": clip.device_rate,
                "levels": levels,
                "event_json": event_json,
            })
        }
        Err(e) => json!({ "error": e.code(), "message": e.to_string() }),
    }
}

/// Speak a long text on the default output, stop it mid-sentence, and
/// time how long the silence took.
async fn child_play_stop() -> Value {
    let text = "This is a long sentence that keeps going for quite a while, so that \
                there is plenty of time to interrupt it before it could possibly end on its own";
    let clip_seconds = EspeakSpeaker::default().synthesize(text).unwrap().seconds();
    let (narrator, mut events) = Narrator::start(Arc::new(EspeakSpeaker::default()), None).unwrap();
    narrator.say(text);
    narrator.say("And a second sentence that must never be heard.");
    let started = loop {
        match events.recv().await.unwrap() {
            SpeechEvent::Started { .. } => break Instant::now(),
            SpeechEvent::Failed { message, .. } => panic!("{message}"),
            _ => {}
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop_at = Instant::now();
    narrator.stop();
    let ev = events.recv().await.unwrap();
    let stop_ms = stop_at.elapsed().as_secs_f64() * 1e3;
    tokio::time::timeout(Duration::from_secs(10), narrator.wait_idle())
        .await
        .unwrap();
    let mut later = Vec::new();
    while let Ok(e) = events.try_recv() {
        later.push(serde_json::to_value(e).unwrap());
    }
    json!({
        "clip_seconds": clip_seconds,
        "played_seconds": stop_at.duration_since(started).as_secs_f64(),
        "event": ev,
        "stop_ms": stop_ms,
        "total_seconds": started.elapsed().as_secs_f64(),
        "later_events": later,
    })
}

/// Push-to-talk of a 5 s clip through the real capture path, then the
/// omni fixture answers and the first sentence is spoken (null device).
async fn child_bench() -> Value {
    let engine = omni().await;
    let (narrator, mut speech) =
        Narrator::start(Arc::new(EspeakSpeaker::default()), Some("null".into())).unwrap();
    let mut rec = Recorder::start(RecorderSettings {
        max_seconds: 5.0,
        trim: None,
        ..Default::default()
    })
    .unwrap();
    while let Some(ev) = rec.next_event().await {
        if matches!(ev, RecordingEvent::Stopped { .. }) {
            break;
        }
    }
    let released = Instant::now();
    let clip = rec.finish().await.unwrap();
    let clip_ready = released.elapsed();
    let mut stream = engine
        .generate(request(
            vec![ChatMessage::with_media(
                Role::User,
                "Answer the question in the clip.",
                vec![Media::Audio(clip.audio.clone())],
            )],
            greedy(),
            8,
        ))
        .unwrap();
    let mut first_token = None;
    let mut text = String::new();
    let stats = loop {
        match stream.next().await.unwrap() {
            GenerationEvent::Token(t) => {
                first_token.get_or_insert_with(|| released.elapsed());
                text.push_str(&t);
            }
            GenerationEvent::Done(o) => break o.stats,
            GenerationEvent::Failed(e) => panic!("{e}"),
            _ => {}
        }
    };
    // The noise model writes no sentence end: speak what it wrote.
    narrator.say(if text.trim().is_empty() { "ok" } else { &text });
    let first_audio = loop {
        match speech.recv().await.unwrap() {
            SpeechEvent::Started { .. } => break released.elapsed(),
            SpeechEvent::Failed { message, .. } => panic!("{message}"),
            _ => {}
        }
    };
    narrator.wait_idle().await;
    json!({
        "clip_seconds": clip.audio.seconds(),
        "clip_ready_ms": clip_ready.as_secs_f64() * 1e3,
        "first_token_ms": first_token.map(|d| d.as_secs_f64() * 1e3),
        "first_audio_ms": first_audio.as_secs_f64() * 1e3,
        "audio_tokens": stats.audio_tokens,
        "media_encode_ms": stats.media_encode_ms,
    })
}

// ------------------------------------------------------------ microphone

/// The real-time path: speech played into a PulseAudio null sink is
/// recorded from its monitor through ALSA's pulse plugin and cpal.
#[test]
fn captured_speech_matches_the_source_with_silence_trimmed() {
    let _peers = shared_time();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("speech.wav");
    run(Command::new("espeak-ng").arg("-w").arg(&wav).arg(QUESTION));
    let padded = dir.path().join("padded.wav");
    run(Command::new("sox")
        .arg(&wav)
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(&padded)
        .args(["pad", "0.5", "0.5"]));
    let reference: Vec<f32> = hound::WavReader::open(&padded)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    let source_seconds = reference.len() as f64 / 16_000.0;
    let pulse = Pulse::start();
    let mut env = pulse.env();
    env.push(("OMNIDESK_VOICE_MAX", format!("{}", source_seconds + 1.0)));
    env.push(("OMNIDESK_VOICE_PLAY", padded.display().to_string()));
    let out = dir.path().join("record");
    std::fs::create_dir(&out).unwrap();
    let r = run_child_in("record", &env, &out);
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["rate"], 16_000);
    assert_eq!(r["stop_reason"], "maxLength");
    let recorded: Vec<f32> = hound::WavReader::open(out.join("child.wav"))
        .unwrap()
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    let trim = omnidesk::audio::TrimSettings::default();
    let (a, b) = audio::trim::speech_bounds(&reference, 16_000, &trim).unwrap();
    let source = &reference[a..b];
    let (got, expected) = (
        recorded.len() as f64 / 16_000.0,
        source.len() as f64 / 16_000.0,
    );
    assert!(
        (got - expected).abs() < 0.08,
        "trimmed clip {got:.3} s, source speech {expected:.3} s"
    );
    assert!(
        got < r["captured_seconds"].as_f64().unwrap() - 1.0,
        "silence around the speech is trimmed: {got} of {}",
        r["captured_seconds"]
    );
    let c = correlation(&recorded, source, 800);
    assert!(c > 0.9, "correlation {c}");
    let levels: Vec<f64> = r["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let expected_events = (r["captured_seconds"].as_f64().unwrap() / 0.05) as usize;
    assert!(
        levels.len() + 2 >= expected_events && levels.len() <= expected_events + 1,
        "{} level events for {} s",
        levels.len(),
        r["captured_seconds"]
    );
    assert!(levels[0] < 0.005, "silence before the clip plays");
    assert!(levels.iter().any(|&l| l > 0.05), "speech is loud");
    assert_eq!(r["event_json"]["kind"], "stopped");
    assert_eq!(r["event_json"]["reason"], "maxLength");
}

#[test]
fn listen_sends_the_recording_to_the_model_and_keeps_it() {
    let _peers = shared_time();
    // `omnidesk listen` records (ALSA file plugin), keeps the clip as a WAV
    // attached to the message, and the omni model hears it as audio.
    let dir = tempfile::tempdir().unwrap();
    let (raw, reference) = spoken_raw(dir.path(), QUESTION, 0.5, DEVICE_RATE);
    let conf = capture_conf(dir.path(), &raw);
    let (model, _) = omni_fixture();
    let seconds = reference.len() as f64 / 16_000.0 + 0.3;
    let out = run(Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_DATA_DIR", dir.path())
        .env("OMNIDESK_CONFIG", "/dev/null")
        .env("ALSA_CONFIG_PATH", alsa_path(&conf))
        .args(["listen", "--json", "-t", "2", "--temp", "0", "-n", "4"])
        .args(["--max-seconds", &seconds.to_string(), "--model"])
        .arg(&model));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["stats"]["audio_tokens"], 750, "{body}");
    assert_eq!(body["stop_reason"], "maxLength");
    assert!(body["transcript"].is_null());
    assert!(body["release_to_first_token_ms"].as_f64().unwrap() > 0.0);
    let wav = PathBuf::from(body["recording"].as_str().unwrap());
    assert!(wav.starts_with(dir.path().join("recordings")));
    let recorded: Vec<f32> = hound::WavReader::open(&wav)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    assert!(rms(&recorded) > 0.02, "the stored clip holds the speech");
    // The clip is stored with the message, so the history can replay it.
    let id = body["conversation_id"].as_i64().unwrap().to_string();
    let shown = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_DATA_DIR", dir.path())
        .env("OMNIDESK_CONFIG", "/dev/null")
        .args(["history", "--json", &id])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let att = &shown["messages"][0]["attachments"][0];
    assert_eq!(att["kind"], "audio");
    assert_eq!(att["path"], wav.to_str().unwrap());
}

#[test]
fn a_short_maximum_stops_the_recording_by_itself() {
    let _peers = shared_time();
    let dir = tempfile::tempdir().unwrap();
    let (raw, _) = spoken_raw(dir.path(), QUESTION, 0.0, DEVICE_RATE);
    let conf = capture_conf(dir.path(), &raw);
    let r = run_child(
        "record",
        &[
            ("ALSA_CONFIG_PATH", alsa_path(&conf)),
            ("OMNIDESK_VOICE_MAX", "0.7".into()),
        ],
    );
    assert_eq!(r["stopped_event"], "maxLength", "{r}");
    assert_eq!(r["stop_reason_text"], "max length");
    assert!((r["captured_seconds"].as_f64().unwrap() - 0.7).abs() < 0.01);
    assert!(r["seconds"].as_f64().unwrap() <= 0.7 + 1e-6);
}

#[test]
fn no_microphone_is_a_typed_error() {
    let _peers = shared_time();
    // The default ALSA configuration on a machine without a sound card.
    let r = run_child("record", &[("OMNIDESK_VOICE_MAX", "1".into())]);
    assert_eq!(r["error"], "NO_MICROPHONE", "{r}");
    assert_eq!(r["no_microphone"], true);
}

#[test]
fn a_missing_named_microphone_is_reported_by_name() {
    let _peers = shared_time();
    let err = Recorder::start(RecorderSettings {
        device: Some("no such microphone".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(&err, AudioError::DeviceNotFound { name } if name == "no such microphone"),
        "{err}"
    );
}

#[tokio::test]
#[allow(clippy::await_holding_lock)]
async fn a_spoken_question_file_reaches_the_model_as_audio() {
    let _peers = shared_time();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("question.wav");
    run(Command::new("espeak-ng").arg("-w").arg(&wav).arg(QUESTION));
    let clip = media::audio::load(&wav, 16_000, &Default::default()).unwrap();
    let e = omni().await;
    let out = e
        .complete(request(
            vec![ChatMessage::with_media(
                Role::User,
                "Answer the question.",
                vec![Media::Audio(clip.clone())],
            )],
            greedy(),
            3,
        ))
        .await
        .unwrap();
    assert_eq!(out.stats.audio_tokens, 750);
    assert!((out.stats.audio_seconds_encoded - clip.seconds()).abs() < 1e-6);
    // The model is asked for a transcript the same way (noise here).
    let heard = omnidesk::turn::transcribe(&e, &clip, 4).await.unwrap();
    assert!(heard.len() < 200);
}

// ---------------------------------------------------------------- speech

#[test]
fn espeak_speaks_english_and_chinese() {
    let _peers = shared_time();
    let s = EspeakSpeaker::default();
    for (text, min, max) in [
        ("Hello, this is a test of the speech engine.", 1.5, 5.0),
        ("你好，世界。今天天气很好。", 1.5, 8.0),
    ] {
        let pcm = s.synthesize(text).unwrap();
        let secs = pcm.seconds();
        assert!(secs > min && secs < max, "{text}: {secs} s");
        assert!(rms(&pcm.samples) > 0.02, "{text}: silent");
    }
    // Mandarin is not read letter by letter with the English voice.
    assert_eq!(s.voice_for("今天天气很好"), "cmn");
}

/// The Piper voice and ONNX Runtime that scripts/test.sh fetches, or
/// `None` (the test is skipped, saying why) when they are not set.
fn piper() -> Option<PiperPaths> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match (
        var("OMNIDESK_TEST_PIPER_VOICE"),
        var("OMNIDESK_TEST_ONNXRUNTIME"),
    ) {
        (Some(model), Some(runtime)) => Some(PiperPaths {
            model: model.into(),
            runtime: runtime.into(),
        }),
        _ => {
            eprintln!(
                "skipped: set OMNIDESK_TEST_PIPER_VOICE and OMNIDESK_TEST_ONNXRUNTIME \
                 (scripts/test.sh does, from scripts/fetch-test-models.sh)"
            );
            None
        }
    }
}

fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let rate = r.spec().sample_rate;
    let samples = r
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    (rate, samples)
}

#[test]
fn piper_speaks_english_at_the_voices_rate() {
    let _peers = shared_time();
    let Some(paths) = piper() else { return };
    let s = PiperSpeaker::load(&paths).unwrap();
    assert_eq!(s.name(), "piper");
    let text = "The capital of France is Paris, a city on the Seine.";
    let ipa = s.phonemize(text).unwrap();
    assert!(ipa.contains("pˈæɹɪs"), "{ipa}");
    assert!(ipa.contains(',') && ipa.ends_with('.'), "{ipa}");
    let pcm = s.synthesize(text).unwrap();
    assert_eq!(pcm.sample_rate, 22_050, "the voice's rate");
    let secs = pcm.seconds();
    assert!(secs > 1.5 && secs < 8.0, "{secs} s");
    assert!(rms(&pcm.samples) > 0.02, "silent");
    // Speech has pauses: not a constant tone or noise.
    let quiet = pcm.samples.chunks(441).filter(|c| rms(c) < 0.01).count();
    assert!(quiet > 0, "no pause in {secs} s of speech");
    // Longer text, longer speech.
    let short = s.synthesize("Yes.").unwrap().seconds();
    assert!(short > 0.2 && short < secs / 2.0, "{short} s vs {secs} s");
}

#[test]
fn a_broken_piper_voice_is_a_typed_error() {
    let _peers = shared_time();
    let Some(paths) = piper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken.onnx");
    std::fs::write(&model, b"not an onnx model").unwrap();
    let mut config = model.clone().into_os_string();
    config.push(".json");
    std::fs::copy(paths.config(), &config).unwrap();
    let broken = PiperPaths {
        model,
        runtime: paths.runtime.clone(),
    };
    let err = PiperSpeaker::load(&broken).unwrap_err();
    assert!(matches!(err, TtsError::BadVoice { .. }), "{err}");
    assert_eq!(err.code(), "TTS_BAD_VOICE");

    let no_runtime = PiperPaths {
        runtime: dir.path().join("libonnxruntime.so"),
        ..paths.clone()
    };
    let err = PiperSpeaker::load(&no_runtime).unwrap_err();
    assert!(matches!(err, TtsError::RuntimeMissing { .. }), "{err}");

    let no_voice = PiperPaths {
        model: dir.path().join("absent.onnx"),
        ..paths
    };
    let err = PiperSpeaker::load(&no_voice).unwrap_err();
    assert!(matches!(err, TtsError::VoiceMissing { .. }), "{err}");
}

#[test]
fn auto_speaks_english_with_piper_and_chinese_with_espeak() {
    let _peers = shared_time();
    let Some(paths) = piper() else { return };
    let s = choose_speaker(VoiceEngine::Auto, &paths).unwrap();
    assert_eq!(s.name(), "piper");
    let zh = s.synthesize("你好，世界。今天天气很好。").unwrap();
    let espeak = EspeakSpeaker::default()
        .synthesize("你好，世界。今天天气很好。")
        .unwrap();
    assert_eq!(zh, espeak, "Chinese goes to espeak-ng");
    let en = s.synthesize("Hello there.").unwrap();
    assert!(rms(&en.samples) > 0.02 && en.seconds() > 0.3);
}

#[test]
fn the_cli_says_a_sentence_into_a_wav_with_each_voice() {
    let _peers = shared_time();
    let Some(paths) = piper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[audio]\npiper_voice = {:?}\nonnxruntime = {:?}\n",
            paths.model.display().to_string(),
            paths.runtime.display().to_string()
        ),
    )
    .unwrap();
    for voice in ["piper", "espeak"] {
        let wav = dir.path().join(format!("{voice}.wav"));
        let out = run(Command::new(env!("CARGO_BIN_EXE_omnidesk"))
            .env("OMNIDESK_DATA_DIR", dir.path())
            .env("OMNIDESK_CONFIG", &config)
            .args(["audio", "say", "--json", "--voice", voice, "--out"])
            .arg(&wav)
            .args(["Good morning.", "The weather is fine today."]));
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        let name = if voice == "piper" {
            "piper"
        } else {
            "espeak-ng"
        };
        assert_eq!(body["voice"], name, "{body}");
        let (rate, samples) = read_wav(&wav);
        assert_eq!(u64::from(rate), body["sample_rate"].as_u64().unwrap());
        let secs = samples.len() as f64 / f64::from(rate);
        assert!(secs > 1.0 && secs < 10.0, "{voice}: {secs} s");
        assert!((secs - body["seconds"].as_f64().unwrap()).abs() < 0.01);
        assert!(rms(&samples) > 0.02, "{voice}: silent WAV");
    }
    // `--voice piper` with no voice installed says why, with its code.
    let out = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_DATA_DIR", dir.path())
        .env("OMNIDESK_CONFIG", "/dev/null")
        .env_remove("ORT_DYLIB_PATH")
        .args(["audio", "say", "--voice", "piper", "-o"])
        .arg(dir.path().join("x.wav"))
        .arg("Hello.")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("en_US-joe-medium.onnx"), "{err}");
}

// ---------------------------------------------------------------- whisper

/// Whisper tiny.en and its helper program, or `None` (skipped, saying why)
/// when OMNIDESK_TEST_WHISPER_MODEL is not set.
fn whisper() -> Option<Whisper> {
    let Some(model) = std::env::var_os("OMNIDESK_TEST_WHISPER_MODEL").filter(|v| !v.is_empty())
    else {
        eprintln!(
            "skipped: set OMNIDESK_TEST_WHISPER_MODEL \
             (scripts/test.sh does, from scripts/fetch-test-models.sh whisper-tiny-en)"
        );
        return None;
    };
    // The helper is built beside the omnidesk binary (target/<profile>/).
    let helper = std::env::var_os("OMNIDESK_WHISPER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_BIN_EXE_omnidesk")).with_file_name("omnidesk-whisper")
        });
    assert!(
        helper.is_file(),
        "{} is missing: cargo build -p omnidesk-whisper",
        helper.display()
    );
    Some(Whisper {
        program: helper,
        ..Whisper::new(model)
    })
}

fn words(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect()
}

#[test]
fn whisper_transcribes_a_spoken_question() {
    let _peers = shared_time();
    let Some(w) = whisper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("question.wav");
    run(Command::new("espeak-ng").arg("-w").arg(&wav).arg(QUESTION));
    // espeak-ng writes 22.05 kHz: the clip is resampled on the way.
    let clip = media::audio::load(&wav, 22_050, &Default::default()).unwrap();
    let t = w.transcribe(&clip).unwrap();
    let heard = words(&t.text);
    assert!(heard.contains("capital of france"), "{t:?}");
    assert!(!t.segments.is_empty() && t.segments[0].start_ms >= 0);
}

#[test]
fn whisper_understands_the_piper_voice() {
    let _peers = shared_time();
    let (Some(w), Some(paths)) = (whisper(), piper()) else {
        return;
    };
    let pcm = PiperSpeaker::load(&paths)
        .unwrap()
        .synthesize("The weather is fine today.")
        .unwrap();
    let clip = media::Audio::from_samples(pcm.sample_rate, pcm.samples).unwrap();
    let heard = words(&w.transcribe(&clip).unwrap().text);
    assert!(heard.contains("weather"), "{heard}");
}

#[test]
fn a_broken_whisper_model_is_a_typed_error() {
    let _peers = shared_time();
    let Some(w) = whisper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ggml-bad.bin");
    std::fs::write(&bad, b"not a model").unwrap();
    let clip = media::Audio::from_samples(16_000, vec![0.0; 16_000]).unwrap();
    let err = Whisper {
        model: bad,
        ..w.clone()
    }
    .transcribe(&clip)
    .unwrap_err();
    assert_eq!(err.code(), "WHISPER_FAILED", "{err}");
    let err = Whisper {
        model: dir.path().join("absent.bin"),
        ..w
    }
    .transcribe(&clip)
    .unwrap_err();
    assert!(matches!(err, AudioError::WhisperMissing { .. }), "{err}");
}

#[test]
fn listen_with_a_text_model_asks_what_whisper_heard() {
    let _peers = shared_time();
    // Gemma has no audio input: Whisper's transcript becomes the question.
    let Some(w) = whisper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (raw, reference) = spoken_raw(dir.path(), QUESTION, 0.5, DEVICE_RATE);
    let conf = capture_conf(dir.path(), &raw);
    let seconds = reference.len() as f64 / 16_000.0 + 0.3;
    let out = run(Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_DATA_DIR", dir.path())
        .env("OMNIDESK_CONFIG", "/dev/null")
        .env("ALSA_CONFIG_PATH", alsa_path(&conf))
        .env("OMNIDESK_WHISPER", &w.program)
        .args(["listen", "--json", "-t", "2", "--temp", "0", "-n", "12"])
        .args(["--max-seconds", &seconds.to_string(), "--whisper-model"])
        .arg(&w.model)
        .arg("--model")
        .arg(common::test_model()));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let heard = words(body["transcript"].as_str().unwrap());
    assert!(heard.contains("capital of france"), "{body}");
    assert!(!body["text"].as_str().unwrap().trim().is_empty(), "{body}");
    // The text model got text, not audio.
    assert!(body["recording"].is_null(), "{body}");
    // The stored question is the transcript.
    let id = body["conversation_id"].as_i64().unwrap().to_string();
    let shown = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_DATA_DIR", dir.path())
        .env("OMNIDESK_CONFIG", "/dev/null")
        .args(["history", "--json", &id])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let asked = shown["messages"][0]["content"].to_string();
    assert!(words(&asked).contains("capital of france"), "{shown}");
}

/// A spoken question answered from the user's documents: Whisper's
/// transcript is the search query, and the note is the source.
#[test]
fn a_spoken_question_is_answered_from_documents() {
    let _peers = shared_time();
    let Some(w) = whisper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("warranty.md"),
        "# Warranty\n\nThe kettle's warranty covers a cracked lid for two years.\n",
    )
    .unwrap();
    std::fs::write(
        notes.join("garden.md"),
        "# Garden\n\nTomatoes want sun, water at the roots and a stake to climb.\n",
    )
    .unwrap();
    let omnidesk = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
        c.env("OMNIDESK_DATA_DIR", dir.path())
            .env("OMNIDESK_CONFIG", "/dev/null")
            .env("OMNIDESK_EMBED_MODEL", common::embed_model());
        c
    };
    run(omnidesk().args(["docs", "add"]).arg(&notes));
    let (raw, reference) = spoken_raw(
        dir.path(),
        // Tiny Whisper hears espeak-ng's "warranty" in this wording.
        "Is a cracked lid on my kettle covered by the warranty?",
        0.5,
        DEVICE_RATE,
    );
    let conf = capture_conf(dir.path(), &raw);
    let seconds = reference.len() as f64 / 16_000.0 + 0.3;
    let out = run(omnidesk()
        .env("ALSA_CONFIG_PATH", alsa_path(&conf))
        .env("OMNIDESK_WHISPER", &w.program)
        .args([
            "listen", "--docs", "--json", "-t", "2", "--temp", "0", "-n", "12",
        ])
        .args(["--max-seconds", &seconds.to_string(), "--whisper-model"])
        .arg(&w.model)
        .arg("--model")
        .arg(common::test_model()));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        words(body["transcript"].as_str().unwrap()).contains("kettle"),
        "{body}"
    );
    let first = body["sources"][0]["path"].as_str().unwrap_or_default();
    assert!(first.ends_with("warranty.md"), "{body}");
}

#[test]
fn the_cli_transcribes_a_file() {
    let _peers = shared_time();
    let Some(w) = whisper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("q.wav");
    run(Command::new("espeak-ng")
        .arg("-w")
        .arg(&wav)
        .arg("Good morning, everyone."));
    let out = run(Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_CONFIG", "/dev/null")
        .env("OMNIDESK_DATA_DIR", dir.path())
        .env("OMNIDESK_WHISPER", &w.program)
        .args(["audio", "transcribe", "--json", "--whisper-model"])
        .arg(&w.model)
        .arg(&wav));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        words(body["text"].as_str().unwrap()).contains("good morning"),
        "{body}"
    );
    // Without a model it says how to get one.
    let out = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_CONFIG", "/dev/null")
        .env("OMNIDESK_DATA_DIR", dir.path())
        .args(["audio", "transcribe"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("whisper_model"));
}

#[tokio::test]
#[allow(clippy::await_holding_lock)]
async fn playback_to_the_null_device_completes_in_order() {
    let _peers = shared_time();
    let (narrator, mut events) =
        Narrator::start(Arc::new(EspeakSpeaker::default()), Some("null".into())).unwrap();
    narrator.say("First sentence.");
    narrator.say("第二句。");
    tokio::time::timeout(Duration::from_secs(30), narrator.wait_idle())
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    assert_eq!(
        seen,
        vec![
            SpeechEvent::Started {
                text: "First sentence.".into()
            },
            SpeechEvent::Finished {
                text: "First sentence.".into()
            },
            SpeechEvent::Started {
                text: "第二句。".into()
            },
            SpeechEvent::Finished {
                text: "第二句。".into()
            },
        ]
    );
    assert_eq!(
        serde_json::to_value(&seen[0]).unwrap(),
        json!({"kind": "started", "text": "First sentence."})
    );
}

#[test]
fn no_output_device_is_a_typed_error() {
    let _peers = shared_time();
    let err = Narrator::start(
        Arc::new(EspeakSpeaker::default()),
        Some("no such speaker".into()),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "NO_AUDIO_OUTPUT", "{err}");
}

#[test]
fn stop_silences_speech_at_once() {
    let _peers = shared_time();
    let pulse = Pulse::start();
    let r = run_child("play-stop", &pulse.env());
    let clip = r["clip_seconds"].as_f64().unwrap();
    let total = r["total_seconds"].as_f64().unwrap();
    assert_eq!(r["event"]["kind"], "interrupted", "{r}");
    // Generous for loaded CI machines; typically a few milliseconds.
    assert!(r["stop_ms"].as_f64().unwrap() < 500.0, "{r}");
    assert!(clip > 4.0, "the test text is long: {clip} s");
    assert!(
        total < clip / 2.0,
        "stopped after {total} s of a {clip} s clip"
    );
    // The queued second sentence was dropped, not played.
    assert_eq!(r["later_events"], json!([]), "{r}");
}

// ---------------------------------------------------------------- camera

#[tokio::test]
#[allow(clippy::await_holding_lock)]
async fn a_fake_camera_snapshot_is_an_image_question() {
    let _peers = shared_time();
    let settings = CameraSettings {
        width: 64,
        height: 48,
        warmup_frames: 2,
    };
    let img = camera::snapshot(&FakeSource, 0, &settings).unwrap();
    let e = omni().await;
    let out = e
        .complete(request(
            vec![ChatMessage::with_media(
                Role::User,
                "What do you see?",
                vec![Media::Image(img)],
            )],
            greedy(),
            2,
        ))
        .await
        .unwrap();
    assert_eq!(out.stats.images_encoded, 1);
    assert_eq!(out.stats.image_tokens, 12);
}

#[test]
fn the_cli_asks_about_a_snapshot_and_saves_one() {
    let _peers = shared_time();
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = omni_fixture();
    let cli = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
        c.env("OMNIDESK_DATA_DIR", dir.path())
            .env("OMNIDESK_CONFIG", "/dev/null");
        c
    };
    let out = run(cli()
        .args([
            "ask",
            "--json",
            "--camera",
            "--fake-camera",
            "-t",
            "2",
            "-n",
            "2",
        ])
        .arg("--model")
        .arg(&model)
        .arg("What is in front of the camera?"));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    // A 1280×720 frame is hundreds of merged 28 px patches.
    assert_eq!(body["stats"]["images_encoded"], 1, "{body}");
    assert!(body["stats"]["image_tokens"].as_u64().unwrap() > 100);
    let png = dir.path().join("snap.png");
    run(cli().args(["camera", "snap", "--fake"]).arg(&png));
    let img = media::image::load(&png, &Default::default()).unwrap();
    assert_eq!((img.width, img.height), (1280, 720));
    let listed = run(cli().args(["camera", "list", "--json", "--fake"]));
    let cams: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(cams[0]["name"], "Fake camera");
}

#[test]
fn the_real_camera_path_reports_no_camera_here() {
    let _peers = shared_time();
    let source = NokhwaSource;
    let cams = source.list().unwrap();
    if !cams.is_empty() {
        eprintln!("a camera is present ({}); nothing to check", cams[0].name);
        return;
    }
    let err = camera::snapshot(&source, 0, &CameraSettings::default()).unwrap_err();
    assert!(matches!(err, CameraError::NoCamera { .. }), "{err:?}");
    assert_eq!(err.code(), "NO_CAMERA");
    // And through the CLI: a clean error, no panic, no V4L2 string.
    let out = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_CONFIG", "/dev/null")
        .args(["camera", "snap", "/tmp/never-written.png"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("no camera is available"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

// ------------------------------------------------------------- benchmark

/// Release of push-to-talk → first token and → first spoken audio, for a
/// 5 s clip with the omni fixture on CPU. Printed, not asserted on time.
#[test]
fn bench_push_to_talk_latency() {
    let _peers = shared_time();
    let dir = tempfile::tempdir().unwrap();
    let (raw, _) = spoken_raw(dir.path(), QUESTION, 2.0, DEVICE_RATE);
    let conf = capture_conf(dir.path(), &raw);
    let r = run_child("bench", &[("ALSA_CONFIG_PATH", alsa_path(&conf))]);
    eprintln!("push-to-talk benchmark: {r}");
    assert_eq!(r["audio_tokens"], 750);
    assert!((r["clip_seconds"].as_f64().unwrap() - 5.0).abs() < 0.01);
    assert!(r["first_token_ms"].as_f64().is_some());
}

// -------------------------------------------------------------- talk mode

/// A spoken question as a 16 kHz WAV with `pad` seconds of silence after
/// it; returns the file and the offset of its first loud sample.
fn spoken_wav(dir: &Path, name: &str, text: &str, pad: f32) -> (PathBuf, f64) {
    let raw = dir.join(format!("{name}-espeak.wav"));
    run(Command::new("espeak-ng").arg("-w").arg(&raw).arg(text));
    let wav = dir.join(format!("{name}.wav"));
    run(Command::new("sox")
        .arg(&raw)
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(&wav)
        .args(["pad", "0", &pad.to_string()]));
    let samples: Vec<f32> = hound::WavReader::open(&wav)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    let onset = samples.iter().position(|s| s.abs() > 0.02).unwrap_or(0);
    (wav, onset as f64 / 16_000.0)
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// `omnidesk talk --json` in the Pulse room, its events read as they come.
struct Talk {
    child: Child,
    lines: std::sync::mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Talk {
    fn start(pulse: &Pulse, data: &Path, extra: &[&str]) -> Self {
        let (model, _) = omni_fixture();
        let vad = std::env::var("OMNIDESK_TEST_VAD_MODEL")
            .expect("OMNIDESK_TEST_VAD_MODEL (scripts/fetch-test-models.sh silero-vad)");
        let ort = std::env::var("OMNIDESK_TEST_ONNXRUNTIME")
            .expect("OMNIDESK_TEST_ONNXRUNTIME (scripts/fetch-test-models.sh onnxruntime)");
        let config = data.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[audio]\nvoice = \"espeak\"\nonnxruntime = \"{ort}\"\nvad_model = \"{vad}\"\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
        cmd.env("OMNIDESK_DATA_DIR", data)
            .env("OMNIDESK_CONFIG", &config)
            .args(["talk", "--json", "-t", "2", "--temp", "0", "--model"])
            .arg(&model)
            .args(extra)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in pulse.env() {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait for the next event called `name` (all events are kept).
    fn wait_for(&mut self, name: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if v["event"] == name {
                        return v;
                    }
                }
                Err(_) => panic!("no {name:?} event in {within:?}; seen: {:?}", self.seen),
            }
        }
    }

    /// Wait for the process to leave by itself; every event it printed.
    fn finish(mut self, within: Duration) -> Vec<Value> {
        self.wait_exit(within)
    }

    fn wait_exit(&mut self, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "talk failed: {status}; {:?}", self.seen);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "talk did not leave: {:?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        while let Ok(v) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(v);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Talk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The talk tests measure real-time latencies: they run alone (`real_time`),
/// every other test here shares the machine with its peers only
/// (`shared_time`), whatever the harness's thread count.
static REAL_TIME: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn real_time() -> std::sync::RwLockWriteGuard<'static, ()> {
    REAL_TIME.write().unwrap_or_else(|e| e.into_inner())
}

fn shared_time() -> std::sync::RwLockReadGuard<'static, ()> {
    REAL_TIME.read().unwrap_or_else(|e| e.into_inner())
}

fn count(events: &[Value], name: &str) -> usize {
    events.iter().filter(|e| e["event"] == name).count()
}

/// A spoken question followed by silence starts a turn without a key; the
/// omni model hears it, the reply is spoken into a room whose speaker
/// loops back into the microphone, and that echo never starts a turn of
/// its own. Timings are reported and stored with the answer. Without echo
/// cancellation the same room does hear itself, so the check can fail.
#[test]
fn talk_answers_a_spoken_question_and_never_its_own_voice() {
    let _one = real_time();
    let dir = tempfile::tempdir().unwrap();
    let (question, _) = spoken_wav(dir.path(), "q", QUESTION, 1.5);
    let pulse = Pulse::room();
    let mic = pulse.live_mic();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut talk = Talk::start(&pulse, &data, &["-n", "24", "--idle-exit", "5"]);
    talk.wait_for("listening", Duration::from_secs(30));
    mic.say(&question);
    talk.wait_for("speech_started", Duration::from_secs(10));
    talk.wait_for("thinking", Duration::from_secs(15));
    talk.wait_for("speaking", Duration::from_secs(20));
    let events = talk.finish(Duration::from_secs(60));
    assert_eq!(count(&events, "answer"), 1, "{events:?}");
    assert_eq!(
        count(&events, "speech_started"),
        1,
        "the reply's echo started a turn: {events:?}"
    );
    let answer = events.iter().find(|e| e["event"] == "answer").unwrap();
    let first_token = answer["speech_end_to_first_token_ms"].as_f64().unwrap();
    let first_audio = answer["speech_end_to_first_audio_ms"].as_f64().unwrap();
    assert!(first_token > 0.0 && first_audio >= first_token, "{answer}");
    assert!(answer["endpoint_silence_ms"].as_u64().unwrap() >= 700);
    // Stored: the spoken question as audio, the timings with the answer.
    let id = answer["conversation_id"].as_i64().unwrap().to_string();
    let shown = run(Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_DATA_DIR", &data)
        .env("OMNIDESK_CONFIG", "/dev/null")
        .args(["history", "--json", &id]));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["messages"][0]["attachments"][0]["kind"], "audio");
    let stored = &shown["messages"][1]["stats"]["talk"];
    assert_eq!(
        stored["speech_end_to_first_token_ms"],
        answer["speech_end_to_first_token_ms"]
    );

    // The same room without echo cancellation: the reply interrupts itself.
    // (The check needs the reply to play: a playback the PulseAudio bed
    // fails now and then, "snd_pcm_avail_delay … I/O error", is retried.)
    for attempt in 0..3 {
        let data = dir.path().join(format!("no-aec-{attempt}"));
        std::fs::create_dir(&data).unwrap();
        let mut talk = Talk::start(
            &pulse,
            &data,
            &[
                "-n",
                "24",
                "--idle-exit",
                "5",
                "--turns",
                "3",
                "--no-echo-cancel",
            ],
        );
        talk.wait_for("listening", Duration::from_secs(30));
        mic.say(&question);
        let events = talk.finish(Duration::from_secs(90));
        if count(&events, "speech_failed") > 0 && attempt < 2 {
            eprintln!("playback failed in the test bed; again: {events:?}");
            continue;
        }
        assert!(
            count(&events, "speech_started") > 1,
            "without echo cancellation the echo should be heard: {events:?}"
        );
        break;
    }
}

/// Barge-in: speech while the reply plays silences it within 200 ms of
/// the spoken onset, and the new question is answered.
#[test]
fn speaking_over_the_reply_stops_it_and_is_answered() {
    let _one = real_time();
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = spoken_wav(dir.path(), "q1", QUESTION, 1.5);
    let (second, _) = spoken_wav(
        dir.path(),
        "q2",
        "Stop. Tell me about the weather instead.",
        1.5,
    );
    let pulse = Pulse::room();
    let mic = pulse.live_mic();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut talk = Talk::start(&pulse, &data, &["-n", "96", "--turns", "2"]);
    talk.wait_for("listening", Duration::from_secs(30));
    mic.say(&first);
    talk.wait_for("speaking", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(800));
    let spoken_onset = mic.say(&second);
    let started = talk.wait_for("speech_started", Duration::from_secs(10));
    // The voice is stopped before `speech_started` is printed; the playing
    // sentence mutes within 5 ms of that.
    let silenced = started["unix_ms"].as_f64().unwrap() + 5.0;
    let latency = silenced - spoken_onset;
    // Of that, the test bed's own transport (pipe → pacat → PulseAudio →
    // ALSA → cpal) is the time until the sound reached the listener.
    let transport = started["sound_unix_ms"].as_f64().unwrap() - spoken_onset;
    let ours = silenced - started["sound_unix_ms"].as_f64().unwrap();
    eprintln!(
        "barge-in: spoken onset → voice silenced {latency:.0} ms \
         (sound reached the listener after {transport:.0} ms; heard → silent {ours:.0} ms)"
    );
    assert_eq!(started["barge_in"], true, "{started}");
    // The goal is 200 ms from the sound reaching the listener (45-165 ms
    // measured here); the bound leaves room for a loaded 2-core CI
    // machine, and the benchmark reports the figure. The PulseAudio test bed
    // adds its own transport on top: 175-210 ms in most runs, but ~800 ms
    // in some (seen twice in the full suite; not understood yet), so the
    // end-to-end figure is only bounded loosely here.
    assert!(
        ours < 250.0,
        "the reply went on {ours:.0} ms after it was heard"
    );
    assert!(
        latency < 2_000.0,
        "the reply went on {latency:.0} ms after the onset"
    );
    let events = talk.finish(Duration::from_secs(90));
    let answers: Vec<&Value> = events.iter().filter(|e| e["event"] == "answer").collect();
    assert_eq!(answers.len(), 2, "{events:?}");
    assert_eq!(answers[0]["interrupted"], true);
}

/// A missing or broken voice-activity model is a typed error, before any
/// microphone is opened.
#[test]
fn a_missing_or_broken_vad_model_is_a_typed_error() {
    let _peers = shared_time();
    use omnidesk::audio::vad::SileroVad;
    let Ok(ort) = std::env::var("OMNIDESK_TEST_ONNXRUNTIME") else {
        panic!("OMNIDESK_TEST_ONNXRUNTIME (scripts/fetch-test-models.sh onnxruntime)");
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = SileroVad::load(&dir.path().join("nope.onnx"), Path::new(&ort)).unwrap_err();
    assert_eq!(missing.code(), "VAD_MISSING", "{missing}");
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"\x08\x07 not a model at all").unwrap();
    let bad = SileroVad::load(&garbage, Path::new(&ort)).unwrap_err();
    assert_eq!(bad.code(), "BAD_VAD", "{bad}");
    // The Piper voice is an ONNX model too, but not Silero's.
    if let Ok(voice) = std::env::var("OMNIDESK_TEST_PIPER_VOICE") {
        let wrong = SileroVad::load(Path::new(&voice), Path::new(&ort)).unwrap_err();
        assert_eq!(wrong.code(), "BAD_VAD", "{wrong}");
    }
    // The real one loads and hears espeak-ng speech as speech, silence not.
    let vad_path = std::env::var("OMNIDESK_TEST_VAD_MODEL").expect("OMNIDESK_TEST_VAD_MODEL");
    let mut vad = SileroVad::load(Path::new(&vad_path), Path::new(&ort)).unwrap();
    let (wav, _) = spoken_wav(dir.path(), "q", QUESTION, 0.0);
    let speech: Vec<f32> = hound::WavReader::open(&wav)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    let probs: Vec<f32> = speech
        .chunks_exact(512)
        .map(|f| vad.probability(f).unwrap())
        .collect();
    let voiced = probs.iter().filter(|&&p| p > 0.5).count() as f32 / probs.len() as f32;
    assert!(
        voiced > 0.5,
        "{voiced} of the frames of speech were heard as speech"
    );
    vad.reset();
    let silent = (0..30)
        .map(|_| vad.probability(&[0.0; 512]).unwrap())
        .fold(0f32, f32::max);
    assert!(silent < 0.2, "silence scored {silent}");
    assert!(vad.probability(&[0.0; 100]).is_err());
}
