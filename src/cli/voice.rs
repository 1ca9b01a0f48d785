//! Shared pieces of the hands-free commands: speaking a streamed answer,
//! keeping recordings and snapshots in the data dir.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, Result};
use omnidesk::camera::{self, CameraSettings, FakeSource, FrameSource, NokhwaSource};
use omnidesk::media::{Audio, Image};
use omnidesk::tts::{self, Narrator, Pcm, SentenceSplitter, Speaker, SpeechEvent};

use super::context::Context;

/// A narrator plus when it first made a sound (for timings).
pub struct Voice {
    pub narrator: Narrator,
    pub first_audio: Arc<Mutex<Option<Instant>>>,
}

/// Whisper with `flag`'s model, else `[audio] whisper_model`; `None` when
/// neither is set.
pub fn whisper(ctx: &Context, flag: Option<&Path>) -> Option<omnidesk::audio::Whisper> {
    let model = flag.or(ctx.config.audio.whisper_model.as_deref());
    model.map(|m| {
        let mut w = omnidesk::audio::Whisper::new(m);
        w.threads = ctx.config.engine.threads;
        w
    })
}

/// How the loaded model hears spoken questions, for `listen` and `talk`.
pub struct Ears {
    /// Whisper with the flag's model, else `[audio] whisper_model`.
    pub whisper: Option<omnidesk::audio::Whisper>,
    /// The rate clips are recorded at for the model (or Whisper).
    pub rate: u32,
    /// The model cannot hear: Whisper's transcript is the question and no
    /// audio is sent.
    pub text_only: bool,
}

/// Decide how `engine`'s model hears; an error naming the model when it
/// cannot hear and no Whisper model is set.
pub fn ears(
    ctx: &Context,
    engine: &omnidesk::engine::EngineHandle,
    flag: Option<&Path>,
) -> Result<Ears> {
    use omnidesk::turn::Hearing;
    let caps = engine.info().capabilities;
    let model = flag.or(ctx.config.audio.whisper_model.as_deref());
    let hearing = Hearing::decide(&caps, model);
    let text_only = match hearing {
        Hearing::Native { .. } => false,
        Hearing::Whisper { .. } => true,
        Hearing::Deaf => anyhow::bail!(
            "{} has no audio input: load a model with an audio projector (e.g. Qwen2.5-Omni with its mmproj), or set [audio] whisper_model (--whisper-model) to transcribe what is said",
            engine.info().path.display()
        ),
    };
    Ok(Ears {
        whisper: whisper(ctx, flag),
        rate: hearing.record_rate(),
        text_only,
    })
}

/// The voice `[audio] voice` (or `--voice`) asks for.
pub fn speaker(ctx: &Context) -> Result<Arc<dyn Speaker>> {
    let audio = &ctx.config.audio;
    let speaker = tts::choose_speaker(audio.voice, &audio.piper_paths(&ctx.data_dir))
        .context("cannot load the voice")?;
    tracing::info!(voice = speaker.name(), "speaking with");
    Ok(speaker)
}

/// Start speech with the chosen voice on the configured output device.
pub fn start_voice(ctx: &Context) -> Result<Voice> {
    let speaker = speaker(ctx)?;
    let (narrator, mut events) = Narrator::start(speaker, ctx.config.audio.output_device.clone())
        .context("cannot speak answers")?;
    let first_audio = Arc::new(Mutex::new(None));
    let first = first_audio.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match &ev {
                SpeechEvent::Started { .. } => {
                    if let Ok(mut f) = first.lock() {
                        f.get_or_insert_with(Instant::now);
                    }
                }
                SpeechEvent::Failed { message, .. } => eprintln!("\n[speech: {message}]"),
                _ => {}
            }
            tracing::debug!(?ev, "speech");
        }
    });
    Ok(Voice {
        narrator,
        first_audio,
    })
}

impl Voice {
    /// Wait until the answer was spoken; Ctrl-C silences it.
    pub async fn wait(&self) {
        tokio::select! {
            _ = self.narrator.wait_idle() => {}
            _ = tokio::signal::ctrl_c() => self.narrator.stop(),
        }
    }
}

/// Keep a recorded question as a WAV in `<data dir>/recordings`, so the
/// conversation can be replayed (the message stores this path).
pub fn save_recording(data_dir: &Path, audio: &Audio) -> Result<PathBuf> {
    Ok(omnidesk::audio::keep_recording(
        &data_dir.join("recordings"),
        audio,
    )?)
}

/// The camera source the flags ask for.
pub fn camera_source(fake: bool) -> Box<dyn FrameSource> {
    if fake {
        Box::new(FakeSource)
    } else {
        Box::new(NokhwaSource)
    }
}

/// Take a snapshot on a blocking thread.
pub async fn snapshot(index: u32, fake: bool) -> Result<Image> {
    let image = tokio::task::spawn_blocking(move || {
        camera::snapshot(&*camera_source(fake), index, &CameraSettings::default())
    })
    .await
    .context("the camera task failed")??;
    Ok(image)
}

/// Keep a snapshot in `<data dir>/snapshots` so its message can be replayed.
pub fn save_snapshot(data_dir: &Path, image: &Image) -> Result<PathBuf> {
    Ok(omnidesk::media::attach::keep_snapshot(
        &data_dir.join("snapshots"),
        image,
    )?)
}

/// `omnidesk audio say`: speak `text` sentence by sentence into one clip,
/// then write it as a WAV (`out`) or play it.
pub fn say(ctx: &Context, text: &str, out: Option<&Path>, json: bool) -> Result<()> {
    let speaker = speaker(ctx)?;
    let started = Instant::now();
    let pcm = synthesize_all(&*speaker, text)?;
    let synth_ms = started.elapsed().as_millis();
    if let Some(path) = out {
        let audio = omnidesk::media::Audio::from_samples(pcm.sample_rate, pcm.samples.clone())
            .context("the voice produced no audio")?;
        omnidesk::audio::write_wav(&audio, path)?;
    } else {
        let (device, label) =
            tts::player::output_device(ctx.config.audio.output_device.as_deref())?;
        tts::player::play(&device, &label, &pcm, None, &|| false, &|| {}, &|| {})?;
    }
    if json {
        let report = serde_json::json!({
            "voice": speaker.name(),
            "sample_rate": pcm.sample_rate,
            "seconds": pcm.seconds(),
            "synthesis_ms": synth_ms,
            "file": out,
        });
        println!("{report}");
    } else if let Some(path) = out {
        eprintln!(
            "{:.1} s of speech ({}) written to {}",
            pcm.seconds(),
            speaker.name(),
            path.display()
        );
    }
    Ok(())
}

/// Speak each sentence and join the clips at the first clip's rate.
fn synthesize_all(speaker: &dyn Speaker, text: &str) -> Result<Pcm> {
    let mut splitter = SentenceSplitter::new();
    let mut sentences = splitter.push(text);
    sentences.extend(splitter.finish());
    let mut all: Option<Pcm> = None;
    for sentence in sentences.iter().filter(|s| !s.trim().is_empty()) {
        let pcm = speaker.synthesize(sentence)?;
        match &mut all {
            None => all = Some(pcm),
            Some(a) => {
                let samples = omnidesk::media::resample::resample(
                    &pcm.samples,
                    pcm.sample_rate,
                    a.sample_rate,
                )
                .map_err(anyhow::Error::msg)?;
                a.samples.extend(samples);
            }
        }
    }
    all.context("nothing to say")
}

/// Resolves `Ok` on the first line from stdin (Enter); at end of input
/// (stdin closed or /dev/null) it resolves `Err`: the caller goes on
/// without that key.
pub fn spawn_enter_reader() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        if matches!(std::io::stdin().read_line(&mut line), Ok(n) if n > 0) {
            let _ = tx.send(());
        }
    });
    rx
}
