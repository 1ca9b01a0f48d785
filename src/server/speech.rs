//! Speech in the API, in OpenAI's shapes: `POST /v1/audio/transcriptions`
//! (a multipart upload heard by the loaded model when it has audio input,
//! else by Whisper) and `POST /v1/audio/speech` (Piper or espeak-ng,
//! streamed sentence by sentence as WAV or raw PCM). Both sit behind the
//! same token, body limit, body timeout and request slots as the chat route.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::error::ApiError;
use super::routes::{read_body_timed, AppState};
use crate::audio::{AudioError, Whisper};
use crate::engine::EngineError;
use crate::media::audio::{self as audio_media, AudioLimits};
use crate::tts::{choose_speaker, PiperPaths, Speaker, TtsError, VoiceEngine};
use crate::turn::hear::{self, Hearing};

/// OpenAI's speech rate; every sentence is resampled to it so a stream
/// has one rate whichever voice spoke it.
pub const SPEECH_RATE: u32 = 24_000;
/// OpenAI's limit on `input`.
pub const MAX_SPEECH_CHARS: usize = 4096;

/// How the server hears and speaks.
#[derive(Clone, Default)]
pub struct SpeechOptions {
    /// Whisper model for transcriptions when the chat model has no audio input.
    pub whisper_model: Option<PathBuf>,
    /// The voice for `/v1/audio/speech`; `None` answers 501.
    pub voice: Option<VoiceSetup>,
}

/// Which voice speaks, and where Piper's files are.
#[derive(Clone)]
pub struct VoiceSetup {
    pub engine: VoiceEngine,
    pub piper: PiperPaths,
}

/// The routes' share of the state: the voice is loaded on first use
/// (Piper takes about a second), then kept.
pub(crate) struct Speech {
    options: SpeechOptions,
    speaker: OnceCell<Arc<dyn Speaker>>,
}

impl Speech {
    pub(crate) fn new(options: SpeechOptions) -> Self {
        Self {
            options,
            speaker: OnceCell::new(),
        }
    }

    async fn speaker(&self) -> Result<Arc<dyn Speaker>, ApiError> {
        let Some(voice) = self.options.voice.clone() else {
            return Err(ApiError::not_implemented(
                "speech_unavailable",
                "this server has no voice configured",
            ));
        };
        self.speaker
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || choose_speaker(voice.engine, &voice.piper))
                    .await
                    .map_err(|e| ApiError::internal(format!("loading the voice failed: {e}")))?
                    .map_err(tts_error)
            })
            .await
            .cloned()
    }
}

/// What a transcription answer looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TranscriptFormat {
    Json,
    Text,
    VerboseJson,
}

/// The multipart form of a transcription request (fields OpenAI defines
/// and this server does not use, e.g. `model` or `temperature`, are read
/// and ignored).
#[derive(Default)]
struct TranscriptionForm {
    file: Option<(String, Bytes)>,
    format: Option<String>,
    language: Option<String>,
}

/// `POST /v1/audio/transcriptions`.
pub(crate) async fn transcriptions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_multipart",
                "send the audio as multipart/form-data with a `file` field",
            )
        })?;
    let bytes = read_body_timed(body, &state).await?;
    let form = parse_form(bytes, boundary).await?;
    let format = match form.format.as_deref().unwrap_or("json") {
        "json" => TranscriptFormat::Json,
        "text" => TranscriptFormat::Text,
        "verbose_json" => TranscriptFormat::VerboseJson,
        other => {
            return Err(ApiError::bad_request(
                "unsupported_format",
                format!("response_format {other:?} is not offered: use json, text or verbose_json"),
            ))
        }
    };
    let (name, audio) = form.file.ok_or_else(|| {
        ApiError::bad_request(
            "missing_file",
            "the form has no `file` field with the audio",
        )
    })?;
    let hearing = Hearing::decide(
        &state.engine.info().capabilities,
        state.speech.options.whisper_model.as_deref(),
    );
    if hearing == Hearing::Deaf {
        return Err(ApiError::not_implemented(
            "transcription_unavailable",
            "the loaded model has no audio input and no Whisper model is configured \
             (`omnidesk serve --whisper-model PATH` or `[audio] whisper_model`)",
        ));
    }
    let slot = state
        .active
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::from(EngineError::Busy(state.max_active)))?;
    let clip = {
        let _decoding = state
            .decoding
            .acquire()
            .await
            .map_err(|_| ApiError::from(EngineError::Stopped))?;
        let rate = hearing.record_rate();
        tokio::task::spawn_blocking(move || {
            let hint = std::path::Path::new(&name)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_owned);
            audio_media::load_bytes(
                audio.to_vec(),
                hint.as_deref(),
                &name,
                rate,
                &AudioLimits::default(),
            )
        })
        .await
        .map_err(|e| ApiError::internal(format!("decoding the audio failed: {e}")))??
    };
    let seconds = clip.seconds();
    let (text, segments) = match hearing {
        Hearing::Native { .. } => {
            // About 3 words a second spoken; room for many more tokens.
            let max_tokens = (seconds * 12.0) as u32 + 64;
            let text = hear::transcribe(&state.engine, &clip, max_tokens.min(4096)).await?;
            (text, Vec::new())
        }
        Hearing::Whisper { model } => {
            let mut whisper = Whisper::new(model);
            if let Some(lang) = form.language.filter(|l| !l.trim().is_empty()) {
                whisper.language = lang;
            }
            let heard = tokio::task::spawn_blocking(move || whisper.transcribe(&clip))
                .await
                .map_err(|e| ApiError::internal(format!("Whisper failed: {e}")))?
                .map_err(audio_error)?;
            (heard.text.trim().to_string(), heard.segments)
        }
        Hearing::Deaf => unreachable!("refused above"),
    };
    drop(slot);
    Ok(match format {
        TranscriptFormat::Text => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        TranscriptFormat::Json => Json(serde_json::json!({ "text": text })).into_response(),
        TranscriptFormat::VerboseJson => {
            let segments: Vec<_> = segments
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    serde_json::json!({
                        "id": i,
                        "start": s.start_ms as f64 / 1000.0,
                        "end": s.end_ms as f64 / 1000.0,
                        "text": s.text,
                    })
                })
                .collect();
            Json(serde_json::json!({
                "task": "transcribe",
                "duration": seconds,
                "text": text,
                "segments": segments,
            }))
            .into_response()
        }
    })
}

/// The fields of a transcription form; the body is already bounded.
async fn parse_form(bytes: Bytes, boundary: String) -> Result<TranscriptionForm, ApiError> {
    let bad = |e: multer::Error| ApiError::bad_request("invalid_multipart", e.to_string());
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = TranscriptionForm::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "file" => {
                let name = field.file_name().unwrap_or("upload").to_string();
                form.file = Some((name, field.bytes().await.map_err(bad)?));
            }
            "response_format" => form.format = Some(field.text().await.map_err(bad)?),
            "language" => form.language = Some(field.text().await.map_err(bad)?),
            _ => {
                field.bytes().await.map_err(bad)?;
            }
        }
    }
    Ok(form)
}

/// `POST /v1/audio/speech`'s body.
#[derive(Debug, Deserialize)]
struct SpeechRequest {
    input: String,
    /// Accepted and ignored: the voice is the server's (OpenAI clients
    /// must send one of their names).
    #[serde(default)]
    #[allow(dead_code)]
    voice: Option<serde_json::Value>,
    #[serde(default)]
    response_format: Option<String>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    stream_format: Option<String>,
    // `model` and `instructions` are accepted and ignored.
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpeechFormat {
    Wav,
    Pcm,
}

/// `POST /v1/audio/speech`: 16-bit mono at 24 kHz, streamed as each
/// sentence is synthesized; a client that hangs up stops the synthesis.
pub(crate) async fn speech(
    State(state): State<AppState>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body_timed(body, &state).await?;
    let req: SpeechRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))?;
    let format = match req.response_format.as_deref().unwrap_or("wav") {
        "wav" => SpeechFormat::Wav,
        "pcm" => SpeechFormat::Pcm,
        other => {
            return Err(ApiError::bad_request(
                "unsupported_format",
                format!("response_format {other:?} is not offered: use wav or pcm"),
            ))
        }
    };
    if req.stream_format.as_deref().is_some_and(|f| f != "audio") {
        return Err(ApiError::bad_request(
            "unsupported_format",
            "stream_format must be \"audio\" (the audio itself, streamed)",
        ));
    }
    if req.speed.is_some_and(|s| (s - 1.0).abs() > 1e-6) {
        return Err(ApiError::bad_request(
            "unsupported_speed",
            "only speed 1.0 is offered",
        ));
    }
    let input = req.input.trim().to_string();
    if input.is_empty() {
        return Err(ApiError::bad_request("invalid_input", "input is empty"));
    }
    if input.chars().count() > MAX_SPEECH_CHARS {
        return Err(ApiError::bad_request(
            "input_too_long",
            format!("input is over {MAX_SPEECH_CHARS} characters"),
        ));
    }
    let speaker = state.speech.speaker().await?;
    let slot = state
        .active
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::from(EngineError::Busy(state.max_active)))?;
    let mut sentences = sentences(&input).into_iter();
    // The first sentence before answering, so a voice that fails says so
    // with a status code instead of an empty stream.
    let first = match sentences.next() {
        Some(s) => {
            let speaker = speaker.clone();
            tokio::task::spawn_blocking(move || pcm16(&*speaker, &s))
                .await
                .map_err(|e| ApiError::internal(format!("speech failed: {e}")))??
        }
        None => return Err(ApiError::bad_request("invalid_input", "input is empty")),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let head = match format {
        SpeechFormat::Wav => streaming_wav_header(SPEECH_RATE),
        SpeechFormat::Pcm => Vec::new(),
    };
    let rest: Vec<String> = sentences.collect();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut start = head;
        start.extend_from_slice(&first);
        if tx.blocking_send(Ok(Bytes::from(start))).is_err() {
            return;
        }
        for sentence in rest {
            let chunk = pcm16(&*speaker, &sentence)
                .map(Bytes::from)
                .map_err(|e| std::io::Error::other(e.message));
            let failed = chunk.is_err();
            // A send error means the client left: stop synthesizing.
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    let stream = tokio_stream_from(rx);
    let mut res = Response::new(Body::from_stream(stream));
    let mime = match format {
        SpeechFormat::Wav => "audio/wav",
        SpeechFormat::Pcm => "audio/pcm",
    };
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    Ok(res)
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `input` in sentences, as the narrator speaks them.
fn sentences(input: &str) -> Vec<String> {
    let mut splitter = crate::tts::SentenceSplitter::new();
    let mut out = splitter.push(input);
    out.extend(splitter.finish());
    out.retain(|s| !s.trim().is_empty());
    out
}

/// One sentence as 16-bit little-endian PCM at [`SPEECH_RATE`].
fn pcm16(speaker: &dyn Speaker, text: &str) -> Result<Vec<u8>, ApiError> {
    let pcm = speaker.synthesize(text).map_err(tts_error)?;
    let samples = crate::media::resample::resample(&pcm.samples, pcm.sample_rate, SPEECH_RATE)
        .map_err(|e| ApiError::internal(format!("resampling the speech failed: {e}")))?;
    let mut out = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// A WAV header for a stream of unknown length: the RIFF and data sizes
/// are the maximum, which players and decoders read as "until the end".
pub fn streaming_wav_header(rate: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h
}

fn tts_error(e: TtsError) -> ApiError {
    match e {
        TtsError::VoiceMissing { .. } | TtsError::RuntimeMissing { .. } => {
            ApiError::unavailable("voice_unavailable", e.to_string())
        }
        _ => ApiError::internal(e.to_string()),
    }
}

fn audio_error(e: AudioError) -> ApiError {
    match e {
        AudioError::WhisperMissing { .. } => {
            ApiError::unavailable("whisper_unavailable", e.to_string())
        }
        AudioError::Silent => ApiError::bad_request("silent_audio", e.to_string()),
        _ => ApiError::internal(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streaming_header_is_a_valid_pcm_wav_header() {
        let h = streaming_wav_header(24_000);
        assert_eq!(h.len(), 44);
        assert_eq!(&h[..4], b"RIFF");
        assert_eq!(&h[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes(h[24..28].try_into().unwrap()), 24_000);
        assert_eq!(u32::from_le_bytes(h[28..32].try_into().unwrap()), 48_000);
        assert_eq!(&h[36..40], b"data");
    }

    #[test]
    fn input_is_spoken_in_sentences() {
        let s = sentences("Hello there. How are you? Fine!");
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(sentences("   ").is_empty());
    }
}
