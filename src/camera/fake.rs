//! A camera that is always there: generated frames (a moving colour
//! gradient with a frame counter band), for tests, demos and machines
//! without a camera. Never chosen by default.

use super::{CameraInfo, CameraSettings, Frame, FrameSource, FrameStream, Result};

/// Generated frames at any requested size.
#[derive(Debug, Clone, Default)]
pub struct FakeSource;

impl FrameSource for FakeSource {
    fn list(&self) -> Result<Vec<CameraInfo>> {
        Ok(vec![CameraInfo {
            index: 0,
            name: "Fake camera".into(),
            description: "generated test frames".into(),
        }])
    }

    fn open(&self, index: u32, settings: &CameraSettings) -> Result<Box<dyn FrameStream>> {
        if index != 0 {
            return Err(super::CameraError::NoCamera { index: Some(index) });
        }
        Ok(Box::new(FakeStream {
            width: settings.width.clamp(16, 4096),
            height: settings.height.clamp(16, 4096),
            n: 0,
        }))
    }
}

struct FakeStream {
    width: u32,
    height: u32,
    n: u32,
}

impl FrameStream for FakeStream {
    fn next_frame(&mut self) -> Result<Frame> {
        self.n = self.n.wrapping_add(1);
        let (w, h, n) = (self.width, self.height, self.n);
        let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
        for y in 0..h {
            for x in 0..w {
                let band = y < h / 8 && x % 64 < (n % 64);
                rgb.extend_from_slice(&[
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    if band { 255 } else { (n * 8 % 256) as u8 },
                ]);
            }
        }
        Ok(Frame {
            width: w,
            height: h,
            rgb,
        })
    }
}
