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

use super::budget::MediaBudget;
use super::error::{MediaError, Result};
use super::resample::resample;
use super::Audio;

/// Lowest sample rate accepted: below it no speech survives.
pub const MIN_SAMPLE_RATE: u32 = 1_000;
/// Highest sample rate accepted: the top of professional recording gear.
/// A header claiming more is lying, and would plan a huge resampler.
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Most channels accepted (7.1 surround).
pub const MAX_CHANNELS: usize = 8;
/// Decoded frames one input byte may yield. Real codecs stay far below
/// (16-bit PCM: 0.5, MP3: ~3, a FLAC block of digital silence: a few
/// hundred); a file that decodes to more is not what its size says.
pub const MAX_FRAMES_PER_BYTE: u64 = 1_024;
/// Largest packet a decoder may be set up for; sizes its buffers.
const MAX_FRAMES_PER_PACKET: u64 = 1 << 20;

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
/// container/codec), `ImplausibleAudio` (sample rate, channels or size out
/// of bounds), `AudioTooLong`, `NoSamples`, `Resample`.
pub fn load(path: &Path, target_rate: u32, limits: &AudioLimits) -> Result<Audio> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    MediaError::check_size(path, "audio", meta.len(), limits.max_file_bytes)?;
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode(Box::new(file), meta.len(), ext, path, target_rate, limits)
}

/// Decode a clip held in memory (an upload, base64 from an API request)
/// within the same `limits` as [`load`]. `format` is a container hint such
/// as `"wav"` or `"mp3"` (the content is probed either way); `name` stands
/// in for a path in error messages. Safe on any bytes (a fuzzing entry point).
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
    let len = bytes.len() as u64;
    MediaError::check_size(path, "audio", len, limits.max_file_bytes)?;
    decode(
        Box::new(Cursor::new(bytes)),
        len,
        format,
        path,
        target_rate,
        limits,
    )
}

/// [`load_bytes`], counted against one request's `budget`: the clip may
/// only use the seconds the request has left.
///
/// # Errors
/// As [`load_bytes`], plus `TooManyMedia` and `RequestTotal`.
pub fn load_bytes_counted(
    bytes: Vec<u8>,
    format: Option<&str>,
    name: &str,
    target_rate: u32,
    limits: &AudioLimits,
    budget: &mut MediaBudget,
) -> Result<Audio> {
    let path = Path::new(name);
    budget.admit_item(path)?;
    let limits = budget_limits(limits, budget);
    let audio = load_bytes(bytes, format, name, target_rate, &limits)?;
    budget.admit_audio(path, audio.seconds())?;
    Ok(audio)
}

/// [`load`], counted against one request's `budget` (see [`load_bytes_counted`]).
///
/// # Errors
/// As [`load`], plus `TooManyMedia` and `RequestTotal`.
pub fn load_counted(
    path: &Path,
    target_rate: u32,
    limits: &AudioLimits,
    budget: &mut MediaBudget,
) -> Result<Audio> {
    budget.admit_item(path)?;
    let limits = budget_limits(limits, budget);
    let audio = load(path, target_rate, &limits)?;
    budget.admit_audio(path, audio.seconds())?;
    Ok(audio)
}

fn budget_limits(limits: &AudioLimits, budget: &MediaBudget) -> AudioLimits {
    AudioLimits {
        max_seconds: limits.max_seconds.min(budget.audio_seconds_left()),
        ..*limits
    }
}

/// The shared path: probe, decode to mono, resample.
fn decode(
    source: Box<dyn MediaSource>,
    len: u64,
    ext: Option<&str>,
    path: &Path,
    target_rate: u32,
    limits: &AudioLimits,
) -> Result<Audio> {
    // Symphonia's demuxers panic on some malformed files (found by
    // tests/fuzz.rs): a panic in a third-party decoder is a bad file, not a
    // crash of the caller.
    let (rate, mono) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_mono(source, len, ext, path, limits)
    }))
    .unwrap_or_else(|_| {
        Err(MediaError::NotAudio {
            path: path.into(),
            reason: "the audio decoder crashed on this file".into(),
        })
    })?;
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

/// Refuse a sample rate or channel count no real recording has.
fn check_stream(path: &Path, rate: Option<u32>, channels: Option<usize>) -> Result<()> {
    let implausible = |reason: String| MediaError::ImplausibleAudio {
        path: path.into(),
        reason,
    };
    if let Some(r) = rate {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&r) {
            return Err(implausible(format!(
                "a sample rate of {r} Hz is outside {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz"
            )));
        }
    }
    if let Some(c) = channels {
        if !(1..=MAX_CHANNELS).contains(&c) {
            return Err(implausible(format!(
                "{c} channels is outside 1–{MAX_CHANNELS}"
            )));
        }
    }
    Ok(())
}

fn decode_mono(
    source: Box<dyn MediaSource>,
    len: u64,
    ext: Option<&str>,
    path: &Path,
    limits: &AudioLimits,
) -> Result<(u32, Vec<f32>)> {
    let not_audio = |reason: String| MediaError::NotAudio {
        path: path.into(),
        reason,
    };
    let implausible = |reason: String| MediaError::ImplausibleAudio {
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
    // The header's claims are checked before a decoder (and its buffers)
    // is planned from them.
    check_stream(
        path,
        params.sample_rate,
        params.channels.as_ref().map(|c| c.count()),
    )?;
    if let Some(n) = params.max_frames_per_packet.or(params.frames_per_block) {
        if n > MAX_FRAMES_PER_PACKET {
            return Err(implausible(format!(
                "packets of {n} frames (at most {MAX_FRAMES_PER_PACKET})"
            )));
        }
    }
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| not_audio(e.to_string()))?;

    // What the file's size allows, whatever its header says.
    let max_frames_by_size = len.saturating_mul(MAX_FRAMES_PER_BYTE).max(1);
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
        // Bounds come from the decoded data itself, not from the header.
        let spec = buf.spec();
        let channels = spec.channels().count();
        check_stream(path, Some(spec.rate()), Some(channels))?;
        if rate != 0 && spec.rate() != rate {
            return Err(implausible(format!(
                "the sample rate changes from {rate} Hz to {} Hz mid-stream",
                spec.rate()
            )));
        }
        rate = spec.rate();
        let samples = buf.samples_interleaved();
        let frames = (samples / channels) as u64;
        let total = mono.len() as u64 + frames;
        if total > max_frames_by_size {
            return Err(implausible(format!(
                "{len} bytes decode to more than {max_frames_by_size} frames"
            )));
        }
        if total as f64 > limits.max_seconds * f64::from(rate) {
            return Err(MediaError::AudioTooLong {
                path: path.into(),
                max_seconds: limits.max_seconds,
            });
        }
        interleaved.resize(samples, 0.0);
        buf.copy_to_slice_interleaved(&mut interleaved[..]);
        mono.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
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
        b.extend_from_slice(&rate.wrapping_mul(u32::from(channels) * 2).to_le_bytes());
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

    /// A WAV header claiming `rate` Hz over a few samples of data.
    fn lying_wav(rate: u32, channels: u16) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.wav");
        let frames: Vec<Vec<i16>> = (0..8).map(|i| vec![i; channels as usize]).collect();
        wav(&p, rate, channels, &frames);
        std::fs::read(&p).unwrap()
    }

    #[test]
    fn implausible_rates_and_channels_are_refused_before_decoding() {
        for (rate, channels) in [(4_294_967_291, 1), (999, 1), (500_000, 2), (16_000, 0)] {
            let bytes = lying_wav(rate, channels);
            let e =
                load_bytes(bytes, Some("wav"), "x", 16_000, &AudioLimits::default()).unwrap_err();
            assert!(
                matches!(
                    e,
                    MediaError::ImplausibleAudio { .. } | MediaError::NotAudio { .. }
                ),
                "{rate} Hz × {channels}: {e:?}"
            );
        }
        let e = load_bytes(
            lying_wav(4_294_967_291, 1),
            None,
            "x",
            16_000,
            &Default::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "IMPLAUSIBLE_AUDIO", "{e}");
        assert!(e.to_string().contains("4294967291 Hz"), "{e}");
        // The top of the plausible range still decodes.
        let ok = load_bytes(
            lying_wav(384_000, 8),
            None,
            "x",
            16_000,
            &Default::default(),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn a_request_budget_caps_the_seconds_and_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.wav");
        let frames: Vec<Vec<i16>> = sine(8_000, 200.0, 1.0)
            .into_iter()
            .map(|s| vec![s])
            .collect();
        wav(&p, 8_000, 1, &frames);
        let mut budget = MediaBudget::new(super::super::budget::RequestLimits {
            max_media: 3,
            max_total_pixels: 0,
            max_total_audio_seconds: 1.5,
        });
        load_counted(&p, 16_000, &AudioLimits::default(), &mut budget).unwrap();
        assert!(matches!(
            load_counted(&p, 16_000, &AudioLimits::default(), &mut budget),
            Err(MediaError::AudioTooLong { .. })
        ));
    }

    /// A WAV the fuzzer found that makes symphonia's RIFF reader panic.
    #[test]
    fn a_wav_that_panics_the_demuxer_is_refused_as_not_audio() {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/fixtures/fuzz-regressions/audio-riff-panic.wav"),
        )
        .unwrap();
        let err = load_bytes(bytes, None, "x.wav", 16_000, &AudioLimits::default()).unwrap_err();
        assert!(
            matches!(err, MediaError::NotAudio { .. }),
            "a typed refusal, not a panic: {err}"
        );
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
