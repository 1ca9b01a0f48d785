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
mod hostile_harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostile_harness::{
    cases, limit, report, run, run_within, selected, verdict, Corpus, Entry, Outcome, CASES,
    CASE_TIMEOUT, GOOD_NOTE, GOOD_QUERY,
};

/// The corpus of this test binary.
fn corpus() -> &'static Corpus {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-hostile-corpus.py");
    hostile_harness::corpus(&script, &common::omni_fixture().0)
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
    // Embedding is most of the time: every file's chunks (some hostile
    // ones give hundreds) add to the bound, which catches hangs, not speed.
    let limit = CASE_TIMEOUT * u32::try_from(files.len().clamp(1, 3)).unwrap_or(3);
    for pass in ["add", "rescan"] {
        let mut c = omnidesk(&data);
        c.args(["docs", "add", "--json"]).arg(&notes);
        let o = run_within(c, tmp, limit);
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
        self.request_as(method, path, "application/json", body, wait)
    }

    /// [`Serve::request`] with another content type.
    fn request_as(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        wait: Duration,
    ) -> Result<u16, String> {
        let mut s = TcpStream::connect(&self.addr).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(wait)).unwrap();
        s.set_write_timeout(Some(wait)).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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

    // The hostile audio files as transcription uploads (the fixture hears
    // them itself): each is refused or transcribed, and the server goes on.
    for name in cases(|e| matches!(e, Entry::Audio)) {
        let audio = std::fs::read(c.file(name)).unwrap();
        let boundary = "hostileboundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&audio);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = match serve.request_as(
            "POST",
            "/v1/audio/transcriptions",
            &format!("multipart/form-data; boundary={boundary}"),
            &body,
            CASE_TIMEOUT,
        ) {
            Ok(s) if s == 200 || (400..500).contains(&s) => serve
                .alive()
                .map(|_| format!("transcription: status {s}; still serving")),
            Ok(s) => Err(format!("transcription: status {s}")),
            Err(e) => Err(e),
        };
        if let Ok(Some(status)) = serve.child.try_wait() {
            results.push((
                format!("transcribe {name}"),
                Err(format!("serve ended: {status}")),
            ));
            report("API requests", results);
            return;
        }
        results.push((format!("transcribe {name}"), r));
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
