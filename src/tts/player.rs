//! Playing speech through cpal. Runs only on the narrator's playback
//! thread (cpal streams are not `Send` everywhere); one output stream per
//! clip, dropped the moment playback is interrupted.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
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

/// Play `pcm` to the end, or until `interrupted()` turns true (checked
/// every few milliseconds). `on_start` runs once the device is playing
/// (opening it can take a while). On interruption the output is muted and paused
/// at once and `on_interrupt` runs before the device is closed (closing
/// can take a few hundred milliseconds on some servers). Returns whether it
/// played to the end.
///
/// # Errors
/// `NoOutputDevice` when the device cannot be opened, `PlaybackFailed`
/// when it fails mid-clip.
#[allow(clippy::too_many_arguments)]
pub fn play(
    device: &cpal::Device,
    label: &str,
    pcm: &Pcm,
    tap: Option<&RenderTap>,
    interrupted: &dyn Fn() -> bool,
    on_start: &dyn Fn(),
    on_interrupt: &dyn Fn(),
) -> Result<bool> {
    if interrupted() {
        on_interrupt();
        return Ok(false);
    }
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
    let samples =
        resample(&pcm.samples, pcm.sample_rate, config.sample_rate).map_err(|reason| {
            TtsError::PlaybackFailed {
                device: label.into(),
                reason,
            }
        })?;
    let state = Arc::new(PlayState {
        samples,
        pos: AtomicUsize::new(0),
        done: AtomicBool::new(false),
        muted: AtomicBool::new(false),
        error: std::sync::Mutex::new(None),
    });
    let channels = usize::from(config.channels.max(1));
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => build::<f32>(device, config, channels, state.clone(), tap),
        cpal::SampleFormat::I16 => build::<i16>(device, config, channels, state.clone(), tap),
        cpal::SampleFormat::I32 => build::<i32>(device, config, channels, state.clone(), tap),
        cpal::SampleFormat::U16 => build::<u16>(device, config, channels, state.clone(), tap),
        cpal::SampleFormat::U8 => build::<u8>(device, config, channels, state.clone(), tap),
        cpal::SampleFormat::F64 => build::<f64>(device, config, channels, state.clone(), tap),
        other => {
            return Err(TtsError::PlaybackFailed {
                device: label.into(),
                reason: format!("unsupported sample format {other:?}"),
            })
        }
    }
    .map_err(failed)?;
    stream.play().map_err(failed)?;
    on_start();
    loop {
        if interrupted() {
            // Mute first (the next callback writes silence), report, then
            // pause: pausing is a server round trip on PulseAudio. Not every
            // backend can pause; muting alone still silences it.
            state.muted.store(true, Ordering::Release);
            on_interrupt();
            let _ = stream.pause();
            return Ok(false);
        }
        if let Some(reason) = state.error.lock().ok().and_then(|mut e| e.take()) {
            return Err(TtsError::PlaybackFailed {
                device: label.into(),
                reason,
            });
        }
        if state.done.load(Ordering::Acquire) {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct PlayState {
    samples: Vec<f32>,
    pos: AtomicUsize,
    done: AtomicBool,
    /// Set on interruption: the callback writes silence from then on.
    muted: AtomicBool,
    error: std::sync::Mutex<Option<String>>,
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    state: Arc<PlayState>,
    tap: Option<&RenderTap>,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32> + Send + 'static,
{
    let errors = state.clone();
    let rate = config.sample_rate;
    let tap = tap.cloned();
    let mut played = Vec::new();
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| {
            let mut pos = state.pos.load(Ordering::Relaxed);
            let muted = state.muted.load(Ordering::Acquire);
            played.clear();
            for frame in out.chunks_exact_mut(channels) {
                let s = if muted {
                    0.0
                } else {
                    state.samples.get(pos).copied().unwrap_or(0.0)
                };
                pos += 1;
                played.push(s);
                for o in frame.iter_mut() {
                    *o = s.to_sample::<T>();
                }
            }
            // The echo canceller's reference: exactly what went out.
            if let Some(tap) = &tap {
                tap.played(rate, &played);
            }
            state.pos.store(pos, Ordering::Relaxed);
            if pos >= state.samples.len() {
                state.done.store(true, Ordering::Release);
            }
        },
        move |e: cpal::Error| {
            if !matches!(
                e.kind(),
                cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged
            ) {
                if let Ok(mut slot) = errors.error.lock() {
                    *slot = Some(e.to_string());
                }
            }
        },
        Some(Duration::from_secs(5)),
    )
}
