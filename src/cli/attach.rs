//! Attachments named on the command line: decoded into media for the
//! engine, and recorded (absolute path + content hash) for the history.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use omnidesk::media::{self, Media};
use omnidesk::store::Attachment;

/// Decoded media and how to store them.
#[derive(Default)]
pub struct Attached {
    pub media: Vec<Media>,
    pub records: Vec<Attachment>,
}

/// Decode `images` then `audio` (resampled to `audio_rate`), in order.
pub fn load(images: &[PathBuf], audio: &[PathBuf], audio_rate: u32) -> Result<Attached> {
    let mut out = Attached::default();
    for p in images {
        let img = media::image::load(p, &Default::default())?;
        out.push(p, Media::Image(img));
    }
    for p in audio {
        let clip = media::audio::load(p, audio_rate, &Default::default())?;
        out.push(p, Media::Audio(clip));
    }
    Ok(out)
}

impl Attached {
    pub fn push(&mut self, path: &Path, media: Media) {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        self.records.push(Attachment {
            kind: media.kind().to_string(),
            path: path.display().to_string(),
            sha256: Some(media.hash().hex()),
        });
        self.media.push(media);
    }
}

/// Re-read stored attachments so a continued conversation still "sees"
/// them. A file that moved or changed is left out with a warning.
pub fn reload(records: &[Attachment], audio_rate: u32) -> Vec<Media> {
    records
        .iter()
        .filter_map(|a| {
            let path = Path::new(&a.path);
            let loaded = match a.kind.as_str() {
                "image" => media::image::load(path, &Default::default()).map(Media::Image),
                "audio" => {
                    media::audio::load(path, audio_rate, &Default::default()).map(Media::Audio)
                }
                _ => return None,
            };
            match loaded.context(format!("attachment {}", a.path)) {
                Ok(m) if a.sha256.as_deref().is_none_or(|h| h == m.hash().hex()) => Some(m),
                Ok(_) => {
                    eprintln!(
                        "warning: {} changed since it was attached; left out",
                        a.path
                    );
                    None
                }
                Err(e) => {
                    eprintln!("warning: {e:#}; left out");
                    None
                }
            }
        })
        .collect()
}
