//! Header-valid GGUF files that would make llama.cpp abort (GGML_ASSERT)
//! or allocate without bound are refused by the pre-check with their own
//! code, through the library and through `omnidesk ask`, which exits with
//! an error instead of dying from a signal. The real test models pass.
//!
//! The files are generated here: small synthetic models from a writer in
//! this file, and byte-patched copies of the real omni fixture (a patch of
//! the same length keeps every offset, so only the one field is hostile).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use omnidesk::gguf::{self, GgufError};

// ---- a small GGUF writer ---------------------------------------------------

enum V {
    Str(&'static str),
    U32(u32),
    Bool(bool),
    Strs(Vec<String>),
    F32s(usize),
    I32s(usize),
}

#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn kv(&mut self, key: &str, v: &V) {
        self.str(key);
        match v {
            V::Str(s) => {
                self.u32(8);
                self.str(s);
            }
            V::U32(n) => {
                self.u32(4);
                self.u32(*n);
            }
            V::Bool(b) => {
                self.u32(7);
                self.0.push(u8::from(*b));
            }
            V::Strs(items) => {
                self.u32(9);
                self.u32(8);
                self.u64(items.len() as u64);
                for s in items {
                    self.str(s);
                }
            }
            V::F32s(n) => {
                self.u32(9);
                self.u32(6);
                self.u64(*n as u64);
                for _ in 0..*n {
                    self.0.extend_from_slice(&0f32.to_le_bytes());
                }
            }
            V::I32s(n) => {
                self.u32(9);
                self.u32(5);
                self.u64(*n as u64);
                for _ in 0..*n {
                    self.0.extend_from_slice(&1i32.to_le_bytes());
                }
            }
        }
    }
}

fn vocab(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i}")).collect()
}

/// A llama-shaped model of 8 tokens with its tokenizer, changed by `edit`.
fn model(edit: impl FnOnce(&mut Vec<(&'static str, V)>)) -> Vec<u8> {
    let mut kvs: Vec<(&'static str, V)> = vec![
        ("general.architecture", V::Str("llama")),
        ("general.name", V::Str("hostile")),
        ("llama.context_length", V::U32(256)),
        ("llama.embedding_length", V::U32(8)),
        ("llama.block_count", V::U32(1)),
        ("llama.attention.head_count", V::U32(1)),
        ("tokenizer.ggml.model", V::Str("gpt2")),
        ("tokenizer.ggml.tokens", V::Strs(vocab(8))),
        ("tokenizer.ggml.token_type", V::I32s(8)),
        ("tokenizer.ggml.scores", V::F32s(8)),
        ("tokenizer.ggml.merges", V::Strs(vec!["t 0".into()])),
        ("tokenizer.ggml.bos_token_id", V::U32(0)),
        ("tokenizer.ggml.eos_token_id", V::U32(1)),
        ("tokenizer.ggml.add_bos_token", V::Bool(true)),
    ];
    edit(&mut kvs);
    let mut w = W::default();
    w.0.extend_from_slice(b"GGUF");
    w.u32(3);
    w.u64(1);
    w.u64(kvs.len() as u64);
    for (k, v) in &kvs {
        w.kv(k, v);
    }
    // token_embd.weight: 8 x 8 F32.
    w.str("token_embd.weight");
    w.u32(2);
    w.u64(8);
    w.u64(8);
    w.u32(0);
    w.u64(0);
    while w.0.len() % 32 != 0 {
        w.0.push(0);
    }
    w.0.resize(w.0.len() + 8 * 8 * 4, 0);
    w.0
}

fn set(kvs: &mut [(&'static str, V)], key: &str, v: V) {
    kvs.iter_mut().find(|(k, _)| *k == key).unwrap().1 = v;
}

fn remove(kvs: &mut Vec<(&'static str, V)>, key: &str) {
    kvs.retain(|(k, _)| *k != key);
}

/// Every hostile synthetic case and the code it must be refused with.
fn synthetic_cases() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut dup = vocab(8);
    dup[5] = "t2".into();
    vec![
        (
            "duplicate-token",
            "DUPLICATE_TOKEN",
            model(|k| set(k, "tokenizer.ggml.tokens", V::Strs(dup))),
        ),
        (
            "eos-out-of-range",
            "SPECIAL_TOKEN_OUT_OF_RANGE",
            model(|k| set(k, "tokenizer.ggml.eos_token_id", V::U32(8))),
        ),
        (
            "add-bos-without-bos",
            "MISSING_SPECIAL_TOKEN",
            model(|k| remove(k, "tokenizer.ggml.bos_token_id")),
        ),
        (
            "short-token-types",
            "VOCAB_LENGTH_MISMATCH",
            model(|k| set(k, "tokenizer.ggml.token_type", V::I32s(7))),
        ),
        (
            "long-scores",
            "VOCAB_LENGTH_MISMATCH",
            model(|k| set(k, "tokenizer.ggml.scores", V::F32s(9))),
        ),
        (
            "merge-without-space",
            "MALFORMED_MERGE",
            model(|k| set(k, "tokenizer.ggml.merges", V::Strs(vec!["t0".into()]))),
        ),
        (
            "huge-embedding",
            "IMPLAUSIBLE_SIZE",
            model(|k| set(k, "llama.embedding_length", V::U32(1 << 31))),
        ),
        (
            "huge-context",
            "IMPLAUSIBLE_SIZE",
            model(|k| set(k, "llama.context_length", V::U32(u32::MAX))),
        ),
        ("tensor-count-lie", "IMPLAUSIBLE_SIZE", {
            let mut b = model(|_| {});
            b[8..16].copy_from_slice(&(1u64 << 19).to_le_bytes());
            b
        }),
    ]
}

// ---- patching the real fixture in place ------------------------------------

/// Byte ranges of interest in a real GGUF: each vocabulary entry's text and
/// each u32 metadata value, by key.
#[derive(Default)]
struct Map {
    tokens: Vec<std::ops::Range<usize>>,
    u32_values: Vec<(String, usize)>,
}

fn map(b: &[u8]) -> Map {
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    fn skip(
        b: &[u8],
        ty: usize,
        at: usize,
        out: Option<&mut Vec<std::ops::Range<usize>>>,
    ) -> usize {
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
        match ty {
            0 | 1 | 7 => at + 1,
            2 | 3 => at + 2,
            4..=6 => at + 4,
            10..=12 => at + 8,
            8 => at + 8 + u64_at(at),
            9 => {
                let elem = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
                let n = u64_at(at + 4);
                let mut p = at + 12;
                let mut out = out;
                for _ in 0..n {
                    if let (8, Some(o)) = (elem, out.as_deref_mut()) {
                        o.push(p + 8..p + 8 + u64_at(p));
                    }
                    p = skip(b, elem, p, None);
                }
                p
            }
            t => panic!("value type {t}"),
        }
    }
    let mut m = Map::default();
    let n_kv = u64_at(16);
    let mut at = 24;
    for _ in 0..n_kv {
        let len = u64_at(at);
        let key = String::from_utf8(b[at + 8..at + 8 + len].to_vec()).unwrap();
        at += 8 + len;
        let ty = u32_at(at);
        at += 4;
        if ty == 4 {
            m.u32_values.push((key.clone(), at));
        }
        let tokens = (key == "tokenizer.ggml.tokens").then_some(&mut m.tokens);
        at = skip(b, ty, at, tokens);
    }
    m
}

/// The omni fixture's text model with two same-length tokens made equal.
fn fixture_with_duplicate_token(model: &[u8]) -> Vec<u8> {
    let m = map(model);
    let mut b = model.to_vec();
    let (first, second) = m
        .tokens
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            let text = &model[a.clone()];
            m.tokens[i + 1..]
                .iter()
                .find(|r| r.len() == a.len() && model[(*r).clone()] != *text)
                .map(|r| (a.clone(), r.clone()))
        })
        .expect("two tokens of the same length");
    let text = model[first].to_vec();
    b[second].copy_from_slice(&text);
    b
}

/// The omni fixture's text model with its EOS id past the vocabulary.
fn fixture_with_eos_out_of_range(model: &[u8]) -> Vec<u8> {
    let m = map(model);
    let at = m
        .u32_values
        .iter()
        .find(|(k, _)| k == "tokenizer.ggml.eos_token_id")
        .expect("the fixture names its EOS")
        .1;
    let mut b = model.to_vec();
    b[at..at + 4].copy_from_slice(&(m.tokens.len() as u32 + 1000).to_le_bytes());
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(format!("{name}.gguf"));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `omnidesk ask` on `model`: (exit code, stderr); a signal fails the test.
fn ask(data: &Path, model: &Path) -> (i32, String) {
    let config = data.join("config.toml");
    std::fs::write(&config, "[engine]\nthreads = 2\nn_ctx = 256\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env_remove("OMNIDESK_MODEL")
        .env_remove("OMNIDESK_MMPROJ")
        .env_remove("OMNIDESK_LOG")
        .args(["ask", "--model"])
        .arg(model)
        .arg("hello")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("omnidesk ask died from a signal: {stderr}"));
    (code, stderr)
}

// ---- the tests -------------------------------------------------------------

#[test]
fn synthetic_hostile_models_are_refused_with_their_code() {
    let dir = tempfile::tempdir().unwrap();
    // The writer makes a file the checks accept.
    let good = write(dir.path(), "good", &model(|_| {}));
    gguf::inspect(&good).unwrap();
    for (name, code, bytes) in synthetic_cases() {
        let path = write(dir.path(), name, &bytes);
        let err: GgufError = gguf::inspect(&path).unwrap_err();
        assert_eq!(err.code(), code, "{name}: {err}");
        assert!(
            err.to_string().contains(name),
            "{name}: the message names the file: {err}"
        );
        assert_eq!(
            gguf::inspect_bytes(&bytes).unwrap_err().code(),
            code,
            "{name}"
        );
    }
}

#[test]
fn omnidesk_ask_exits_with_the_error_instead_of_aborting() {
    let dir = tempfile::tempdir().unwrap();
    let (fixture, _) = common::omni_fixture();
    let real = std::fs::read(&fixture).unwrap();
    let mut cases: Vec<(String, &str, PathBuf)> = vec![
        (
            "fixture-duplicate-token".into(),
            "twice",
            write(
                dir.path(),
                "fixture-duplicate-token",
                &fixture_with_duplicate_token(&real),
            ),
        ),
        (
            "fixture-eos-out-of-range".into(),
            "outside the vocabulary",
            write(
                dir.path(),
                "fixture-eos-out-of-range",
                &fixture_with_eos_out_of_range(&real),
            ),
        ),
    ];
    for (name, _, bytes) in synthetic_cases().into_iter().take(3) {
        cases.push((name.into(), "", write(dir.path(), name, &bytes)));
    }
    for (name, says, path) in cases {
        let data = dir.path().join(format!("data-{name}"));
        std::fs::create_dir_all(&data).unwrap();
        let (code, stderr) = ask(&data, &path);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(
            stderr.contains(&name) && stderr.contains(says),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn the_real_test_models_pass_the_checks() {
    let chat = gguf::inspect(&common::test_model()).unwrap();
    assert!(chat.vocab_size.unwrap_or(0) > 1000);
    let embed = gguf::inspect(&common::embed_model()).unwrap();
    assert_eq!(embed.architecture, "bert");
    let (model, mmproj) = common::omni_fixture();
    let text = gguf::inspect(&model).unwrap();
    let projector = gguf::inspect(&mmproj).unwrap();
    assert!(projector.is_projector());
    assert_eq!(projector.projector_type.as_deref(), Some("qwen2.5o"));
    gguf::check_pairing(&text, &projector, &mmproj).unwrap();
    // The fixture's projector does not fit a model of another width.
    let err = gguf::check_pairing(&chat, &projector, &mmproj).unwrap_err();
    assert_eq!(err.code(), "PROJECTOR_MISMATCH", "{err}");
}
