//! `/v1/embeddings`: the [`EmbeddingBackend`] seam, its implementation over
//! the document index's [`Embedder`] (local llama.cpp or a remote server),
//! and the request checks and response shaping.
//!
//! Threading: embedders block, so [`LocalEmbeddings`] runs them on tokio's
//! blocking pool; the embedder serialises work on its own thread.

use std::sync::Arc;

use super::error::ApiError;
use super::BoxFuture;
use crate::openai::{EmbeddingData, EmbeddingRequest, EmbeddingResponse, EmbeddingVector, Usage};
use crate::rag::{Embedded, Embedder, Overflow, RagError};

/// Most inputs in one request (OpenAI's own limit).
pub const MAX_INPUTS: usize = 2048;

/// The seam for `/v1/embeddings`: anything that turns texts into vectors.
/// Without one the route answers 501.
pub trait EmbeddingBackend: Send + Sync + 'static {
    /// The id shown in `/v1/models` and in responses.
    fn model_id(&self) -> &str;
    /// Length of every vector.
    fn dimension(&self) -> usize;
    /// One vector per input, in order, and the tokens evaluated. Inputs
    /// longer than the model's window are refused, never cut.
    fn embed(&self, inputs: Vec<String>) -> BoxFuture<'_, Result<Embedded, RagError>>;
}

/// An [`Embedder`] served over HTTP under a client-facing id (the model
/// file's stem rather than the index's internal id).
pub struct LocalEmbeddings {
    embedder: Arc<dyn Embedder>,
    id: String,
}

impl LocalEmbeddings {
    /// Serve `embedder` as model `id`.
    pub fn new(embedder: Arc<dyn Embedder>, id: impl Into<String>) -> Self {
        Self {
            embedder,
            id: id.into(),
        }
    }
}

impl EmbeddingBackend for LocalEmbeddings {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.embedder.dimension()
    }

    fn embed(&self, inputs: Vec<String>) -> BoxFuture<'_, Result<Embedded, RagError>> {
        let embedder = self.embedder.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let texts: Vec<&str> = inputs.iter().map(String::as_str).collect();
                embedder.embed_counted(&texts, Overflow::Reject)
            })
            .await
            .map_err(|_| RagError::EmbedderStopped)?
        })
    }
}

/// Check a request: texts only, 1..=[`MAX_INPUTS`] of them, none empty, a
/// known encoding, no other dimension. Returns the texts and whether to
/// answer in base64.
///
/// # Errors
/// A 400 naming what is wrong.
pub fn validate(req: EmbeddingRequest, dimension: usize) -> Result<(Vec<String>, bool), ApiError> {
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_encoding_format",
                format!("encoding_format must be \"float\" or \"base64\", not {other:?}"),
            ))
        }
    };
    if let Some(d) = req.dimensions {
        if d as usize != dimension {
            return Err(ApiError::bad_request(
                "unsupported_dimensions",
                format!("this model gives {dimension}-dimensional vectors; dimensions={d} is not supported"),
            ));
        }
    }
    let inputs = req.input.into_texts().ok_or_else(|| {
        ApiError::bad_request(
            "unsupported_input",
            "token-id input is not supported; send text",
        )
    })?;
    if inputs.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_input",
            "input must not be empty",
        ));
    }
    if inputs.len() > MAX_INPUTS {
        return Err(ApiError::bad_request(
            "too_many_inputs",
            format!(
                "{} inputs in one request; at most {MAX_INPUTS} are allowed",
                inputs.len()
            ),
        ));
    }
    if let Some(i) = inputs.iter().position(|t| t.is_empty()) {
        return Err(ApiError::bad_request(
            "invalid_input",
            format!("input {i} is an empty string"),
        ));
    }
    Ok((inputs, base64))
}

/// The response body for `embedded` vectors of `model`.
pub fn response(model: &str, embedded: Embedded, base64: bool) -> EmbeddingResponse {
    let tokens = embedded.tokens as u64;
    EmbeddingResponse {
        object: "list".into(),
        model: model.to_string(),
        data: embedded
            .vectors
            .into_iter()
            .enumerate()
            .map(|(index, v)| EmbeddingData {
                object: "embedding".into(),
                index: index as u32,
                embedding: EmbeddingVector::encode(v, base64),
            })
            .collect(),
        usage: Usage::new(tokens, 0),
    }
}

impl From<RagError> for ApiError {
    fn from(e: RagError) -> Self {
        match e {
            RagError::InputTooLong { .. } => Self::bad_request("input_too_long", e.to_string()),
            RagError::InvalidRequest(_) => Self::bad_request("invalid_input", e.to_string()),
            RagError::Embedding(inner) => inner.into(),
            RagError::EmbedderStopped => Self::unavailable("embedder_stopped", e.to_string()),
            other => Self::internal(format!("embedding failed: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::EmbeddingInput;
    use axum::http::StatusCode;

    fn req(input: EmbeddingInput) -> EmbeddingRequest {
        EmbeddingRequest {
            model: None,
            input,
            encoding_format: None,
            dimensions: None,
            user: None,
        }
    }

    #[test]
    fn token_ids_empty_strings_and_other_dimensions_are_400() {
        let e = validate(req(EmbeddingInput::Tokens(vec![1, 2])), 4).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::BAD_REQUEST, "unsupported_input")
        );
        let e = validate(
            req(EmbeddingInput::Many(vec!["a".into(), String::new()])),
            4,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_input");
        let e = validate(
            EmbeddingRequest {
                dimensions: Some(3),
                ..req(EmbeddingInput::One("a".into()))
            },
            4,
        )
        .unwrap_err();
        assert_eq!(e.code, "unsupported_dimensions");
        let many = vec!["x".to_string(); MAX_INPUTS + 1];
        assert_eq!(
            validate(req(EmbeddingInput::Many(many)), 4)
                .unwrap_err()
                .code,
            "too_many_inputs"
        );
    }

    #[test]
    fn base64_is_little_endian_f32_and_round_trips() {
        let body = response(
            "m",
            Embedded {
                vectors: vec![vec![1.0, -0.5]],
                tokens: 3,
            },
            true,
        );
        let EmbeddingVector::Base64(s) = &body.data[0].embedding else {
            panic!("base64 expected")
        };
        assert_eq!(s, "AACAPwAAAL8=");
        assert_eq!(
            body.data[0].embedding.clone().into_floats().unwrap(),
            vec![1.0, -0.5]
        );
        assert_eq!((body.usage.prompt_tokens, body.usage.total_tokens), (3, 3));
    }
}
