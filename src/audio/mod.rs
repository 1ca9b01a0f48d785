//! The microphone: input devices, push-to-talk recording with a live
//! level meter, and clips ready for the model (mono f32 at its audio rate,
//! silence trimmed).
//!
//! Threading: every recording owns a dedicated capture thread (cpal
//! streams are not `Send` everywhere); the public types are `Send` and
//! talk to it over channels. Nothing here panics on device trouble: every
//! failure is an [`AudioError`].

pub mod capture;
pub mod devices;
pub mod echo;
pub mod endpoint;
pub mod error;
pub mod listener;
pub mod trim;
pub mod vad;
pub mod whisper;

use std::path::Path;

pub use capture::{Clip, Recorder, RecorderSettings, Recording, RecordingEvent, StopReason};
pub use devices::{list_input_devices, InputDevice};
pub use echo::{render_tap, RenderFeed, RenderTap};
pub use endpoint::EndpointSettings;
pub use error::{AudioError, Result};
pub use listener::{ListenEvent, Listener, ListenerSettings, TalkTimings};
pub use trim::{Level, TrimSettings};
pub use whisper::{Transcript, Whisper};

use crate::media::Audio;

/// Keep a recorded question as a WAV under `dir` (named as
/// [`crate::media::attach::captured_path`] does), so its message can be
/// replayed.
///
/// # Errors
/// `Write` when the directory or file cannot be written.
pub fn keep_recording(dir: &Path, audio: &Audio) -> Result<std::path::PathBuf> {
    let path = crate::media::attach::captured_path(dir, &audio.hash, "wav").map_err(|e| {
        AudioError::Write {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    write_wav(audio, &path)?;
    Ok(path)
}

/// Write `audio` as a 16-bit PCM mono WAV, e.g. to keep a recorded
/// question with its message.
///
/// # Errors
/// `Write` when the file cannot be created or written.
pub fn write_wav(audio: &Audio, path: &Path) -> Result<()> {
    let err = |reason: String| AudioError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(|e| err(e.to_string()))?;
    for &s in audio.samples.iter() {
        let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
        w.write_sample(v).map_err(|e| err(e.to_string()))?;
    }
    w.finalize().map_err(|e| err(e.to_string()))
}
