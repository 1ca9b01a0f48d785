//! Voice activity detection with Silero VAD (an ONNX model from PyPI's
//! `silero-vad` wheel) on ONNX Runtime: the probability that a 32 ms frame
//! of 16 kHz audio is speech. A real detector, not a loudness threshold:
//! music, typing and hum stay below it.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::Tensor;

use super::error::{AudioError, Result};

/// The rate Silero runs at here.
pub const RATE: u32 = 16_000;
/// Samples per frame at 16 kHz (32 ms), as the model was trained.
pub const FRAME: usize = 512;
/// Samples of the previous frame the model sees before each frame.
const CONTEXT: usize = 64;
/// The recurrent state: 2 × 1 × 128.
const STATE: usize = 2 * 128;

/// The default model file name under `<data dir>/voices`.
pub const DEFAULT_VAD_MODEL: &str = "silero_vad.onnx";

/// Silero VAD with its recurrent state (one audio stream).
pub struct SileroVad {
    session: Session,
    path: PathBuf,
    state: Vec<f32>,
    context: Vec<f32>,
}

impl std::fmt::Debug for SileroVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroVad")
            .field("path", &self.path)
            .finish()
    }
}

impl SileroVad {
    /// Load ONNX Runtime from `runtime` (once per process) and the model.
    ///
    /// # Errors
    /// `VadMissing` when either file is absent or the runtime cannot load,
    /// `BadVad` when the model is not Silero's.
    pub fn load(model: &Path, runtime: &Path) -> Result<Self> {
        if !model.is_file() {
            return Err(AudioError::VadMissing {
                what: format!("no model at {}", model.display()),
            });
        }
        crate::onnx::load_runtime(runtime).map_err(|reason| AudioError::VadMissing {
            what: format!("ONNX Runtime {}: {reason}", runtime.display()),
        })?;
        let bad = |e: &dyn std::fmt::Display| AudioError::BadVad {
            path: model.to_path_buf(),
            reason: e.to_string(),
        };
        let session = Session::builder()
            .map_err(|e| bad(&e))?
            .with_intra_threads(1)
            .map_err(|e| bad(&e))?
            .commit_from_file(model)
            .map_err(|e| bad(&e))?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for want in ["input", "state", "sr"] {
            if !names.contains(&want) {
                return Err(bad(&format!(
                    "the model has no input {want:?} (inputs: {names:?})"
                )));
            }
        }
        let mut vad = Self {
            session,
            path: model.to_path_buf(),
            state: vec![0.0; STATE],
            context: vec![0.0; CONTEXT],
        };
        // One frame of silence proves the model runs, before anyone talks.
        vad.probability(&[0.0; FRAME])?;
        vad.reset();
        Ok(vad)
    }

    /// Forget the stream so far.
    pub fn reset(&mut self) {
        self.state.iter_mut().for_each(|s| *s = 0.0);
        self.context.iter_mut().for_each(|s| *s = 0.0);
    }

    /// Speech probability (0..1) of the next [`FRAME`] samples.
    ///
    /// # Errors
    /// `BadVad` when the frame has the wrong length or the model fails.
    pub fn probability(&mut self, frame: &[f32]) -> Result<f32> {
        let bad = |e: &dyn std::fmt::Display| AudioError::BadVad {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        if frame.len() != FRAME {
            return Err(bad(&format!(
                "a frame is {FRAME} samples, not {}",
                frame.len()
            )));
        }
        let mut input = Vec::with_capacity(CONTEXT + FRAME);
        input.extend_from_slice(&self.context);
        input.extend(frame.iter().map(|s| if s.is_finite() { *s } else { 0.0 }));
        self.context
            .copy_from_slice(&input[input.len() - CONTEXT..]);
        let input = Tensor::from_array(([1usize, CONTEXT + FRAME], input)).map_err(|e| bad(&e))?;
        let state =
            Tensor::from_array(([2usize, 1, 128], self.state.clone())).map_err(|e| bad(&e))?;
        let sr = Tensor::from_array(((), vec![i64::from(RATE)])).map_err(|e| bad(&e))?;
        let outputs = self
            .session
            .run(ort::inputs!["input" => input, "state" => state, "sr" => sr])
            .map_err(|e| AudioError::BadVad {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        if outputs.len() < 2 {
            return Err(AudioError::BadVad {
                path: self.path.clone(),
                reason: "the model returned too few outputs".into(),
            });
        }
        let (_, p) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| AudioError::BadVad {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let (_, next) = outputs[1]
            .try_extract_tensor::<f32>()
            .map_err(|e| AudioError::BadVad {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        if next.len() == STATE {
            self.state.copy_from_slice(next);
        }
        Ok(p.first().copied().filter(|p| p.is_finite()).unwrap_or(0.0))
    }
}
