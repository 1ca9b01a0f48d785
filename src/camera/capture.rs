//! The real camera (nokhwa: V4L2, AVFoundation, Media Foundation),
//! one-shot snapshots, and the preview thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};
use tokio::sync::{mpsc, oneshot};

use super::error::{CameraError, Result};
use super::{CameraInfo, CameraSettings, Frame, FrameSource, FrameStream};
use crate::media::Image;

/// Cameras through nokhwa's native backend.
#[derive(Debug, Clone, Default)]
pub struct NokhwaSource;

impl FrameSource for NokhwaSource {
    fn list(&self) -> Result<Vec<CameraInfo>> {
        let cams = nokhwa::query(ApiBackend::Auto).map_err(|e| map_error(&e.to_string(), None))?;
        Ok(cams
            .into_iter()
            .enumerate()
            .map(|(i, c)| CameraInfo {
                index: c.index().as_index().unwrap_or(i as u32),
                name: c.human_name(),
                description: c.description().to_string(),
            })
            .collect())
    }

    fn open(&self, index: u32, settings: &CameraSettings) -> Result<Box<dyn FrameStream>> {
        // An empty list is the clearest "no camera" signal there is; the
        // backend's own error for a missing device is an OS string.
        if self.list().map(|l| l.is_empty()).unwrap_or(false) {
            return Err(CameraError::NoCamera { index: Some(index) });
        }
        let wanted =
            CameraFormat::new_from(settings.width, settings.height, FrameFormat::MJPEG, 30);
        let format = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted));
        let mut camera = nokhwa::Camera::new(CameraIndex::Index(index), format)
            .map_err(|e| map_error(&e.to_string(), Some(index)))?;
        camera
            .open_stream()
            .map_err(|e| map_error(&e.to_string(), Some(index)))?;
        Ok(Box::new(NokhwaStream { camera }))
    }
}

struct NokhwaStream {
    camera: nokhwa::Camera,
}

impl FrameStream for NokhwaStream {
    fn next_frame(&mut self) -> Result<Frame> {
        let buffer = self
            .camera
            .frame()
            .map_err(|e| map_error(&e.to_string(), None))?;
        let img = buffer
            .decode_image::<RgbFormat>()
            .map_err(|e| CameraError::Failed {
                reason: e.to_string(),
            })?;
        Ok(Frame {
            width: img.width(),
            height: img.height(),
            rgb: img.into_raw(),
        })
    }
}

impl Drop for NokhwaStream {
    fn drop(&mut self) {
        // Closing a camera that already vanished fails; nothing to do then.
        let _ = self.camera.stop_stream();
    }
}

/// Sort a backend error message into a typed error.
fn map_error(message: &str, index: Option<u32>) -> CameraError {
    let m = message.to_lowercase();
    if m.contains("no such file") || m.contains("not found") || m.contains("no device") {
        CameraError::NoCamera { index }
    } else if m.contains("permission") || m.contains("denied") {
        CameraError::PermissionDenied
    } else if m.contains("busy") {
        CameraError::Busy
    } else {
        CameraError::Failed {
            reason: message.to_string(),
        }
    }
}

/// Open camera `index`, let exposure settle, and return one frame as an
/// image. Blocks for the camera's warm-up (about a fifth of a second).
///
/// # Errors
/// Those of [`FrameSource::open`] and [`FrameStream::next_frame`].
pub fn snapshot(source: &dyn FrameSource, index: u32, settings: &CameraSettings) -> Result<Image> {
    let mut stream = source.open(index, settings)?;
    for _ in 0..settings.warmup_frames {
        stream.next_frame()?;
    }
    stream.next_frame()?.into_image()
}

/// A small frame for the UI's viewfinder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewFrame {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// A camera kept open for a live preview; [`Preview::snapshot`] takes a
/// full-size picture without reopening it. Dropping it closes the camera.
pub struct Preview {
    frames: Option<mpsc::Receiver<PreviewFrame>>,
    snap: std_mpsc::Sender<oneshot::Sender<Result<Image>>>,
    stop: Arc<AtomicBool>,
}

impl Preview {
    /// Open camera `index` on its own thread and send preview frames at
    /// `fps` (at most), scaled to at most `max_width` pixels wide.
    ///
    /// # Errors
    /// Those of [`FrameSource::open`], or `Thread`.
    pub fn start(
        source: Arc<dyn FrameSource>,
        index: u32,
        settings: CameraSettings,
        fps: f32,
        max_width: u32,
    ) -> Result<Self> {
        let (frames_tx, frames) = mpsc::channel(2);
        let (snap, snap_rx) = std_mpsc::channel::<oneshot::Sender<Result<Image>>>();
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let interval = Duration::from_secs_f32(1.0 / fps.clamp(0.5, 30.0));
        std::thread::Builder::new()
            .name("omnidesk-camera".into())
            .spawn(move || {
                let mut stream = match source.open(index, &settings) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut last: Option<Instant> = None;
                while !stopped.load(Ordering::Acquire) {
                    let frame = match stream.next_frame() {
                        Ok(f) => f,
                        Err(_) => break,
                    };
                    while let Ok(reply) = snap_rx.try_recv() {
                        let _ = reply.send(frame.clone().into_image());
                    }
                    if last.is_none_or(|t| t.elapsed() >= interval) {
                        last = Some(Instant::now());
                        // A slow viewer skips frames instead of queueing them.
                        if let Err(mpsc::error::TrySendError::Closed(_)) =
                            frames_tx.try_send(downscale(&frame, max_width))
                        {
                            break;
                        }
                    }
                }
            })
            .map_err(|e| CameraError::Thread(e.to_string()))?;
        ready_rx
            .recv()
            .map_err(|_| CameraError::Thread("the camera thread ended".into()))??;
        Ok(Self {
            frames: Some(frames),
            snap,
            stop,
        })
    }

    /// The preview frames, for a UI task to forward.
    pub fn take_frames(&mut self) -> Option<mpsc::Receiver<PreviewFrame>> {
        self.frames.take()
    }

    /// A full-size picture from the running camera.
    ///
    /// # Errors
    /// `Thread` when the camera stopped, or the frame's own error.
    pub async fn snapshot(&self) -> Result<Image> {
        let (tx, rx) = oneshot::channel();
        self.snap
            .send(tx)
            .map_err(|_| CameraError::Thread("the camera stopped".into()))?;
        rx.await
            .map_err(|_| CameraError::Thread("the camera stopped".into()))?
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Nearest-neighbour shrink to at most `max_width` wide, aspect kept.
fn downscale(frame: &Frame, max_width: u32) -> PreviewFrame {
    if frame.width <= max_width || max_width == 0 {
        return PreviewFrame {
            width: frame.width,
            height: frame.height,
            rgb: frame.rgb.clone(),
        };
    }
    let w = max_width;
    let h = ((u64::from(frame.height) * u64::from(w) / u64::from(frame.width)) as u32).max(1);
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        let sy = (u64::from(y) * u64::from(frame.height) / u64::from(h)) as usize;
        for x in 0..w {
            let sx = (u64::from(x) * u64::from(frame.width) / u64::from(w)) as usize;
            let i = (sy * frame.width as usize + sx) * 3;
            rgb.extend_from_slice(frame.rgb.get(i..i + 3).unwrap_or(&[0, 0, 0]));
        }
    }
    PreviewFrame {
        width: w,
        height: h,
        rgb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::FakeSource;

    #[test]
    fn fake_snapshot_is_an_image_of_the_requested_size() {
        let img = snapshot(
            &FakeSource,
            0,
            &CameraSettings {
                width: 64,
                height: 48,
                warmup_frames: 1,
            },
        )
        .unwrap();
        assert_eq!((img.width, img.height), (64, 48));
    }

    #[test]
    fn backend_strings_become_typed_errors() {
        assert!(matches!(
            map_error(
                "Could not open device /dev/video0: No such file or directory",
                Some(0)
            ),
            CameraError::NoCamera { index: Some(0) }
        ));
        assert!(matches!(
            map_error("Permission denied", None),
            CameraError::PermissionDenied
        ));
    }

    #[tokio::test]
    async fn preview_sends_small_frames_and_snaps_full_ones() {
        let settings = CameraSettings {
            width: 640,
            height: 480,
            warmup_frames: 0,
        };
        let mut p = Preview::start(Arc::new(FakeSource), 0, settings, 30.0, 160).unwrap();
        let mut frames = p.take_frames().unwrap();
        let f = frames.recv().await.unwrap();
        assert_eq!((f.width, f.height), (160, 120));
        let img = p.snapshot().await.unwrap();
        assert_eq!((img.width, img.height), (640, 480));
    }
}
