//! The local model library: the GGUF files in `<data dir>/models`, and the
//! operations on them that need no network (list, remove, verify, import).
//! Only final names count as models; `.part` files are unfinished downloads
//! and are never listed as loadable. Blocking file I/O; call from a
//! blocking context or accept the short stall (hashing is the long part).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::download::{part_path, to_hex};
use super::error::{ModelsError, Result};
use super::manifest::{Manifest, ModelEntry};
use crate::gguf;

/// A GGUF file in the models dir.
#[derive(Debug, Clone, Serialize)]
pub struct LocalFile {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    /// The manifest entry this file belongs to, if any.
    pub entry: Option<String>,
}

/// Outcome of verifying one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Verdict {
    /// sha256 matches the manifest.
    Ok,
    /// No pinned hash; size checked where known.
    Unpinned {
        sha256: String,
    },
    Mismatch {
        expected: String,
        actual: String,
    },
    Missing,
}

/// Reject names that could leave the models dir.
///
/// # Errors
/// `BadFileName` for empty names, separators, `.`/`..` or leading dots.
pub fn check_file_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
        || Path::new(name).components().count() != 1;
    if bad {
        Err(ModelsError::BadFileName(name.to_string()))
    } else {
        Ok(())
    }
}

/// GGUF files (final names only) in `models_dir`, sorted by name.
///
/// # Errors
/// `Io` when the dir exists but cannot be read.
pub fn list_local(models_dir: &Path, manifest: &Manifest) -> Result<Vec<LocalFile>> {
    let rd = match std::fs::read_dir(models_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ModelsError::io(models_dir)(e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(ModelsError::io(models_dir))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        let meta = ent.metadata().map_err(ModelsError::io(ent.path()))?;
        if !meta.is_file() || !name.to_ascii_lowercase().ends_with(".gguf") {
            continue;
        }
        out.push(LocalFile {
            entry: manifest.entry_for_file(&name).map(|(e, _)| e.id.clone()),
            name,
            path: ent.path(),
            size: meta.len(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Files `target` names: a manifest id (all its files) or a file name in
/// `models_dir`.
///
/// # Errors
/// `BadFileName` for names with separators, `UnknownModel` otherwise.
pub fn resolve_files(models_dir: &Path, manifest: &Manifest, target: &str) -> Result<Vec<PathBuf>> {
    if let Some(entry) = manifest.get(target) {
        return Ok(entry
            .files
            .iter()
            .map(|f| models_dir.join(&f.name))
            .collect());
    }
    check_file_name(target)?;
    let p = models_dir.join(target);
    if p.is_file() || part_path(&p).is_file() {
        Ok(vec![p])
    } else {
        Err(ModelsError::UnknownModel(target.to_string()))
    }
}

/// Remove a model (manifest id or file name) and any unfinished `.part`.
/// Returns the paths that existed and were removed.
///
/// # Errors
/// As [`resolve_files`], plus `Io`.
pub fn remove(models_dir: &Path, manifest: &Manifest, target: &str) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for p in resolve_files(models_dir, manifest, target)? {
        for q in [part_path(&p), p] {
            match std::fs::remove_file(&q) {
                Ok(()) => removed.push(q),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ModelsError::io(&q)(e)),
            }
        }
    }
    Ok(removed)
}

/// sha256 of a file, blocking.
///
/// # Errors
/// `Io`.
pub fn sha256_blocking(path: &Path) -> Result<String> {
    use sha2::Digest;
    let f = std::fs::File::open(path).map_err(ModelsError::io(path))?;
    let (h, _) = super::download::hash_reader(f).map_err(ModelsError::io(path))?;
    Ok(to_hex(&h.finalize()))
}

/// Check every file of `entry` against the manifest.
///
/// # Errors
/// `Io` when a present file cannot be read.
pub fn verify_entry(models_dir: &Path, entry: &ModelEntry) -> Result<Vec<(PathBuf, Verdict)>> {
    let mut out = Vec::new();
    for f in &entry.files {
        let p = models_dir.join(&f.name);
        let verdict = if !p.is_file() {
            Verdict::Missing
        } else {
            let actual = sha256_blocking(&p)?;
            let size = std::fs::metadata(&p).map_err(ModelsError::io(&p))?.len();
            match (&f.sha256, f.size) {
                (Some(want), _) if want.eq_ignore_ascii_case(&actual) => Verdict::Ok,
                (Some(want), _) => Verdict::Mismatch {
                    expected: want.clone(),
                    actual,
                },
                (None, Some(s)) if s != size => Verdict::Mismatch {
                    expected: format!("{s} bytes"),
                    actual: format!("{size} bytes"),
                },
                (None, _) => Verdict::Unpinned { sha256: actual },
            }
        };
        out.push((p, verdict));
    }
    Ok(out)
}

/// How [`import`] stored the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    HardLink,
    Copy,
}

/// Put a local GGUF into `models_dir` after checking its header: a hard
/// link when possible (same file system, no extra space), else a copy via
/// a `.part` file. An existing file of the same name is not replaced.
///
/// # Errors
/// `InvalidGguf` when the file is not a usable GGUF, `BadFileName`,
/// `InsufficientSpace` for a copy that does not fit, `Io` (including
/// `AlreadyExists`).
pub fn import(models_dir: &Path, source: &Path, force_copy: bool) -> Result<(PathBuf, ImportMode)> {
    gguf::inspect(source)?;
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check_file_name(&name)?;
    std::fs::create_dir_all(models_dir).map_err(ModelsError::io(models_dir))?;
    let dest = models_dir.join(&name);
    if dest.exists() {
        return Err(ModelsError::io(&dest)(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a model with this name is already in the library (remove it first)",
        )));
    }
    if !force_copy && std::fs::hard_link(source, &dest).is_ok() {
        return Ok((dest, ImportMode::HardLink));
    }
    let len = std::fs::metadata(source)
        .map_err(ModelsError::io(source))?
        .len();
    super::download::ensure_space(models_dir, len)?;
    let part = part_path(&dest);
    if let Err(e) = std::fs::copy(source, &part) {
        let _ = std::fs::remove_file(&part);
        return Err(ModelsError::io(&part)(e));
    }
    std::fs::rename(&part, &dest).map_err(ModelsError::io(&dest))?;
    Ok((dest, ImportMode::Copy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_that_leave_the_dir_are_rejected() {
        for bad in ["", "..", ".hidden", "a/b.gguf", "../x.gguf", "a\\b"] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
        check_file_name("model-Q4_K_M.gguf").unwrap();
    }

    #[test]
    fn part_files_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.gguf"), b"x").unwrap();
        std::fs::write(dir.path().join("b.gguf.part"), b"x").unwrap();
        let m = Manifest::builtin().unwrap();
        let names: Vec<_> = list_local(dir.path(), &m)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["a.gguf"]);
    }
}
