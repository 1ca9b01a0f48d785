//! Cameras: list them, preview at a low rate, take a snapshot that enters
//! the same image path as a dropped file ([`Media::Image`]).
//!
//! Devices sit behind [`FrameSource`] so tests and demos can use
//! [`FakeSource`]; [`NokhwaSource`] is the real one. Threading: camera
//! handles are not `Send` on every platform, so a [`FrameStream`] lives and
//! dies on one thread — [`snapshot`] runs on the caller's thread (call it
//! from a blocking context), and [`Preview`] owns a dedicated
//! `omnidesk-camera` thread that sends frames over a tokio channel.

pub mod capture;
pub mod error;
pub mod fake;

use serde::{Deserialize, Serialize};

pub use capture::{snapshot, NokhwaSource, Preview, PreviewFrame};
pub use error::{CameraError, Result};
pub use fake::FakeSource;

use crate::media::{Image, Media};

/// A camera as listed for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct CameraInfo {
    /// Index to open it with.
    pub index: u32,
    pub name: String,
    pub description: String,
}

/// How to open a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraSettings {
    /// Preferred frame size; the closest the camera offers is used. 1280×720
    /// is sharp enough for documents and cheap to encode (the vision
    /// encoder sees at most a few hundred tokens of it anyway).
    pub width: u32,
    pub height: u32,
    /// Frames discarded after opening, so auto-exposure settles before a
    /// snapshot.
    pub warmup_frames: u32,
}

impl Default for CameraSettings {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            warmup_frames: 5,
        }
    }
}

/// One RGB frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// Row-major RGB, 3 bytes per pixel.
    pub rgb: Vec<u8>,
}

impl Frame {
    /// As an image for the model, exactly like a decoded file.
    ///
    /// # Errors
    /// `Failed` when the buffer does not match the size.
    pub fn into_image(self) -> Result<Image> {
        let (w, h) = (self.width, self.height);
        Image::from_rgb(w, h, self.rgb).ok_or_else(|| CameraError::Failed {
            reason: format!("a {w}×{h} frame with the wrong number of bytes"),
        })
    }

    /// As a message attachment.
    ///
    /// # Errors
    /// As [`Frame::into_image`].
    pub fn into_media(self) -> Result<Media> {
        self.into_image().map(Media::Image)
    }
}

/// A kind of camera: lists devices and opens them.
pub trait FrameSource: Send + Sync {
    /// Cameras present now; empty when there are none.
    ///
    /// # Errors
    /// `Failed` when the platform cannot be queried.
    fn list(&self) -> Result<Vec<CameraInfo>>;

    /// Open camera `index` and start streaming.
    ///
    /// # Errors
    /// `NoCamera`, `PermissionDenied`, `Busy`, `Failed`.
    fn open(&self, index: u32, settings: &CameraSettings) -> Result<Box<dyn FrameStream>>;
}

/// An open camera. Not `Send`: it stays on the thread that opened it.
pub trait FrameStream {
    /// The next frame (blocks until the camera delivers one).
    ///
    /// # Errors
    /// `Failed` when the camera stops delivering.
    fn next_frame(&mut self) -> Result<Frame>;
}
