//! Resumable, verified HTTP(S) downloads of one file.
//!
//! Bytes go to `NAME.part` next to the final name; the sha256 is computed
//! while streaming (after hashing whatever a previous attempt left), and the
//! file is renamed to `NAME` only when its size and hash are right. A wrong
//! file is removed; a dropped connection or a cancel keeps the `.part` so the
//! next attempt resumes with an HTTP `Range` request. Servers that ignore
//! `Range` (answer 200) restart from byte 0; a 416 means the part is already
//! complete or stale.
//!
//! Runs on the caller's tokio runtime; file hashing of an existing part runs
//! on a blocking thread. Progress goes out on an unbounded tokio channel at
//! most every [`PROGRESS_INTERVAL`], plus once at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::error::{ModelsError, Result};

/// How often progress events are sent at most.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// Free space kept beyond the download itself, so the disk never fills up.
pub const SPACE_RESERVE: u64 = 64 << 20;

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    pub url: String,
    /// Final path; bytes are written to `dest` + `.part` until verified.
    pub dest: PathBuf,
    /// Expected lowercase hex sha256, when known.
    pub sha256: Option<String>,
    /// Expected size in bytes, when known.
    pub size: Option<u64>,
}

/// Progress of one file, for progress bars and the UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct DownloadProgress {
    /// File name being written.
    pub file: String,
    /// Bytes on disk so far (including a resumed part).
    pub done: u64,
    /// Total bytes when known.
    pub total: Option<u64>,
    /// Bytes per second over this attempt.
    pub bytes_per_s: f64,
    /// Seconds left at the current rate, when the total is known.
    pub eta_s: Option<f64>,
}

/// How a download behaves: cancel token, progress channel, retries.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub cancel: CancellationToken,
    pub progress: Option<mpsc::UnboundedSender<DownloadProgress>>,
    /// Extra attempts after a dropped connection (each resumes).
    pub retries: u32,
    /// Pause before a retry.
    pub retry_delay: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            cancel: CancellationToken::new(),
            progress: None,
            retries: 3,
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// The `.part` path for a final path.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Check a hex sha256 and return it lowercased.
///
/// # Errors
/// `BadSha256` unless it is 64 hex digits.
pub fn parse_sha256(hex: &str) -> Result<String> {
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(ModelsError::BadSha256(hex.to_string()))
    }
}

/// Lowercase hex of a digest.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTTP client with sensible timeouts for large files. It trusts both
/// the bundled Mozilla roots and the system's certificate store, so it works
/// behind TLS-inspecting corporate proxies whose CA is installed locally.
///
/// # Errors
/// `Network` if the TLS backend cannot initialise.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("omnidesk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ModelsError::Network {
            url: String::new(),
            message: e.to_string(),
        })
}

/// Free bytes on the file system holding `dir`.
///
/// # Errors
/// `Io` when the file system cannot be queried.
pub fn available_space(dir: &Path) -> Result<u64> {
    fs4::available_space(dir).map_err(ModelsError::io(dir))
}

/// Fail with `InsufficientSpace` unless `needed` bytes (plus a reserve) fit in `dir`.
///
/// # Errors
/// `InsufficientSpace`, or `Io` when free space cannot be read.
pub fn ensure_space(dir: &Path, needed: u64) -> Result<()> {
    fits(dir, needed, available_space(dir)?)
}

/// The decision behind [`ensure_space`], apart from the file system so it can be tested
/// whatever the machine's disk holds.
fn fits(dir: &Path, needed: u64, available: u64) -> Result<()> {
    if needed.saturating_add(SPACE_RESERVE) > available {
        return Err(ModelsError::InsufficientSpace {
            dir: dir.to_path_buf(),
            needed,
            available,
        });
    }
    Ok(())
}

/// Hash everything `r` yields (blocking).
pub(crate) fn hash_reader(mut r: impl std::io::Read) -> std::io::Result<(Sha256, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok((h, n)),
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Hash a whole file on a blocking thread.
///
/// # Errors
/// `Io` when it cannot be read.
pub async fn hash_file(path: &Path) -> Result<(Sha256, u64)> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&p).map_err(ModelsError::io(&p))?;
        hash_reader(f).map_err(ModelsError::io(&p))
    })
    .await
    .map_err(|e| ModelsError::io(path)(std::io::Error::other(e)))?
}

/// sha256 of a file as lowercase hex.
///
/// # Errors
/// `Io` when it cannot be read.
pub async fn sha256_file(path: &Path) -> Result<String> {
    Ok(to_hex(&hash_file(path).await?.0.finalize()))
}

/// Download `req.url` to `req.dest`, resuming a previous `.part`, verifying
/// size and hash, retrying dropped connections `opts.retries` times.
/// An existing final file is trusted only if it verifies.
///
/// # Errors
/// `NotFound`/`Http` for HTTP failures, `Network` after the last retry (the
/// part is kept), `Cancelled`, `InsufficientSpace`, `HashMismatch` and
/// `SizeMismatch` (the file is removed), `Io`.
pub async fn download(
    client: &reqwest::Client,
    req: &DownloadRequest,
    opts: &DownloadOptions,
) -> Result<PathBuf> {
    let expected = req.sha256.as_deref().map(parse_sha256).transpose()?;
    if req.dest.is_file() && verify_final(req, expected.as_deref()).await? {
        return Ok(req.dest.clone());
    }
    let dir = req
        .dest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(ModelsError::io(&dir))?;
    let mut attempt = 0;
    loop {
        match attempt_once(client, req, opts, &dir, expected.as_deref()).await {
            Err(ModelsError::Network { url, message }) if attempt < opts.retries => {
                attempt += 1;
                tracing::warn!("{url}: {message}; retrying ({attempt}/{})", opts.retries);
                tokio::select! {
                    _ = opts.cancel.cancelled() => return Err(ModelsError::Cancelled(req.url.clone())),
                    _ = tokio::time::sleep(opts.retry_delay) => {}
                }
            }
            other => return other,
        }
    }
}

/// True when the final file matches what is known about it (hash, else size).
async fn verify_final(req: &DownloadRequest, expected: Option<&str>) -> Result<bool> {
    if let Some(want) = expected {
        return Ok(sha256_file(&req.dest).await? == want);
    }
    let len = tokio::fs::metadata(&req.dest)
        .await
        .map_err(ModelsError::io(&req.dest))?
        .len();
    Ok(req.size.is_none_or(|s| s == len))
}

/// Where a response's body lands in the part file.
#[derive(Clone, Copy)]
enum Resume {
    /// Append after `offset` existing bytes (206).
    Append(u64),
    /// Start over (200: Range ignored, or nothing to resume).
    Restart,
}

async fn attempt_once(
    client: &reqwest::Client,
    req: &DownloadRequest,
    opts: &DownloadOptions,
    dir: &Path,
    expected: Option<&str>,
) -> Result<PathBuf> {
    let part = part_path(&req.dest);
    let mut have = match tokio::fs::metadata(&part).await {
        Ok(m) => m.len(),
        Err(_) => 0,
    };
    if req.size.is_some_and(|s| have > s) {
        remove(&part).await?;
        have = 0;
    }
    if let Some(size) = req.size {
        ensure_space(dir, size - have)?;
    }
    let mut request = client.get(&req.url);
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let net = |e: reqwest::Error| ModelsError::Network {
        url: req.url.clone(),
        message: error_chain(&e),
    };
    let response = tokio::select! {
        _ = opts.cancel.cancelled() => return Err(ModelsError::Cancelled(req.url.clone())),
        r = request.send() => r.map_err(net)?,
    };
    let status = response.status();
    let resume = match status {
        StatusCode::PARTIAL_CONTENT if have > 0 => match content_range_start(&response) {
            Some(start) if start == have => Resume::Append(have),
            _ => {
                // A range we did not ask for: start over cleanly.
                remove(&part).await?;
                return Box::pin(attempt_once(client, req, opts, dir, expected)).await;
            }
        },
        StatusCode::OK | StatusCode::PARTIAL_CONTENT => Resume::Restart,
        StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
            // The part is at least as long as the file: finish it if it is
            // complete, else drop it and start over.
            let total = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes */"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            if total == Some(have) || req.size == Some(have) {
                return finish(req, &part, hash_file(&part).await?.0, have, expected).await;
            }
            remove(&part).await?;
            return Box::pin(attempt_once(client, req, opts, dir, expected)).await;
        }
        StatusCode::NOT_FOUND => {
            return Err(ModelsError::NotFound {
                url: req.url.clone(),
            })
        }
        s => {
            return Err(ModelsError::Http {
                status: s.as_u16(),
                url: req.url.clone(),
            })
        }
    };
    let start = match resume {
        Resume::Append(o) => o,
        Resume::Restart => 0,
    };
    // What the server promises to send, as a file length.
    let served_total = response.content_length().map(|l| l + start);
    let total = req.size.or(served_total);
    if let (Some(t), None) = (total, req.size) {
        ensure_space(dir, t.saturating_sub(start))?;
    }
    let (offset, mut hasher, mut file) = match resume {
        Resume::Append(_) => {
            let (h, n) = hash_file(&part).await?;
            let f = tokio::fs::OpenOptions::new()
                .append(true)
                .open(&part)
                .await
                .map_err(ModelsError::io(&part))?;
            (n, h, f)
        }
        Resume::Restart => {
            let f = tokio::fs::File::create(&part)
                .await
                .map_err(ModelsError::io(&part))?;
            (0, Sha256::new(), f)
        }
    };
    let file_name = req
        .dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let mut last_report = started;
    let mut done = offset;
    report(opts, &file_name, done, offset, total, started);
    let mut stream = response.bytes_stream();
    loop {
        let chunk = tokio::select! {
            _ = opts.cancel.cancelled() => {
                file.flush().await.map_err(ModelsError::io(&part))?;
                return Err(ModelsError::Cancelled(req.url.clone()));
            }
            c = stream.next() => c,
        };
        let Some(chunk) = chunk else { break };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                file.flush().await.map_err(ModelsError::io(&part))?;
                return Err(net(e));
            }
        };
        file.write_all(&chunk)
            .await
            .map_err(ModelsError::io(&part))?;
        hasher.update(&chunk);
        done += chunk.len() as u64;
        if total.is_some_and(|t| done > t) {
            drop(file);
            remove(&part).await?;
            return Err(ModelsError::SizeMismatch {
                file: req.dest.clone(),
                expected: total.unwrap_or_default(),
                actual: done,
            });
        }
        if last_report.elapsed() >= PROGRESS_INTERVAL {
            last_report = Instant::now();
            report(opts, &file_name, done, offset, total, started);
        }
    }
    file.flush().await.map_err(ModelsError::io(&part))?;
    file.sync_all().await.map_err(ModelsError::io(&part))?;
    drop(file);
    report(opts, &file_name, done, offset, total, started);
    if let Some(t) = total.filter(|&t| done < t) {
        if served_total == Some(done) {
            // The server sent all it has: the file is shorter than expected.
            remove(&part).await?;
            return Err(ModelsError::SizeMismatch {
                file: req.dest.clone(),
                expected: t,
                actual: done,
            });
        }
        // The body ended early without an error: resumable like a drop.
        return Err(ModelsError::Network {
            url: req.url.clone(),
            message: format!("connection closed after {done} of {t} bytes"),
        });
    }
    finish(req, &part, hasher, done, expected).await
}

/// Check size and hash of a complete part, then rename it into place.
async fn finish(
    req: &DownloadRequest,
    part: &Path,
    hasher: Sha256,
    len: u64,
    expected: Option<&str>,
) -> Result<PathBuf> {
    if let Some(size) = req.size.filter(|&s| s != len) {
        remove(part).await?;
        return Err(ModelsError::SizeMismatch {
            file: req.dest.clone(),
            expected: size,
            actual: len,
        });
    }
    let actual = to_hex(&hasher.finalize());
    if let Some(want) = expected.filter(|&w| w != actual) {
        remove(part).await?;
        return Err(ModelsError::HashMismatch {
            file: req.dest.clone(),
            expected: want.to_string(),
            actual,
        });
    }
    tokio::fs::rename(part, &req.dest)
        .await
        .map_err(ModelsError::io(&req.dest))?;
    Ok(req.dest.clone())
}

fn report(
    opts: &DownloadOptions,
    file: &str,
    done: u64,
    offset: u64,
    total: Option<u64>,
    started: Instant,
) {
    let Some(tx) = &opts.progress else { return };
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    let rate = (done - offset) as f64 / secs;
    let eta = total
        .filter(|_| rate > 0.0)
        .map(|t| t.saturating_sub(done) as f64 / rate);
    let _ = tx.send(DownloadProgress {
        file: file.to_string(),
        done,
        total,
        bytes_per_s: rate,
        eta_s: eta,
    });
}

fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    let v = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let range = v.strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

async fn remove(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ModelsError::io(path)(e)),
        _ => Ok(()),
    }
}

/// reqwest's top-level message hides the cause ("error sending request").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_path_appends_suffix() {
        assert_eq!(
            part_path(Path::new("/m/a.gguf")),
            PathBuf::from("/m/a.gguf.part")
        );
    }

    #[test]
    fn sha256_is_checked_and_lowercased() {
        let h = "A".repeat(64);
        assert_eq!(parse_sha256(&h).unwrap(), "a".repeat(64));
        assert!(parse_sha256("abc").is_err());
        assert!(parse_sha256(&"g".repeat(64)).is_err());
    }

    #[test]
    fn space_check_refuses_more_than_the_disk_has() {
        // The real file system: nothing has u64::MAX / 2 bytes free.
        let dir = tempfile::tempdir().unwrap();
        let err = ensure_space(dir.path(), u64::MAX / 2).unwrap_err();
        assert!(
            matches!(err, ModelsError::InsufficientSpace { .. }),
            "{err}"
        );
        // The decision itself, independent of how full this machine's disk is.
        let gib = 1u64 << 30;
        fits(dir.path(), 1, gib).unwrap();
        fits(dir.path(), gib - SPACE_RESERVE, gib).unwrap();
        let err = fits(dir.path(), gib - SPACE_RESERVE + 1, gib).unwrap_err();
        assert!(
            matches!(err, ModelsError::InsufficientSpace { needed, available, .. }
                if needed == gib - SPACE_RESERVE + 1 && available == gib),
            "{err}"
        );
    }
}
