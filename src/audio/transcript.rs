//! What was heard, asked of the omni model itself — llama.cpp's server
//! does the same for `/v1/audio/transcriptions`. A Whisper model cannot be
//! linked beside llama.cpp (both carry ggml), and a model with audio input
//! already understands the clip. Runs as a separate short, greedy
//! generation on the engine thread.

use crate::chat::{ChatMessage, Role};
use crate::engine::{EngineError, EngineHandle, GenerateRequest, SamplingParams};
use crate::media::{Audio, Media};

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
