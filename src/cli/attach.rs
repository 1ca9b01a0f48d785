//! Attachments named on the command line, through the library's
//! [`omnidesk::media::attach`]; this module only prints what was skipped.

use std::path::PathBuf;

use anyhow::Result;
use omnidesk::media::attach;
pub use omnidesk::media::attach::Attached;
use omnidesk::media::Media;
use omnidesk::store::Attachment;

/// Decode `images` then `audio` (resampled to `audio_rate`), in order.
pub fn load(images: &[PathBuf], audio: &[PathBuf], audio_rate: u32) -> Result<Attached> {
    Ok(attach::load(images, audio, audio_rate)?)
}

/// Re-read stored attachments; a file that moved or changed is left out
/// with a warning.
pub fn reload(records: &[Attachment], audio_rate: u32) -> Vec<Media> {
    let (media, skipped) = attach::reload(records, audio_rate);
    for s in skipped {
        eprintln!("warning: {s}");
    }
    media
}
