//! The model manifest (`models/manifest.toml`, compiled in) and finding a
//! model on disk when the user did not name one.

pub mod mmproj;

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The manifest shipped with this build.
pub const MANIFEST_TOML: &str = include_str!("../../models/manifest.toml");

/// Problems with the manifest or with finding a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("model manifest is invalid: {0}")]
    Manifest(String),
    #[error("no model found: pass --model PATH, set `model` in {config}, or run scripts/run.sh to download one into {dir}")]
    NoModel { dir: PathBuf, config: String },
}

/// Parsed `models/manifest.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub default_chat: String,
    pub fallback_chat: String,
    pub models: Vec<ModelEntry>,
}

/// One downloadable model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    pub role: String,
    pub description: String,
    pub license: String,
    pub modalities: Vec<String>,
    pub context_length: u32,
    pub ram_gb: f32,
    pub files: Vec<ModelFile>,
}

/// A file of a model entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub kind: String,
    pub name: String,
    pub url: Option<String>,
    pub pypi: Option<String>,
    /// Rough size for "this will download N MB" notices.
    pub approx_mb: Option<u64>,
    pub sha256: Option<String>,
}

impl Manifest {
    /// The manifest compiled into this build.
    ///
    /// # Errors
    /// `Manifest` if the shipped TOML is broken (caught by tests).
    pub fn builtin() -> Result<Self, ModelsError> {
        toml::from_str(MANIFEST_TOML).map_err(|e| ModelsError::Manifest(e.to_string()))
    }

    /// Entry by id.
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The main weights file of the default chat model if it is in
    /// `models_dir`, else that of the fallback.
    pub fn find_chat_model(&self, models_dir: &Path) -> Option<PathBuf> {
        [&self.default_chat, &self.fallback_chat]
            .into_iter()
            .filter_map(|id| self.get(id))
            .filter_map(|m| m.files.iter().find(|f| f.kind == "model"))
            .map(|f| models_dir.join(&f.name))
            .find(|p| p.is_file())
    }
}

/// Where downloaded models live inside the data dir.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_parses_and_names_existing_entries() {
        let m = Manifest::builtin().unwrap();
        assert!(m.get(&m.default_chat).is_some());
        assert!(m.get(&m.fallback_chat).is_some());
    }

    #[test]
    fn fallback_is_found_when_default_is_absent() {
        let m = Manifest::builtin().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(m.find_chat_model(dir.path()), None);
        let fallback = dir.path().join("gemma-3-270m-q4_k_m.gguf");
        std::fs::write(&fallback, b"x").unwrap();
        assert_eq!(m.find_chat_model(dir.path()), Some(fallback));
        let default = dir.path().join("Qwen2.5-Omni-7B-Q4_K_M.gguf");
        std::fs::write(&default, b"x").unwrap();
        assert_eq!(m.find_chat_model(dir.path()), Some(default));
    }
}
