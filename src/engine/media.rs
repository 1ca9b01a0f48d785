//! The multimodal projector (llama.cpp's mtmd) on the engine thread: turns
//! decoded images and audio into chunks the model can evaluate, and keeps
//! those chunks by content hash so a follow-up turn never preprocesses the
//! same picture twice.

use std::collections::HashMap;
use std::path::Path;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::mtmd::{
    mtmd_default_marker, MtmdBitmap, MtmdContext, MtmdContextParams, MtmdInputChunkType,
    MtmdInputChunks, MtmdInputText,
};

use super::error::{EngineError, Result};
use super::gguf;
use crate::media::{ContentHash, Media};

/// Preprocessed media kept at most; plenty for one conversation.
const CHUNK_CACHE_ENTRIES: usize = 64;

/// What the projector can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    pub vision: bool,
    pub audio: bool,
    /// Sample rate audio must arrive at (16 kHz for Whisper-style encoders).
    pub audio_sample_rate: Option<u32>,
}

/// An mtmd context plus its chunk cache.
pub(crate) struct Projector {
    ctx: MtmdContext,
    chunks: HashMap<ContentHash, MtmdInputChunks>,
    pub(crate) caps: Capabilities,
}

/// The placeholder that marks where media sit in rendered prompt text.
pub(crate) fn marker() -> &'static str {
    mtmd_default_marker()
}

impl Projector {
    /// Validate and load `path` for `model`.
    pub(crate) fn load(
        path: &Path,
        model: &LlamaModel,
        n_threads: u32,
        use_gpu: bool,
    ) -> Result<Self> {
        let header = gguf::inspect(path)?;
        if !header.is_projector() {
            return Err(EngineError::ProjectorFailed {
                path: path.into(),
                reason: format!(
                    "this is a {} model, not a multimodal projector (mmproj)",
                    header.architecture
                ),
            });
        }
        let path_str = path.to_str().ok_or_else(|| EngineError::ProjectorFailed {
            path: path.into(),
            reason: "the path is not valid UTF-8".into(),
        })?;
        let params = MtmdContextParams {
            use_gpu,
            print_timings: false,
            n_threads: i32::try_from(n_threads).unwrap_or(4),
            ..MtmdContextParams::default()
        };
        let ctx = MtmdContext::init_from_file(path_str, model, &params).map_err(|e| {
            EngineError::ProjectorFailed {
                path: path.into(),
                reason: format!(
                    "llama.cpp refused it ({e}); is it the projector made for this model?"
                ),
            }
        })?;
        let caps = Capabilities {
            vision: ctx.support_vision(),
            audio: ctx.support_audio(),
            audio_sample_rate: ctx.get_audio_sample_rate(),
        };
        Ok(Self {
            ctx,
            chunks: HashMap::new(),
            caps,
        })
    }

    /// Refuse media the projector cannot take, before any work.
    pub(crate) fn check(caps: Option<&Capabilities>, media: &Media) -> Result<()> {
        let unsupported = |kind: &'static str, reason: String| {
            Err(EngineError::UnsupportedMedia { kind, reason })
        };
        match (media, caps) {
            (Media::Image(_), Some(c)) if c.vision => Ok(()),
            (Media::Image(_), _) => {
                unsupported("image", "the loaded model has no vision projector".into())
            }
            (Media::Audio(a), Some(c)) if c.audio => match c.audio_sample_rate {
                Some(rate) if rate != a.sample_rate => unsupported(
                    "audio",
                    format!("audio must be {rate} Hz, got {} Hz", a.sample_rate),
                ),
                _ => Ok(()),
            },
            (Media::Audio(_), _) => {
                unsupported("audio", "the loaded model has no audio projector".into())
            }
        }
    }

    /// KV cells `media` will take, wrapper tokens included (preprocessing
    /// it once).
    pub(crate) fn n_cells(&mut self, media: &Media) -> Result<usize> {
        self.prepare(media).map(MtmdInputChunks::total_tokens)
    }

    /// Tokens the encoder itself produces for `media` (without the text
    /// markers around it): the figure llama.cpp's own tools report.
    pub(crate) fn n_media_tokens(&mut self, media: &Media) -> Result<usize> {
        let chunks = self.prepare(media)?;
        Ok((0..chunks.len())
            .filter_map(|i| chunks.get(i))
            .filter(|c| c.chunk_type() != MtmdInputChunkType::Text)
            .map(|c| c.n_tokens())
            .sum())
    }

    /// Encode `media` and decode its embeddings at `n_past`; returns the
    /// next position (M-RoPE models advance by less than the token count).
    pub(crate) fn eval(
        &mut self,
        media: &Media,
        ctx: &mut LlamaContext<'_>,
        n_past: i32,
        n_batch: u32,
        logits_last: bool,
    ) -> Result<i32> {
        self.prepare(media)?;
        let chunks = self
            .chunks
            .get(&media.hash())
            .ok_or_else(|| EngineError::Decode("preprocessed media vanished".into()))?;
        chunks
            .eval_chunks(
                &mut self.ctx,
                ctx,
                n_past,
                0,
                i32::try_from(n_batch).unwrap_or(512),
                logits_last,
            )
            .map_err(|e| EngineError::Decode(format!("{} encoding failed: {e}", media.kind())))
    }

    fn prepare(&mut self, media: &Media) -> Result<&MtmdInputChunks> {
        let hash = media.hash();
        if !self.chunks.contains_key(&hash) {
            if self.chunks.len() >= CHUNK_CACHE_ENTRIES {
                self.chunks.clear();
            }
            let chunks = self.tokenize(media)?;
            self.chunks.insert(hash, chunks);
        }
        self.chunks
            .get(&hash)
            .ok_or_else(|| EngineError::Decode("preprocessed media vanished".into()))
    }

    fn tokenize(&self, media: &Media) -> Result<MtmdInputChunks> {
        let bitmap = match media {
            Media::Image(i) => MtmdBitmap::from_image_data(i.width, i.height, &i.rgb),
            Media::Audio(a) => MtmdBitmap::from_audio_data(&a.samples),
        }
        .map_err(|e| EngineError::InvalidRequest(format!("unusable {}: {e}", media.kind())))?;
        let text = MtmdInputText {
            text: marker().to_owned(),
            add_special: false,
            parse_special: true,
        };
        self.ctx.tokenize(text, &[&bitmap]).map_err(|e| {
            EngineError::InvalidRequest(format!("cannot preprocess the {}: {e}", media.kind()))
        })
    }
}
