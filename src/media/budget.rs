//! Per-request bounds on media, shared by the CLI, the app and the API: how
//! many images/clips one request may carry, and how many pixels and
//! seconds they may add up to. Each file is still bounded on its own by
//! [`ImageLimits`](super::image::ImageLimits) and
//! [`AudioLimits`](super::audio::AudioLimits); this bounds their sum, so a
//! request of many small-enough files cannot add up to an unbounded one.
//!
//! Image pixels are counted from the header before decoding, so a request
//! over its total is refused before the work is done.

use std::path::Path;

use super::error::{MediaError, Result};

/// Totals one request may reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestLimits {
    /// Images and audio clips together.
    pub max_media: usize,
    /// Sum of the images' declared pixels (before any downscaling).
    pub max_total_pixels: u64,
    /// Sum of the clips' decoded seconds.
    pub max_total_audio_seconds: f64,
}

impl Default for RequestLimits {
    /// 16 attachments, 100 megapixels, 10 minutes of audio: more than a
    /// person attaches to one question, and a few hundred MB at most.
    fn default() -> Self {
        Self {
            max_media: 16,
            max_total_pixels: 100_000_000,
            max_total_audio_seconds: 600.0,
        }
    }
}

/// What one request has used so far of its [`RequestLimits`].
#[derive(Debug, Clone)]
pub struct MediaBudget {
    limits: RequestLimits,
    media: usize,
    pixels: u64,
    audio_seconds: f64,
}

impl Default for MediaBudget {
    fn default() -> Self {
        Self::new(RequestLimits::default())
    }
}

impl MediaBudget {
    /// A fresh budget for one request.
    pub fn new(limits: RequestLimits) -> Self {
        Self {
            limits,
            media: 0,
            pixels: 0,
            audio_seconds: 0.0,
        }
    }

    /// Count one more attachment, named `path` in the error.
    ///
    /// # Errors
    /// `TooManyMedia` past `max_media`.
    pub fn admit_item(&mut self, path: &Path) -> Result<()> {
        if self.media >= self.limits.max_media {
            return Err(MediaError::TooManyMedia {
                path: path.into(),
                max: self.limits.max_media,
            });
        }
        self.media += 1;
        Ok(())
    }

    /// Count an image's declared size (called from its header, before decoding).
    ///
    /// # Errors
    /// `RequestTotal` when the request's images would exceed `max_total_pixels`.
    pub fn admit_pixels(&mut self, path: &Path, width: u32, height: u32) -> Result<()> {
        let total = self
            .pixels
            .saturating_add(u64::from(width) * u64::from(height));
        if total > self.limits.max_total_pixels {
            return Err(MediaError::RequestTotal {
                path: path.into(),
                limit: format!("{} pixels", self.limits.max_total_pixels),
            });
        }
        self.pixels = total;
        Ok(())
    }

    /// Seconds of audio this request may still add (the decoder stops there).
    pub fn audio_seconds_left(&self) -> f64 {
        (self.limits.max_total_audio_seconds - self.audio_seconds).max(0.0)
    }

    /// Count a decoded clip.
    ///
    /// # Errors
    /// `RequestTotal` when the request's clips exceed `max_total_audio_seconds`.
    pub fn admit_audio(&mut self, path: &Path, seconds: f64) -> Result<()> {
        if self.audio_seconds + seconds > self.limits.max_total_audio_seconds {
            return Err(MediaError::RequestTotal {
                path: path.into(),
                limit: format!("{} s of audio", self.limits.max_total_audio_seconds),
            });
        }
        self.audio_seconds += seconds;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_totals_are_enforced() {
        let mut b = MediaBudget::new(RequestLimits {
            max_media: 2,
            max_total_pixels: 100,
            max_total_audio_seconds: 1.0,
        });
        let p = Path::new("x");
        b.admit_item(p).unwrap();
        b.admit_item(p).unwrap();
        assert!(matches!(
            b.admit_item(p),
            Err(MediaError::TooManyMedia { max: 2, .. })
        ));
        b.admit_pixels(p, 10, 9).unwrap();
        assert!(matches!(
            b.admit_pixels(p, 5, 5),
            Err(MediaError::RequestTotal { .. })
        ));
        b.admit_pixels(p, 1, 10).unwrap();
        b.admit_audio(p, 0.75).unwrap();
        assert!((b.audio_seconds_left() - 0.25).abs() < 1e-9);
        assert!(b.admit_audio(p, 0.5).is_err());
    }
}
