//! The one sample-rate converter of the project: band-limited FFT
//! resampling (rubato) of mono f32, shared by file decoding, microphone
//! capture and speech playback so every path sounds the same.
//!
//! Pure functions; safe to call from any thread.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Resample mono `input` from `from` Hz to `to` Hz. Equal rates or an empty
/// input return a copy.
///
/// # Errors
/// rubato's explanation when it refuses the rates (e.g. 0 Hz).
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(format!("cannot resample {from} Hz to {to} Hz"));
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| e.to_string())?;
    let adapter = InterleavedSlice::new(input, 1, input.len()).map_err(|e| e.to_string())?;
    let out = resampler
        .process_all(&adapter, input.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
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
}
