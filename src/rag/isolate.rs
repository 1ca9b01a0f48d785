//! Untrusted parsing in a child process, so no document can take the
//! caller down.
//!
//! A file's bytes go to a *parse worker*: the running binary re-executed
//! with [`WORKER_ARG`] as its first argument (both `omnidesk` and the app
//! call [`maybe_run_worker`] first thing in `main`), or the program named by
//! `$OMNIDESK_PARSE_WORKER` / [`ParserConfig::child`]. The worker runs
//! [`parse::parse`] under limits on address space (`RLIMIT_AS`), CPU time
//! per file (`RLIMIT_CPU`) and wall time (the parent kills it). A stack
//! overflow, abort, allocation failure or endless loop inside a parser ends
//! only the worker: the file becomes a [`Skip`] with the reason, and the
//! next file gets a fresh worker. One worker serves many files.
//!
//! Protocol over the worker's stdin/stdout (lengths little-endian): the
//! worker first sends a hello frame; a request is a `u32` length + JSON
//! header (`{"format":"pdf"}`), then a `u64` length + the file's bytes; the
//! reply is a `u32` length + JSON [`Reply`]. Anything else is garbage and
//! costs the worker its life. The worker moves stray prints of parser
//! crates from stdout to stderr, whose tail the parent keeps for the reason.
//!
//! Threading: a [`ParseSession`] is driven from one thread; each worker
//! has a writer thread (requests), a reader thread (reply frames) and a
//! stderr-tail thread, all ending with the worker.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::{RagError, Result};
use super::parse::{self, Block, Format, Skip, MAX_FILE_BYTES};

/// First argument that turns an Omnidesk binary into a parse worker.
pub const WORKER_ARG: &str = "__omnidesk-parse-worker";
/// Environment variable naming the worker program (`in-process` parses in
/// the calling process, without protection).
pub const WORKER_ENV: &str = "OMNIDESK_PARSE_WORKER";
/// Protocol version in the hello frame.
const PROTOCOL: u32 = 1;
/// Largest reply frame accepted: the text of the largest file, JSON-escaped.
const MAX_REPLY_BYTES: u64 = 6 * MAX_FILE_BYTES + (1 << 20);
/// How often a waiting parent looks at the cancel flag.
const POLL: Duration = Duration::from_millis(25);
/// Bytes of the worker's stderr kept for the skip reason.
const STDERR_TAIL: usize = 8 << 10;

/// What one worker may use for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Address space of the whole worker (`RLIMIT_AS`), MiB.
    pub memory_mib: u64,
    /// CPU time per file (`RLIMIT_CPU`, raised before each file), seconds.
    pub cpu_secs: u64,
    /// Wall time per file; the parent kills the worker after it.
    pub wall: Duration,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            memory_mib: 2048,
            cpu_secs: 60,
            wall: Duration::from_secs(90),
        }
    }
}

/// Where parsing happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// In a worker process started from this program.
    Child(PathBuf),
    /// In the calling process: a crash in a parser crashes the caller.
    /// For unit tests and fuzzing.
    InProcess,
}

/// How documents are parsed: where, and within which limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParserConfig {
    pub isolation: Isolation,
    pub limits: ParseLimits,
}

impl ParserConfig {
    /// Parse in worker processes running `program` (an Omnidesk binary,
    /// e.g. `CARGO_BIN_EXE_omnidesk` in tests).
    pub fn child(program: impl Into<PathBuf>) -> Self {
        Self {
            isolation: Isolation::Child(program.into()),
            limits: ParseLimits::default(),
        }
    }

    /// Parse in this process (no protection from crashing parsers).
    pub fn in_process() -> Self {
        Self {
            isolation: Isolation::InProcess,
            limits: ParseLimits::default(),
        }
    }

    /// `$OMNIDESK_PARSE_WORKER` if set; else this binary, when its `main`
    /// called [`maybe_run_worker`]; else in-process, with a warning.
    pub fn from_env() -> Self {
        match std::env::var_os(WORKER_ENV).filter(|v| !v.is_empty()) {
            Some(v) if v == "in-process" => Self::in_process(),
            Some(v) => Self::child(v),
            None => match SELF_EXEC.get() {
                Some(exe) => Self::child(exe.clone()),
                None => {
                    static WARNED: AtomicBool = AtomicBool::new(false);
                    if !WARNED.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "documents are parsed in this process: no parse worker \
                             (set {WORKER_ENV} to an omnidesk binary)"
                        );
                    }
                    Self::in_process()
                }
            },
        }
    }

    /// The same, with other limits.
    pub fn with_limits(mut self, limits: ParseLimits) -> Self {
        self.limits = limits;
        self
    }
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self::from_env()
    }
}

/// Set by [`maybe_run_worker`] in a binary that can serve as its own worker.
static SELF_EXEC: OnceLock<PathBuf> = OnceLock::new();

/// Call first in `main`. Started as a worker (first argument
/// [`WORKER_ARG`]), this serves parse requests until stdin closes and
/// returns the exit code to end with; otherwise it records that this
/// binary can be re-executed as its own worker and returns `None`.
pub fn maybe_run_worker() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(WORKER_ARG)) {
        // /proc/self/exe still runs this binary after an upgrade replaced
        // the file on disk.
        let exe = if cfg!(target_os = "linux") {
            Some(PathBuf::from("/proc/self/exe"))
        } else {
            std::env::current_exe().ok()
        };
        if let Some(exe) = exe {
            let _ = SELF_EXEC.set(exe);
        }
        return None;
    }
    let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    Some(match worker::run(&rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omnidesk parse worker: {e}");
            ExitCode::from(2)
        }
    })
}

/// Request header.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    format: Format,
}

/// What the worker answers for one file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Blocks(Vec<Block>),
    Skip(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    worker: String,
    protocol: u32,
}

/// The outcome of parsing one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Blocks(Vec<Block>),
    Skipped(Skip),
    /// The cancel flag was raised while the file was being parsed.
    Cancelled,
}

/// Parses files one after another, in workers per its [`ParserConfig`];
/// starts a worker on first use and a new one after each death. Dropping
/// the session ends its worker.
#[derive(Debug)]
pub struct ParseSession {
    config: ParserConfig,
    worker: Option<Worker>,
    started: usize,
}

impl ParseSession {
    pub fn new(config: ParserConfig) -> Self {
        Self {
            config,
            worker: None,
            started: 0,
        }
    }

    /// How many workers this session has started (1 + one per death).
    pub fn workers_started(&self) -> usize {
        self.started
    }

    /// Parse one file's bytes. A crash, hang, bloat or garbage reply is a
    /// [`Parsed::Skipped`] with its reason; raising `cancel` ends the
    /// worker within a few tens of ms.
    ///
    /// # Errors
    /// `ParseWorker` when no worker can be started at all (a missing or
    /// wrong program): that is the installation's fault, not the file's,
    /// so the caller stops instead of recording skips.
    pub fn parse(&mut self, format: Format, bytes: &[u8], cancel: &AtomicBool) -> Result<Parsed> {
        let program = match &self.config.isolation {
            Isolation::InProcess => {
                return Ok(match parse::parse(format, bytes) {
                    Ok(b) => Parsed::Blocks(b),
                    Err(s) => Parsed::Skipped(s),
                })
            }
            Isolation::Child(p) => p.clone(),
        };
        if bytes.len() as u64 > MAX_FILE_BYTES {
            // Refused before it costs a pipe transfer; same reason as parse().
            return Ok(match parse::parse(format, bytes) {
                Ok(b) => Parsed::Blocks(b),
                Err(s) => Parsed::Skipped(s),
            });
        }
        let limits = self.config.limits;
        let worker = match self.worker.take() {
            Some(w) => w,
            None => match Worker::start(&program, limits, cancel) {
                Ok(w) => {
                    self.started += 1;
                    w
                }
                Err(_) if cancel.load(Ordering::Relaxed) => return Ok(Parsed::Cancelled),
                Err(reason) => return Err(RagError::ParseWorker { program, reason }),
            },
        };
        let worker = self.worker.insert(worker);
        match worker.request(format, bytes, cancel, limits) {
            Ok(reply) => Ok(match reply {
                Reply::Blocks(b) => Parsed::Blocks(b),
                Reply::Skip(s) => Parsed::Skipped(Skip(s)),
            }),
            Err(end) => {
                let worker = self.worker.take();
                let reason = match end {
                    End::Cancelled => {
                        drop(worker);
                        return Ok(Parsed::Cancelled);
                    }
                    End::Timeout => format!(
                        "the {} parser took longer than {} s on this file",
                        format.name(),
                        limits.wall.as_secs_f64().ceil()
                    ),
                    End::Garbage(what) => {
                        tracing::warn!("parse worker sent garbage: {what}");
                        format!(
                            "the {} parser returned garbage for this file",
                            format.name()
                        )
                    }
                    End::Died => {
                        let (status, tail) =
                            worker.map(Worker::reap).unwrap_or((None, String::new()));
                        tracing::debug!("parse worker died ({status:?}): {tail}");
                        death_reason(format, status, &tail, limits)
                    }
                };
                Ok(Parsed::Skipped(Skip(reason)))
            }
        }
    }
}

/// Why a worker's death happened, in words for the user.
fn death_reason(
    format: Format,
    status: Option<ExitStatus>,
    stderr: &str,
    limits: ParseLimits,
) -> String {
    let name = format.name();
    if stderr.contains("has overflowed its stack") {
        return format!("the {name} parser crashed on this file (stack overflow)");
    }
    if stderr.contains("memory allocation of") {
        return format!(
            "the {name} parser used more than {} MiB of memory on this file",
            limits.memory_mib
        );
    }
    let Some(status) = status else {
        return format!("the {name} parser crashed on this file");
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            if sig == libc::SIGXCPU {
                return format!(
                    "the {name} parser used more than {} s of CPU time on this file",
                    limits.cpu_secs
                );
            }
            return format!("the {name} parser crashed on this file (signal {sig})");
        }
    }
    match status.code() {
        Some(c) => format!("the {name} parser crashed on this file (exit status {c})"),
        None => format!("the {name} parser crashed on this file"),
    }
}

/// How a request ended when it brought no reply.
#[derive(Debug)]
enum End {
    Cancelled,
    Timeout,
    Garbage(String),
    Died,
}

/// The last bytes a worker wrote to stderr.
#[derive(Debug, Default)]
struct Tail {
    text: Vec<u8>,
    closed: bool,
}

/// One running worker process.
#[derive(Debug)]
struct Worker {
    child: Child,
    requests: Option<mpsc::Sender<Vec<u8>>>,
    replies: mpsc::Receiver<io::Result<Vec<u8>>>,
    stderr: Arc<Mutex<Tail>>,
}

impl Worker {
    /// Spawn `program` as a worker and wait for its hello.
    fn start(program: &Path, limits: ParseLimits, cancel: &AtomicBool) -> Result<Self, String> {
        let mut cmd = Command::new(program);
        cmd.arg(WORKER_ARG)
            .arg(format!("--memory-mib={}", limits.memory_mib))
            .arg(format!("--cpu-secs={}", limits.cpu_secs))
            .arg(format!("--parent={}", std::process::id()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Hostile input never sees the user's environment (API keys).
            .env_clear();
        for keep in [
            "PATH",
            "LD_LIBRARY_PATH",
            "DYLD_LIBRARY_PATH",
            "SYSTEMROOT",
            "TMPDIR",
        ] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: a terminal's Ctrl-C reaches only us
            // (we cancel and kill it), and killing the group takes any
            // helper it started too.
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start it: {e}"))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill(&mut child);
            return Err("its pipes could not be opened".into());
        };
        let tail = Arc::new(Mutex::new(Tail::default()));
        let (reply_tx, replies) = mpsc::channel();
        let (request_tx, request_rx) = mpsc::channel::<Vec<u8>>();
        let spawned = spawn_thread("omnidesk-parse-out", move || read_frames(stdout, reply_tx))
            .and_then(|_| {
                spawn_thread("omnidesk-parse-in", move || {
                    write_requests(stdin, request_rx)
                })
            })
            .and_then(|_| {
                let t = tail.clone();
                spawn_thread("omnidesk-parse-err", move || read_tail(stderr, t))
            });
        if let Err(e) = spawned {
            kill(&mut child);
            return Err(format!("cannot start its threads: {e}"));
        }
        let mut w = Worker {
            child,
            requests: Some(request_tx),
            replies,
            stderr: tail,
        };
        let deadline = Instant::now() + limits.wall.max(Duration::from_secs(10));
        match w.next_reply(cancel, deadline) {
            Ok(frame) => match serde_json::from_slice::<Hello>(&frame) {
                Ok(h) if h.worker == "omnidesk-parse" && h.protocol == PROTOCOL => Ok(w),
                Ok(h) => Err(format!(
                    "it speaks {} protocol {}, not omnidesk-parse {PROTOCOL}",
                    h.worker, h.protocol
                )),
                Err(_) => Err("it is not an Omnidesk parse worker".into()),
            },
            Err(End::Cancelled) => Err("cancelled while it started".into()),
            Err(End::Timeout) => Err("it did not answer".into()),
            Err(End::Garbage(_)) => Err("it is not an Omnidesk parse worker".into()),
            Err(End::Died) => {
                let (status, tail) = w.reap();
                let tail = tail.trim();
                Err(match status {
                    Some(s) if tail.is_empty() => format!("it exited at once ({s})"),
                    _ => format!("it exited at once: {tail}"),
                })
            }
        }
    }

    /// Send one file and wait for its reply.
    fn request(
        &mut self,
        format: Format,
        bytes: &[u8],
        cancel: &AtomicBool,
        limits: ParseLimits,
    ) -> std::result::Result<Reply, End> {
        let header = serde_json::to_vec(&Request { format })
            .map_err(|e| End::Garbage(format!("request: {e}")))?;
        let mut frame = Vec::with_capacity(12 + header.len() + bytes.len());
        frame.extend_from_slice(&(header.len() as u32).to_le_bytes());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        frame.extend_from_slice(bytes);
        let sent = self.requests.as_ref().map(|tx| tx.send(frame).is_ok());
        if sent != Some(true) {
            return Err(End::Died);
        }
        let deadline = Instant::now() + limits.wall;
        let frame = self.next_reply(cancel, deadline)?;
        serde_json::from_slice::<Reply>(&frame).map_err(|e| End::Garbage(e.to_string()))
    }

    /// The next frame, or why none came.
    fn next_reply(
        &mut self,
        cancel: &AtomicBool,
        deadline: Instant,
    ) -> std::result::Result<Vec<u8>, End> {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(End::Cancelled);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(End::Timeout);
            }
            match self.replies.recv_timeout(left.min(POLL)) {
                Ok(Ok(frame)) => return Ok(frame),
                Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
                    return Err(End::Garbage(e.to_string()))
                }
                Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => return Err(End::Died),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Wait for a worker whose output ended; its exit status and the end
    /// of its stderr. One that lingers is killed.
    fn reap(mut self) -> (Option<ExitStatus>, String) {
        self.requests = None;
        let started = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if started.elapsed() < Duration::from_secs(2) => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    kill(&mut self.child);
                    break None;
                }
                Err(_) => break None,
            }
        };
        // The stderr thread sees EOF right after the death; wait briefly.
        let started = Instant::now();
        loop {
            let t = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
            if t.closed || started.elapsed() > Duration::from_millis(500) {
                return (status, String::from_utf8_lossy(&t.text).into_owned());
            }
            drop(t);
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.requests = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            kill(&mut self.child);
        }
    }
}

/// SIGKILL the worker's process group (or the worker) and reap it.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) with a negative pid signals that process
            // group; it touches no memory of ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
}

/// Frames from the worker's stdout until it ends or lies about a length.
fn read_frames(mut out: impl Read, tx: mpsc::Sender<io::Result<Vec<u8>>>) {
    loop {
        let mut len = [0u8; 4];
        if let Err(e) = out.read_exact(&mut len) {
            let _ = tx.send(Err(e));
            return;
        }
        let len = u64::from(u32::from_le_bytes(len));
        if len > MAX_REPLY_BYTES {
            let _ = tx.send(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a reply of {len} bytes"),
            )));
            return;
        }
        let mut buf = Vec::new();
        match (&mut out).take(len).read_to_end(&mut buf) {
            Ok(n) if n as u64 == len => {
                if tx.send(Ok(buf)).is_err() {
                    return;
                }
            }
            Ok(_) => {
                let _ = tx.send(Err(io::ErrorKind::UnexpectedEof.into()));
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// Write each request to the worker's stdin; ends when the worker or the
/// session goes away.
fn write_requests(mut stdin: ChildStdin, rx: mpsc::Receiver<Vec<u8>>) {
    while let Ok(frame) = rx.recv() {
        if stdin
            .write_all(&frame)
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Keep the last [`STDERR_TAIL`] bytes of the worker's stderr.
fn read_tail(mut err: impl Read, tail: Arc<Mutex<Tail>>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = err.read(&mut buf).unwrap_or(0);
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        if n == 0 {
            t.closed = true;
            return;
        }
        t.text.extend_from_slice(&buf[..n]);
        let excess = t.text.len().saturating_sub(STDERR_TAIL);
        t.text.drain(..excess);
    }
}

/// The worker's side: limits, then a request loop.
mod worker {
    use super::*;

    pub(super) fn run(args: &[String]) -> io::Result<()> {
        let num = |name: &str| -> Option<u64> {
            args.iter()
                .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
        };
        let limits = ParseLimits {
            memory_mib: num("--memory-mib").unwrap_or(ParseLimits::default().memory_mib),
            cpu_secs: num("--cpu-secs").unwrap_or(ParseLimits::default().cpu_secs),
            wall: ParseLimits::default().wall,
        };
        let mut out = protect(limits, num("--parent"))?;
        write_frame(
            &mut out,
            &serde_json::to_vec(&Hello {
                worker: "omnidesk-parse".into(),
                protocol: PROTOCOL,
            })?,
        )?;
        let mut input = io::stdin().lock();
        loop {
            let mut len = [0u8; 4];
            match input.read_exact(&mut len) {
                Ok(()) => {}
                // The parent closed our stdin: done.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            let header = read_exact_vec(&mut input, u64::from(u32::from_le_bytes(len)), 4096)?;
            let request: Request = serde_json::from_slice(&header)?;
            let mut len = [0u8; 8];
            input.read_exact(&mut len)?;
            let body = read_exact_vec(&mut input, u64::from_le_bytes(len), MAX_FILE_BYTES)?;
            cpu_budget(limits.cpu_secs);
            let reply = match parse::parse(request.format, &body) {
                Ok(blocks) => Reply::Blocks(blocks),
                Err(skip) => Reply::Skip(skip.0),
            };
            drop(body);
            write_frame(&mut out, &serde_json::to_vec(&reply)?)?;
        }
    }

    fn read_exact_vec(input: &mut impl Read, len: u64, max: u64) -> io::Result<Vec<u8>> {
        if len > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a request of {len} bytes"),
            ));
        }
        let mut buf = Vec::new();
        input.take(len).read_to_end(&mut buf)?;
        if buf.len() as u64 != len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(buf)
    }

    fn write_frame(out: &mut impl Write, body: &[u8]) -> io::Result<()> {
        let len = u32::try_from(body.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "reply too large"))?;
        out.write_all(&len.to_le_bytes())?;
        out.write_all(body)?;
        out.flush()
    }

    /// Apply the limits and take stdout for the protocol (anything else
    /// printed to stdout goes to stderr). Returns the protocol stream.
    #[cfg(unix)]
    fn protect(limits: ParseLimits, parent: Option<u64>) -> io::Result<std::fs::File> {
        use std::os::fd::FromRawFd;
        let set = |what, soft: u64, hard: u64| {
            let lim = libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            // SAFETY: setrlimit reads the struct we pass and nothing else.
            if unsafe { libc::setrlimit(what, &lim) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        };
        // No core files from crashing parsers.
        set(libc::RLIMIT_CORE, 0, 0)?;
        let bytes = limits.memory_mib.saturating_mul(1 << 20);
        set(libc::RLIMIT_AS, bytes, bytes)?;
        #[cfg(target_os = "linux")]
        {
            // Die with the parent, even mid-parse.
            // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number only.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            // SAFETY: getppid has no arguments and cannot fail.
            let ppid = unsafe { libc::getppid() };
            if parent.is_some_and(|p| p != ppid as u64) {
                return Err(io::Error::other("the parent is gone"));
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = parent;
        // SAFETY: dup/dup2 on the standard descriptors, which are open for
        // the whole process; the new fd is owned by the File below.
        unsafe {
            let proto = libc::dup(1);
            if proto < 0 || libc::dup2(2, 1) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(std::fs::File::from_raw_fd(proto))
        }
    }

    #[cfg(not(unix))]
    fn protect(_limits: ParseLimits, _parent: Option<u64>) -> io::Result<io::Stdout> {
        Ok(io::stdout())
    }

    /// Allow `secs` more seconds of CPU from now (RLIMIT_CPU counts the
    /// whole process, which serves many files).
    #[cfg(unix)]
    fn cpu_budget(secs: u64) {
        // SAFETY: getrusage fills the struct we own; setrlimit reads one.
        unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
                return;
            }
            let used = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) as u64 + 1;
            let mut cur: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_CPU, &mut cur) != 0 {
                return;
            }
            let want = used.saturating_add(secs) as libc::rlim_t;
            let lim = libc::rlimit {
                rlim_cur: if cur.rlim_max == libc::RLIM_INFINITY {
                    want
                } else {
                    want.min(cur.rlim_max)
                },
                rlim_max: cur.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_CPU, &lim);
        }
    }

    #[cfg(not(unix))]
    fn cpu_budget(_secs: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn death_reasons_name_the_cause() {
        let l = ParseLimits::default();
        let r = death_reason(
            Format::Pdf,
            None,
            "thread 'main' has overflowed its stack",
            l,
        );
        assert_eq!(r, "the pdf parser crashed on this file (stack overflow)");
        let r = death_reason(
            Format::Docx,
            None,
            "memory allocation of 99 bytes failed",
            l,
        );
        assert!(r.contains("more than 2048 MiB"), "{r}");
    }

    #[test]
    fn a_program_that_is_no_worker_is_an_error_not_a_skip() {
        let mut s = ParseSession::new(ParserConfig::child("/bin/true"));
        let err = s
            .parse(Format::Text, b"hello", &AtomicBool::new(false))
            .unwrap_err();
        assert_eq!(err.code(), "PARSE_WORKER", "{err}");
        let mut s = ParseSession::new(ParserConfig::child("/nonexistent/omnidesk"));
        assert!(s
            .parse(Format::Text, b"x", &AtomicBool::new(false))
            .is_err());
    }

    #[test]
    fn in_process_mode_parses_directly() {
        let mut s = ParseSession::new(ParserConfig::in_process());
        let got = s
            .parse(Format::Text, b"hello there", &AtomicBool::new(false))
            .unwrap();
        assert!(matches!(got, Parsed::Blocks(b) if b[0].text == "hello there"));
        assert_eq!(s.workers_started(), 0);
    }
}
