//! Attachments on their way into a conversation: decoded into [`Media`]
//! for the engine and recorded (absolute path + content hash) for the
//! store, and re-read from those records when a stored conversation is
//! continued. Shared by every front end so history means the same thing
//! in the CLI and the app. Runs on the caller's thread (file I/O + decode).

use std::path::{Path, PathBuf};

use super::{audio, image, Media, MediaBudget, MediaError};

/// A file attached to a message, as the history store keeps it: only this
/// metadata; the bytes stay where `path` points.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    /// `"image"`, `"audio"` or `"file"`.
    pub kind: String,
    /// Where the file lives on disk.
    pub path: String,
    /// Hex SHA-256 of the content, when known, to notice a changed file.
    pub sha256: Option<String>,
}

/// Decoded media and how to store them, in the same order.
#[derive(Debug, Default, Clone)]
pub struct Attached {
    pub media: Vec<Media>,
    pub records: Vec<Attachment>,
}

impl Attached {
    /// Add decoded `media` read from `path`.
    pub fn push(&mut self, path: &Path, media: Media) {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.records.push(Attachment {
            kind: media.kind().to_string(),
            path: path.display().to_string(),
            sha256: Some(media.hash().hex()),
        });
        self.media.push(media);
    }

    /// Append everything from `other`, keeping order.
    pub fn extend(&mut self, other: Attached) {
        self.media.extend(other.media);
        self.records.extend(other.records);
    }
}

/// Decode `images` then `audio` (resampled to `audio_rate`), in order,
/// within the default per-file and per-request limits.
///
/// # Errors
/// The first file that cannot be used, as a [`MediaError`] naming it.
pub fn load(
    images: &[PathBuf],
    audio: &[PathBuf],
    audio_rate: u32,
) -> Result<Attached, MediaError> {
    load_counted(images, audio, audio_rate, &mut MediaBudget::default())
}

/// [`load`], counted against `budget` (e.g. one shared by every message
/// of a request).
///
/// # Errors
/// As [`load`], plus `TooManyMedia` and `RequestTotal`.
pub fn load_counted(
    images: &[PathBuf],
    audio: &[PathBuf],
    audio_rate: u32,
    budget: &mut MediaBudget,
) -> Result<Attached, MediaError> {
    let mut out = Attached::default();
    for p in images {
        let img = image::load_counted(p, &Default::default(), budget)?;
        out.push(p, Media::Image(img));
    }
    for p in audio {
        let clip = audio::load_counted(p, audio_rate, &Default::default(), budget)?;
        out.push(p, Media::Audio(clip));
    }
    Ok(out)
}

/// Keep an image that arrived as bytes (pasted or dropped in a window) as
/// a file under `dir`, so history can refer to it like any picked file.
/// The bytes are checked and decoded first; errors name `name`, and
/// nothing is left behind for a file that is refused.
///
/// # Errors
/// `FileTooLarge` before anything is written, then any [`image::load`] error.
pub fn import_image_bytes(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    limits: &image::ImageLimits,
) -> Result<(PathBuf, super::Image), MediaError> {
    let shown = PathBuf::from(name);
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(MediaError::FileTooLarge {
            path: shown,
            kind: "image",
            bytes: bytes.len() as u64,
            max: limits.max_file_bytes,
        });
    }
    let io = |e: std::io::Error| MediaError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let staging = dir.join(format!(
        ".incoming-{}-{}",
        std::process::id(),
        STAGING.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&staging, bytes).map_err(io)?;
    let img = match image::load(&staging, limits) {
        Ok(img) => img,
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            return Err(e.with_path(shown));
        }
    };
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("img")
        .to_ascii_lowercase();
    let kept = dir.join(format!("{}.{ext}", img.hash.hex()));
    std::fs::rename(&staging, &kept).map_err(io)?;
    Ok((kept, img))
}

/// Where to keep media captured here (a camera snapshot, a recorded
/// question) so its message can be replayed: `<dir>/<unix ms>-<hash>.<ext>`,
/// time first so listings sort by when it was taken. Creates `dir`.
///
/// # Errors
/// `Io` when `dir` cannot be created.
pub fn captured_path(
    dir: &Path,
    hash: &super::ContentHash,
    ext: &str,
) -> Result<PathBuf, MediaError> {
    std::fs::create_dir_all(dir).map_err(|e| MediaError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Ok(dir.join(format!("{ms}-{}.{ext}", &hash.hex()[..12])))
}

/// Keep a camera snapshot as a PNG under `dir` (see [`captured_path`]).
///
/// # Errors
/// `Io` when it cannot be written.
pub fn keep_snapshot(dir: &Path, img: &super::Image) -> Result<PathBuf, MediaError> {
    let path = captured_path(dir, &img.hash, "png")?;
    image::save(img, &path)?;
    Ok(path)
}

static STAGING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Why a stored attachment was left out when history was reloaded.
#[derive(Debug, thiserror::Error)]
pub enum ReloadSkip {
    /// The file changed since it was attached.
    #[error("{0} changed since it was attached; left out")]
    Changed(String),
    /// The file cannot be read or decoded any more.
    #[error("attachment {path}: {source}; left out")]
    Unreadable { path: String, source: MediaError },
}

/// Re-read stored attachments so a continued conversation still "sees"
/// them. A file that moved or changed is left out and reported, never
/// fatal: the conversation goes on without it.
pub fn reload(records: &[Attachment], audio_rate: u32) -> (Vec<Media>, Vec<ReloadSkip>) {
    let mut media = Vec::new();
    let mut skipped = Vec::new();
    let mut budget = MediaBudget::default();
    for a in records {
        let path = Path::new(&a.path);
        let loaded = match a.kind.as_str() {
            "image" => {
                image::load_counted(path, &Default::default(), &mut budget).map(Media::Image)
            }
            "audio" => audio::load_counted(path, audio_rate, &Default::default(), &mut budget)
                .map(Media::Audio),
            _ => continue,
        };
        match loaded {
            Ok(m) if a.sha256.as_deref().is_none_or(|h| h == m.hash().hex()) => media.push(m),
            Ok(_) => skipped.push(ReloadSkip::Changed(a.path.clone())),
            Err(source) => skipped.push(ReloadSkip::Unreadable {
                path: a.path.clone(),
                source,
            }),
        }
    }
    (media, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_bytes_are_kept_by_hash_and_text_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("src.png");
        ::image::DynamicImage::new_rgb8(3, 2).save(&png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        let att = dir.path().join("att");
        let (kept, img) =
            import_image_bytes(&att, "shot.PNG", &bytes, &Default::default()).unwrap();
        assert_eq!((img.width, img.height), (3, 2));
        assert_eq!(kept, att.join(format!("{}.png", img.hash.hex())));
        let err = import_image_bytes(&att, "notes.txt", b"hello", &Default::default()).unwrap_err();
        assert!(matches!(err, MediaError::NotAnImage { .. }));
        assert!(err.to_string().starts_with("notes.txt:"), "{err}");
        assert_eq!(
            std::fs::read_dir(&att).unwrap().count(),
            1,
            "refused file left nothing"
        );
    }

    #[test]
    fn changed_file_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        ::image::DynamicImage::new_rgb8(4, 4).save(&p).unwrap();
        let attached = load(std::slice::from_ref(&p), &[], 16_000).unwrap();
        let (media, skipped) = reload(&attached.records, 16_000);
        assert_eq!((media.len(), skipped.len()), (1, 0));
        ::image::DynamicImage::new_rgb8(5, 4).save(&p).unwrap();
        let (media, skipped) = reload(&attached.records, 16_000);
        assert_eq!(media.len(), 0);
        assert!(matches!(skipped[0], ReloadSkip::Changed(_)));
    }
}
