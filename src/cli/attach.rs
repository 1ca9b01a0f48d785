//! Attachments named on the command line, through the library's
//! [`omnidesk::media::attach`]; this module only prints what was skipped.

use std::path::PathBuf;

use anyhow::Result;
use omnidesk::media::attach;
pub use omnidesk::media::attach::Attached;

/// Decode `images` then `audio` (resampled to `audio_rate`), in order.
pub fn load(images: &[PathBuf], audio: &[PathBuf], audio_rate: u32) -> Result<Attached> {
    Ok(attach::load(images, audio, audio_rate)?)
}
