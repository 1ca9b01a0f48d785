//! Hands-free listening for talk mode: the microphone stays open, the
//! speaker's echo is cancelled, Silero VAD finds speech, and each spoken
//! turn is handed to the caller as a clip. Like push-to-talk it never
//! calls the engine: the caller answers the clip and, on
//! [`ListenEvent::SpeechStarted`], interrupts its own reply (barge-in).
//!
//! Threading: one named thread (`omnidesk-listen`) owns the cpal stream,
//! the echo canceller and the VAD session; events reach the caller on a
//! tokio channel, and dropping the [`Listener`] stops it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::capture::{open, Chunk};
use super::echo::{EchoCanceller, RenderFeed};
use super::endpoint::{Endpoint, EndpointSettings, Endpointer};
use super::error::{AudioError, Result};
use super::trim::Level;
use super::vad::{SileroVad, FRAME, RATE};
use crate::media::resample::StreamResampler;
use crate::media::Audio;

/// How to listen.
#[derive(Debug, Clone)]
pub struct ListenerSettings {
    /// Input device id or name; `None` = the system default.
    pub device: Option<String>,
    /// Silero VAD model (`silero_vad.onnx`).
    pub vad_model: PathBuf,
    /// `libonnxruntime` for it.
    pub runtime: PathBuf,
    pub endpoint: EndpointSettings,
    /// Level events this often.
    pub meter_interval_ms: u32,
}

/// What the listener reports.
#[derive(Debug, Clone)]
pub enum ListenEvent {
    /// Microphone loudness (after echo cancellation).
    Level { rms: f32 },
    /// Someone started talking: `wall` when it was confirmed, `sound` when
    /// the first audible frame of it reached the listener (the rest is
    /// detection time).
    SpeechStarted { wall: SystemTime, sound: SystemTime },
    /// A spoken turn ended. `ended` is when its last voiced frame arrived
    /// (the wait for the pause, `trailing_ms`, comes after it).
    Utterance {
        audio: Audio,
        ended: Instant,
        trailing_ms: u32,
    },
    /// Speech too short to answer (a cough).
    TooShort,
    /// The microphone stopped: `message` says why when it failed.
    Stopped { message: Option<String> },
}

/// Timings of a talk-mode reply, for the UI and the history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(default)]
pub struct TalkTimings {
    /// End of speech → first token of the reply.
    pub speech_end_to_first_token_ms: Option<f64>,
    /// End of speech → the reply's voice starts playing.
    pub speech_end_to_first_audio_ms: Option<f64>,
    /// The pause waited for before the turn was taken.
    pub endpoint_silence_ms: Option<u32>,
}

/// A running listener.
#[derive(Debug)]
pub struct Listener {
    device: String,
    events: mpsc::UnboundedReceiver<ListenEvent>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    /// Load the VAD, open the microphone and start listening. With `echo`
    /// (the feed of a [`super::echo::RenderTap`] the speaker plays into)
    /// the speaker's sound is removed from the microphone first.
    ///
    /// # Errors
    /// `VadMissing`/`BadVad` for the model; the device errors of
    /// [`super::Recorder::start`].
    pub fn start(settings: ListenerSettings, echo: Option<RenderFeed>) -> Result<Self> {
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let (events_tx, events) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        std::thread::Builder::new()
            .name("omnidesk-listen".into())
            .spawn(move || {
                let message = listen(&settings, echo, &ready_tx, &events_tx, &stop_flag)
                    .err()
                    .map(|e| e.to_string());
                let _ = events_tx.send(ListenEvent::Stopped { message });
            })
            .map_err(|e| AudioError::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(device)) => Ok(Self {
                device,
                events,
                stop,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(AudioError::Thread(
                "ended before the microphone opened".into(),
            )),
        }
    }

    /// The device listened to.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The next event; `None` after `Stopped`.
    pub async fn next(&mut self) -> Option<ListenEvent> {
        self.events.recv().await
    }

    /// Stop listening (the thread closes the device).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

fn listen(
    settings: &ListenerSettings,
    echo: Option<RenderFeed>,
    ready: &std_mpsc::SyncSender<Result<String>>,
    events: &mpsc::UnboundedSender<ListenEvent>,
    stop: &AtomicBool,
) -> Result<()> {
    let setup = || -> Result<_> {
        let vad = SileroVad::load(&settings.vad_model, &settings.runtime)?;
        let aec = echo
            .map(EchoCanceller::new)
            .transpose()
            .map_err(|reason| AudioError::Thread(format!("echo cancellation: {reason}")))?;
        let (chunks_tx, chunks) = std_mpsc::channel();
        let (stream, device, rate) = open(settings.device.as_deref(), chunks_tx, true)?;
        let resampler =
            StreamResampler::new(rate, RATE).map_err(|reason| AudioError::Resample {
                from: rate,
                to: RATE,
                reason,
            })?;
        Ok((vad, aec, chunks, stream, device, rate, resampler))
    };
    let (mut vad, mut aec, chunks, stream, device, rate, mut resampler) = match setup() {
        Ok(s) => s,
        Err(e) => {
            let message = e.to_string();
            let _ = ready.send(Err(e));
            return Err(AudioError::Thread(message));
        }
    };
    let _ = ready.send(Ok(device.clone()));
    let mut endpointer = Endpointer::new(settings.endpoint);
    let mut frames: Vec<f32> = Vec::new();
    let meter_every = (RATE as usize * settings.meter_interval_ms.max(10) as usize / 1000).max(1);
    let mut meter: Vec<f32> = Vec::new();
    let mut last_voiced = Instant::now();
    // When the current run of audible frames began.
    let mut sound_since: Option<SystemTime> = None;
    // How far the samples received trail the clock since the device opened
    // (logged at debug; constant = the device's start-up gap, growing = the
    // listener cannot keep up).
    let opened = Instant::now();
    let mut heard_samples = 0usize;
    let mut logged = Instant::now();
    let result = loop {
        if stop.load(Ordering::Acquire) {
            break Ok(());
        }
        let samples = match chunks.recv_timeout(Duration::from_millis(20)) {
            Ok(Chunk::Samples(s)) => s,
            Ok(Chunk::Failed(e)) => {
                break Err(AudioError::DeviceFailed {
                    device: device.clone(),
                    reason: e.to_string(),
                })
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                break Err(AudioError::DeviceFailed {
                    device: device.clone(),
                    reason: "the audio stream ended".into(),
                })
            }
        };
        heard_samples += samples.len();
        if logged.elapsed() >= Duration::from_secs(2) {
            logged = Instant::now();
            let behind = opened.elapsed().as_secs_f64() - heard_samples as f64 / f64::from(rate);
            tracing::debug!(behind_ms = behind * 1e3, "listening");
        }
        let heard = resampler.push(&samples);
        let clean = match aec.as_mut() {
            Some(aec) => aec.process(&heard),
            None => heard,
        };
        meter.extend_from_slice(&clean);
        while meter.len() >= meter_every {
            let level = Level::of(&meter[..meter_every]);
            meter.drain(..meter_every);
            let _ = events.send(ListenEvent::Level { rms: level.rms });
        }
        frames.extend_from_slice(&clean);
        let mut failed = None;
        while frames.len() >= FRAME {
            let frame: Vec<f32> = frames.drain(..FRAME).collect();
            let p = match vad.probability(&frame) {
                Ok(p) => p,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if p >= settings.endpoint.end_threshold {
                last_voiced = Instant::now();
            }
            if Level::of(&frame).rms >= settings.endpoint.min_rms {
                sound_since.get_or_insert_with(SystemTime::now);
            } else if !endpointer.in_speech() {
                sound_since = None;
            }
            if p > 0.05 {
                tracing::trace!(
                    p,
                    rms = Level::of(&frame).rms,
                    reference = aec.as_ref().map_or(0, EchoCanceller::pending),
                    unix_ms = SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64() * 1e3),
                    "speech frame"
                );
            }
            let playing = aec.as_ref().is_some_and(EchoCanceller::playing);
            let sent = match endpointer.push_while(&frame, p, playing) {
                Endpoint::Quiet => Ok(()),
                Endpoint::Started => {
                    let wall = SystemTime::now();
                    events.send(ListenEvent::SpeechStarted {
                        wall,
                        sound: sound_since.unwrap_or(wall),
                    })
                }
                Endpoint::TooShort => events.send(ListenEvent::TooShort),
                Endpoint::Ended {
                    samples,
                    trailing_ms,
                } => match Audio::from_samples(RATE, samples) {
                    Some(audio) => events.send(ListenEvent::Utterance {
                        audio,
                        ended: last_voiced,
                        trailing_ms,
                    }),
                    None => Ok(()),
                },
            };
            if sent.is_err() {
                // Nobody listens any more.
                stop.store(true, Ordering::Release);
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
    };
    drop(stream);
    result
}
