//! Hostile inputs at every entry point: the corpus made by
//! `scripts/make-hostile-corpus.py` (run here into a temp dir) is thrown at
//! `docs add`, `ask --audio/--image`, `ask --model` and the API of `serve`.
//!
//! Each case is one named row in a table below and runs in a child process
//! with a wall-clock bound and an address-space limit. A case passes when
//! the process ends with a normal exit (no signal), within its bound, with
//! a typed error (JSON `error.code` other than the untyped `ERROR`) or a
//! correct result, and the good input beside it is still processed: the
//! good note is indexed and found by `docs search`; the server still
//! answers `/v1/models` after the bad request. A test reports every
//! failing case by name before it fails, so one run shows them all.
//! `OMNIDESK_HOSTILE_ONLY=name,name` runs a subset.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A process running past this is hung (bounds, not speed: the cases
/// should end in seconds).
const CASE_TIMEOUT: Duration = Duration::from_secs(120);
/// Address-space limit of every child: far above what the tiny models
/// need, far below what an unbounded decode reaches.
const AS_LIMIT: u64 = 4 << 30;

/// What one case is thrown at.
#[derive(Debug, Clone, Copy)]
enum Entry {
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
const CASES: &[(&str, Entry)] = &[
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
const GOOD_NOTE: &str = "# Lighthouse\n\nThe lighthouse keeper's parrot is named Quillon \
     and eats sunflower seeds every morning.\n";
const GOOD_QUERY: &str = "what is the lighthouse keeper's parrot called";

struct Corpus {
    _dir: tempfile::TempDir,
    root: PathBuf,
    manifest: BTreeMap<String, serde_json::Value>,
}

impl Corpus {
    fn file(&self, name: &str) -> PathBuf {
        let entry = self
            .manifest
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus"));
        self.root.join(entry["file"].as_str().unwrap())
    }
}

/// The corpus, generated once per test binary from the script in the repo
/// (the hostile GGUFs derived from the omni fixture).
fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("corpus");
        let (model, _) = common::omni_fixture();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-hostile-corpus.py");
        let out = Command::new("python3")
            .arg(&script)
            .arg(&root)
            .arg("--base-gguf")
            .arg(&model)
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

fn selected(name: &str) -> bool {
    match std::env::var("OMNIDESK_HOSTILE_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|n| n.trim() == name),
        _ => true,
    }
}

fn cases(entry: impl Fn(Entry) -> bool) -> Vec<&'static str> {
    CASES
        .iter()
        .filter(|(n, e)| entry(*e) && selected(n))
        .map(|(n, _)| *n)
        .collect()
}

/// How a child process ended.
struct Outcome {
    /// Exit code, when it exited normally.
    code: Option<i32>,
    /// Signal that ended it (including our kill after the timeout).
    signal: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
    /// Peak resident memory, KiB.
    max_rss_kib: i64,
    elapsed: Duration,
}

/// The omnidesk binary with a private data dir and an empty config.
fn omnidesk(data: &Path) -> Command {
    std::fs::create_dir_all(data).unwrap();
    let config = data.join("config.toml");
    std::fs::write(&config, "[engine]\nthreads = 2\nn_ctx = 2048\n").unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
    c.env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env("OMNIDESK_EMBED_MODEL", common::embed_model())
        .env_remove("OMNIDESK_MODEL")
        .env_remove("OMNIDESK_MMPROJ")
        .env_remove("OMNIDESK_LOG")
        // Few malloc arenas keep the address space honest under RLIMIT_AS
        // on machines with many cores.
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::null());
    limit(&mut c);
    c
}

/// RLIMIT_AS (and a CPU-time backstop) for the child.
fn limit(c: &mut Command) {
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

/// Run `c` to its end (or kill it at [`CASE_TIMEOUT`]). The child is
/// reaped with `wait4` (for its peak RSS), not through `Child`.
#[allow(clippy::zombie_processes)]
fn run(mut c: Command, scratch: &Path) -> Outcome {
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
        if !timed_out && started.elapsed() > CASE_TIMEOUT {
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
fn verdict(o: &Outcome, json_errors: bool) -> Result<String, String> {
    if o.timed_out {
        return Err(format!(
            "still running after {} s (hang); stderr: {}",
            CASE_TIMEOUT.as_secs(),
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
fn tail(s: &str, n: usize) -> String {
    let s = s.trim();
    let mut i = s.len().saturating_sub(n);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    s[i..].to_string()
}

/// Print the table of results and fail naming every failed case.
fn report(what: &str, results: Vec<(String, Result<String, String>)>) {
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

#[test]
fn every_corpus_case_has_a_row() {
    let c = corpus();
    let rows: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    let missing: Vec<&String> = c
        .manifest
        .keys()
        .filter(|k| !rows.contains(&k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "corpus cases without a row: {missing:?}"
    );
    for r in rows {
        assert!(c.file(r).is_file(), "{r}");
    }
}

/// `docs add` on the bad file beside a good note, then a rescan, then
/// `docs search` for the note.
fn docs_case(tmp: &Path, files: &[PathBuf]) -> Result<String, String> {
    let notes = tmp.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("good.md"), GOOD_NOTE).unwrap();
    for f in files {
        std::fs::copy(f, notes.join(f.file_name().unwrap())).unwrap();
    }
    let data = tmp.join("data");
    let mut summary = String::new();
    // The second run is a rescan: a file that crashed the first time must
    // not crash it again.
    for pass in ["add", "rescan"] {
        let mut c = omnidesk(&data);
        c.args(["docs", "add", "--json"]).arg(&notes);
        let o = run(c, tmp);
        summary = verdict(&o, true).map_err(|e| format!("{pass}: {e}"))?;
    }
    let mut c = omnidesk(&data);
    c.args(["docs", "search", "--json", GOOD_QUERY]);
    let o = run(c, tmp);
    verdict(&o, true).map_err(|e| format!("search: {e}"))?;
    let res: serde_json::Value = serde_json::from_str(o.stdout.trim())
        .map_err(|e| format!("search output is not JSON ({e}): {}", o.stdout))?;
    let top = res["results"][0]["chunk"]["path"].as_str().unwrap_or("");
    if !top.ends_with("good.md") {
        return Err(format!("the good note was not found; top hit {top:?}"));
    }
    Ok(format!("{summary}; good note found"))
}

#[test]
fn hostile_documents_beside_a_good_note() {
    let c = corpus();
    let mut results = Vec::new();
    let names = cases(|e| matches!(e, Entry::Docs));
    for name in &names {
        let tmp = tempfile::tempdir().unwrap();
        results.push((name.to_string(), docs_case(tmp.path(), &[c.file(name)])));
    }
    if names.len() > 1 {
        // All of them in one folder: one bad file must not cost the rest.
        let tmp = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = names.iter().map(|n| c.file(n)).collect();
        results.push((
            "all_documents_together".into(),
            docs_case(tmp.path(), &files),
        ));
    }
    report("documents", results);
}

#[test]
fn hostile_media_to_ask() {
    let c = corpus();
    let (model, mmproj) = common::omni_fixture();
    let mut results = Vec::new();
    for (flag, entry) in [("--audio", Entry::Audio), ("--image", Entry::Image)] {
        for name in cases(|e| std::mem::discriminant(&e) == std::mem::discriminant(&entry)) {
            let tmp = tempfile::tempdir().unwrap();
            let mut cmd = omnidesk(&tmp.path().join("data"));
            cmd.args([
                "ask",
                "--json",
                "--no-save",
                "-t",
                "2",
                "-n",
                "4",
                "--model",
            ])
            .arg(&model)
            .arg("--mmproj")
            .arg(&mmproj)
            .arg(flag)
            .arg(c.file(name))
            .arg("What is this?");
            let o = run(cmd, tmp.path());
            results.push((name.to_string(), verdict_without_panic(&o)));
        }
    }
    report("media", results);
}

/// [`verdict`] for `ask`, which must also print no panic. A panic inside a
/// third-party decoder that the library caught and reported as a typed
/// refusal is handled; any other is not.
fn verdict_without_panic(o: &Outcome) -> Result<String, String> {
    let caught = o.stderr.contains("decoder crashed on this file");
    verdict(o, true).and_then(|s| {
        if o.stderr.contains("panicked") && !caught {
            Err(format!("a panic was printed: {}", o.stderr.trim()))
        } else {
            Ok(s)
        }
    })
}

#[test]
fn hostile_models_to_ask() {
    let c = corpus();
    let mut results = Vec::new();
    for name in cases(|e| matches!(e, Entry::Model)) {
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = omnidesk(&tmp.path().join("data"));
        cmd.args([
            "ask",
            "--json",
            "--no-save",
            "-t",
            "2",
            "-n",
            "4",
            "--model",
        ])
        .arg(c.file(name))
        .arg("Hello?");
        let o = run(cmd, tmp.path());
        let r = verdict_without_panic(&o);
        results.push((name.to_string(), r));
    }
    report("models", results);
}

/// `omnidesk serve` on the omni fixture, limited like the other children.
struct Serve {
    child: std::process::Child,
    addr: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start() -> Self {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let (model, mmproj) = common::omni_fixture();
        let mut c = omnidesk(dir.path());
        c.args(["serve", "--port", "0", "--model"])
            .arg(&model)
            .arg("--mmproj")
            .arg(&mmproj)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap());
        let mut child = c.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let (mut addr, mut token) = (None, None);
        while token.is_none() {
            let line = lines
                .next()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("serve did not start"));
            if let Some(rest) = line.strip_prefix("Omnidesk API listening on http://") {
                addr = Some(rest.trim().trim_end_matches("/v1").to_string());
            } else if let Some(rest) = line.strip_prefix("Token: ") {
                token = Some(rest.trim().to_string());
            }
        }
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            addr: addr.expect("listening line"),
            token: token.unwrap_or_default(),
            _dir: dir,
        }
    }

    /// One request on a fresh connection; the status code, or why none came.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        wait: Duration,
    ) -> Result<u16, String> {
        let mut s = TcpStream::connect(&self.addr).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(wait)).unwrap();
        s.set_write_timeout(Some(wait)).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            self.token,
            body.len()
        );
        s.write_all(head.as_bytes())
            .map_err(|e| format!("send: {e}"))?;
        // The server may answer (413) and close before the whole body is
        // sent; that is fine.
        let _ = s.write_all(body);
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while !got.windows(2).any(|w| w == b"\r\n") {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("no answer within {} s ({e})", wait.as_secs())),
            }
        }
        let line = String::from_utf8_lossy(&got);
        line.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status line: {line:?}"))
    }

    fn alive(&self) -> Result<(), String> {
        match self.request("GET", "/v1/models", b"", Duration::from_secs(20)) {
            Ok(200) => Ok(()),
            Ok(s) => Err(format!("/v1/models answered {s}")),
            Err(e) => Err(format!("/v1/models: {e}")),
        }
    }

    fn peak_rss_mib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn hostile_api_requests_and_sockets() {
    let c = corpus();
    let mut serve = Serve::start();
    serve.alive().expect("the server answers before the cases");
    let mut results = Vec::new();
    for name in cases(|e| matches!(e, Entry::Api)) {
        let body = std::fs::read(c.file(name)).unwrap();
        let r = match serve.request("POST", "/v1/chat/completions", &body, CASE_TIMEOUT) {
            Ok(s) if s == 200 || (400..500).contains(&s) => {
                serve.alive().map(|_| format!("status {s}; still serving"))
            }
            Ok(s) => Err(format!("status {s}")),
            Err(e) => Err(e),
        };
        if let Ok(Some(status)) = serve.child.try_wait() {
            results.push((name.to_string(), Err(format!("serve ended: {status}"))));
            report("API requests", results);
            return;
        }
        results.push((name.to_string(), r));
    }

    // Sockets that never finish their request: the server keeps serving
    // others, closes them itself, and still stops on Ctrl-C.
    if selected("idle_and_slow_sockets") {
        let idle: Vec<TcpStream> = (0..64)
            .filter_map(|_| TcpStream::connect(&serve.addr).ok())
            .collect();
        let mut slow = TcpStream::connect(&serve.addr).unwrap();
        let _ = slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n");
        let r = serve.alive().and_then(|_| {
            // A request that never completes its headers is closed by the
            // server (header-read timeout) within a bound.
            let mut s = idle.into_iter().next().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
            let mut b = [0u8; 16];
            match s.read(&mut b) {
                Ok(n) => Ok(format!(
                    "still serving with 64 idle + 1 slow socket; the server closed an idle one ({n} bytes sent first)"
                )),
                Err(e) => Err(format!("an idle socket was still open after 90 s ({e})")),
            }
        });
        results.push(("idle_and_slow_sockets".into(), r));
        drop(slow);
    }
    let peak = serve.peak_rss_mib();
    eprintln!("serve peak RSS over the API cases: {peak:?} MiB");

    // Ctrl-C with a slow request still open ends the process normally.
    if selected("ctrl_c_with_open_request") {
        let mut slow = TcpStream::connect(&serve.addr).unwrap();
        let _ = slow.write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
        );
        // SAFETY: signalling our own child.
        unsafe { libc::kill(serve.child.id() as libc::pid_t, libc::SIGINT) };
        let started = Instant::now();
        let r = loop {
            match serve.child.try_wait() {
                Ok(Some(st)) if st.code().is_some() => break Ok(format!("stopped: {st}")),
                Ok(Some(st)) => break Err(format!("ended by a signal: {st}")),
                Ok(None) if started.elapsed() > Duration::from_secs(30) => {
                    break Err("still running 30 s after Ctrl-C".into())
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => break Err(e.to_string()),
            }
        };
        drop(slow);
        results.push(("ctrl_c_with_open_request".into(), r));
    }
    report("API requests", results);
}
