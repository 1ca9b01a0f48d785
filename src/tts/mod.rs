//! Spoken replies: a [`Speaker`] turns text into PCM (the Piper neural
//! voice or espeak-ng, see [`choose_speaker`]), and a [`Narrator`]
//! speaks a streamed answer sentence by sentence — sentence N plays while
//! N+1 is synthesised and the model writes N+2 — and falls silent at once
//! on [`Narrator::stop`].
//!
//! Threading: a narrator owns two named threads, `omnidesk-tts`
//! (synthesis) and `omnidesk-speaker` (playback, owning the cpal stream).
//! [`Narrator`] is `Clone + Send + Sync`; every method only sends on a
//! channel or flips an atomic, so it is safe to call from async code.

pub mod choice;
pub mod error;
pub mod espeak;
pub mod piper;
pub mod player;
pub mod sentences;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

pub use choice::{choose_speaker, piper_paths, voice_file, BilingualSpeaker, VoiceEngine};
pub use error::{Result, TtsError};
pub use espeak::EspeakSpeaker;
pub use piper::{PiperPaths, PiperSpeaker};
pub use sentences::SentenceSplitter;

/// Mono PCM from a speech engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl Pcm {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// A text-to-speech engine. Implementations are called from the
/// narrator's synthesis thread, one sentence at a time.
pub trait Speaker: Send + Sync {
    /// Short name for logs and the UI.
    fn name(&self) -> &str;

    /// Speak `text` into PCM.
    ///
    /// # Errors
    /// `EngineMissing`, `SynthesisFailed` or `BadOutput`.
    fn synthesize(&self, text: &str) -> Result<Pcm>;
}

/// What the narrator reports, for a "speaking" indicator in the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SpeechEvent {
    /// A sentence started playing.
    Started { text: String },
    /// A sentence played to its end.
    Finished { text: String },
    /// Playback was cut short by [`Narrator::stop`].
    Interrupted { text: String },
    /// A sentence could not be spoken; later ones are still tried.
    Failed { code: String, message: String },
}

/// How long the speaker stays open after a sentence, waiting for the next:
/// long enough for the next answer of a conversation, short enough to
/// release the device when nobody talks.
const KEEP_OPEN: std::time::Duration = std::time::Duration::from_secs(5);

/// Speaks queued sentences in order on its own threads.
#[derive(Clone)]
pub struct Narrator {
    jobs: std_mpsc::Sender<Job>,
    epoch: Arc<AtomicU64>,
    pending: Arc<watch::Sender<usize>>,
}

struct Job {
    epoch: u64,
    text: String,
}

struct Synthesised {
    epoch: u64,
    text: String,
    pcm: Result<Pcm>,
}

impl Narrator {
    /// Start the synthesis and playback threads. `output` names the output
    /// device (id or name); `None` is the system default. The device is
    /// checked here so a machine without speakers fails early.
    ///
    /// # Errors
    /// `NoOutputDevice`, or `Thread` when a thread cannot start.
    pub fn start(
        speaker: Arc<dyn Speaker>,
        output: Option<String>,
    ) -> Result<(Self, mpsc::UnboundedReceiver<SpeechEvent>)> {
        Self::start_with_tap(speaker, output, None)
    }

    /// [`Narrator::start`] that also reports everything it plays to `tap`
    /// (talk mode's echo canceller).
    ///
    /// # Errors
    /// As [`Narrator::start`].
    pub fn start_with_tap(
        speaker: Arc<dyn Speaker>,
        output: Option<String>,
        tap: Option<crate::audio::RenderTap>,
    ) -> Result<(Self, mpsc::UnboundedReceiver<SpeechEvent>)> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (jobs, jobs_rx) = std_mpsc::channel::<Job>();
        let (clips_tx, clips_rx) = std_mpsc::channel::<Synthesised>();
        let epoch = Arc::new(AtomicU64::new(0));
        let pending = Arc::new(watch::Sender::new(0usize));

        let synth_epoch = epoch.clone();
        let synth_pending = pending.clone();
        std::thread::Builder::new()
            .name("omnidesk-tts".into())
            .spawn(move || {
                for job in jobs_rx {
                    if job.epoch != synth_epoch.load(Ordering::Acquire) {
                        synth_pending.send_modify(|n| *n = n.saturating_sub(1));
                        continue;
                    }
                    let pcm = speaker.synthesize(&job.text);
                    let sent = clips_tx.send(Synthesised {
                        epoch: job.epoch,
                        text: job.text,
                        pcm,
                    });
                    if sent.is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| TtsError::Thread(e.to_string()))?;

        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let play_epoch = epoch.clone();
        let play_pending = pending.clone();
        std::thread::Builder::new()
            .name("omnidesk-speaker".into())
            .spawn(move || {
                let (device, label) = match player::output_device(output.as_deref()) {
                    Ok(d) => {
                        let _ = ready_tx.send(Ok(()));
                        d
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut output = player::Output::new(device, label, tap);
                loop {
                    let clip = match clips_rx.recv_timeout(KEEP_OPEN) {
                        Ok(clip) => clip,
                        // A pause in the conversation: release the device.
                        Err(std_mpsc::RecvTimeoutError::Timeout) => {
                            output.close();
                            continue;
                        }
                        Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                    };
                    let clip_epoch = clip.epoch;
                    if clip_epoch == play_epoch.load(Ordering::Acquire) {
                        let interrupted = || play_epoch.load(Ordering::Acquire) != clip_epoch;
                        speak_one(&mut output, clip, &events_tx, &interrupted);
                    }
                    play_pending.send_modify(|n| *n = n.saturating_sub(1));
                }
            })
            .map_err(|e| TtsError::Thread(e.to_string()))?;
        ready_rx
            .recv()
            .map_err(|_| TtsError::Thread("the playback thread ended".into()))??;
        Ok((
            Self {
                jobs,
                epoch,
                pending,
            },
            events,
        ))
    }

    /// Queue one sentence (or any text) to be spoken after what is queued.
    pub fn say(&self, text: impl Into<String>) {
        let text = text.into();
        if text.trim().is_empty() {
            return;
        }
        self.pending.send_modify(|n| *n += 1);
        let job = Job {
            epoch: self.epoch.load(Ordering::Acquire),
            text,
        };
        if self.jobs.send(job).is_err() {
            self.pending.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    /// Silence now: the playing sentence stops within a few milliseconds
    /// and everything queued is dropped. Call it when push-to-talk starts.
    pub fn stop(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Sentences queued or playing.
    pub fn pending(&self) -> usize {
        *self.pending.borrow()
    }

    /// Wait until everything queued was spoken (or dropped by `stop`).
    pub async fn wait_idle(&self) {
        let mut rx = self.pending.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// Play one synthesised sentence and report how it went.
fn speak_one(
    output: &mut player::Output,
    clip: Synthesised,
    events: &mpsc::UnboundedSender<SpeechEvent>,
    interrupted: &dyn Fn() -> bool,
) {
    let failed = |e: TtsError| SpeechEvent::Failed {
        code: e.code().into(),
        message: e.to_string(),
    };
    let event = match clip.pcm {
        Err(e) => failed(e),
        Ok(pcm) => {
            let on_start = || {
                let _ = events.send(SpeechEvent::Started {
                    text: clip.text.clone(),
                });
            };
            let on_interrupt = || {
                let _ = events.send(SpeechEvent::Interrupted {
                    text: clip.text.clone(),
                });
            };
            match output.play(&pcm, interrupted, &on_start, &on_interrupt) {
                Ok(true) => SpeechEvent::Finished { text: clip.text },
                // Already reported by `on_interrupt`.
                Ok(false) => return,
                Err(e) => failed(e),
            }
        }
    };
    let _ = events.send(event);
}
