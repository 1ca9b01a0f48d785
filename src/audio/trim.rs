//! Level metering and silence trimming on mono f32 samples.
//!
//! Pure functions over slices; no state, any thread.

use serde::{Deserialize, Serialize};

/// Loudness of a stretch of audio, linear full scale (1.0 = clipping).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Level {
    pub rms: f32,
    pub peak: f32,
}

impl Level {
    /// Measure `samples`; silence (or nothing) is 0/0.
    pub fn of(samples: &[f32]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let (sum, peak) = samples.iter().fold((0f64, 0f32), |(s, p), &x| {
            (s + f64::from(x * x), p.max(x.abs()))
        });
        Self {
            rms: (sum / samples.len() as f64).sqrt() as f32,
            peak,
        }
    }
}

/// How silence is recognised and how much of it is kept around speech.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrimSettings {
    /// A 10 ms frame quieter than this RMS is silence. 0.01 ≈ −40 dBFS:
    /// above room hiss, below soft speech.
    pub threshold_rms: f32,
    /// Silence kept before the first and after the last loud frame, so
    /// soft onsets and endings survive.
    pub padding_ms: u32,
}

impl Default for TrimSettings {
    fn default() -> Self {
        Self {
            threshold_rms: 0.01,
            padding_ms: 150,
        }
    }
}

/// The sample range `start..end` of `samples` (at `rate` Hz) that holds
/// sound, with padding; `None` when everything is silence.
pub fn speech_bounds(
    samples: &[f32],
    rate: u32,
    settings: &TrimSettings,
) -> Option<(usize, usize)> {
    let frame = (rate as usize / 100).max(1);
    let loud = |chunk: &[f32]| Level::of(chunk).rms >= settings.threshold_rms;
    let first = samples.chunks(frame).position(loud)?;
    let last = samples.chunks(frame).rposition(loud)?;
    let pad = rate as usize * settings.padding_ms as usize / 1000;
    let start = (first * frame).saturating_sub(pad);
    let end = ((last + 1) * frame + pad).min(samples.len());
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.1).sin() * 0.5).collect()
    }

    #[test]
    fn silence_around_sound_is_cut_to_the_padding() {
        let mut s = vec![0.0; 16_000];
        s.extend(tone(8_000));
        s.extend(vec![0.0; 16_000]);
        let (a, b) = speech_bounds(&s, 16_000, &TrimSettings::default()).unwrap();
        assert_eq!(a, 16_000 - 2_400);
        assert_eq!(b, 24_000 + 2_400);
    }

    #[test]
    fn all_silence_has_no_bounds() {
        assert!(speech_bounds(&[0.001; 4_000], 16_000, &TrimSettings::default()).is_none());
        assert!(speech_bounds(&[], 16_000, &TrimSettings::default()).is_none());
    }

    #[test]
    fn level_of_a_square_wave() {
        let l = Level::of(&[0.5, -0.5, 0.5, -0.5]);
        assert!((l.rms - 0.5).abs() < 1e-6 && (l.peak - 0.5).abs() < 1e-6);
    }
}
