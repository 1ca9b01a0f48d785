//! Playing speech through cpal. Runs only on the narrator's playback
//! thread (cpal streams are not `Send` everywhere). One output stream is
//! kept open while sentences follow each other: the speaker's latency, and
//! the echo canceller's estimate of it, then stay put from one sentence to
//! the next. An interruption empties the queue the stream reads, pauses
//! and closes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SizedSample};

use super::error::{Result, TtsError};
use super::Pcm;
use crate::audio::RenderTap;
use crate::media::resample::resample;

/// The output device called `wanted` (id or name), else the default.
///
/// # Errors
/// `NoOutputDevice` when there is none (or no such name).
pub fn output_device(wanted: Option<&str>) -> Result<(cpal::Device, String)> {
    let host = cpal::default_host();
    let missing = |device: &str| TtsError::NoOutputDevice {
        device: device.into(),
    };
    match wanted.filter(|w| !w.is_empty()) {
        None => {
            let d = host
                .default_output_device()
                .ok_or_else(|| missing("default"))?;
            let label = d
                .id()
                .map(|i| i.id().to_string())
                .unwrap_or_else(|_| "default".into());
            Ok((d, label))
        }
        // All devices, not `output_devices()`: that opens every PCM to test it.
        Some(w) => host
            .devices()
            .ok()
            .and_then(|mut it| {
                it.find(|d| {
                    d.id().is_ok_and(|i| i.id() == w)
                        || d.description().is_ok_and(|desc| desc.name() == w)
                })
            })
            .map(|d| (d, w.to_string()))
            .ok_or_else(|| missing(w)),
    }
}

/// A speaker: the output device, opened on the first clip and kept open
/// until [`Output::close`] (the narrator closes it after a pause).
pub struct Output {
    device: cpal::Device,
    label: String,
    tap: Option<RenderTap>,
    open: Option<Open>,
}

struct Open {
    stream: cpal::Stream,
    shared: Arc<Shared>,
    rate: u32,
    /// Samples queued since the stream opened.
    queued: u64,
}

/// What the device callback reads, shared with the playing thread.
struct Shared {
    queue: Mutex<VecDeque<f32>>,
    /// Samples taken from the queue (or dropped from it) since it opened.
    taken: AtomicU64,
    error: Mutex<Option<String>>,
}

impl Output {
    /// A speaker on `device` (`label` names it in errors), reporting what
    /// it plays to `tap`.
    pub fn new(device: cpal::Device, label: String, tap: Option<RenderTap>) -> Self {
        Self {
            device,
            label,
            tap,
            open: None,
        }
    }

    /// Close the device (nothing is queued between sentences).
    pub fn close(&mut self) {
        self.open = None;
    }

    /// Play `pcm` to the end, or until `interrupted()` turns true (checked
    /// every few milliseconds). `on_start` runs once the clip is queued on
    /// a playing stream (opening the device can take a while). On
    /// interruption the queue is emptied, `on_interrupt` runs and the
    /// stream is closed (the next clip opens it again). Returns whether it
    /// played to the end.
    ///
    /// # Errors
    /// `NoOutputDevice` when the device cannot be opened, `PlaybackFailed`
    /// when it fails mid-clip twice (after a first failure the stream is
    /// opened again and the rest of the clip played).
    pub fn play(
        &mut self,
        pcm: &Pcm,
        interrupted: &dyn Fn() -> bool,
        on_start: &dyn Fn(),
        on_interrupt: &dyn Fn(),
    ) -> Result<bool> {
        if interrupted() {
            on_interrupt();
            return Ok(false);
        }
        let mut retried = false;
        let mut rest = None;
        loop {
            match self.play_on_stream(pcm, rest.take(), interrupted, on_start, on_interrupt) {
                // ALSA's PulseAudio plugin sometimes fails a stream that has
                // just started (`snd_pcm_avail_delay`: I/O error): open it
                // again, once per clip, and play what was not played.
                Err((e, Some(left))) if !retried => {
                    tracing::debug!("speaker failed, opening it again: {e}");
                    retried = true;
                    rest = Some(left);
                }
                Err((e, _)) => return Err(e),
                Ok(done) => return Ok(done),
            }
        }
    }

    /// One attempt of [`Output::play`] on the open stream (opened here if
    /// needed): all of `pcm`, or `rest` (device-rate samples left from a
    /// failed attempt). A failure mid-clip closes the stream and hands back
    /// what was not played.
    #[allow(clippy::type_complexity)]
    fn play_on_stream(
        &mut self,
        pcm: &Pcm,
        rest: Option<Vec<f32>>,
        interrupted: &dyn Fn() -> bool,
        on_start: &dyn Fn(),
        on_interrupt: &dyn Fn(),
    ) -> std::result::Result<bool, (TtsError, Option<Vec<f32>>)> {
        let label = self.label.clone();
        let resumed = rest.is_some();
        if self.open.is_none() {
            self.open = Some(open(&self.device, &label, self.tap.as_ref()).map_err(|e| (e, None))?);
        }
        let Some(open) = self.open.as_mut() else {
            return Err((
                TtsError::PlaybackFailed {
                    device: label,
                    reason: "the stream closed".into(),
                },
                None,
            ));
        };
        let samples = match rest {
            Some(rest) => rest,
            None => resample(&pcm.samples, pcm.sample_rate, open.rate).map_err(|reason| {
                (
                    TtsError::PlaybackFailed {
                        device: label.clone(),
                        reason,
                    },
                    None,
                )
            })?,
        };
        let start = open.queued;
        let end = start + samples.len() as u64;
        open.queued = end;
        lock(&open.shared.queue).extend(samples.iter().copied());
        if !resumed {
            on_start();
        }
        loop {
            let shared = &open.shared;
            if interrupted() {
                let mut q = lock(&shared.queue);
                shared.taken.fetch_add(q.len() as u64, Ordering::AcqRel);
                q.clear();
                drop(q);
                on_interrupt();
                // What the device has buffered would still play: pause it
                // (a server round trip on PulseAudio, so after reporting;
                // not every backend can pause, and the empty queue still
                // silences it a buffer later), then close it. A paused
                // stream kept open for the next answer stalled ALSA's
                // PulseAudio plugin, capture included, in the talk tests.
                let _ = open.stream.pause();
                self.open = None;
                return Ok(false);
            }
            let error = lock(&shared.error).take();
            if let Some(reason) = error {
                let taken = shared.taken.load(Ordering::Acquire).saturating_sub(start);
                let played = usize::try_from(taken)
                    .unwrap_or(usize::MAX)
                    .min(samples.len());
                self.open = None;
                let failed = TtsError::PlaybackFailed {
                    device: label,
                    reason,
                };
                return Err((failed, Some(samples[played..].to_vec())));
            }
            if shared.taken.load(Ordering::Acquire) >= end {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Play one clip on `device` and close it (a single announcement, not a
/// narrator's stream of sentences).
///
/// # Errors
/// As [`Output::play`].
pub fn play(
    device: &cpal::Device,
    label: &str,
    pcm: &Pcm,
    tap: Option<&RenderTap>,
    interrupted: &dyn Fn() -> bool,
    on_start: &dyn Fn(),
    on_interrupt: &dyn Fn(),
) -> Result<bool> {
    let mut out = Output::new(device.clone(), label.to_string(), tap.cloned());
    let played = out.play(pcm, interrupted, on_start, on_interrupt);
    if matches!(played, Ok(true)) {
        // Let the device's own buffer play out before closing it.
        std::thread::sleep(Duration::from_millis(150));
    }
    played
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn open(device: &cpal::Device, label: &str, tap: Option<&RenderTap>) -> Result<Open> {
    let failed = |e: cpal::Error| match e.kind() {
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable => {
            TtsError::NoOutputDevice {
                device: label.into(),
            }
        }
        _ => TtsError::PlaybackFailed {
            device: label.into(),
            reason: e.to_string(),
        },
    };
    let supported = device.default_output_config().map_err(failed)?;
    let config = supported.config();
    let rate = config.sample_rate;
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        taken: AtomicU64::new(0),
        error: Mutex::new(None),
    });
    let channels = usize::from(config.channels.max(1));
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => build::<f32>(device, config, channels, shared.clone(), tap),
        cpal::SampleFormat::I16 => build::<i16>(device, config, channels, shared.clone(), tap),
        cpal::SampleFormat::I32 => build::<i32>(device, config, channels, shared.clone(), tap),
        cpal::SampleFormat::U16 => build::<u16>(device, config, channels, shared.clone(), tap),
        cpal::SampleFormat::U8 => build::<u8>(device, config, channels, shared.clone(), tap),
        cpal::SampleFormat::F64 => build::<f64>(device, config, channels, shared.clone(), tap),
        other => {
            return Err(TtsError::PlaybackFailed {
                device: label.into(),
                reason: format!("unsupported sample format {other:?}"),
            })
        }
    }
    .map_err(failed)?;
    stream.play().map_err(failed)?;
    Ok(Open {
        stream,
        shared,
        rate,
        queued: 0,
    })
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    shared: Arc<Shared>,
    tap: Option<&RenderTap>,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let errors = shared.clone();
    let rate = config.sample_rate;
    let tap = tap.cloned();
    let mut played = Vec::new();
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| {
            played.clear();
            let mut audible = 0u64;
            {
                let mut q = lock(&shared.queue);
                for frame in out.chunks_exact_mut(channels) {
                    let s = match q.pop_front() {
                        Some(s) => {
                            audible += 1;
                            s
                        }
                        None => 0.0,
                    };
                    played.push(s);
                    for o in frame.iter_mut() {
                        *o = s.to_sample::<T>();
                    }
                }
                shared.taken.fetch_add(audible, Ordering::AcqRel);
            }
            // The echo canceller's reference: exactly what went out,
            // silence between sentences included, so the two streams stay
            // in step.
            if let Some(tap) = &tap {
                tap.played(rate, &played, audible > 0);
            }
        },
        move |e: cpal::Error| {
            if !matches!(
                e.kind(),
                cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged
            ) {
                *lock(&errors.error) = Some(e.to_string());
            }
        },
        Some(Duration::from_secs(5)),
    )
}
