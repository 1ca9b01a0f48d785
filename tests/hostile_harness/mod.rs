//! The hostile-input harness shared by `tests/hostile.rs` (the CLI and the
//! API) and `src-tauri/tests/hostile.rs` (the app's commands): the case
//! table, the generated corpus, and running one case in a limited child
//! process with a verdict.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A process running past this is hung (bounds, not speed: the cases
/// should end in seconds).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);
/// Address-space limit of every child: far above what the tiny models
/// need, far below what an unbounded decode reaches.
pub const AS_LIMIT: u64 = 4 << 30;

/// What one case is thrown at.
#[derive(Debug, Clone, Copy)]
pub enum Entry {
    /// `docs add` on a folder with this file and a good note, then
    /// `docs search` must find the note.
    Docs,
    /// `ask --audio FILE` on the omni fixture.
    Audio,
    /// `ask --image FILE` on the omni fixture.
    Image,
    /// `ask --model FILE`.
    Model,
    /// POST the file to `/v1/chat/completions`; the server must answer
    /// with a status and still serve `/v1/models`.
    Api,
}

/// The table: every case of the corpus, and where it goes. A corpus case
/// missing here (or a row without a corpus file) fails
/// `every_corpus_case_has_a_row`.
pub const CASES: &[(&str, Entry)] = &[
    ("pdf_self_parent", Entry::Docs),
    ("pdf_self_kid", Entry::Docs),
    ("pdf_self_xobject", Entry::Docs),
    ("pdf_deep_tree", Entry::Docs),
    ("pdf_truncated", Entry::Docs),
    ("pdf_header_only", Entry::Docs),
    ("pdf_lying_lengths", Entry::Docs),
    ("pdf_flate_bomb", Entry::Docs),
    ("docx_zip_bomb", Entry::Docs),
    ("docx_billion_laughs", Entry::Docs),
    ("docx_huge_entity", Entry::Docs),
    ("docx_deep_nesting", Entry::Docs),
    ("docx_truncated", Entry::Docs),
    ("docx_not_zip", Entry::Docs),
    ("docx_no_document", Entry::Docs),
    ("docx_invalid_utf8", Entry::Docs),
    ("html_amp_chinese", Entry::Docs),
    ("html_deep_nesting", Entry::Docs),
    ("html_broken_entities", Entry::Docs),
    ("md_deep_quotes", Entry::Docs),
    ("md_deep_lists", Entry::Docs),
    ("md_many_backticks", Entry::Docs),
    ("txt_binary", Entry::Docs),
    ("txt_one_huge_line", Entry::Docs),
    ("txt_invalid_utf8", Entry::Docs),
    ("wav_huge_rate", Entry::Audio),
    ("wav_zero_channels", Entry::Audio),
    ("wav_one_hz", Entry::Audio),
    ("wav_many_channels", Entry::Audio),
    ("wav_lying_length", Entry::Audio),
    ("wav_truncated", Entry::Audio),
    ("wav_32bit_float_nan", Entry::Audio),
    ("mp3_garbage", Entry::Audio),
    ("png_huge_dims", Entry::Image),
    ("png_zero_dims", Entry::Image),
    ("png_truncated", Entry::Image),
    ("jpeg_huge_dims", Entry::Image),
    ("jpeg_truncated", Entry::Image),
    ("gif_huge_dims", Entry::Image),
    ("gguf_huge_kv_count", Entry::Model),
    ("gguf_huge_array_len", Entry::Model),
    ("gguf_huge_string", Entry::Model),
    ("gguf_nested_arrays", Entry::Model),
    ("gguf_huge_tensor_dims", Entry::Model),
    ("gguf_truncated", Entry::Model),
    ("gguf_dup_vocab", Entry::Model),
    ("gguf_special_oob", Entry::Model),
    ("gguf_bos_missing", Entry::Model),
    ("gguf_bos_oob", Entry::Model),
    ("gguf_vocab_short", Entry::Model),
    ("gguf_vocab_empty", Entry::Model),
    ("gguf_huge_context", Entry::Model),
    ("gguf_template_loop", Entry::Model),
    ("api_10k_messages", Entry::Api),
    ("api_40mb_body", Entry::Api),
    ("api_invalid_json", Entry::Api),
    ("api_deep_nesting", Entry::Api),
    ("api_many_stops", Entry::Api),
    ("api_huge_max_tokens", Entry::Api),
    ("api_audio_huge_rate", Entry::Api),
    ("api_image_huge_dims", Entry::Api),
    ("api_500_images", Entry::Api),
    ("api_media_marker", Entry::Api),
    ("api_wrong_types", Entry::Api),
];

/// The good note beside every bad document, and a question only it answers.
pub const GOOD_NOTE: &str = "# Lighthouse\n\nThe lighthouse keeper's parrot is named Quillon \
     and eats sunflower seeds every morning.\n";
pub const GOOD_QUERY: &str = "what is the lighthouse keeper's parrot called";

pub struct Corpus {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub manifest: BTreeMap<String, serde_json::Value>,
}

impl Corpus {
    pub fn file(&self, name: &str) -> PathBuf {
        let entry = self
            .manifest
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus"));
        self.root.join(entry["file"].as_str().unwrap())
    }
}

/// The corpus, generated once per test binary by `script` (the repo's
/// `scripts/make-hostile-corpus.py`); the hostile GGUFs are derived from
/// `base_gguf` (the omni fixture).
pub fn corpus(script: &Path, base_gguf: &Path) -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("corpus");
        let out = Command::new("python3")
            .arg(script)
            .arg(&root)
            .arg("--base-gguf")
            .arg(base_gguf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "corpus script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest = serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap())
            .expect("manifest.json");
        Corpus {
            _dir: dir,
            root,
            manifest,
        }
    })
}

pub fn selected(name: &str) -> bool {
    match std::env::var("OMNIDESK_HOSTILE_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|n| n.trim() == name),
        _ => true,
    }
}

pub fn cases(entry: impl Fn(Entry) -> bool) -> Vec<&'static str> {
    CASES
        .iter()
        .filter(|(n, e)| entry(*e) && selected(n))
        .map(|(n, _)| *n)
        .collect()
}

/// How a child process ended.
pub struct Outcome {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// Signal that ended it (including our kill after the timeout).
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory, KiB.
    pub max_rss_kib: i64,
    pub elapsed: Duration,
}

/// RLIMIT_AS (and a CPU-time backstop) for the child.
pub fn limit(c: &mut Command) {
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        c.pre_exec(|| {
            let as_limit = libc::rlimit {
                rlim_cur: AS_LIMIT,
                rlim_max: AS_LIMIT,
            };
            let cpu = libc::rlimit {
                rlim_cur: 600,
                rlim_max: 600,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &as_limit) != 0
                || libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Run `c` to its end (or kill it at [`CASE_TIMEOUT`]).
pub fn run(c: Command, scratch: &Path) -> Outcome {
    run_within(c, scratch, CASE_TIMEOUT)
}

/// Run `c` to its end (or kill it after `limit`). The child is reaped
/// with `wait4` (for its peak RSS), not through `Child`.
#[allow(clippy::zombie_processes)]
pub fn run_within(mut c: Command, scratch: &Path, limit: Duration) -> Outcome {
    let out_path = scratch.join("stdout");
    let err_path = scratch.join("stderr");
    c.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let started = Instant::now();
    let child = c.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut timed_out = false;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: plain syscall on our own child; `usage` is written by it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break (status, usage);
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if !timed_out && started.elapsed() > limit {
            timed_out = true;
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Outcome {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        timed_out,
        stdout: read(&out_path),
        stderr: read(&err_path),
        max_rss_kib: usage.ru_maxrss,
        elapsed,
    }
}

/// `Ok(summary)` when the process ended normally with success or a typed
/// JSON error; `Err(why)` otherwise.
pub fn verdict(o: &Outcome, json_errors: bool) -> Result<String, String> {
    if o.timed_out {
        return Err(format!(
            "still running after {} s (hang); stderr: {}",
            o.elapsed.as_secs(),
            tail(&o.stderr, 400)
        ));
    }
    if let Some(sig) = o.signal {
        return Err(format!(
            "killed by signal {sig} (peak {} MiB); stderr: {}",
            o.max_rss_kib / 1024,
            tail(&o.stderr, 400)
        ));
    }
    match o.code {
        Some(0) => Ok(format!(
            "ok in {:.1} s, {} MiB",
            o.elapsed.as_secs_f64(),
            o.max_rss_kib / 1024
        )),
        Some(1) if json_errors => {
            let code = o
                .stdout
                .lines()
                .rev()
                .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
            match code {
                Some(c) if c != "ERROR" => Ok(format!(
                    "typed error {c} in {:.1} s, {} MiB",
                    o.elapsed.as_secs_f64(),
                    o.max_rss_kib / 1024
                )),
                other => Err(format!(
                    "exit 1 without a typed error ({other:?}); stderr: {}",
                    tail(&o.stderr, 400)
                )),
            }
        }
        Some(1) => Ok(format!("error exit in {:.1} s", o.elapsed.as_secs_f64())),
        Some(c) => Err(format!("exit code {c}; stderr: {}", tail(&o.stderr, 400))),
        None => Err("no exit status".into()),
    }
}

/// The last `n` bytes of `s` (or a little less, at a character boundary).
pub fn tail(s: &str, n: usize) -> String {
    let s = s.trim();
    let mut i = s.len().saturating_sub(n);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    s[i..].to_string()
}

/// Print the table of results and fail naming every failed case.
pub fn report(what: &str, results: Vec<(String, Result<String, String>)>) {
    let mut failed = Vec::new();
    eprintln!("== hostile {what}: {} cases", results.len());
    for (name, r) in &results {
        match r {
            Ok(s) => eprintln!("  PASS {name}: {s}"),
            Err(e) => {
                eprintln!("  FAIL {name}: {e}");
                failed.push(name.clone());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} hostile {what} cases failed: {failed:?}",
        failed.len(),
        results.len()
    );
}
