//! User settings: a TOML file in the user's config dir, overridden by CLI
//! flags. Unknown keys are an error so a typo never silently does nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{EngineConfig, SamplingParams};

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "OMNIDESK_CONFIG";
/// Environment variable naming the data directory (database, models).
pub const DATA_DIR_ENV: &str = "OMNIDESK_DATA_DIR";

/// Why settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "cannot find a home directory for config and data; set {CONFIG_ENV} and {DATA_DIR_ENV}"
    )]
    NoHome,
}

/// Everything a user can configure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Model to load when `--model` is not given.
    pub model: Option<PathBuf>,
    /// Embedding model for the document index (`omnidesk docs`).
    pub embedding_model: Option<PathBuf>,
    /// System prompt for new conversations.
    pub system_prompt: Option<String>,
    /// Upper bound on tokens per answer.
    pub max_tokens: u32,
    pub engine: EngineSettings,
    pub sampling: SamplingParams,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: None,
            embedding_model: None,
            system_prompt: None,
            max_tokens: 1024,
            engine: EngineSettings::default(),
            sampling: SamplingParams::default(),
        }
    }
}

/// The `[engine]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// 0 = min(model's trained context, 4096).
    pub n_ctx: u32,
    /// 0 = all cores.
    pub threads: u32,
    pub n_gpu_layers: u32,
    pub batch_size: u32,
    pub chat_template: Option<String>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            n_ctx: 0,
            threads: 0,
            // A GPU build offloads everything unless told otherwise.
            n_gpu_layers: if cfg!(any(feature = "cuda", feature = "vulkan", feature = "metal")) {
                999
            } else {
                0
            },
            batch_size: 512,
            chat_template: None,
        }
    }
}

impl Config {
    /// Read `path`, or the default location when `None`. A missing file at
    /// the default location means defaults; a missing explicit file is an error.
    ///
    /// # Errors
    /// `Read` for I/O problems, `Parse` for invalid TOML or unknown keys.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (default_config_path()?, false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parse TOML text; `path` is only used in error messages.
    ///
    /// # Errors
    /// `Parse` with toml's explanation.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Engine settings for `model`.
    pub fn engine_config(&self, model: PathBuf) -> EngineConfig {
        EngineConfig {
            model_path: model,
            n_ctx: self.engine.n_ctx,
            n_threads: (self.engine.threads > 0).then_some(self.engine.threads),
            n_gpu_layers: self.engine.n_gpu_layers,
            n_batch: self.engine.batch_size.max(1),
            chat_template: self.engine.chat_template.clone(),
        }
    }
}

fn project_dirs() -> Result<directories::ProjectDirs, ConfigError> {
    directories::ProjectDirs::from("", "", "omnidesk").ok_or(ConfigError::NoHome)
}

/// `$OMNIDESK_CONFIG`, else `<config dir>/omnidesk/config.toml`.
///
/// # Errors
/// `NoHome` when neither is available.
pub fn default_config_path() -> Result<PathBuf, ConfigError> {
    if let Some(p) = std::env::var_os(CONFIG_ENV) {
        return Ok(PathBuf::from(p));
    }
    Ok(project_dirs()?.config_dir().join("config.toml"))
}

/// `$OMNIDESK_DATA_DIR`, else the platform data dir (`~/.local/share/omnidesk`).
///
/// # Errors
/// `NoHome` when neither is available.
pub fn data_dir() -> Result<PathBuf, ConfigError> {
    if let Some(p) = std::env::var_os(DATA_DIR_ENV) {
        return Ok(PathBuf::from(p));
    }
    Ok(project_dirs()?.data_dir().to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn tables_override_defaults() {
        let c = Config::parse(
            "max_tokens = 64\n[engine]\nn_ctx = 2048\nthreads = 3\n[sampling]\ntemperature = 0.0\nseed = 7\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.max_tokens, 64);
        assert_eq!(c.engine.n_ctx, 2048);
        assert_eq!(c.sampling.seed, Some(7));
        let e = c.engine_config(PathBuf::from("m.gguf"));
        assert_eq!(e.n_threads, Some(3));
    }

    #[test]
    fn typo_is_an_error_naming_the_file() {
        let err = Config::parse("[engine]\nn_cxt = 1\n", Path::new("my.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("my.toml") && msg.contains("n_cxt"), "{msg}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.toml");
        assert!(matches!(
            Config::load(Some(&p)),
            Err(ConfigError::Read { .. })
        ));
    }
}
