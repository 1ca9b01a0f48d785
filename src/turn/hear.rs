//! How a spoken question reaches the model: decided once here for every
//! front end (`listen`, push-to-talk in the app, voice turns).
//!
//! A model with audio input hears the clip itself. A model without one
//! hears Whisper's transcript instead (the `omnidesk-whisper` helper: a
//! Whisper model cannot be linked beside llama.cpp, both carry ggml). And
//! when a transcript is wanted from a model that hears, it is asked of the
//! model itself, as llama.cpp's server does for `/v1/audio/transcriptions`.

use std::path::{Path, PathBuf};

use crate::chat::{ChatMessage, Role};
use crate::engine::{
    Capabilities, EngineError, EngineHandle, GenerateRequest, SamplingParams, DEFAULT_AUDIO_RATE,
};
use crate::media::{Audio, Media};

/// How a spoken question is heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hearing {
    /// The clip goes to the model as audio, recorded at this rate.
    Native { rate: u32 },
    /// Whisper (this ggml model file) transcribes the clip at 16 kHz; the
    /// transcript is the question and no audio is sent.
    Whisper { model: PathBuf },
    /// Neither: the model has no audio input and no Whisper model is set.
    Deaf,
}

impl Hearing {
    /// The one rule: native audio when the model has an audio projector,
    /// else Whisper when a model for it is configured.
    pub fn decide(caps: &Capabilities, whisper_model: Option<&Path>) -> Self {
        match (caps.audio_sample_rate.filter(|_| caps.audio), whisper_model) {
            (Some(rate), _) => Hearing::Native { rate },
            (None, Some(model)) => Hearing::Whisper {
                model: model.to_path_buf(),
            },
            (None, None) => Hearing::Deaf,
        }
    }

    /// The rate to record at for this way of hearing.
    pub fn record_rate(&self) -> u32 {
        match self {
            Hearing::Native { rate } => *rate,
            Hearing::Whisper { .. } | Hearing::Deaf => DEFAULT_AUDIO_RATE,
        }
    }
}

/// The instruction sent with the clip.
pub const TRANSCRIBE_PROMPT: &str =
    "Transcribe this audio clip exactly, in its own language. Reply with the transcript only.";

/// Ask the loaded model to transcribe `clip` (at most `max_tokens`).
///
/// # Errors
/// `UnsupportedMedia` for a model without audio input, or any engine error.
pub async fn transcribe(
    engine: &EngineHandle,
    clip: &Audio,
    max_tokens: u32,
) -> Result<String, EngineError> {
    let request = GenerateRequest {
        messages: vec![ChatMessage::with_media(
            Role::User,
            TRANSCRIBE_PROMPT,
            vec![Media::Audio(clip.clone())],
        )],
        sampling: SamplingParams {
            temperature: 0.0,
            seed: Some(0),
            ..Default::default()
        },
        max_tokens,
        stop: Vec::new(),
    };
    let outcome = engine.complete(request).await?;
    Ok(outcome.text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(audio: bool, rate: Option<u32>) -> Capabilities {
        Capabilities {
            vision: false,
            audio,
            audio_sample_rate: rate,
        }
    }

    #[test]
    fn a_model_that_hears_gets_the_audio_even_with_whisper_set() {
        let w = Path::new("/m/ggml-tiny.en.bin");
        let h = Hearing::decide(&caps(true, Some(24_000)), Some(w));
        assert_eq!(h, Hearing::Native { rate: 24_000 });
        assert_eq!(h.record_rate(), 24_000);
    }

    #[test]
    fn a_model_without_audio_hears_through_whisper_or_not_at_all() {
        let w = Path::new("/m/ggml-tiny.en.bin");
        // A rate without the audio flag is not audio input.
        let h = Hearing::decide(&caps(false, Some(16_000)), Some(w));
        assert_eq!(h, Hearing::Whisper { model: w.into() });
        assert_eq!(h.record_rate(), 16_000);
        assert_eq!(Hearing::decide(&caps(false, None), None), Hearing::Deaf);
        assert_eq!(caps(false, None).audio_rate(), DEFAULT_AUDIO_RATE);
    }
}
