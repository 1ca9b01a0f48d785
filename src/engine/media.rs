//! The multimodal projector (llama.cpp's mtmd) on the engine thread: turns
//! decoded images and audio into chunks the model can evaluate, and keeps
//! those chunks by content hash so a follow-up turn never preprocesses the
//! same picture twice. Encoder output is kept too ([`EncoderCache`]), so a
//! picture whose KV cells were lost is decoded again without re-encoding.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::mtmd::{
    mtmd_default_marker, MtmdBitmap, MtmdContext, MtmdContextParams, MtmdInputChunkType,
    MtmdInputChunks, MtmdInputText,
};

use super::encoder_cache::{EncoderCache, Key};
use super::error::{EngineError, Result};
use super::mtmd_raw::Raw;
use crate::gguf;
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

/// The rate audio is resampled to for a model that does not say (Whisper's).
pub const DEFAULT_AUDIO_RATE: u32 = 16_000;

impl Capabilities {
    /// The rate audio attachments are resampled to for this model (history
    /// reload, attachments, recordings): the projector's, else 16 kHz.
    pub fn audio_rate(&self) -> u32 {
        self.audio_sample_rate.unwrap_or(DEFAULT_AUDIO_RATE)
    }
}

/// An mtmd context plus its chunk and encoder-output caches.
pub(crate) struct Projector {
    ctx: MtmdContext,
    chunks: HashMap<ContentHash, MtmdInputChunks>,
    /// `None` when configured off (0 bytes): llama.cpp's own path runs.
    encoder: Option<EncoderCache>,
    pub(crate) caps: Capabilities,
}

/// What evaluating one image or clip took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct MediaEval {
    /// Next free position (M-RoPE media advance it by less than their size).
    pub next_pos: i32,
    /// Media chunks run through the encoder.
    pub encoded: usize,
    /// Media chunks decoded from cached encoder output.
    pub cached: usize,
    /// Time in the encoder alone. Without the cache, llama.cpp's helper
    /// encodes and decodes in one call, so this includes the decoding.
    pub encode_ms: f64,
}

/// Whether to look up and fill the encoder-output cache.
/// Where media are decoded: a sequence of the context and the position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub seq: i32,
    pub pos: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncoderUse {
    Cached,
    /// Always run the encoder (benchmarks measure it).
    Fresh,
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
        encoder_cache_bytes: usize,
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
            encoder: (encoder_cache_bytes > 0).then(|| EncoderCache::new(encoder_cache_bytes)),
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

    /// Encode `media` (or take its encoder output from the cache) and
    /// decode its embeddings at `n_past`.
    pub(crate) fn eval(
        &mut self,
        media: &Media,
        ctx: &mut LlamaContext<'_>,
        at: Position,
        n_batch: u32,
        logits_last: bool,
        encoder_use: EncoderUse,
    ) -> Result<MediaEval> {
        self.prepare(media)?;
        let hash = media.hash();
        let Self {
            ctx: mtmd,
            chunks,
            encoder,
            ..
        } = self;
        let chunks = chunks
            .get(&hash)
            .ok_or_else(|| EngineError::Decode("preprocessed media vanished".into()))?;
        let failed = |e: EngineError| match e {
            EngineError::Decode(m) => EngineError::Decode(format!("{}: {m}", media.kind())),
            other => other,
        };
        if let Some(cache) = encoder.as_mut() {
            let mut raw = Raw::new(mtmd, ctx);
            let cache = (encoder_use == EncoderUse::Cached).then_some(cache);
            return eval_chunks_cached(&mut raw, chunks, hash, cache, at, n_batch, logits_last)
                .map_err(failed);
        }
        // llama.cpp's own path: encoder and decoder in one call per chunk.
        let t = Instant::now();
        let next_pos = chunks
            .eval_chunks(
                mtmd,
                ctx,
                at.pos,
                at.seq,
                i32::try_from(n_batch).unwrap_or(512),
                logits_last,
            )
            .map_err(|e| EngineError::Decode(format!("{} encoding failed: {e}", media.kind())))?;
        Ok(MediaEval {
            next_pos,
            encoded: media_chunks(chunks),
            cached: 0,
            encode_ms: t.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// Encoder-output cache: entries and bytes held.
    pub(crate) fn encoder_cache_usage(&self) -> (usize, usize) {
        self.encoder
            .as_ref()
            .map_or((0, 0), |c| (c.len(), c.bytes()))
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

/// Media chunks (not marker text) in `chunks`.
fn media_chunks(chunks: &MtmdInputChunks) -> usize {
    (0..chunks.len())
        .filter_map(|i| chunks.get(i))
        .filter(|c| c.chunk_type() != MtmdInputChunkType::Text)
        .count()
}

/// `eval_chunks` chunk by chunk, taking each media chunk's encoder output
/// from `cache` when it is there and storing it when it was computed.
fn eval_chunks_cached(
    raw: &mut Raw<'_, '_>,
    chunks: &MtmdInputChunks,
    hash: ContentHash,
    mut cache: Option<&mut EncoderCache>,
    at: Position,
    n_batch: u32,
    logits_last: bool,
) -> Result<MediaEval> {
    let mut out = MediaEval {
        next_pos: at.pos,
        ..MediaEval::default()
    };
    let n = chunks.len();
    for i in 0..n {
        let chunk = chunks
            .get(i)
            .ok_or_else(|| EngineError::Decode("a media chunk vanished".into()))?;
        let pos = out.next_pos;
        if chunk.chunk_type() == MtmdInputChunkType::Text {
            out.next_pos =
                raw.eval_text(&chunk, pos, at.seq, n_batch, logits_last && i + 1 == n)?;
            continue;
        }
        let key = Key {
            media: hash,
            chunk: i,
        };
        let n_tokens = chunk.n_tokens();
        if let Some(embd) = cache.as_deref_mut().and_then(|c| c.get(&key, n_tokens)) {
            out.next_pos = raw.decode_embd(&chunk, embd, pos, at.seq, n_batch)?;
            out.cached += 1;
            continue;
        }
        let t = Instant::now();
        let mut embd = raw.encode(&chunk)?;
        out.encode_ms += t.elapsed().as_secs_f64() * 1000.0;
        out.encoded += 1;
        out.next_pos = raw.decode_embd(&chunk, &mut embd, pos, at.seq, n_batch)?;
        if let Some(c) = cache.as_deref_mut() {
            c.insert(key, embd, n_tokens);
        }
    }
    Ok(out)
}
