//! The one sample-rate converter of the project: band-limited FFT
//! resampling (rubato) of mono f32, shared by file decoding, microphone
//! capture and speech playback so every path sounds the same.
//!
//! Pure functions; safe to call from any thread.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Largest FFT (in frames, either side) a rate pair may need. rubato's
/// FFT length is at least `rate / gcd(from, to)`: two coprime rates of a
/// few GHz would need gigabytes; every real pair (≤ 384 kHz) stays below.
pub const MAX_FFT_FRAMES: u64 = 1 << 20;

/// The FFT length (frames, larger side) rubato plans for `from` → `to`.
pub fn fft_frames(from: u32, to: u32) -> u64 {
    let (mut a, mut b) = (u64::from(from), u64::from(to));
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let gcd = a.max(1);
    (u64::from(from) / gcd).max(u64::from(to) / gcd)
}

/// Resample mono `input` from `from` Hz to `to` Hz. Equal rates or an empty
/// input return a copy.
///
/// # Errors
/// A rate pair needing an FFT over [`MAX_FFT_FRAMES`], or rubato's
/// explanation when it refuses the rates (e.g. 0 Hz).
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(format!("cannot resample {from} Hz to {to} Hz"));
    }
    let fft = fft_frames(from, to);
    if fft > MAX_FFT_FRAMES {
        return Err(format!(
            "the rates share too small a factor (an FFT of {fft} frames; at most {MAX_FFT_FRAMES})"
        ));
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| e.to_string())?;
    let adapter = InterleavedSlice::new(input, 1, input.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&adapter, input.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

/// Resampling of a live stream in pieces (talk mode's microphone and the
/// speaker reference), with the same filter as [`resample`]. Keeps up to
/// one chunk (10 ms) of input until it is full.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
}

impl StreamResampler {
    /// A converter from `from` to `to` Hz; equal rates pass through.
    ///
    /// # Errors
    /// As [`resample`].
    pub fn new(from: u32, to: u32) -> Result<Self, String> {
        if from == 0 || to == 0 {
            return Err(format!("cannot resample {from} Hz to {to} Hz"));
        }
        if from == to {
            return Ok(Self {
                inner: None,
                pending: Vec::new(),
            });
        }
        let fft = fft_frames(from, to);
        if fft > MAX_FFT_FRAMES {
            return Err(format!(
                "the rates share too small a factor (an FFT of {fft} frames; at most {MAX_FFT_FRAMES})"
            ));
        }
        let chunk = (from as usize / 100).max(1);
        let inner = Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Input)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            inner: Some(inner),
            pending: Vec::new(),
        })
    }

    /// Convert the next piece; returns what is ready (possibly nothing).
    pub fn push(&mut self, input: &[f32]) -> Vec<f32> {
        let Some(inner) = self.inner.as_mut() else {
            return input.to_vec();
        };
        self.pending.extend_from_slice(input);
        let mut out = Vec::new();
        loop {
            let need = inner.input_frames_next();
            if self.pending.len() < need {
                break;
            }
            let Ok(adapter) = InterleavedSlice::new(&self.pending[..need], 1, need) else {
                break;
            };
            match inner.process(&adapter, None) {
                Ok(o) => out.extend_from_slice(&o.take_data()),
                Err(_) => break,
            }
            self.pending.drain(..need);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_scales_with_the_rate() {
        let input = vec![0.1f32; 48_000];
        let out = resample(&input, 48_000, 16_000).unwrap();
        assert!((out.len() as i64 - 16_000).abs() <= 16, "{}", out.len());
    }

    #[test]
    fn same_rate_is_a_copy_and_zero_is_refused() {
        assert_eq!(
            resample(&[0.5, -0.5], 16_000, 16_000).unwrap(),
            vec![0.5, -0.5]
        );
        assert!(resample(&[0.5], 0, 16_000).is_err());
    }

    #[test]
    fn a_stream_in_odd_pieces_keeps_its_length_and_tone() {
        let tone: Vec<f32> = (0..44_100)
            .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin() * 0.5)
            .collect();
        let mut r = StreamResampler::new(44_100, 16_000).unwrap();
        let mut out = Vec::new();
        for piece in tone.chunks(333) {
            out.extend(r.push(piece));
        }
        assert!((out.len() as i64 - 16_000).abs() <= 500, "{}", out.len());
        let rms = (out[2_000..14_000].iter().map(|x| x * x).sum::<f32>() / 12_000.0).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.02, "{rms}");
        let mut same = StreamResampler::new(16_000, 16_000).unwrap();
        assert_eq!(same.push(&[0.25, -0.25]), vec![0.25, -0.25]);
    }

    #[test]
    fn rate_pairs_needing_a_huge_fft_are_refused() {
        assert_eq!(fft_frames(48_000, 16_000), 3);
        assert_eq!(fft_frames(44_100, 16_000), 441);
        assert!(fft_frames(383_999, 16_000) < MAX_FFT_FRAMES);
        let e = resample(&[0.5; 64], 4_294_967_291, 16_000).unwrap_err();
        assert!(e.contains("FFT"), "{e}");
    }
}
