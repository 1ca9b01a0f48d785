//! Echo cancellation for talk mode: what the speaker plays is removed from
//! what the microphone hears (WebRTC's AEC3, through the `aec3` crate), so
//! Omnidesk never answers its own voice and the person can still
//! interrupt it.
//!
//! The speaker side hands what it plays to a [`RenderTap`] (from its audio
//! callback: sending never blocks); the listener thread drains the
//! matching [`RenderFeed`] into an [`EchoCanceller`], one 10 ms reference
//! frame per 10 ms microphone frame, so both streams stay paired and AEC3's
//! own delay estimator finds the speaker-to-microphone delay.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use aec3::api::config::{
    DominantNearendDetection, EchoCanceller3Config, MaskingThresholds, Suppressor, Tuning,
};
use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear::{self, LinearPipeline};

use crate::media::resample::StreamResampler;

/// The rate echo cancellation and voice detection run at.
pub const RATE: u32 = 16_000;
/// One AEC3 frame: 10 ms.
const FRAME: usize = RATE as usize / 100;
/// Most reference audio kept waiting for the microphone (2 s): a stalled
/// capture must not grow it without bound.
const MAX_PENDING: usize = RATE as usize * 2;
/// The speaker hands its audio over in bursts (one per device callback).
/// While it plays, a microphone frame waits up to this long for its
/// reference instead of being paired with silence, which would shift the
/// two streams apart and let the echo through.
const JITTER: Duration = Duration::from_millis(100);
/// The speaker counts as playing this long after its last audio.
const ACTIVE: Duration = Duration::from_millis(400);

/// The speaker's side: what was just played, at the device's rate.
#[derive(Clone, Debug)]
pub struct RenderTap {
    tx: std_mpsc::Sender<Played>,
}

impl RenderTap {
    /// Report mono `samples` played at `rate` Hz; `audible` when they hold
    /// speech (not the silence an idle stream plays). Never blocks.
    pub fn played(&self, rate: u32, samples: &[f32], audible: bool) {
        let _ = self.tx.send(Played {
            rate,
            samples: samples.to_vec(),
            audible,
        });
    }
}

/// One device buffer as the speaker reported it.
#[derive(Debug)]
struct Played {
    rate: u32,
    samples: Vec<f32>,
    audible: bool,
}

/// The listener's side of a [`RenderTap`].
#[derive(Debug)]
pub struct RenderFeed {
    rx: std_mpsc::Receiver<Played>,
}

/// A connected tap and feed.
pub fn render_tap() -> (RenderTap, RenderFeed) {
    let (tx, rx) = std_mpsc::channel();
    (RenderTap { tx }, RenderFeed { rx })
}

/// AEC3 on 16 kHz mono, fed by a [`RenderFeed`].
pub struct EchoCanceller {
    pipeline: LinearPipeline,
    feed: RenderFeed,
    /// Resampler for the reference, rebuilt when its rate changes.
    render_rate: Option<(u32, StreamResampler)>,
    render: VecDeque<f32>,
    /// When the speaker last handed over a buffer (speech or the silence
    /// between sentences): while it does, microphone frames wait for it.
    last_render: Option<Instant>,
    /// When that buffer last held speech.
    last_audible: Option<Instant>,
    capture: Vec<f32>,
    /// Arrival time of each whole frame in `capture`.
    arrived: VecDeque<Instant>,
    out: Vec<f32>,
}

impl EchoCanceller {
    /// An echo canceller reading what the speaker plays from `feed`.
    ///
    /// # Errors
    /// AEC3's reason when it cannot be set up.
    pub fn new(feed: RenderFeed) -> Result<Self, String> {
        let format = AudioFormat::ten_ms(RATE, 1);
        // A person talking over the reply must come through at once (that
        // is the barge-in): enter AEC3's "near end dominant" state sooner
        // (6 blocks, 24 ms, at a 15 dB SNR instead of 12 blocks at 30 dB),
        // hold it longer, and mask less while in it.
        let config = EchoCanceller3Config {
            suppressor: Suppressor {
                nearend_tuning: Tuning::new(
                    MaskingThresholds::new(1.3, 1.5, 0.4),
                    MaskingThresholds::new(0.2, 0.5, 0.4),
                    2.0,
                    0.25,
                ),
                dominant_nearend_detection: DominantNearendDetection {
                    enr_threshold: 0.25,
                    enr_exit_threshold: 10.0,
                    snr_threshold: 15.0,
                    hold_duration: 150,
                    trigger_threshold: 6,
                    use_during_initial_phase: true,
                    use_unbounded_echo_spectrum: true,
                },
                ..Suppressor::default()
            },
            ..EchoCanceller3Config::default()
        };
        let pipeline = linear::builder(format, format)
            .aec3_config(config)
            // The microphone clip is for a model, not a call: no gain
            // control or noise suppression reshaping it.
            .enable_noise_suppression(false)
            .enable_gain_controller2(false)
            .build()
            .map_err(|e| format!("{e:?}"))?;
        Ok(Self {
            pipeline,
            feed,
            render_rate: None,
            render: VecDeque::new(),
            last_render: None,
            last_audible: None,
            capture: Vec::new(),
            arrived: VecDeque::new(),
            out: vec![0.0; FRAME],
        })
    }

    fn take_render(&mut self) {
        while let Ok(Played {
            rate,
            samples,
            audible,
        }) = self.feed.rx.try_recv()
        {
            if self.render_rate.as_ref().map(|(r, _)| *r) != Some(rate) {
                match StreamResampler::new(rate, RATE) {
                    Ok(r) => self.render_rate = Some((rate, r)),
                    Err(_) => continue,
                }
            }
            if let Some((_, r)) = self.render_rate.as_mut() {
                self.render.extend(r.push(&samples));
                let now = Instant::now();
                self.last_render = Some(now);
                if audible {
                    self.last_audible = Some(now);
                }
            }
        }
        let excess = self.render.len().saturating_sub(MAX_PENDING);
        if excess > 0 {
            tracing::debug!(excess, "echo reference dropped: the speaker ran ahead");
        }
        self.render.drain(..excess);
    }

    /// Whether the speaker is playing (it played speech lately).
    pub fn playing(&self) -> bool {
        self.last_audible.is_some_and(|t| t.elapsed() < ACTIVE)
    }

    /// Reference samples waiting for their microphone frames.
    pub fn pending(&self) -> usize {
        self.render.len()
    }

    /// Remove the speaker's echo from `capture` (16 kHz mono); returns the
    /// cleaned audio in whole 10 ms frames. What is left, and frames still
    /// waiting for their reference (see [`JITTER`]), come with a later call.
    pub fn process(&mut self, capture: &[f32]) -> Vec<f32> {
        self.process_at(capture, Instant::now())
    }

    fn process_at(&mut self, capture: &[f32], now: Instant) -> Vec<f32> {
        self.take_render();
        let before = self.capture.len() / FRAME;
        self.capture.extend_from_slice(capture);
        for _ in before..self.capture.len() / FRAME {
            self.arrived.push_back(now);
        }
        // The speaker's stream is running (speech or silence): pair every
        // frame with its own reference.
        let streaming = self
            .last_render
            .is_some_and(|t| now.duration_since(t) < ACTIVE);
        let mut done = 0;
        let mut cleaned = Vec::new();
        while (done + 1) * FRAME <= self.capture.len() {
            let waited = self
                .arrived
                .get(done)
                .map_or(Duration::ZERO, |t| now.duration_since(*t));
            if self.render.len() < FRAME && streaming && waited < JITTER {
                // Its reference is on the way.
                break;
            }
            // Nothing playing: a silent reference keeps the pair in step.
            let reference: Vec<f32> = (0..FRAME)
                .map(|_| self.render.pop_front().unwrap_or(0.0))
                .collect();
            let mic = &self.capture[done * FRAME..(done + 1) * FRAME];
            let produced = self.pipeline.handle_render_frame(&reference).is_ok()
                && matches!(
                    self.pipeline.process_capture_frame(mic, &mut self.out),
                    Ok(true)
                );
            // A frame AEC3 could not take passes through as it was heard.
            cleaned.extend_from_slice(if produced { &self.out } else { mic });
            done += 1;
        }
        self.capture.drain(..done * FRAME);
        self.arrived.drain(..done.min(self.arrived.len()));
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(s: &[f32]) -> f32 {
        (s.iter().map(|x| x * x).sum::<f32>() / s.len().max(1) as f32).sqrt()
    }

    /// Broadband, syllable-like sound: noise under a 4 Hz envelope.
    fn voice(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let noise = (x as f32 / u32::MAX as f32) * 2.0 - 1.0;
                let env = (i as f32 * 4.0 * std::f32::consts::TAU / RATE as f32)
                    .sin()
                    .abs();
                noise * env * 0.4
            })
            .collect()
    }

    #[test]
    fn the_speakers_echo_is_removed_and_a_voice_over_it_is_kept() {
        let (tap, feed) = render_tap();
        let mut aec = EchoCanceller::new(feed).unwrap();
        let far = voice(RATE as usize * 4, 1);
        let near = voice(RATE as usize, 500);
        let delay = 1_600; // 100 ms from speaker to microphone
        let mut out = Vec::new();
        for (k, chunk) in far.chunks(320).enumerate() {
            // The speaker reports at 48 kHz, as a device would.
            let up: Vec<f32> = chunk.iter().flat_map(|&s| [s, s, s]).collect();
            tap.played(48_000, &up, true);
            let start = k * 320;
            let mic: Vec<f32> = (start..start + chunk.len())
                .map(|i| {
                    let echo = if i >= delay {
                        far[i - delay] * 0.8
                    } else {
                        0.0
                    };
                    let person = if i >= 3 * RATE as usize {
                        near[i - 3 * RATE as usize]
                    } else {
                        0.0
                    };
                    echo + person
                })
                .collect();
            out.extend(aec.process(&mic));
        }
        let sec = RATE as usize;
        let echo_only = rms(&out[sec..3 * sec]);
        let with_person = rms(&out[3 * sec + 1_600..4 * sec - 1_600]);
        let person = rms(&near[1_600..RATE as usize - 1_600]);
        let heard = rms(&far[sec..3 * sec]) * 0.8;
        // The echo falls by more than 20 dB; the person keeps most of
        // their level while the speaker talks over them (double talk).
        assert!(
            echo_only < heard / 10.0,
            "echo left: {echo_only} of {heard}"
        );
        assert!(
            with_person > person / 4.0 && with_person > 5.0 * echo_only,
            "the person was removed too: {with_person} of {person} (echo {echo_only})"
        );
    }
}
