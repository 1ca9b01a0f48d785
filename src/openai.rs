//! The OpenAI chat-completions wire format, shared by both directions: the
//! `serve` module reads requests and writes responses with these types, and
//! the remote backend writes requests and reads responses with the same
//! ones, so the two can never drift apart.
//!
//! Plain data only: no I/O, no threads. Fields other servers may leave out
//! default instead of failing, because llama.cpp's `llama-server`, vLLM and
//! Ollama each omit different ones.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};

/// `POST /v1/chat/completions` body. Unknown fields are ignored, as OpenAI's
/// own clients send many optional ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub messages: Vec<RequestMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// The newer name for `max_tokens`; wins when both are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Number of choices; only 1 is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
}

/// `stop`: one string or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    /// The stop strings as a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// One message of the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestMessage {
    pub role: String,
    /// Absent or null for assistant turns that only called tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
}

/// A message's content: plain text or a list of typed parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for MessageContent {
    /// By hand rather than `untagged`, so a bad part is reported precisely
    /// ("unknown variant `video`") instead of "did not match any variant".
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(MessageContent::Text(s)),
            serde_json::Value::Array(parts) => parts
                .into_iter()
                .map(|p| serde_json::from_value(p).map_err(D::Error::custom))
                .collect::<Result<_, _>>()
                .map(MessageContent::Parts),
            other => Err(D::Error::custom(format!(
                "content must be a string or an array of parts, not {}",
                json_kind(&other)
            ))),
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// One typed part of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    InputAudio { input_audio: InputAudio },
}

/// `image_url`: only `data:` URLs are accepted by our server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `input_audio`: base64 bytes plus their container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputAudio {
    pub data: String,
    pub format: String,
}

/// Token counts of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    /// How much of the prompt was already in the cache, as OpenAI reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// OpenAI's breakdown of the prompt tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens not evaluated again: reused from a kept slot.
    #[serde(default)]
    pub cached_tokens: u64,
}

impl Usage {
    /// Counts with the total filled in.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: None,
        }
    }

    /// The same, saying how many prompt tokens came from the cache.
    pub fn with_cached(mut self, cached_tokens: u64) -> Self {
        self.prompt_tokens_details = Some(PromptTokensDetails { cached_tokens });
        self
    }
}

/// A non-streamed answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletion {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One choice of a non-streamed answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub index: u32,
    pub message: ResponseMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant's message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
}

/// One `data:` event of a streamed answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Present (and only non-null on the last chunk) when the request asked
    /// for `stream_options.include_usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One choice of a chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// What a chunk adds to the message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub object: String,
    pub data: Vec<ModelObject>,
}

/// One model of the list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelObject {
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub owned_by: String,
}

/// `{"error": {...}}`, OpenAI's error envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error itself. `code` is a string in OpenAI's API but a number in
/// some servers' (llama-server sends the HTTP status), so it is kept raw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub code: Option<serde_json::Value>,
}

/// `POST /v1/embeddings` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub input: EmbeddingInput,
    /// `float` (default) or `base64` (little-endian f32s; what the
    /// `openai` Python package asks for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    /// Requested vector length; only the model's own is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `input`: one text or several, or (OpenAI also allows) token ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
    /// Pre-tokenised input: one or several token id lists. Token ids are
    /// model-specific, so servers may refuse them.
    Tokens(Vec<u32>),
    ManyTokens(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// The texts as a list; `None` for token-id input.
    pub fn into_texts(self) -> Option<Vec<String>> {
        match self {
            EmbeddingInput::One(s) => Some(vec![s]),
            EmbeddingInput::Many(v) => Some(v),
            EmbeddingInput::Tokens(_) | EmbeddingInput::ManyTokens(_) => None,
        }
    }
}

/// `POST /v1/embeddings` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    #[serde(default)]
    pub object: String,
    pub data: Vec<EmbeddingData>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub usage: Usage,
}

/// One vector, in input order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddingData {
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub index: u32,
    pub embedding: EmbeddingVector,
}

/// A vector as JSON numbers, or base64 of its little-endian f32 bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

impl EmbeddingVector {
    /// Encode `v` as `encoding_format` asks.
    pub fn encode(v: Vec<f32>, base64: bool) -> Self {
        if !base64 {
            return Self::Float(v);
        }
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Self::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// The numbers, decoding base64.
    ///
    /// # Errors
    /// A message when the base64 is invalid or not whole f32s.
    pub fn into_floats(self) -> Result<Vec<f32>, String> {
        match self {
            Self::Float(v) => Ok(v),
            Self::Base64(s) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|e| format!("bad base64 embedding: {e}"))?;
                if bytes.len() % 4 != 0 {
                    return Err("base64 embedding is not a whole number of f32s".into());
                }
                Ok(bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_text_or_parts() {
        let m: RequestMessage = serde_json::from_str(r#"{"role":"user","content":"hi"}"#).unwrap();
        assert_eq!(m.content, Some(MessageContent::Text("hi".into())));
        let m: RequestMessage = serde_json::from_str(
            r#"{"role":"user","content":[{"type":"text","text":"a"},
                {"type":"image_url","image_url":{"url":"data:x"}},
                {"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}"#,
        )
        .unwrap();
        let Some(MessageContent::Parts(parts)) = m.content else {
            panic!("parts expected")
        };
        assert_eq!(parts.len(), 3);
        let m: RequestMessage =
            serde_json::from_str(r#"{"role":"assistant","content":null}"#).unwrap();
        assert!(m.content.is_none());
    }

    #[test]
    fn an_unknown_part_is_named_in_the_error() {
        let e = serde_json::from_str::<RequestMessage>(
            r#"{"role":"user","content":[{"type":"video_url","video_url":{}}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("video_url"), "{e}");
    }

    #[test]
    fn stop_is_a_string_or_a_list() {
        let r: ChatCompletionRequest =
            serde_json::from_str(r#"{"messages":[],"stop":"x"}"#).unwrap();
        assert_eq!(r.stop.map(Stop::into_vec), Some(vec!["x".to_string()]));
        let r: ChatCompletionRequest =
            serde_json::from_str(r#"{"messages":[],"stop":["x","y"]}"#).unwrap();
        assert_eq!(r.stop.map(Stop::into_vec).map(|v| v.len()), Some(2));
    }

    #[test]
    fn numeric_error_codes_are_accepted() {
        let e: ErrorBody =
            serde_json::from_str(r#"{"error":{"message":"m","type":"t","code":500}}"#).unwrap();
        assert_eq!(e.error.code, Some(serde_json::json!(500)));
    }
}
