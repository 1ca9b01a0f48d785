//! The llama.cpp calls behind the encoder-output cache that llama-cpp-2
//! 0.1.160 has no safe API for: copying the encoder's output out, and
//! decoding given embeddings into the context. Everything else goes
//! through llama-cpp-2. Engine thread only, like the contexts it borrows.
//!
//! Decoding uses llama.cpp's own `mtmd_helper_decode_image_chunk` (the
//! second half of what `mtmd_helper_eval_chunks` does after encoding), so
//! batching, M-RoPE positions and non-causal attention stay exactly
//! llama.cpp's; text chunks go through `mtmd_helper_eval_chunk_single`, as
//! in `eval_chunks`. A cached image is thus decoded bit for bit like a
//! freshly encoded one.
//!
//! The raw handles come from the `as_ptr()` accessors that the repository's
//! patched llama-cpp-2 adds (`patches/llama-cpp-2`, `[patch.crates-io]`).

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::mtmd::{MtmdContext, MtmdInputChunk, MtmdInputChunkType};
use llama_cpp_sys_2::{llama_context, mtmd_context};

use super::error::{EngineError, Result};

/// Both contexts, borrowed exclusively for as long as their raw handles
/// are in use.
pub(crate) struct Raw<'a, 'm> {
    mtmd: &'a mut MtmdContext,
    /// Only held: nothing else may use the context while its handle is.
    _lctx: &'a mut LlamaContext<'m>,
    mtmd_ptr: *mut mtmd_context,
    lctx_ptr: *mut llama_context,
}

impl<'a, 'm> Raw<'a, 'm> {
    /// Borrow both contexts for raw calls.
    pub(crate) fn new(mtmd: &'a mut MtmdContext, lctx: &'a mut LlamaContext<'m>) -> Self {
        let mtmd_ptr = mtmd.as_ptr();
        let lctx_ptr = lctx.as_ptr();
        Self {
            mtmd,
            _lctx: lctx,
            mtmd_ptr,
            lctx_ptr,
        }
    }

    /// Run the vision/audio encoder on `chunk` and copy its output:
    /// `n_tokens × n_embd` floats.
    ///
    /// # Errors
    /// `Decode` for a text chunk or when the encoder fails.
    pub(crate) fn encode(&mut self, chunk: &MtmdInputChunk<'_>) -> Result<Vec<f32>> {
        if chunk.chunk_type() == MtmdInputChunkType::Text {
            return Err(EngineError::Decode(
                "a text chunk has no encoder output".into(),
            ));
        }
        self.mtmd
            .encode_chunk(chunk)
            .map_err(|e| EngineError::Decode(format!("the encoder failed: {e}")))?;
        let len = self.embd_len(chunk)?;
        // SAFETY: the mtmd context is alive and exclusively ours (`&mut`).
        // After a successful `mtmd_encode_chunk` its output buffer holds
        // `n_embd_inp × n_tokens` floats of this chunk (mtmd.h documents the
        // size; mtmd_init refuses a projector whose width differs from the
        // model's `n_embd_inp`). It is copied out before any other call.
        let embd = unsafe {
            let p = llama_cpp_sys_2::mtmd_get_output_embd(self.mtmd_ptr);
            if p.is_null() {
                return Err(EngineError::Decode("the encoder produced no output".into()));
            }
            std::slice::from_raw_parts(p, len).to_vec()
        };
        Ok(embd)
    }

    /// Decode a media chunk's embeddings at `n_past`; returns the next
    /// position (M-RoPE media advance by less than their token count).
    ///
    /// # Errors
    /// `Decode` when `embd` does not match the chunk or llama.cpp fails.
    pub(crate) fn decode_embd(
        &mut self,
        chunk: &MtmdInputChunk<'_>,
        embd: &mut [f32],
        n_past: i32,
        seq: i32,
        n_batch: u32,
    ) -> Result<i32> {
        if chunk.chunk_type() == MtmdInputChunkType::Text {
            return Err(EngineError::Decode("a text chunk has no embeddings".into()));
        }
        let len = self.embd_len(chunk)?;
        if embd.len() != len {
            return Err(EngineError::Decode(format!(
                "cached embeddings hold {} floats, the chunk needs {len}",
                embd.len()
            )));
        }
        let chunk_ptr = chunk.as_ptr();
        let n_batch = batch_size(n_batch);
        let mut next = n_past;
        // SAFETY: both contexts are alive and exclusively borrowed; the chunk
        // is a media chunk of this projector (checked above, so the helper's
        // abort on a text chunk under M-RoPE cannot trigger) and outlives the
        // call; `embd` holds exactly `n_tokens × n_embd_inp` floats, which is
        // what the helper reads (it only reads them); `n_batch ≥ 1` as its
        // assert requires; no callback is passed.
        let rc = unsafe {
            llama_cpp_sys_2::mtmd_helper_decode_image_chunk(
                self.mtmd_ptr,
                self.lctx_ptr,
                chunk_ptr,
                embd.as_mut_ptr(),
                n_past,
                seq,
                n_batch,
                &raw mut next,
                None,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(EngineError::Decode(format!(
                "decoding the embeddings failed ({rc})"
            )));
        }
        Ok(next)
    }

    /// Decode a text chunk (the markers around media) at `n_past`, as
    /// `eval_chunks` does; returns the next position.
    ///
    /// # Errors
    /// `Decode` for a media chunk or when llama.cpp fails.
    pub(crate) fn eval_text(
        &mut self,
        chunk: &MtmdInputChunk<'_>,
        n_past: i32,
        seq: i32,
        n_batch: u32,
        logits_last: bool,
    ) -> Result<i32> {
        if chunk.chunk_type() != MtmdInputChunkType::Text {
            return Err(EngineError::Decode("not a text chunk".into()));
        }
        let chunk_ptr = chunk.as_ptr();
        // The helper adds the tokens it decodes to this value.
        let mut next = n_past;
        // SAFETY: both contexts are alive and exclusively borrowed, the text
        // chunk outlives the call and `n_batch ≥ 1` as the helper asserts.
        let rc = unsafe {
            llama_cpp_sys_2::mtmd_helper_eval_chunk_single(
                self.mtmd_ptr,
                self.lctx_ptr,
                chunk_ptr,
                n_past,
                seq,
                batch_size(n_batch),
                logits_last,
                &raw mut next,
            )
        };
        if rc != 0 {
            return Err(EngineError::Decode(format!(
                "decoding the media markers failed ({rc})"
            )));
        }
        Ok(next)
    }

    /// Floats of encoder output for `chunk`: its tokens × the model's
    /// input embedding width.
    fn embd_len(&self, chunk: &MtmdInputChunk<'_>) -> Result<usize> {
        // SAFETY: the context is alive; the model it returns lives as long
        // as the context (`LlamaContext<'m>` borrows it).
        let n_embd = unsafe {
            let model = llama_cpp_sys_2::llama_get_model(self.lctx_ptr);
            if model.is_null() {
                return Err(EngineError::Decode("the context has no model".into()));
            }
            llama_cpp_sys_2::llama_model_n_embd_inp(model)
        };
        let n_embd = usize::try_from(n_embd)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| EngineError::Decode(format!("bad embedding width {n_embd}")))?;
        chunk
            .n_tokens()
            .checked_mul(n_embd)
            .filter(|&n| n > 0)
            .ok_or_else(|| EngineError::Decode("bad media token count".into()))
    }
}

fn batch_size(n_batch: u32) -> i32 {
    i32::try_from(n_batch.max(1)).unwrap_or(i32::MAX)
}
