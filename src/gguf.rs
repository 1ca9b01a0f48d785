//! GGUF header validation in pure Rust.
//!
//! This module owns the decision "is this file safe to hand to llama.cpp?".
//! llama.cpp aborts the whole process (or misbehaves) on some malformed files,
//! so every model path is run through [`inspect`] first: it parses the GGUF
//! header, all metadata key/value pairs and all tensor infos with hard bounds,
//! never panics, never reads tensor data, and turns every problem into a typed,
//! user-readable [`GgufError`] that names the file.
//!
//! Beyond the format itself it checks what llama.cpp asserts on while
//! loading the vocabulary: every token text is distinct, special token ids
//! lie inside the vocabulary, `add_bos/eos/sep_token` name their token,
//! scores and token types match the token list, BPE merges are two parts;
//! and the sizes llama.cpp allocates from (counts, hyperparameters) are
//! plausible for the file. Projectors must be of a type mtmd knows, and
//! [`check_pairing`] refuses one made for a model of another width.
//!
//! Only the header is read through a buffered reader. The token list and
//! merges are read (about 40 ms for a 256k vocabulary); other large arrays
//! are skipped by seeking, so memory use stays small for multi-GB models.
//! [`inspect_bytes`] runs the same checks on bytes in memory (fuzzing).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const MAGIC: [u8; 4] = *b"GGUF";
const MAX_TENSORS: u64 = 1 << 20;
const MAX_KVS: u64 = 1 << 20;
const MAX_STRING: u64 = 1 << 24;
const MAX_ARRAY: u64 = 1 << 28;
const MAX_DIMS: u32 = 4;
/// ggml's `GGML_MAX_NAME` is 64 including the NUL terminator.
const MAX_TENSOR_NAME: usize = 63;
/// ggml has ~40 types today; leave headroom for newer llama.cpp builds but
/// reject ids that can only come from corruption.
const GGML_TYPE_LIMIT: u32 = 64;
/// Type ids ggml has removed (size 0 in ggml); llama.cpp refuses them.
const REMOVED_GGML_TYPES: &[u32] = &[4, 5, 31, 32, 33, 36, 37, 38];
const DEFAULT_ALIGNMENT: u64 = 32;
const TOKENS_KEY: &str = "tokenizer.ggml.tokens";
const MERGES_KEY: &str = "tokenizer.ggml.merges";
const DISPLAY_CHARS: usize = 80;
/// How many leading bytes are sniffed to explain a bad magic.
const SNIFF_LEN: u64 = 512;
/// Smallest encoding of one metadata pair: key length, a 1-byte key, type, 1-byte value.
const MIN_KV_BYTES: u64 = 8 + 1 + 4 + 1;
/// Smallest encoding of one tensor info: name length, 1-byte name, n_dims, one dim, type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 1 + 4 + 8 + 4 + 8;
/// Upper bounds for hyperparameters llama.cpp sizes allocations from; far
/// beyond any real model, low enough that an allocation cannot explode.
const METADATA_LIMITS: &[(&str, &str, u64)] = &[
    (".embedding_length", "embedding length", 1 << 20),
    (".block_count", "block count", 1 << 14),
    (".context_length", "context length", 1 << 27),
    (".feed_forward_length", "feed-forward length", 1 << 22),
    (".attention.head_count", "attention head count", 1 << 14),
    (
        ".attention.head_count_kv",
        "attention KV head count",
        1 << 14,
    ),
    (".expert_count", "expert count", 1 << 16),
    (".vocab_size", "vocabulary size", 1 << 24),
];
/// Projector types llama.cpp's mtmd knows (`PROJECTOR_TYPE_NAMES` in
/// `tools/mtmd/clip-impl.h`).
pub const KNOWN_PROJECTOR_TYPES: &[&str] = &[
    "mlp",
    "ldp",
    "ldpv2",
    "resampler",
    "adapter",
    "qwen2vl_merger",
    "qwen2.5vl_merger",
    "qwen3vl_merger",
    "ling3vl",
    "step3vl",
    "gemma3",
    "gemma3nv",
    "gemma3na",
    "gemma4v",
    "gemma4a",
    "gemma4uv",
    "gemma4ua",
    "phi4",
    "idefics3",
    "pixtral",
    "ultravox",
    "internvl",
    "llama4",
    "qwen2a",
    "qwen3a",
    "glma",
    "qwen2.5o",
    "voxtral",
    "meralion",
    "musicflamingo",
    "lfm2",
    "kimivl",
    "paddleocr",
    "lightonocr",
    "cogvlm",
    "janus_pro",
    "dots_ocr",
    "dots3note_v",
    "dots3note_a",
    "deepseekocr",
    "deepseekocr2",
    "deepseek4v",
    "lfm2a",
    "glm4v",
    "glm5v",
    "youtuvl",
    "yasa2",
    "kimik25",
    "nemotron_v2_vl",
    "exaone4_5",
    "hunyuanvl",
    "minicpmv4_6",
    "granite_speech",
    "mimovl",
    "minimax_m3",
    "granite4_vision",
    "mimo_audio",
    "parakeet",
    "qwen3tts_spkenc",
    "qwen3tts_gen",
    "pockettts_spkenc",
    "pockettts_gen",
    "muse-glimmer",
];

/// Architecture names from llama.cpp's `src/llama-arch.cpp` (`LLM_ARCH_NAMES`).
///
/// Includes names from recent llama.cpp releases too; a name the linked
/// llama.cpp does not know still fails later with a llama.cpp error, not an
/// abort. `clip` is the multimodal projector (mmproj) architecture.
pub const KNOWN_ARCHITECTURES: &[&str] = &[
    "clip",
    "llama",
    "llama4",
    "llama-embed",
    "deci",
    "falcon",
    "grok",
    "gpt2",
    "gptj",
    "gptneox",
    "mpt",
    "baichuan",
    "starcoder",
    "refact",
    "bert",
    "modern-bert",
    "nomic-bert",
    "nomic-bert-moe",
    "neo-bert",
    "jina-bert-v2",
    "jina-bert-v3",
    "eurobert",
    "bloom",
    "stablelm",
    "qwen",
    "qwen2",
    "qwen2moe",
    "qwen2vl",
    "qwen3",
    "qwen3moe",
    "qwen3next",
    "qwen3vl",
    "qwen3vlmoe",
    "qwen35",
    "qwen35moe",
    "phi2",
    "phi3",
    "phimoe",
    "plamo",
    "plamo2",
    "plamo3",
    "codeshell",
    "orion",
    "internlm2",
    "minicpm",
    "minicpm3",
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3n",
    "gemma4",
    "gemma4-assistant",
    "gemma-embedding",
    "starcoder2",
    "mamba",
    "mamba2",
    "jamba",
    "falcon-h1",
    "xverse",
    "command-r",
    "cohere2",
    "cohere2moe",
    "dbrx",
    "olmo",
    "olmo2",
    "olmoe",
    "openelm",
    "arctic",
    "deepseek",
    "deepseek2",
    "deepseek2-ocr",
    "deepseek32",
    "deepseek4",
    "chatglm",
    "glm4",
    "glm4moe",
    "glm-dsa",
    "bitnet",
    "bitnet-25",
    "bitnet-b1.58",
    "t5",
    "t5encoder",
    "jais",
    "jais2",
    "nemotron",
    "nemotron_h",
    "nemotron_h_moe",
    "exaone",
    "exaone4",
    "exaone-moe",
    "rwkv6",
    "rwkv6qwen2",
    "rwkv7",
    "arwkv7",
    "granite",
    "granitemoe",
    "granitehybrid",
    "chameleon",
    "wavtokenizer-dec",
    "plm",
    "bailingmoe",
    "bailingmoe2",
    "dots1",
    "arcee",
    "afmoe",
    "laguna",
    "ernie4_5",
    "ernie4_5-moe",
    "hunyuan-moe",
    "hunyuan-dense",
    "hunyuan_vl",
    "hy_v3",
    "smollm3",
    "gpt-oss",
    "lfm2",
    "lfm2moe",
    "dream",
    "smallthinker",
    "llada",
    "llada-moe",
    "seed_oss",
    "grovemoe",
    "apertus",
    "minimax-m2",
    "cogvlm",
    "rnd1",
    "pangu-embedded",
    "mistral3",
    "mistral4",
    "eagle3",
    "dflash",
    "paddleocr",
    "mimo2",
    "step35",
    "maincoder",
    "kimi-linear",
    "talkie",
    "mellum",
];

/// Whether llama.cpp knows `arch` (exact, case-sensitive, like llama.cpp).
pub fn is_known_architecture(arch: &str) -> bool {
    KNOWN_ARCHITECTURES.contains(&arch)
}

/// Summary of a validated GGUF file's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GgufInfo {
    pub version: u32,
    pub tensor_count: u64,
    pub kv_count: u64,
    /// `general.architecture`; always one of [`KNOWN_ARCHITECTURES`].
    pub architecture: String,
    pub name: Option<String>,
    pub file_type: Option<u32>,
    pub context_length: Option<u64>,
    pub embedding_length: Option<u64>,
    pub block_count: Option<u64>,
    /// Length of `tokenizer.ggml.tokens` (falls back to `{arch}.vocab_size`).
    pub vocab_size: Option<u64>,
    pub chat_template: Option<String>,
    pub file_size: u64,
    /// `clip.projector_type` (or the vision/audio one) of a projector file.
    #[serde(default)]
    pub projector_type: Option<String>,
    /// The text-model embedding size a projector feeds
    /// (`clip.vision.projection_dim` / `clip.audio.projection_dim`).
    #[serde(default)]
    pub projection_dim: Option<u64>,
    /// Every key in file order with a short display of its value: arrays as
    /// `[type; N]`, long strings cut to ~80 chars with `…`.
    pub metadata: Vec<(String, String)>,
}

impl GgufInfo {
    /// True for multimodal projector (mmproj) files, which are loaded
    /// alongside a model rather than as one.
    pub fn is_projector(&self) -> bool {
        self.architecture == "clip"
    }
}

/// Why a file was rejected. Every variant's message names the file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("model file not found: {}", .0.display())]
    NotFound(PathBuf),
    #[error("{} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is empty (0 bytes); the download probably failed", path.display())]
    Empty { path: PathBuf },
    #[error(
        "{} is truncated: it is {file_size} bytes long but reading at byte {offset} runs past the end; the download is probably incomplete",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        offset: u64,
        file_size: u64,
    },
    #[error("{} is not a GGUF model (it starts with {}){hint}", path.display(), show_magic(found))]
    BadMagic {
        path: PathBuf,
        found: [u8; 4],
        /// Empty, or `"; "` followed by a guess at what the file really is.
        hint: &'static str,
    },
    #[error(
        "{}: unsupported GGUF version {version} (only versions 2 and 3 are supported); get a newer conversion of this model",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, version: u32 },
    #[error(
        "{} is a big-endian GGUF file; llama.cpp on this machine needs the little-endian version of the model",
        path.display()
    )]
    BigEndian { path: PathBuf },
    #[error(
        "{}: implausible {what} ({value}) at byte {offset}; the file is corrupt or not a GGUF model",
        path.display()
    )]
    Implausible {
        path: PathBuf,
        what: &'static str,
        value: u64,
        offset: u64,
    },
    #[error("{}: metadata key {key:?} has invalid value type {type_id}", path.display())]
    InvalidValueType {
        path: PathBuf,
        key: String,
        type_id: u32,
    },
    #[error("{}: metadata key {key:?} should be {expected} but is {found}", path.display())]
    WrongType {
        path: PathBuf,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{}: invalid UTF-8 in a string at byte {offset}", path.display())]
    InvalidUtf8 { path: PathBuf, offset: u64 },
    #[error("{}: metadata key {key:?} appears more than once", path.display())]
    DuplicateKey { path: PathBuf, key: String },
    #[error("{}: required metadata key {key:?} is missing", path.display())]
    MissingKey { path: PathBuf, key: &'static str },
    #[error("{}: tensor {name:?} {reason}", path.display())]
    InvalidTensor {
        path: PathBuf,
        name: String,
        reason: String,
    },
    #[error(
        "{}: model architecture {arch:?} is not supported by llama.cpp",
        path.display()
    )]
    UnknownArchitecture { path: PathBuf, arch: String },
    #[error(
        "{}: the vocabulary holds the token {token:?} twice (ids {first} and {second}); the file is corrupt",
        path.display()
    )]
    DuplicateToken {
        path: PathBuf,
        token: String,
        first: u64,
        second: u64,
    },
    #[error(
        "{}: special token {key:?} = {id} is outside the vocabulary of {n_vocab} tokens",
        path.display()
    )]
    SpecialTokenOutOfRange {
        path: PathBuf,
        key: String,
        id: i64,
        n_vocab: u64,
    },
    #[error(
        "{}: {flag:?} asks for a {token} token but the file names none ({key:?} is missing)",
        path.display()
    )]
    MissingSpecialToken {
        path: PathBuf,
        flag: &'static str,
        token: &'static str,
        key: &'static str,
    },
    #[error(
        "{}: {key:?} has {len} entries but the vocabulary has {n_vocab} tokens",
        path.display()
    )]
    VocabLengthMismatch {
        path: PathBuf,
        key: &'static str,
        len: u64,
        n_vocab: u64,
    },
    #[error(
        "{}: tokenizer merge #{index} ({merge:?}) is not two parts separated by a space",
        path.display()
    )]
    MalformedMerge {
        path: PathBuf,
        index: u64,
        merge: String,
    },
    #[error(
        "{}: projector type {kind:?} is not supported by llama.cpp",
        path.display()
    )]
    UnknownProjector { path: PathBuf, kind: String },
    #[error(
        "{}: this projector feeds {projection_dim}-wide embeddings but the model's are {n_embd} wide; it belongs to another model",
        path.display()
    )]
    ProjectorMismatch {
        path: PathBuf,
        projection_dim: u64,
        n_embd: u64,
    },
}

impl GgufError {
    /// A stable, machine-readable name for each kind of refusal.
    pub fn code(&self) -> &'static str {
        match self {
            GgufError::NotFound(_) => "MODEL_NOT_FOUND",
            GgufError::NotAFile { .. } => "NOT_A_FILE",
            GgufError::Io { .. } => "IO",
            GgufError::Empty { .. } => "EMPTY_FILE",
            GgufError::Truncated { .. } => "TRUNCATED",
            GgufError::BadMagic { .. } => "NOT_GGUF",
            GgufError::UnsupportedVersion { .. } => "UNSUPPORTED_GGUF_VERSION",
            GgufError::BigEndian { .. } => "BIG_ENDIAN_GGUF",
            GgufError::Implausible { .. } => "IMPLAUSIBLE_SIZE",
            GgufError::InvalidValueType { .. } => "INVALID_VALUE_TYPE",
            GgufError::WrongType { .. } => "WRONG_VALUE_TYPE",
            GgufError::InvalidUtf8 { .. } => "INVALID_UTF8",
            GgufError::DuplicateKey { .. } => "DUPLICATE_KEY",
            GgufError::MissingKey { .. } => "MISSING_KEY",
            GgufError::InvalidTensor { .. } => "INVALID_TENSOR",
            GgufError::UnknownArchitecture { .. } => "UNKNOWN_ARCHITECTURE",
            GgufError::DuplicateToken { .. } => "DUPLICATE_TOKEN",
            GgufError::SpecialTokenOutOfRange { .. } => "SPECIAL_TOKEN_OUT_OF_RANGE",
            GgufError::MissingSpecialToken { .. } => "MISSING_SPECIAL_TOKEN",
            GgufError::VocabLengthMismatch { .. } => "VOCAB_LENGTH_MISMATCH",
            GgufError::MalformedMerge { .. } => "MALFORMED_MERGE",
            GgufError::UnknownProjector { .. } => "UNKNOWN_PROJECTOR_TYPE",
            GgufError::ProjectorMismatch { .. } => "PROJECTOR_MISMATCH",
        }
    }
}

/// Refuse a projector made for a model of another width: llama.cpp's
/// converter writes the text model's embedding size as `projection_dim`.
///
/// # Errors
/// `ProjectorMismatch` naming `projector_path` when both sizes are known and differ.
pub fn check_pairing(
    model: &GgufInfo,
    projector: &GgufInfo,
    projector_path: &Path,
) -> std::result::Result<(), GgufError> {
    match (projector.projection_dim, model.embedding_length) {
        (Some(projection_dim), Some(n_embd)) if projection_dim != n_embd => {
            Err(GgufError::ProjectorMismatch {
                path: projector_path.to_path_buf(),
                projection_dim,
                n_embd,
            })
        }
        _ => Ok(()),
    }
}

type Result<T> = std::result::Result<T, GgufError>;

/// Validate the GGUF file at `path` and summarise its header.
///
/// Reads only the header, metadata and tensor infos (never tensor data), so it
/// is cheap even for multi-GB models. Never panics on any input.
///
/// # Errors
///
/// Returns a [`GgufError`] naming `path` when the file is missing, not a
/// regular file, unreadable, empty, truncated anywhere (including tensor data
/// that would extend past the end), not GGUF (with a hint for text, HTML, Git
/// LFS pointer, legacy GGML and safetensors files), an unsupported or
/// big-endian version, has implausible counts/lengths, invalid value types,
/// invalid UTF-8, duplicate keys, malformed tensor infos, or lacks a
/// `general.architecture` that llama.cpp knows.
pub fn inspect(path: &Path) -> std::result::Result<GgufInfo, GgufError> {
    let io_err = |source: io::Error| GgufError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(GgufError::NotFound(path.to_path_buf()));
        }
        Err(e) => return Err(io_err(e)),
    };
    if !meta.is_file() {
        return Err(GgufError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mut file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    if len == 0 {
        return Err(GgufError::Empty {
            path: path.to_path_buf(),
        });
    }

    let mut head = Vec::new();
    (&mut file)
        .take(SNIFF_LEN)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    check_magic(&head, path)?;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;

    let mut r = Reader {
        inner: BufReader::with_capacity(64 * 1024, file),
        pos: 0,
        len,
        path,
    };
    parse(&mut r)
}

/// [`inspect`] on bytes already in memory (fuzzing, tests, downloads in
/// flight); errors name the file `<memory>`.
///
/// # Errors
/// As [`inspect`].
pub fn inspect_bytes(bytes: &[u8]) -> std::result::Result<GgufInfo, GgufError> {
    let path = Path::new("<memory>");
    if bytes.is_empty() {
        return Err(GgufError::Empty {
            path: path.to_path_buf(),
        });
    }
    check_magic(&bytes[..bytes.len().min(SNIFF_LEN as usize)], path)?;
    let mut r = Reader {
        inner: Cursor::new(bytes),
        pos: 0,
        len: bytes.len() as u64,
        path,
    };
    parse(&mut r)
}

fn check_magic(head: &[u8], path: &Path) -> Result<()> {
    match head.first_chunk::<4>() {
        Some(found) if *found != MAGIC => Err(GgufError::BadMagic {
            path: path.to_path_buf(),
            found: *found,
            hint: sniff_hint(head),
        }),
        _ => Ok(()),
    }
}

/// What the reader reads from: a buffered file or bytes in memory, both
/// able to skip forward cheaply.
trait Source: Read {
    fn skip_forward(&mut self, n: i64) -> io::Result<()>;
}

impl Source for BufReader<File> {
    fn skip_forward(&mut self, n: i64) -> io::Result<()> {
        self.seek_relative(n)
    }
}

impl Source for Cursor<&[u8]> {
    fn skip_forward(&mut self, n: i64) -> io::Result<()> {
        self.seek(SeekFrom::Current(n)).map(|_| ())
    }
}

/// Parsed metadata value; arrays keep only their shape.
enum Value {
    U(u64),
    I(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    Str(String),
    Array { elem: Ty, len: u64 },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    Str,
    Array,
    U64,
    I64,
    F64,
}

impl Ty {
    fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Ty::U8,
            1 => Ty::I8,
            2 => Ty::U16,
            3 => Ty::I16,
            4 => Ty::U32,
            5 => Ty::I32,
            6 => Ty::F32,
            7 => Ty::Bool,
            8 => Ty::Str,
            9 => Ty::Array,
            10 => Ty::U64,
            11 => Ty::I64,
            12 => Ty::F64,
            _ => return None,
        })
    }

    fn fixed_size(self) -> Option<u64> {
        match self {
            Ty::U8 | Ty::I8 | Ty::Bool => Some(1),
            Ty::U16 | Ty::I16 => Some(2),
            Ty::U32 | Ty::I32 | Ty::F32 => Some(4),
            Ty::U64 | Ty::I64 | Ty::F64 => Some(8),
            Ty::Str | Ty::Array => None,
        }
    }

    /// Smallest encoding of one element, used to bound array counts.
    fn min_size(self) -> u64 {
        match self {
            Ty::Str => 8,       // u64 length
            Ty::Array => 4 + 8, // elem type + count
            t => t.fixed_size().unwrap_or(1),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::U8 => "u8",
            Ty::I8 => "i8",
            Ty::U16 => "u16",
            Ty::I16 => "i16",
            Ty::U32 => "u32",
            Ty::I32 => "i32",
            Ty::F32 => "f32",
            Ty::Bool => "bool",
            Ty::Str => "string",
            Ty::Array => "array",
            Ty::U64 => "u64",
            Ty::I64 => "i64",
            Ty::F64 => "f64",
        }
    }
}

impl Value {
    fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U(n) => Some(n),
            Value::I(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    fn display(&self) -> String {
        match self {
            Value::U(n) => n.to_string(),
            Value::I(n) => n.to_string(),
            Value::F32(x) => x.to_string(),
            Value::F64(x) => x.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Str(s) => short_display(s),
            Value::Array { elem, len } => format!("[{}; {len}]", elem.name()),
        }
    }
}

/// Cut to [`DISPLAY_CHARS`] and escape control characters so one value stays
/// on one line.
fn short_display(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == DISPLAY_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

fn show_magic(found: &[u8; 4]) -> String {
    if found.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(found))
    } else {
        format!(
            "bytes {:02x} {:02x} {:02x} {:02x}",
            found[0], found[1], found[2], found[3]
        )
    }
}

/// Guess what a non-GGUF file is, so the user knows what went wrong.
fn sniff_hint(head: &[u8]) -> &'static str {
    if head.starts_with(b"version https://git-lfs") {
        return "; this is a Git LFS pointer, not the model itself (download the real file)";
    }
    // Legacy llama.cpp formats store their magic as a little-endian u32.
    if head.starts_with(b"lmgg") || head.starts_with(b"fmgg") || head.starts_with(b"tjgg") {
        return "; this is a legacy GGML/GGJT model, which llama.cpp no longer loads (get a GGUF version)";
    }
    if head.len() > 8 && head[8] == b'{' && head[..8].iter().any(|&b| b != 0) {
        return "; this looks like a safetensors file (convert it to GGUF first)";
    }
    if looks_like_text(head) {
        let lower = String::from_utf8_lossy(head)
            .trim_start()
            .to_ascii_lowercase();
        if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
            return "; this looks like an HTML page (a failed download?), not a GGUF model";
        }
        return "; this looks like a text file, not a GGUF model";
    }
    ""
}

fn looks_like_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(s) => s,
        // The sniff window may cut a multi-byte character in half.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(s) => s,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

/// Byte sizes of types simple enough to size: (block size, bytes per block).
fn ggml_type_size(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (1, 4),     // F32
        1 => (1, 2),     // F16
        2 => (32, 18),   // Q4_0
        3 => (32, 20),   // Q4_1
        6 => (32, 22),   // Q5_0
        7 => (32, 24),   // Q5_1
        8 => (32, 34),   // Q8_0
        9 => (32, 36),   // Q8_1
        10 => (256, 84), // Q2_K
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292), // Q8_K
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        30 => (1, 2),     // BF16
        _ => return None,
    })
}

struct Reader<'a, S> {
    inner: S,
    pos: u64,
    len: u64,
    path: &'a Path,
}

impl<S: Source> Reader<'_, S> {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn truncated(&self, offset: u64) -> GgufError {
        GgufError::Truncated {
            path: self.path.to_path_buf(),
            offset,
            file_size: self.len,
        }
    }

    fn implausible(&self, what: &'static str, value: u64, offset: u64) -> GgufError {
        GgufError::Implausible {
            path: self.path.to_path_buf(),
            what,
            value,
            offset,
        }
    }

    fn io(&self, e: io::Error) -> GgufError {
        // The file may shrink while we read it.
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.truncated(self.pos)
        } else {
            GgufError::Io {
                path: self.path.to_path_buf(),
                source: e,
            }
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        if buf.len() as u64 > self.remaining() {
            return Err(self.truncated(self.pos));
        }
        self.inner.read_exact(buf).map_err(|e| self.io(e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32> {
        self.bytes().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        self.bytes().map(u64::from_le_bytes)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        if n > self.remaining() {
            return Err(self.truncated(self.pos));
        }
        let delta = i64::try_from(n).map_err(|_| self.implausible("skip length", n, self.pos))?;
        self.inner.skip_forward(delta).map_err(|e| self.io(e))?;
        self.pos += n;
        Ok(())
    }

    /// Read a string's length prefix and bound it before anything is allocated.
    fn string_len(&mut self) -> Result<u64> {
        let at = self.pos;
        let n = self.u64()?;
        if n > MAX_STRING {
            return Err(self.implausible("string length", n, at));
        }
        if n > self.remaining() {
            return Err(self.truncated(self.pos));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String> {
        let n = self.string_len()?;
        let start = self.pos;
        let size = usize::try_from(n).map_err(|_| self.implausible("string length", n, start))?;
        let mut buf = vec![0u8; size];
        self.fill(&mut buf)?;
        String::from_utf8(buf).map_err(|e| GgufError::InvalidUtf8 {
            path: self.path.to_path_buf(),
            offset: start + e.utf8_error().valid_up_to() as u64,
        })
    }

    /// Strings inside arrays (vocabularies) are skipped unread: they can be
    /// hundreds of thousands and we only need their count.
    fn skip_string(&mut self) -> Result<()> {
        let n = self.string_len()?;
        self.skip(n)
    }

    /// A string's bytes, UTF-8 or not (llama.cpp keeps vocabulary entries as bytes).
    fn raw_string(&mut self) -> Result<Vec<u8>> {
        let n = self.string_len()?;
        let size =
            usize::try_from(n).map_err(|_| self.implausible("string length", n, self.pos))?;
        let mut buf = vec![0u8; size];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    /// llama.cpp maps token text to id and asserts (aborts) when two ids
    /// share a text; it stores an empty entry as `[EMPTY_<id>]`. All texts
    /// go into one buffer first, so a 256k vocabulary costs two allocations.
    fn check_tokens(&mut self, len: u64) -> Result<()> {
        let mut arena: Vec<u8> = Vec::new();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for id in 0..len {
            let n = self.string_len()?;
            let size =
                usize::try_from(n).map_err(|_| self.implausible("string length", n, self.pos))?;
            let start = arena.len();
            if size == 0 {
                arena.extend_from_slice(format!("[EMPTY_{id}]").as_bytes());
            } else {
                arena.resize(start + size, 0);
                self.fill(&mut arena[start..])?;
            }
            spans.push((start, arena.len()));
        }
        let mut seen: HashMap<&[u8], u64> = HashMap::with_capacity(spans.len());
        for (id, &(start, end)) in (0u64..).zip(&spans) {
            let text = &arena[start..end];
            if let Some(&first) = seen.get(text) {
                return Err(GgufError::DuplicateToken {
                    path: self.path.to_path_buf(),
                    token: short_display(&String::from_utf8_lossy(text)),
                    first,
                    second: id,
                });
            }
            seen.insert(text, id);
        }
        Ok(())
    }

    /// BPE merges are `left right`: a space after the first byte.
    fn check_merges(&mut self, len: u64) -> Result<()> {
        for index in 0..len {
            let merge = self.raw_string()?;
            let split = merge.iter().skip(1).position(|&b| b == b' ');
            if split.is_none_or(|at| at + 2 >= merge.len()) {
                return Err(GgufError::MalformedMerge {
                    path: self.path.to_path_buf(),
                    index,
                    merge: short_display(&String::from_utf8_lossy(&merge)),
                });
            }
        }
        Ok(())
    }

    fn value(&mut self, key: &str, ty: Ty) -> Result<Value> {
        Ok(match ty {
            Ty::U8 => Value::U(u64::from(self.bytes::<1>()?[0])),
            Ty::I8 => Value::I(i64::from(i8::from_le_bytes(self.bytes()?))),
            Ty::U16 => Value::U(u64::from(u16::from_le_bytes(self.bytes()?))),
            Ty::I16 => Value::I(i64::from(i16::from_le_bytes(self.bytes()?))),
            Ty::U32 => Value::U(u64::from(self.u32()?)),
            Ty::I32 => Value::I(i64::from(i32::from_le_bytes(self.bytes()?))),
            Ty::F32 => Value::F32(f32::from_le_bytes(self.bytes()?)),
            Ty::Bool => Value::Bool(self.bytes::<1>()?[0] != 0),
            Ty::Str => Value::Str(self.string()?),
            Ty::Array => self.array(key, false)?,
            Ty::U64 => Value::U(self.u64()?),
            Ty::I64 => Value::I(i64::from_le_bytes(self.bytes()?)),
            Ty::F64 => Value::F64(f64::from_le_bytes(self.bytes()?)),
        })
    }

    fn array(&mut self, key: &str, nested: bool) -> Result<Value> {
        let type_at = self.pos;
        let type_id = self.u32()?;
        let elem = Ty::from_id(type_id).ok_or_else(|| GgufError::InvalidValueType {
            path: self.path.to_path_buf(),
            key: key.to_owned(),
            type_id,
        })?;
        if nested && elem == Ty::Array {
            return Err(self.implausible("array nesting depth", 2, type_at));
        }
        let len_at = self.pos;
        let len = self.u64()?;
        if len > MAX_ARRAY {
            return Err(self.implausible("array length", len, len_at));
        }
        // len <= 2^28 and min_size <= 12, so this cannot overflow.
        let min_bytes = len * elem.min_size();
        if min_bytes > self.remaining() {
            return Err(self.truncated(self.pos));
        }
        match elem {
            Ty::Str if !nested && key == TOKENS_KEY => self.check_tokens(len)?,
            Ty::Str if !nested && key == MERGES_KEY => self.check_merges(len)?,
            Ty::Str => {
                for _ in 0..len {
                    self.skip_string()?;
                }
            }
            Ty::Array => {
                for _ in 0..len {
                    self.array(key, true)?;
                }
            }
            _ => self.skip(min_bytes)?,
        }
        Ok(Value::Array { elem, len })
    }
}

fn parse<S: Source>(r: &mut Reader<'_, S>) -> Result<GgufInfo> {
    let path = r.path;
    let found = r.bytes::<4>()?;
    if found != MAGIC {
        return Err(GgufError::BadMagic {
            path: path.to_path_buf(),
            found,
            hint: "",
        });
    }
    let version = r.u32()?;
    if !matches!(version, 2 | 3) {
        // gguf-py writes the magic as bytes but the version in file order.
        if matches!(version.swap_bytes(), 1..=3) {
            return Err(GgufError::BigEndian {
                path: path.to_path_buf(),
            });
        }
        return Err(GgufError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
        });
    }
    let tensor_count = r.u64()?;
    if tensor_count > MAX_TENSORS {
        return Err(r.implausible("tensor count", tensor_count, 8));
    }
    let kv_count = r.u64()?;
    if kv_count > MAX_KVS {
        return Err(r.implausible("metadata key count", kv_count, 16));
    }
    // Counts the file cannot possibly hold: refuse before looping over them.
    let min_body = kv_count
        .saturating_mul(MIN_KV_BYTES)
        .saturating_add(tensor_count.saturating_mul(MIN_TENSOR_INFO_BYTES));
    // A little short is a cut-off download; far beyond the file is a lie.
    if min_body > r.remaining().saturating_mul(2).saturating_add(4096) {
        let (what, value, at) = if kv_count.saturating_mul(MIN_KV_BYTES) > r.remaining() {
            ("metadata key count", kv_count, 16)
        } else {
            ("tensor count", tensor_count, 8)
        };
        return Err(r.implausible(what, value, at));
    }
    let mut vocab = VocabKeys::default();

    let mut seen = HashSet::new();
    let mut metadata = Vec::new();
    let mut architecture = None;
    let mut name = None;
    let mut file_type = None;
    let mut alignment = DEFAULT_ALIGNMENT;
    let mut vocab_tokens = None;
    let mut chat_template = None;
    let mut projector_type = None;
    let mut projector_types = Vec::new();
    let mut projection_dim = None;
    // Arch-prefixed keys can precede general.architecture; resolve afterwards.
    let mut arch_numbers: Vec<(String, u64)> = Vec::new();

    for _ in 0..kv_count {
        let key = r.string()?;
        let type_id = r.u32()?;
        let ty = Ty::from_id(type_id).ok_or_else(|| GgufError::InvalidValueType {
            path: path.to_path_buf(),
            key: key.clone(),
            type_id,
        })?;
        let value = r.value(&key, ty)?;
        if !seen.insert(key.clone()) {
            return Err(GgufError::DuplicateKey {
                path: path.to_path_buf(),
                key,
            });
        }
        let wrong_type = |expected| GgufError::WrongType {
            path: path.to_path_buf(),
            key: key.clone(),
            expected,
            found: ty.name(),
        };
        let shown = value.display();
        match (key.as_str(), value) {
            ("general.architecture", Value::Str(s)) => architecture = Some(s),
            ("general.architecture", _) => return Err(wrong_type("a string")),
            // llama.cpp reads this with a hard type assertion (abort).
            ("general.alignment", v) => {
                let n = match (ty, v.as_u64()) {
                    (Ty::U32, Some(n)) => n,
                    _ => return Err(wrong_type("u32")),
                };
                if n == 0 || !n.is_power_of_two() {
                    return Err(r.implausible("general.alignment", n, r.pos));
                }
                alignment = n;
            }
            ("general.name", Value::Str(s)) => name = Some(s),
            ("general.file_type", v) => file_type = v.as_u64().and_then(|n| u32::try_from(n).ok()),
            (TOKENS_KEY, Value::Array { elem: Ty::Str, len }) => vocab_tokens = Some(len),
            (MERGES_KEY, Value::Array { elem: Ty::Str, .. }) => {}
            (TOKENS_KEY | MERGES_KEY, _) => return Err(wrong_type("an array of strings")),
            ("tokenizer.ggml.scores", Value::Array { elem, len }) => {
                if !matches!(elem, Ty::F32 | Ty::I32) {
                    return Err(wrong_type("an array of f32"));
                }
                vocab.scores = Some(len);
            }
            ("tokenizer.ggml.token_type", Value::Array { elem, len }) => {
                if elem != Ty::I32 {
                    return Err(wrong_type("an array of i32"));
                }
                vocab.token_types = Some(len);
            }
            ("tokenizer.ggml.scores" | "tokenizer.ggml.token_type", _) => {
                return Err(wrong_type("an array"));
            }
            (k, v) if k.starts_with("tokenizer.ggml.") && k.ends_with("_token_id") => {
                let id = match v {
                    Value::U(n) => i64::try_from(n).unwrap_or(i64::MAX),
                    Value::I(n) => n,
                    _ => return Err(wrong_type("an integer")),
                };
                vocab.special.push((k.to_owned(), id));
            }
            (k, Value::Bool(b)) if k.starts_with("tokenizer.ggml.add_") => {
                vocab.add_flags.push((k.to_owned(), b));
            }
            ("clip.projector_type", Value::Str(s)) => projector_type = Some(s),
            ("clip.vision.projector_type" | "clip.audio.projector_type", Value::Str(s)) => {
                projector_types.push(s);
            }
            ("clip.vision.projection_dim" | "clip.audio.projection_dim", v) => {
                projection_dim = projection_dim.or(v.as_u64());
            }
            ("tokenizer.chat_template", Value::Str(s)) => chat_template = Some(s),
            (k, v) => {
                if let (Some(&(_, what, max)), Some(n)) = (
                    METADATA_LIMITS
                        .iter()
                        .find(|(suffix, ..)| k.ends_with(suffix)),
                    v.as_u64(),
                ) {
                    if n > max {
                        return Err(r.implausible(what, n, r.pos));
                    }
                }
                let interesting = [
                    ".context_length",
                    ".embedding_length",
                    ".block_count",
                    ".vocab_size",
                ]
                .iter()
                .any(|suffix| k.ends_with(suffix));
                if let (true, Some(n)) = (interesting, v.as_u64()) {
                    arch_numbers.push((k.to_owned(), n));
                }
            }
        }
        metadata.push((key, shown));
    }

    check_tensors(r, tensor_count, alignment)?;

    let architecture = architecture.ok_or_else(|| GgufError::MissingKey {
        path: path.to_path_buf(),
        key: "general.architecture",
    })?;
    if !is_known_architecture(&architecture) {
        return Err(GgufError::UnknownArchitecture {
            path: path.to_path_buf(),
            arch: architecture,
        });
    }
    if let Some(n_vocab) = vocab_tokens {
        vocab.check(path, n_vocab)?;
    }
    if let Some(kind) = projector_type
        .iter()
        .chain(&projector_types)
        .find(|k| !KNOWN_PROJECTOR_TYPES.contains(&k.as_str()))
    {
        return Err(GgufError::UnknownProjector {
            path: path.to_path_buf(),
            kind: short_display(kind),
        });
    }
    let projector_type = projector_type.or_else(|| projector_types.into_iter().next());
    let arch_key = |suffix: &str| {
        let want = format!("{architecture}.{suffix}");
        arch_numbers
            .iter()
            .find(|(k, _)| *k == want)
            .map(|&(_, n)| n)
    };

    Ok(GgufInfo {
        version,
        tensor_count,
        kv_count,
        name,
        file_type,
        context_length: arch_key("context_length"),
        embedding_length: arch_key("embedding_length"),
        block_count: arch_key("block_count"),
        vocab_size: vocab_tokens.or_else(|| arch_key("vocab_size")),
        chat_template,
        file_size: r.len,
        projector_type,
        projection_dim,
        metadata,
        architecture,
    })
}

/// Tokenizer keys that must agree with the token list.
#[derive(Default)]
struct VocabKeys {
    scores: Option<u64>,
    token_types: Option<u64>,
    /// `tokenizer.ggml.*_token_id` keys and their values.
    special: Vec<(String, i64)>,
    /// `tokenizer.ggml.add_*_token` flags.
    add_flags: Vec<(String, bool)>,
}

impl VocabKeys {
    fn check(&self, path: &Path, n_vocab: u64) -> Result<()> {
        for (key, len) in [
            ("tokenizer.ggml.scores", self.scores),
            ("tokenizer.ggml.token_type", self.token_types),
        ] {
            if let Some(len) = len.filter(|&l| l != n_vocab) {
                return Err(GgufError::VocabLengthMismatch {
                    path: path.to_path_buf(),
                    key,
                    len,
                    n_vocab,
                });
            }
        }
        if let Some((key, id)) = self
            .special
            .iter()
            .find(|(_, id)| u64::try_from(*id).map_or(true, |id| id >= n_vocab))
        {
            return Err(GgufError::SpecialTokenOutOfRange {
                path: path.to_path_buf(),
                key: key.clone(),
                id: *id,
                n_vocab,
            });
        }
        // llama.cpp asserts the token exists when the flag asks for it.
        for (flag, token, key) in [
            (
                "tokenizer.ggml.add_bos_token",
                "BOS",
                "tokenizer.ggml.bos_token_id",
            ),
            (
                "tokenizer.ggml.add_eos_token",
                "EOS",
                "tokenizer.ggml.eos_token_id",
            ),
            (
                "tokenizer.ggml.add_sep_token",
                "separator",
                "tokenizer.ggml.seperator_token_id",
            ),
        ] {
            let asked = self.add_flags.iter().any(|(k, on)| k == flag && *on);
            if asked && !self.special.iter().any(|(k, _)| k == key) {
                return Err(GgufError::MissingSpecialToken {
                    path: path.to_path_buf(),
                    flag,
                    token,
                    key,
                });
            }
        }
        Ok(())
    }
}

/// Validate tensor infos and that their data lies inside the file.
fn check_tensors<S: Source>(
    r: &mut Reader<'_, S>,
    tensor_count: u64,
    alignment: u64,
) -> Result<()> {
    let path = r.path;
    let mut names = HashSet::new();
    // (end of the furthest tensor relative to the data section, its offset)
    let mut furthest: (u64, u64) = (0, 0);

    for _ in 0..tensor_count {
        let name = r.string()?;
        let bad = |reason: String| GgufError::InvalidTensor {
            path: path.to_path_buf(),
            name: short_display(&name),
            reason,
        };
        if name.len() > MAX_TENSOR_NAME {
            return Err(bad(format!(
                "has a name longer than {MAX_TENSOR_NAME} bytes"
            )));
        }
        let n_dims = r.u32()?;
        if !(1..=MAX_DIMS).contains(&n_dims) {
            return Err(bad(format!(
                "has {n_dims} dimensions (expected 1 to {MAX_DIMS})"
            )));
        }
        let mut dims = [1u64; MAX_DIMS as usize];
        let mut elements: u64 = 1;
        for slot in dims.iter_mut().take(n_dims as usize) {
            let d = r.u64()?;
            *slot = d;
            // ggml stores dims and their product as i64.
            elements = elements
                .checked_mul(d)
                .filter(|&n| i64::try_from(n).is_ok() && i64::try_from(d).is_ok())
                .ok_or_else(|| bad(format!("has an impossible dimension {d}")))?;
        }
        let ty = r.u32()?;
        if ty >= GGML_TYPE_LIMIT || REMOVED_GGML_TYPES.contains(&ty) {
            return Err(bad(format!("has unknown or unsupported ggml type {ty}")));
        }
        let offset = r.u64()?;
        if offset % alignment != 0 {
            return Err(bad(format!(
                "has offset {offset}, not a multiple of the alignment {alignment}"
            )));
        }
        let size = match ggml_type_size(ty) {
            Some((block, bytes)) => {
                if dims[0] % block != 0 {
                    return Err(bad(format!(
                        "has a row of {} elements, not a multiple of its block size {block}",
                        dims[0]
                    )));
                }
                (elements / block)
                    .checked_mul(bytes)
                    .ok_or_else(|| bad("is impossibly large".to_owned()))?
            }
            // Types we do not size (IQ*, TQ*, MXFP4, newer ones): check the start only.
            None => 0,
        };
        let end = offset
            .checked_add(size)
            .ok_or_else(|| bad(format!("has an impossible offset {offset}")))?;
        if end > furthest.0 {
            furthest = (end, offset);
        }
        if !names.insert(name.clone()) {
            return Err(bad("appears more than once".to_owned()));
        }
    }

    if tensor_count == 0 {
        return Ok(());
    }
    // Data starts at the next multiple of `alignment` after the tensor infos.
    let data_start = r
        .pos
        .checked_next_multiple_of(alignment)
        .ok_or_else(|| r.truncated(u64::MAX))?;
    let needed = data_start.checked_add(furthest.0);
    match needed {
        Some(n) if n <= r.len => Ok(()),
        _ => Err(r.truncated(data_start.saturating_add(furthest.1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimal GGUF writer, enough to build valid files and targeted corruptions.
    #[derive(Default)]
    struct W(Vec<u8>);

    impl W {
        fn u32(&mut self, v: u32) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        fn u64(&mut self, v: u64) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.0.extend_from_slice(b);
            self
        }
        fn str(&mut self, s: &str) -> &mut Self {
            self.u64(s.len() as u64).raw(s.as_bytes())
        }
        fn header(&mut self, version: u32, tensors: u64, kvs: u64) -> &mut Self {
            self.raw(b"GGUF").u32(version).u64(tensors).u64(kvs)
        }
    }

    enum Val {
        Str(&'static str),
        U32(u32),
        I64(i64),
        F32(f32),
        Bool(bool),
        StrArr(Vec<String>),
        F32Arr(usize),
        I32Arr(usize),
        /// Array of `outer` arrays of u8, each with 2 elements.
        ArrOfArr(u64),
    }

    fn write_kv(w: &mut W, key: &str, v: &Val) {
        w.str(key);
        match v {
            Val::Str(s) => {
                w.u32(8).str(s);
            }
            Val::U32(n) => {
                w.u32(4).u32(*n);
            }
            Val::I64(n) => {
                w.u32(11).raw(&n.to_le_bytes());
            }
            Val::F32(x) => {
                w.u32(6).raw(&x.to_le_bytes());
            }
            Val::Bool(b) => {
                w.u32(7).raw(&[u8::from(*b)]);
            }
            Val::StrArr(items) => {
                w.u32(9).u32(8).u64(items.len() as u64);
                for s in items {
                    w.str(s);
                }
            }
            Val::F32Arr(n) => {
                w.u32(9).u32(6).u64(*n as u64);
                for i in 0..*n {
                    w.raw(&(i as f32).to_le_bytes());
                }
            }
            Val::I32Arr(n) => {
                w.u32(9).u32(5).u64(*n as u64);
                for i in 0..*n {
                    w.raw(&(i as i32).to_le_bytes());
                }
            }
            Val::ArrOfArr(outer) => {
                w.u32(9).u32(9).u64(*outer);
                for _ in 0..*outer {
                    w.u32(0).u64(2).raw(&[1, 2]);
                }
            }
        }
    }

    const TEMPLATE: &str = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}";

    fn default_kvs() -> Vec<(&'static str, Val)> {
        vec![
            ("general.architecture", Val::Str("llama")),
            ("general.name", Val::Str("Tiny Test")),
            ("general.file_type", Val::U32(0)),
            ("general.alignment", Val::U32(32)),
            ("llama.context_length", Val::U32(2048)),
            ("llama.embedding_length", Val::U32(8)),
            ("llama.block_count", Val::U32(1)),
            ("llama.rope.freq_base", Val::F32(10000.0)),
            ("test.signed", Val::I64(-5)),
            ("test.flag", Val::Bool(true)),
            ("test.nested", Val::ArrOfArr(2)),
            (
                "tokenizer.ggml.tokens",
                Val::StrArr(vec!["<s>".into(), "</s>".into(), "hello".into()]),
            ),
            ("tokenizer.ggml.scores", Val::F32Arr(3)),
            ("tokenizer.chat_template", Val::Str(TEMPLATE)),
        ]
    }

    /// A GGUF with the given KVs and one 8x3 F32 tensor with aligned data.
    fn build(version: u32, kvs: &[(&str, Val)]) -> Vec<u8> {
        let mut w = W::default();
        w.header(version, 1, kvs.len() as u64);
        for (k, v) in kvs {
            write_kv(&mut w, k, v);
        }
        w.str("token_embd.weight")
            .u32(2)
            .u64(8)
            .u64(3)
            .u32(0)
            .u64(0);
        while w.0.len() % 32 != 0 {
            w.0.push(0);
        }
        w.raw(&[0x3f; 8 * 3 * 4]);
        w.0
    }

    fn valid() -> Vec<u8> {
        build(3, &default_kvs())
    }

    fn with_arch(arch: &'static str) -> Vec<u8> {
        let mut kvs = default_kvs();
        kvs[0].1 = Val::Str(arch);
        build(3, &kvs)
    }

    struct Fixture {
        dir: tempfile::TempDir,
        n: std::cell::Cell<u32>,
    }

    fn fixture() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            n: std::cell::Cell::new(0),
        }
    }

    /// Writes a fresh file each time: rewriting one file in place triggers a
    /// flush-on-truncate on ext4 and makes the fuzz loops slow.
    fn check(fx: &Fixture, bytes: &[u8]) -> std::result::Result<GgufInfo, GgufError> {
        let n = fx.n.get();
        fx.n.set(n + 1);
        let path = fx.dir.path().join(format!("{n}-model.gguf"));
        fs::write(&path, bytes).unwrap();
        let result = inspect(&path);
        fs::remove_file(&path).unwrap();
        result
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn valid_file_reports_fields() {
        let fx = fixture();
        let bytes = valid();
        let info = check(&fx, &bytes).unwrap();
        assert_eq!(info.version, 3);
        assert_eq!(info.tensor_count, 1);
        assert_eq!(info.kv_count, default_kvs().len() as u64);
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.name.as_deref(), Some("Tiny Test"));
        assert_eq!(info.file_type, Some(0));
        assert_eq!(info.context_length, Some(2048));
        assert_eq!(info.embedding_length, Some(8));
        assert_eq!(info.block_count, Some(1));
        assert_eq!(info.vocab_size, Some(3));
        assert_eq!(info.chat_template.as_deref(), Some(TEMPLATE));
        assert_eq!(info.file_size, bytes.len() as u64);
        assert!(!info.is_projector());
        let shown = |k: &str| {
            info.metadata
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(shown("tokenizer.ggml.tokens"), "[string; 3]");
        assert_eq!(shown("tokenizer.ggml.scores"), "[f32; 3]");
        assert_eq!(shown("test.nested"), "[array; 2]");
        assert_eq!(shown("test.signed"), "-5");
        assert_eq!(shown("test.flag"), "true");
        assert_eq!(shown("llama.context_length"), "2048");
        let tpl = shown("tokenizer.chat_template");
        assert!(tpl.ends_with('…') && !tpl.contains('\n'), "{tpl}");
        assert_eq!(info.metadata.len(), default_kvs().len());
    }

    #[test]
    fn version_2_is_accepted() {
        let fx = fixture();
        assert_eq!(check(&fx, &build(2, &default_kvs())).unwrap().version, 2);
    }

    #[test]
    fn projector_is_recognised() {
        let fx = fixture();
        assert!(check(&fx, &with_arch("clip")).unwrap().is_projector());
    }

    #[test]
    fn large_vocab_is_checked_and_counted() {
        let fx = fixture();
        let mut kvs = default_kvs();
        let tokens = (0..200_000).map(|i| format!("tok{i}")).collect();
        kvs[11].1 = Val::StrArr(tokens);
        kvs[12].1 = Val::F32Arr(200_000);
        let info = check(&fx, &build(3, &kvs)).unwrap();
        assert_eq!(info.vocab_size, Some(200_000));
    }

    #[test]
    fn zero_byte_file() {
        let fx = fixture();
        let err = check(&fx, b"").unwrap_err();
        assert!(matches!(err, GgufError::Empty { .. }), "{err}");
        assert!(err.to_string().contains("model.gguf"));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let fx = fixture();
        let bytes = valid();
        for n in 0..bytes.len() {
            match check(&fx, &bytes[..n]) {
                Ok(_) => panic!("prefix of {n} bytes accepted"),
                Err(GgufError::Truncated { file_size, .. }) => assert_eq!(file_size, n as u64),
                Err(GgufError::Empty { .. }) => assert_eq!(n, 0),
                Err(e) => panic!("prefix of {n} bytes: unexpected {e}"),
            }
        }
    }

    #[test]
    fn random_bytes_are_rejected() {
        let fx = fixture();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for size in [1, 3, 4, 23, 24, 25, 100, 4096, 65_536] {
            for _ in 0..4 {
                let bytes = rng.bytes(size);
                assert!(check(&fx, &bytes).is_err(), "random {size} bytes accepted");
                // Also with a valid header so the KV parser sees the garbage.
                let mut hdr = W::default();
                hdr.header(3, rng.next() % 4, rng.next() % 8).raw(&bytes);
                assert!(check(&fx, &hdr.0).is_err());
            }
        }
    }

    #[test]
    fn bit_flips_never_panic() {
        let fx = fixture();
        let bytes = valid();
        let mut accepted = 0;
        for i in 0..bytes.len() {
            let orig = bytes[i];
            for v in [0x00, 0xff, orig ^ 0x01, orig ^ 0x80, 0x7f] {
                if v == orig {
                    continue;
                }
                let mut b = bytes.clone();
                b[i] = v;
                if check(&fx, &b).is_ok() {
                    accepted += 1;
                }
            }
        }
        // Flips inside values/tensor data are legitimately accepted.
        assert!(accepted > 0);
    }

    #[test]
    fn text_file_gets_a_hint() {
        let fx = fixture();
        let err = check(&fx, b"Hello, this is not a model.\nJust some notes.\n").unwrap_err();
        assert!(matches!(err, GgufError::BadMagic { found, .. } if &found == b"Hell"));
        let msg = err.to_string();
        assert!(msg.contains("looks like a text file"), "{msg}");
        assert!(msg.contains("model.gguf"), "{msg}");
        // Short text files still get the hint rather than "truncated".
        let err = check(&fx, b"oops\n").unwrap_err();
        assert!(err.to_string().contains("text file"), "{err}");
    }

    #[test]
    fn html_lfs_and_legacy_hints() {
        let fx = fixture();
        let err = check(&fx, b"<!DOCTYPE html><html><body>404</body></html>").unwrap_err();
        assert!(err.to_string().contains("HTML"), "{err}");
        let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n";
        assert!(check(&fx, lfs).unwrap_err().to_string().contains("Git LFS"));
        let mut ggjt = b"tjgg".to_vec();
        ggjt.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0x80, 0xff]);
        assert!(check(&fx, &ggjt)
            .unwrap_err()
            .to_string()
            .contains("legacy"));
        let binary = [
            0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
            24,
        ];
        let err = check(&fx, &binary).unwrap_err();
        assert!(matches!(err, GgufError::BadMagic { hint: "", .. }), "{err}");
    }

    #[test]
    fn unsupported_versions() {
        let fx = fixture();
        for v in [1u32, 99, 0] {
            let err = check(&fx, &build(v, &default_kvs())).unwrap_err();
            assert!(
                matches!(err, GgufError::UnsupportedVersion { version, .. } if version == v),
                "{err}"
            );
        }
    }

    #[test]
    fn big_endian_is_detected() {
        let fx = fixture();
        let mut bytes = valid();
        bytes[4..8].copy_from_slice(&3u32.to_be_bytes());
        let err = check(&fx, &bytes).unwrap_err();
        assert!(matches!(err, GgufError::BigEndian { .. }), "{err}");
        assert!(err.to_string().contains("big-endian"));
    }

    #[test]
    fn huge_counts_are_implausible() {
        let fx = fixture();
        let mut bytes = valid();
        bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = check(&fx, &bytes).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Implausible {
                    what: "tensor count",
                    ..
                }
            ),
            "{err}"
        );

        let mut bytes = valid();
        bytes[16..24].copy_from_slice(&((1u64 << 20) + 1).to_le_bytes());
        let err = check(&fx, &bytes).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Implausible {
                    what: "metadata key count",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn huge_string_length() {
        let fx = fixture();
        let mut bytes = valid();
        // Length prefix of the first key.
        bytes[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let err = check(&fx, &bytes).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Implausible {
                    what: "string length",
                    offset: 24,
                    ..
                }
            ),
            "{err}"
        );
        // Plausible length that still runs past the end of the file.
        bytes[24..32].copy_from_slice(&(1u64 << 20).to_le_bytes());
        let err = check(&fx, &bytes).unwrap_err();
        assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
    }

    #[test]
    fn huge_array_count() {
        let fx = fixture();
        let mut w = W::default();
        w.header(3, 0, 1)
            .str("tokenizer.ggml.tokens")
            .u32(9)
            .u32(8)
            .u64(u64::MAX / 3);
        let err = check(&fx, &w.0).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Implausible {
                    what: "array length",
                    ..
                }
            ),
            "{err}"
        );
        // Under the cap but more elements than bytes left.
        let mut w = W::default();
        w.header(3, 0, 1).str("x").u32(9).u32(4).u64(1 << 27).u32(0);
        assert!(matches!(
            check(&fx, &w.0).unwrap_err(),
            GgufError::Truncated { .. }
        ));
    }

    #[test]
    fn deeply_nested_arrays_are_rejected() {
        let fx = fixture();
        let mut w = W::default();
        w.header(3, 0, 1)
            .str("x")
            .u32(9)
            .u32(9)
            .u64(1)
            .u32(9)
            .u64(1)
            .u32(0)
            .u64(0);
        let err = check(&fx, &w.0).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Implausible {
                    what: "array nesting depth",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn invalid_value_types() {
        let fx = fixture();
        let mut w = W::default();
        w.header(3, 0, 1).str("general.architecture").u32(13).u32(0);
        let err = check(&fx, &w.0).unwrap_err();
        assert!(
            matches!(&err, GgufError::InvalidValueType { key, type_id: 13, .. } if key == "general.architecture"),
            "{err}"
        );
        let mut w = W::default();
        w.header(3, 0, 1).str("arr").u32(9).u32(200).u64(0);
        let err = check(&fx, &w.0).unwrap_err();
        assert!(
            matches!(err, GgufError::InvalidValueType { type_id: 200, .. }),
            "{err}"
        );
    }

    #[test]
    fn unknown_architecture() {
        let fx = fixture();
        let err = check(&fx, &with_arch("notarealarch")).unwrap_err();
        assert!(
            matches!(&err, GgufError::UnknownArchitecture { arch, .. } if arch == "notarealarch")
        );
        assert!(
            err.to_string().contains("not supported by llama.cpp"),
            "{err}"
        );
    }

    #[test]
    fn missing_architecture() {
        let fx = fixture();
        let kvs: Vec<_> = default_kvs()
            .into_iter()
            .filter(|(k, _)| *k != "general.architecture")
            .collect();
        let err = check(&fx, &build(3, &kvs)).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::MissingKey {
                    key: "general.architecture",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn architecture_must_be_a_string() {
        let fx = fixture();
        let mut kvs = default_kvs();
        kvs[0].1 = Val::U32(7);
        let err = check(&fx, &build(3, &kvs)).unwrap_err();
        assert!(
            matches!(err, GgufError::WrongType { found: "u32", .. }),
            "{err}"
        );
    }

    #[test]
    fn alignment_must_be_u32_power_of_two() {
        let fx = fixture();
        let mut kvs = default_kvs();
        kvs[3].1 = Val::Str("32");
        assert!(matches!(
            check(&fx, &build(3, &kvs)).unwrap_err(),
            GgufError::WrongType { .. }
        ));
        kvs[3].1 = Val::U32(24);
        let err = check(&fx, &build(3, &kvs)).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Implausible {
                    what: "general.alignment",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_key() {
        let fx = fixture();
        let mut w = W::default();
        w.header(3, 0, 1)
            .u64(3)
            .raw(&[b'a', 0xff, 0xfe])
            .u32(4)
            .u32(1);
        let err = check(&fx, &w.0).unwrap_err();
        assert!(
            matches!(err, GgufError::InvalidUtf8 { offset: 33, .. }),
            "{err}"
        );
    }

    #[test]
    fn duplicate_key() {
        let fx = fixture();
        let mut kvs = default_kvs();
        kvs.push(("general.name", Val::Str("again")));
        let err = check(&fx, &build(3, &kvs)).unwrap_err();
        assert!(
            matches!(&err, GgufError::DuplicateKey { key, .. } if key == "general.name"),
            "{err}"
        );
    }

    /// Valid header + KVs with a custom tensor info and `data` bytes of data.
    fn with_tensor(info: impl Fn(&mut W), data: usize) -> Vec<u8> {
        let mut w = W::default();
        w.header(3, 1, 1);
        write_kv(&mut w, "general.architecture", &Val::Str("llama"));
        info(&mut w);
        while w.0.len() % 32 != 0 {
            w.0.push(0);
        }
        w.0.resize(w.0.len() + data, 0);
        w.0
    }

    #[test]
    fn bad_tensor_infos() {
        let fx = fixture();
        let ok = with_tensor(
            |w| {
                w.str("t").u32(1).u64(8).u32(0).u64(0);
            },
            32,
        );
        assert!(check(&fx, &ok).is_ok());

        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "dimensions",
                with_tensor(
                    |w| {
                        w.str("t")
                            .u32(5)
                            .u64(1)
                            .u64(1)
                            .u64(1)
                            .u64(1)
                            .u64(1)
                            .u32(0)
                            .u64(0);
                    },
                    32,
                ),
            ),
            (
                "dimensions",
                with_tensor(
                    |w| {
                        w.str("t").u32(0).u32(0).u64(0);
                    },
                    32,
                ),
            ),
            (
                "ggml type",
                with_tensor(
                    |w| {
                        w.str("t").u32(1).u64(8).u32(1000).u64(0);
                    },
                    32,
                ),
            ),
            (
                "ggml type",
                with_tensor(
                    |w| {
                        w.str("t").u32(1).u64(8).u32(4).u64(0);
                    },
                    32,
                ),
            ),
            (
                "alignment",
                with_tensor(
                    |w| {
                        w.str("t").u32(1).u64(8).u32(0).u64(3);
                    },
                    32,
                ),
            ),
            (
                "block size",
                with_tensor(
                    |w| {
                        w.str("t").u32(1).u64(33).u32(2).u64(0);
                    },
                    64,
                ),
            ),
            (
                "dimension",
                with_tensor(
                    |w| {
                        w.str("t").u32(2).u64(1 << 40).u64(1 << 40).u32(0).u64(0);
                    },
                    32,
                ),
            ),
            (
                "name",
                with_tensor(
                    |w| {
                        w.str(&"n".repeat(64)).u32(1).u64(8).u32(0).u64(0);
                    },
                    32,
                ),
            ),
        ];
        for (want, bytes) in cases {
            let err = check(&fx, &bytes).unwrap_err();
            assert!(
                matches!(err, GgufError::InvalidTensor { .. }),
                "{want}: {err}"
            );
            assert!(err.to_string().contains(want), "{want}: {err}");
        }
    }

    #[test]
    fn tensor_data_past_end_is_truncated() {
        let fx = fixture();
        // 8 f32 = 32 bytes needed, only 16 present.
        let short = with_tensor(
            |w| {
                w.str("t").u32(1).u64(8).u32(0).u64(0);
            },
            16,
        );
        assert!(matches!(
            check(&fx, &short).unwrap_err(),
            GgufError::Truncated { .. }
        ));
        // Unsized type (IQ2_XXS): only the start offset can be checked.
        let far = with_tensor(
            |w| {
                w.str("t").u32(1).u64(256).u32(16).u64(1 << 20);
            },
            64,
        );
        assert!(matches!(
            check(&fx, &far).unwrap_err(),
            GgufError::Truncated { .. }
        ));
        let dup = {
            let mut w = W::default();
            w.header(3, 2, 1);
            write_kv(&mut w, "general.architecture", &Val::Str("llama"));
            w.str("t").u32(1).u64(8).u32(0).u64(0);
            w.str("t").u32(1).u64(8).u32(0).u64(32);
            while w.0.len() % 32 != 0 {
                w.0.push(0);
            }
            w.0.resize(w.0.len() + 64, 0);
            w.0
        };
        let err = check(&fx, &dup).unwrap_err();
        assert!(err.to_string().contains("more than once"), "{err}");
    }

    /// The default file with `key` set to `v` (replaced or appended).
    fn with_kv(key: &'static str, v: Val) -> Vec<u8> {
        let mut kvs = default_kvs();
        match kvs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => kvs.push((key, v)),
        }
        build(3, &kvs)
    }

    fn tokens(list: &[&str]) -> Val {
        Val::StrArr(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn hostile_vocabularies_are_refused_with_their_code() {
        let fx = fixture();
        let mut merges = default_kvs();
        merges.push((
            "tokenizer.ggml.merges",
            Val::StrArr(vec!["h e".into(), "hello".into()]),
        ));
        let mut no_bos = default_kvs();
        no_bos.push(("tokenizer.ggml.add_bos_token", Val::Bool(true)));
        let mut bos_ok = default_kvs();
        bos_ok.push(("tokenizer.ggml.add_bos_token", Val::Bool(true)));
        bos_ok.push(("tokenizer.ggml.bos_token_id", Val::U32(0)));
        assert!(check(&fx, &build(3, &bos_ok)).is_ok());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "DUPLICATE_TOKEN",
                with_kv(TOKENS_KEY, tokens(&["<s>", "hello", "hello"])),
            ),
            // llama.cpp renames an empty entry to [EMPTY_<id>].
            (
                "DUPLICATE_TOKEN",
                with_kv(TOKENS_KEY, tokens(&["<s>", "", "[EMPTY_1]"])),
            ),
            (
                "SPECIAL_TOKEN_OUT_OF_RANGE",
                with_kv("tokenizer.ggml.eos_token_id", Val::U32(3)),
            ),
            (
                "SPECIAL_TOKEN_OUT_OF_RANGE",
                with_kv("tokenizer.ggml.padding_token_id", Val::I64(-1)),
            ),
            ("MISSING_SPECIAL_TOKEN", build(3, &no_bos)),
            (
                "VOCAB_LENGTH_MISMATCH",
                with_kv("tokenizer.ggml.scores", Val::F32Arr(2)),
            ),
            (
                "VOCAB_LENGTH_MISMATCH",
                with_kv("tokenizer.ggml.token_type", Val::I32Arr(4)),
            ),
            (
                "WRONG_VALUE_TYPE",
                with_kv("tokenizer.ggml.token_type", Val::F32Arr(3)),
            ),
            ("WRONG_VALUE_TYPE", with_kv(TOKENS_KEY, Val::U32(3))),
            ("MALFORMED_MERGE", build(3, &merges)),
            (
                "IMPLAUSIBLE_SIZE",
                with_kv("llama.embedding_length", Val::U32(1 << 30)),
            ),
            (
                "IMPLAUSIBLE_SIZE",
                with_kv("llama.block_count", Val::U32(u32::MAX)),
            ),
        ];
        for (code, bytes) in cases {
            let err = check(&fx, &bytes).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
            assert!(err.to_string().contains("model.gguf"), "{err}");
            // The same verdict from memory, as the fuzz targets call it.
            assert_eq!(inspect_bytes(&bytes).unwrap_err().code(), code);
        }
    }

    #[test]
    fn counts_far_beyond_the_file_are_implausible() {
        let fx = fixture();
        let mut bytes = valid();
        bytes[8..16].copy_from_slice(&(1u64 << 19).to_le_bytes());
        let err = check(&fx, &bytes).unwrap_err();
        assert_eq!(err.code(), "IMPLAUSIBLE_SIZE", "{err}");
    }

    #[test]
    fn projectors_are_checked_for_type_and_width() {
        let fx = fixture();
        let projector = |kind: &'static str, dim: u32| {
            let mut kvs = default_kvs();
            kvs[0].1 = Val::Str("clip");
            kvs.push(("clip.projector_type", Val::Str(kind)));
            kvs.push(("clip.vision.projection_dim", Val::U32(dim)));
            build(3, &kvs)
        };
        let model = check(&fx, &valid()).unwrap();
        let good = check(&fx, &projector("qwen2.5o", 8)).unwrap();
        assert_eq!(good.projector_type.as_deref(), Some("qwen2.5o"));
        assert_eq!(good.projection_dim, Some(8));
        assert!(check_pairing(&model, &good, Path::new("p.gguf")).is_ok());
        let wide = check(&fx, &projector("qwen2.5o", 16)).unwrap();
        let err = check_pairing(&model, &wide, Path::new("p.gguf")).unwrap_err();
        assert_eq!(err.code(), "PROJECTOR_MISMATCH", "{err}");
        assert!(err.to_string().contains("another model"), "{err}");
        let err = check(&fx, &projector("telepathy", 8)).unwrap_err();
        assert_eq!(err.code(), "UNKNOWN_PROJECTOR_TYPE", "{err}");
    }

    #[test]
    fn directory_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = inspect(dir.path()).unwrap_err();
        assert!(matches!(err, GgufError::NotAFile { .. }), "{err}");
    }

    #[test]
    fn missing_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.gguf");
        let err = inspect(&path).unwrap_err();
        assert!(matches!(&err, GgufError::NotFound(p) if *p == path));
        assert!(err.to_string().contains("nope.gguf"));
    }

    #[test]
    fn known_architectures() {
        for arch in [
            "llama",
            "qwen2",
            "gemma3",
            "gpt-oss",
            "clip",
            "nemotron_h",
            "ernie4_5-moe",
        ] {
            assert!(is_known_architecture(arch), "{arch}");
        }
        assert!(!is_known_architecture("Llama"));
        assert!(!is_known_architecture(""));
        let unique: HashSet<_> = KNOWN_ARCHITECTURES.iter().collect();
        assert_eq!(unique.len(), KNOWN_ARCHITECTURES.len());
    }
}
