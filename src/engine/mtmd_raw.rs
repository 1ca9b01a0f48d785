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
//! llama-cpp-2 keeps its raw handles crate-private. Their one public view
//! is the `Debug` output (`LlamaContext { context: 0x… }`,
//! `MtmdContext { context: 0x… }`, `MtmdInputChunk { chunk: 0x…, … }`),
//! which prints the pointer itself; [`Raw::new`] reads it back from there
//! instead of guessing struct layouts. llama-cpp-2 is pinned with `=` in
//! Cargo.toml: a version bump must re-check these formats (the unit test
//! below pins the format, tests/multimodal.rs the behaviour). When a handle
//! cannot be read, callers fall back to `eval_chunks` without the cache.

use std::fmt::Debug;
use std::ptr::NonNull;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::mtmd::{MtmdContext, MtmdInputChunk, MtmdInputChunkType};
use llama_cpp_sys_2::{llama_context, mtmd_context, mtmd_input_chunk};

use super::error::{EngineError, Result};

/// Both contexts, borrowed exclusively for as long as their raw handles
/// are in use.
pub(crate) struct Raw<'a, 'm> {
    mtmd: &'a mut MtmdContext,
    /// Only held: nothing else may use the context while its handle is.
    _lctx: &'a mut LlamaContext<'m>,
    mtmd_ptr: NonNull<mtmd_context>,
    lctx_ptr: NonNull<llama_context>,
}

impl<'a, 'm> Raw<'a, 'm> {
    /// `None` when a handle cannot be read (another llama-cpp-2 `Debug`
    /// format); the caller then uses llama-cpp-2's safe path.
    pub(crate) fn new(mtmd: &'a mut MtmdContext, lctx: &'a mut LlamaContext<'m>) -> Option<Self> {
        let mtmd_ptr = handle(&*mtmd, "context")?;
        let lctx_ptr = handle(&*lctx, "context")?;
        Some(Self {
            mtmd,
            _lctx: lctx,
            mtmd_ptr,
            lctx_ptr,
        })
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
            let p = llama_cpp_sys_2::mtmd_get_output_embd(self.mtmd_ptr.as_ptr());
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
        let chunk_ptr = chunk_handle(chunk)?;
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
                self.mtmd_ptr.as_ptr(),
                self.lctx_ptr.as_ptr(),
                chunk_ptr,
                embd.as_mut_ptr(),
                n_past,
                0,
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
        n_batch: u32,
        logits_last: bool,
    ) -> Result<i32> {
        if chunk.chunk_type() != MtmdInputChunkType::Text {
            return Err(EngineError::Decode("not a text chunk".into()));
        }
        let chunk_ptr = chunk_handle(chunk)?;
        // The helper adds the tokens it decodes to this value.
        let mut next = n_past;
        // SAFETY: both contexts are alive and exclusively borrowed, the text
        // chunk outlives the call and `n_batch ≥ 1` as the helper asserts.
        let rc = unsafe {
            llama_cpp_sys_2::mtmd_helper_eval_chunk_single(
                self.mtmd_ptr.as_ptr(),
                self.lctx_ptr.as_ptr(),
                chunk_ptr,
                n_past,
                0,
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
            let model = llama_cpp_sys_2::llama_get_model(self.lctx_ptr.as_ptr());
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

fn chunk_handle(chunk: &MtmdInputChunk<'_>) -> Result<*const mtmd_input_chunk> {
    handle(chunk, "chunk")
        .map(|p: NonNull<mtmd_input_chunk>| p.as_ptr().cast_const())
        .ok_or_else(|| EngineError::Decode("cannot read the media chunk's handle".into()))
}

/// The pointer in field `field` of `value`'s `Debug` output.
fn handle<T>(value: &impl Debug, field: &str) -> Option<NonNull<T>> {
    let address = address_in(&format!("{value:?}"), field)?;
    NonNull::new(address as *mut T)
}

/// Parses `field: 0x1234abcd` out of a `Debug` string.
fn address_in(debug: &str, field: &str) -> Option<usize> {
    let pattern = format!("{field}: 0x");
    let start = debug.find(&pattern)? + pattern.len();
    let hex: String = debug[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    usize::from_str_radix(&hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use llama_cpp_2::mtmd::MtmdInputChunks;

    #[test]
    fn an_address_is_read_from_its_field() {
        let s = "MtmdInputChunk { chunk: 0x5581f2a0, owned: false, phantom: PhantomData<x> }";
        assert_eq!(address_in(s, "chunk"), Some(0x5581_f2a0));
        assert_eq!(
            address_in("LlamaContext { context: 0xff }", "context"),
            Some(0xff)
        );
    }

    #[test]
    fn a_missing_or_malformed_field_gives_none() {
        assert_eq!(address_in("LlamaContext { .. }", "context"), None);
        assert_eq!(address_in("X { context: 0x }", "context"), None);
        assert_eq!(address_in("X { context: 12 }", "context"), None);
    }

    /// Pins llama-cpp-2's `Debug` format for its handles (all share one
    /// pointer wrapper): an empty chunk list is the one that needs no model.
    #[test]
    fn llama_cpp_2_prints_its_handles_as_addresses() {
        let chunks = MtmdInputChunks::new();
        let p: NonNull<llama_cpp_sys_2::mtmd_input_chunks> =
            handle(&chunks, "chunks").expect("an address in the Debug output");
        // SAFETY: the address was just read from a live chunk list.
        let n = unsafe { llama_cpp_sys_2::mtmd_input_chunks_size(p.as_ptr()) };
        assert_eq!(n, 0);
    }
}
