//! Audio files to what speech encoders take: decoded (WAV, MP3, FLAC, OGG
//! Vorbis), downmixed to mono, resampled to the projector's rate, with a
//! length limit enforced while decoding so a long file is never loaded whole.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::error::{MediaError, Result};
use super::resample::resample;
use super::Audio;

/// Bounds for accepted audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioLimits {
    pub max_file_bytes: u64,
    pub max_seconds: f64,
}

impl Default for AudioLimits {
    /// Five minutes: far more than a spoken question; longer clips belong
    /// in a transcription tool, not one chat turn.
    fn default() -> Self {
        Self {
            max_file_bytes: 256 << 20,
            max_seconds: 300.0,
        }
    }
}

/// Decode `path` to mono f32 at `target_rate` Hz.
///
/// # Errors
/// `NotFound`/`Io`, `FileTooLarge`, `Empty`, `NotAudio` (unknown or broken
/// container/codec), `AudioTooLong`, `NoSamples`, `Resample`.
pub fn load(path: &Path, target_rate: u32, limits: &AudioLimits) -> Result<Audio> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    MediaError::check_size(path, "audio", meta.len(), limits.max_file_bytes)?;
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode(Box::new(file), ext, path, target_rate, limits)
}

/// Decode a clip held in memory (an upload, base64 from an API request)
/// within the same `limits` as [`load`]. `format` is a container hint such
/// as `"wav"` or `"mp3"` (the content is probed either way); `name` stands
/// in for a path in error messages.
///
/// # Errors
/// As [`load`], except `NotFound`/`Io`.
pub fn load_bytes(
    bytes: Vec<u8>,
    format: Option<&str>,
    name: &str,
    target_rate: u32,
    limits: &AudioLimits,
) -> Result<Audio> {
    let path = Path::new(name);
    MediaError::check_size(path, "audio", bytes.len() as u64, limits.max_file_bytes)?;
    decode(
        Box::new(Cursor::new(bytes)),
        format,
        path,
        target_rate,
        limits,
    )
}

/// The shared path: probe, decode to mono, resample.
fn decode(
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
    path: &Path,
    target_rate: u32,
    limits: &AudioLimits,
) -> Result<Audio> {
    let (rate, mono) = decode_mono(source, ext, path, limits)?;
    if mono.is_empty() {
        return Err(MediaError::NoSamples { path: path.into() });
    }
    let samples = if rate == target_rate {
        mono
    } else {
        resample(&mono, rate, target_rate).map_err(|reason| MediaError::Resample {
            path: path.into(),
            from: rate,
            to: target_rate,
            reason,
        })?
    };
    Audio::from_samples(target_rate, samples).ok_or(MediaError::NoSamples { path: path.into() })
}

fn decode_mono(
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
    path: &Path,
    limits: &AudioLimits,
) -> Result<(u32, Vec<f32>)> {
    let not_audio = |reason: String| MediaError::NotAudio {
        path: path.into(),
        reason,
    };
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| not_audio(e.to_string()))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| not_audio("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| not_audio("no audio codec parameters".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| not_audio(e.to_string()))?;

    let mut mono = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut rate = 0u32;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated tail ends the clip; what decoded so far is kept.
            Err(SymphoniaError::IoError(_)) if !mono.is_empty() => break,
            Err(e) => return Err(not_audio(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            // Skip a corrupt packet, as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(not_audio(e.to_string())),
        };
        let spec = buf.spec();
        rate = spec.rate();
        let channels = spec.channels().count().max(1);
        interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut interleaved[..]);
        mono.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        if rate > 0 && mono.len() as f64 > limits.max_seconds * f64::from(rate) {
            return Err(MediaError::AudioTooLong {
                path: path.into(),
                max_seconds: limits.max_seconds,
            });
        }
    }
    if rate == 0 {
        return Err(MediaError::NoSamples { path: path.into() });
    }
    Ok((rate, mono))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit PCM WAV written by hand, so the test needs no encoder.
    fn wav(path: &Path, rate: u32, channels: u16, frames: &[Vec<i16>]) {
        let data: Vec<u8> = frames
            .iter()
            .flat_map(|f| f.iter().flat_map(|s| s.to_le_bytes()))
            .collect();
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        b.extend_from_slice(&(channels * 2).to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        std::fs::write(path, b).unwrap();
    }

    fn sine(rate: u32, hz: f32, seconds: f32) -> Vec<i16> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| {
                ((i as f32 * hz * std::f32::consts::TAU / rate as f32).sin() * 12_000.0) as i16
            })
            .collect()
    }

    #[test]
    fn stereo_44k_becomes_mono_16k_of_the_same_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.wav");
        let tone = sine(44_100, 440.0, 1.0);
        let frames: Vec<Vec<i16>> = tone.iter().map(|&s| vec![s, s]).collect();
        wav(&p, 44_100, 2, &frames);
        let a = load(&p, 16_000, &AudioLimits::default()).unwrap();
        assert_eq!(a.sample_rate, 16_000);
        let n = a.samples.len() as i64;
        assert!((n - 16_000).abs() <= 16, "{n} samples");
        // Energy survives resampling (a 440 Hz tone is far below 8 kHz).
        let rms = (a.samples.iter().map(|s| s * s).sum::<f32>() / n as f32).sqrt();
        assert!(rms > 0.2 && rms < 0.3, "rms {rms}");
    }

    #[test]
    fn opposite_channels_cancel_when_downmixed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.wav");
        let tone = sine(16_000, 300.0, 0.5);
        let frames: Vec<Vec<i16>> = tone.iter().map(|&s| vec![s, -s]).collect();
        wav(&p, 16_000, 2, &frames);
        let a = load(&p, 16_000, &AudioLimits::default()).unwrap();
        assert!(a.samples.iter().all(|s| s.abs() < 1e-3));
    }

    #[test]
    fn too_long_is_refused_while_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.wav");
        let frames: Vec<Vec<i16>> = sine(8_000, 200.0, 3.0)
            .into_iter()
            .map(|s| vec![s])
            .collect();
        wav(&p, 8_000, 1, &frames);
        let limits = AudioLimits {
            max_seconds: 2.0,
            ..Default::default()
        };
        assert!(matches!(
            load(&p, 16_000, &limits),
            Err(MediaError::AudioTooLong { .. })
        ));
    }

    #[test]
    fn bytes_decode_like_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.wav");
        let frames: Vec<Vec<i16>> = sine(16_000, 300.0, 0.25)
            .into_iter()
            .map(|s| vec![s])
            .collect();
        wav(&p, 16_000, 1, &frames);
        let from_file = load(&p, 16_000, &AudioLimits::default()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let from_bytes = load_bytes(
            bytes,
            Some("wav"),
            "upload",
            16_000,
            &AudioLimits::default(),
        )
        .unwrap();
        assert_eq!(from_file, from_bytes);
        assert!(matches!(
            load_bytes(
                b"nope".repeat(50),
                None,
                "upload",
                16_000,
                &AudioLimits::default()
            ),
            Err(MediaError::NotAudio { .. })
        ));
    }

    #[test]
    fn non_audio_and_empty_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("e.wav");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            load(&empty, 16_000, &AudioLimits::default()),
            Err(MediaError::Empty { .. })
        ));
        let text = dir.path().join("t.mp3");
        std::fs::write(&text, "definitely not audio ".repeat(100)).unwrap();
        assert!(matches!(
            load(&text, 16_000, &AudioLimits::default()),
            Err(MediaError::NotAudio { .. })
        ));
    }
}
