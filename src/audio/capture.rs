//! Push-to-talk recording.
//!
//! Threading: cpal streams are not `Send` on every platform, so each
//! [`Recording`] owns one named thread (`omnidesk-mic`) that opens the
//! device, owns the stream, meters the level, enforces the length limit and
//! finally converts the clip. Callers talk to it over channels only: level
//! events arrive on a tokio channel, a stop request goes in, the finished
//! [`Clip`] comes back. Dropping a `Recording` stops it.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::devices;
use super::error::{AudioError, Result};
use super::trim::{speech_bounds, Level, TrimSettings};
use crate::media::resample::resample;
use crate::media::Audio;

/// How to record one push-to-talk clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecorderSettings {
    /// Input device id or name; `None` = the system default.
    pub device: Option<String>,
    /// The clip stops itself after this many seconds (reported as
    /// [`StopReason::MaxLength`]). A minute is a long spoken question.
    pub max_seconds: f64,
    /// Rate of the returned clip: the model's audio rate (16 kHz for
    /// Whisper-style encoders).
    pub target_rate: u32,
    /// Silence trimming; `None` keeps the clip as captured.
    pub trim: Option<TrimSettings>,
    /// Interval between level-meter events.
    pub meter_interval_ms: u32,
}

impl Default for RecorderSettings {
    fn default() -> Self {
        Self {
            device: None,
            max_seconds: 60.0,
            target_rate: 16_000,
            trim: Some(TrimSettings::default()),
            meter_interval_ms: 50,
        }
    }
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// The user released push-to-talk (or the caller asked to stop).
    Released,
    /// The configured maximum length was reached.
    MaxLength,
    /// The device failed or disappeared mid-recording.
    DeviceLost,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Released => "released",
            StopReason::MaxLength => "max length",
            StopReason::DeviceLost => "device lost",
        })
    }
}

/// What a recording reports while it runs, for the level meter and to
/// announce that it stopped by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RecordingEvent {
    /// Loudness of the last `meter_interval_ms` of audio.
    Level {
        rms: f32,
        peak: f32,
        /// Seconds recorded so far.
        seconds: f64,
    },
    /// Capture ended; `message` explains a device failure.
    Stopped {
        reason: StopReason,
        seconds: f64,
        message: Option<String>,
    },
}

/// A finished recording, ready to attach to a message.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Mono f32 at the requested rate, silence trimmed.
    pub audio: Audio,
    pub stop_reason: StopReason,
    /// The device that recorded it.
    pub device: String,
    /// The device's own sample rate (before conversion).
    pub device_rate: u32,
    /// Seconds captured before trimming.
    pub captured_seconds: f64,
}

/// Starts push-to-talk recordings.
pub struct Recorder;

impl Recorder {
    /// Open the input device and start recording at once. Blocks until the
    /// stream runs (or fails), so "no microphone" is reported here.
    ///
    /// # Errors
    /// `DeviceNotFound`, `NoMicrophone`, `PermissionDenied`, `DeviceBusy`,
    /// `UnsupportedFormat`, `DeviceFailed` as the device answers; `Thread`
    /// if the capture thread cannot start.
    pub fn start(settings: RecorderSettings) -> Result<Recording> {
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = std_mpsc::channel();
        let (result_tx, result) = oneshot::channel();
        std::thread::Builder::new()
            .name("omnidesk-mic".into())
            .spawn(move || {
                let outcome = capture(&settings, &ready_tx, &events_tx, &stop_rx);
                // Whoever stopped us may be gone already; nothing to do then.
                let _ = result_tx.send(outcome);
            })
            .map_err(|e| AudioError::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(device)) => Ok(Recording {
                device,
                events: Some(events),
                stop: stop_tx,
                result,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(AudioError::Thread("ended before the device opened".into())),
        }
    }
}

/// A recording in progress. Stop it with [`Recording::finish`] (async) or
/// [`Recording::finish_blocking`]; dropping it discards the audio.
#[derive(Debug)]
pub struct Recording {
    device: String,
    events: Option<mpsc::UnboundedReceiver<RecordingEvent>>,
    stop: std_mpsc::Sender<()>,
    result: oneshot::Receiver<Result<Clip>>,
}

impl Recording {
    /// The device being recorded.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The level-meter/stop events, for a UI task to forward; afterwards
    /// [`Recording::next_event`] returns `None`.
    pub fn take_events(&mut self) -> Option<mpsc::UnboundedReceiver<RecordingEvent>> {
        self.events.take()
    }

    /// The next event; `None` once the recording has ended and all events
    /// were read (or the events were taken).
    pub async fn next_event(&mut self) -> Option<RecordingEvent> {
        self.events.as_mut()?.recv().await
    }

    /// Ask the capture thread to stop without waiting (e.g. key released).
    pub fn request_stop(&self) {
        // A send error means it already stopped (max length, device lost).
        let _ = self.stop.send(());
    }

    /// Stop (if still running) and get the converted, trimmed clip.
    ///
    /// # Errors
    /// `DeviceFailed` when the device was lost, `Silent` when nothing but
    /// silence was captured, `Resample` if conversion fails.
    pub async fn finish(self) -> Result<Clip> {
        self.request_stop();
        self.result
            .await
            .map_err(|_| AudioError::Thread("the capture thread vanished".into()))?
    }

    /// Blocking [`Recording::finish`], for threads outside an async runtime.
    ///
    /// # Errors
    /// As [`Recording::finish`].
    pub fn finish_blocking(self) -> Result<Clip> {
        self.request_stop();
        self.result
            .blocking_recv()
            .map_err(|_| AudioError::Thread("the capture thread vanished".into()))?
    }
}

/// Messages from cpal's callback thread to the capture thread.
pub(super) enum Chunk {
    Samples(Vec<f32>),
    Failed(cpal::Error),
}

/// The capture thread's whole life: open, record, convert.
fn capture(
    settings: &RecorderSettings,
    ready: &std_mpsc::SyncSender<Result<String>>,
    events: &mpsc::UnboundedSender<RecordingEvent>,
    stop: &std_mpsc::Receiver<()>,
) -> Result<Clip> {
    let (chunks_tx, chunks) = std_mpsc::channel();
    let opened = open(settings.device.as_deref(), chunks_tx, false);
    let (stream, device, rate) = match opened {
        Ok(o) => o,
        Err(e) => {
            let msg = e.to_string();
            let _ = ready.send(Err(e));
            return Err(AudioError::Thread(msg));
        }
    };
    let _ = ready.send(Ok(device.clone()));

    let max_samples = (settings.max_seconds.max(0.1) * f64::from(rate)) as usize;
    let meter_every = (rate as usize * settings.meter_interval_ms.max(10) as usize / 1000).max(1);
    let mut samples: Vec<f32> = Vec::with_capacity(rate as usize * 10);
    let mut metered = 0usize;
    let mut failure: Option<String> = None;
    let reason = loop {
        if stop.try_recv().is_ok() {
            break StopReason::Released;
        }
        match chunks.recv_timeout(Duration::from_millis(20)) {
            Ok(Chunk::Samples(s)) => samples.extend_from_slice(&s),
            Ok(Chunk::Failed(e)) => {
                failure = Some(e.to_string());
                break StopReason::DeviceLost;
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                failure = Some("the audio stream ended".into());
                break StopReason::DeviceLost;
            }
        }
        while samples.len() >= metered + meter_every {
            let level = Level::of(&samples[metered..metered + meter_every]);
            metered += meter_every;
            let _ = events.send(RecordingEvent::Level {
                rms: level.rms,
                peak: level.peak,
                seconds: metered as f64 / f64::from(rate),
            });
        }
        if samples.len() >= max_samples {
            samples.truncate(max_samples);
            break StopReason::MaxLength;
        }
    };
    // Release the device first: the microphone light goes off at once.
    drop(stream);
    let captured_seconds = samples.len() as f64 / f64::from(rate);
    let _ = events.send(RecordingEvent::Stopped {
        reason,
        seconds: captured_seconds,
        message: failure.clone(),
    });
    if let Some(reason) = failure {
        return Err(AudioError::DeviceFailed { device, reason });
    }
    let converted =
        resample(&samples, rate, settings.target_rate).map_err(|reason| AudioError::Resample {
            from: rate,
            to: settings.target_rate,
            reason,
        })?;
    let kept = match &settings.trim {
        Some(t) => {
            let (a, b) =
                speech_bounds(&converted, settings.target_rate, t).ok_or(AudioError::Silent)?;
            converted[a..b].to_vec()
        }
        None => converted,
    };
    let audio = Audio::from_samples(settings.target_rate, kept).ok_or(AudioError::Silent)?;
    Ok(Clip {
        audio,
        stop_reason: reason,
        device,
        device_rate: rate,
        captured_seconds,
    })
}

/// Open `wanted` (or the default input) and start its stream, which sends
/// mono chunks to `chunks`. `low_latency` asks for 20 ms buffers (talk
/// mode must hear an interruption at once; a default buffer can hold
/// seconds).
pub(super) fn open(
    wanted: Option<&str>,
    chunks: std_mpsc::Sender<Chunk>,
    low_latency: bool,
) -> Result<(cpal::Stream, String, u32)> {
    let (device, label) = devices::resolve(wanted)?;
    let supported = device
        .default_input_config()
        .map_err(|e| AudioError::from_cpal(&label, &e))?;
    let mut config = supported.config();
    if low_latency {
        let want = (config.sample_rate / 50).max(64);
        if let cpal::SupportedBufferSize::Range { min, max } = supported.buffer_size() {
            config.buffer_size = cpal::BufferSize::Fixed(want.clamp(*min, *max));
        }
    }
    let rate = config.sample_rate;
    let channels = usize::from(config.channels.max(1));
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => build::<f32>(&device, config, channels, chunks),
        cpal::SampleFormat::F64 => build::<f64>(&device, config, channels, chunks),
        cpal::SampleFormat::I16 => build::<i16>(&device, config, channels, chunks),
        cpal::SampleFormat::I32 => build::<i32>(&device, config, channels, chunks),
        cpal::SampleFormat::I8 => build::<i8>(&device, config, channels, chunks),
        cpal::SampleFormat::U16 => build::<u16>(&device, config, channels, chunks),
        cpal::SampleFormat::U8 => build::<u8>(&device, config, channels, chunks),
        other => {
            return Err(AudioError::UnsupportedFormat {
                device: label,
                format: format!("{other:?}"),
            })
        }
    }
    .map_err(|e| AudioError::from_cpal(&label, &e))?;
    stream
        .play()
        .map_err(|e| AudioError::from_cpal(&label, &e))?;
    Ok((stream, label, rate))
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    chunks: std_mpsc::Sender<Chunk>,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let errors = chunks.clone();
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            let mono: Vec<f32> = data
                .chunks_exact(channels)
                .map(|frame| {
                    frame.iter().map(|s| s.to_sample::<f32>()).sum::<f32>() / channels as f32
                })
                .collect();
            let _ = chunks.send(Chunk::Samples(mono));
        },
        move |e: cpal::Error| {
            use cpal::ErrorKind as K;
            // Over/underruns and reroutes are glitches, not failures.
            if !matches!(e.kind(), K::Xrun | K::DeviceChanged | K::RealtimeDenied) {
                let _ = errors.send(Chunk::Failed(e));
            }
        },
        Some(Duration::from_secs(5)),
    )
}
