//! Why a camera could not be used. Backend messages (V4L2, AVFoundation,
//! Media Foundation) are kept as detail, never as the whole story.

/// Failure to find, open or read a camera.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// No camera is connected (or none at this index).
    #[error("no camera is available{}", index.map(|i| format!(" at index {i}")).unwrap_or_default())]
    NoCamera { index: Option<u32> },
    /// The operating system refused access.
    #[error("access to the camera was denied: allow camera access for Omnidesk")]
    PermissionDenied,
    /// The camera is held by another program.
    #[error("the camera is busy (used by another program)")]
    Busy,
    /// The camera opened but failed to deliver or decode a frame.
    #[error("the camera failed: {reason}")]
    Failed { reason: String },
    /// The camera thread could not start or vanished.
    #[error("the camera thread failed: {0}")]
    Thread(String),
}

impl CameraError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            CameraError::NoCamera { .. } => "NO_CAMERA",
            CameraError::PermissionDenied => "CAMERA_PERMISSION",
            CameraError::Busy => "CAMERA_BUSY",
            CameraError::Failed { .. } | CameraError::Thread(_) => "CAMERA_FAILED",
        }
    }
}

/// Result of camera operations.
pub type Result<T, E = CameraError> = std::result::Result<T, E>;
