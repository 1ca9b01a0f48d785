//! Images and audio clips on their way to the model: decoded, bounded and
//! normalised here (on the caller's thread), so the engine thread only
//! ever sees plain RGB pixels or mono f32 samples at the projector's rate.

pub mod attach;
pub mod audio;
pub mod budget;
pub mod error;
pub mod image;
pub mod resample;

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use budget::{MediaBudget, RequestLimits};
pub use error::{MediaError, Result};

/// A content hash: identifies media in the KV cache and in stored history.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    fn of(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Self(h.finalize().into())
    }

    /// Lowercase hex, as stored with attachments.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.hex()[..12])
    }
}

/// Decoded RGB pixels, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: Arc<Vec<u8>>,
    pub hash: ContentHash,
}

impl Image {
    /// Wrap pixels (e.g. a camera frame); `rgb` must hold width×height×3 bytes.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Option<Self> {
        let expected = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(3)?;
        (rgb.len() == expected && expected > 0).then(|| Self {
            width,
            height,
            hash: ContentHash::of(&[&width.to_le_bytes(), &height.to_le_bytes(), &rgb]),
            rgb: Arc::new(rgb),
        })
    }
}

/// Mono PCM samples at `sample_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    pub samples: Arc<Vec<f32>>,
    pub hash: ContentHash,
}

impl Audio {
    /// Wrap mono samples (e.g. a microphone recording).
    pub fn from_samples(sample_rate: u32, samples: Vec<f32>) -> Option<Self> {
        if samples.is_empty() || sample_rate == 0 {
            return None;
        }
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        Some(Self {
            sample_rate,
            hash: ContentHash::of(&[&sample_rate.to_le_bytes(), &bytes]),
            samples: Arc::new(samples),
        })
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }

    /// The same clip at `rate` Hz (itself when it is already).
    ///
    /// # Errors
    /// The resampler's reason, or "empty" when nothing is left.
    pub fn at_rate(self, rate: u32) -> Result<Self, String> {
        if self.sample_rate == rate {
            return Ok(self);
        }
        let samples = resample::resample(&self.samples, self.sample_rate, rate)?;
        Self::from_samples(rate, samples).ok_or_else(|| "the clip is empty".to_string())
    }
}

/// An attachment of a chat message.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    Image(Image),
    Audio(Audio),
}

impl Media {
    /// Identity for cache reuse.
    pub fn hash(&self) -> ContentHash {
        match self {
            Media::Image(i) => i.hash,
            Media::Audio(a) => a.hash,
        }
    }

    /// `"image"` or `"audio"`, for messages and stored attachments.
    pub fn kind(&self) -> &'static str {
        match self {
            Media::Image(_) => "image",
            Media::Audio(_) => "audio",
        }
    }
}
