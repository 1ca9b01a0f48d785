//! Deciding what model to load and starting the engine on it, the same way
//! for every front end: an explicit model (flag or config) wins, else a
//! downloaded manifest model; a projector named by the user is required to
//! work, one merely found next to the model is optional.
//!
//! Threading: async; the model loads on the engine's own thread.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::engine::{EngineError, EngineHandle};
use crate::models::{self, mmproj, Manifest, ModelsError};

/// The model to load: `explicit` (a flag), else the config's `model`, else
/// the default or fallback manifest model in the data dir.
///
/// # Errors
/// `NoModel` (naming where to put one) when nothing is found; `Manifest`
/// if the built-in manifest is broken.
pub fn resolve_model(
    explicit: Option<&Path>,
    config: &Config,
    data_dir: &Path,
    config_path: &Path,
) -> Result<PathBuf, ModelsError> {
    if let Some(p) = explicit
        .map(Path::to_path_buf)
        .or_else(|| config.model.clone())
    {
        return Ok(p);
    }
    let dir = models::models_dir(data_dir);
    Manifest::builtin()?
        .find_chat_model(&dir)
        .ok_or_else(|| ModelsError::NoModel {
            dir,
            config: config_path.display().to_string(),
        })
}

/// A running engine and, when a projector found by name did not fit the
/// model, why images and audio are off.
#[derive(Debug)]
pub struct Started {
    pub engine: EngineHandle,
    pub projector_skipped: Option<String>,
}

/// Start the engine on `model` with the config's settings. `mmproj`
/// overrides the config's projector; with neither, one is looked up next
/// to the model and dropped (text-only, reported) if it does not load.
///
/// # Errors
/// The engine's load errors; `ProjectorFailed` only for a projector the
/// user named.
pub async fn start_engine(
    config: &Config,
    model: PathBuf,
    mmproj: Option<PathBuf>,
) -> Result<Started, EngineError> {
    let explicit = mmproj.or_else(|| config.mmproj.clone());
    let found = explicit
        .is_none()
        .then(|| mmproj::find_for(&model, Manifest::builtin().ok().as_ref()))
        .flatten();
    let mut engine_config = config.engine_config(model);
    engine_config.mmproj_path = explicit.or_else(|| found.clone());
    match EngineHandle::start(engine_config.clone()).await {
        Err(EngineError::ProjectorFailed { path, reason }) if found.is_some() => {
            engine_config.mmproj_path = None;
            let engine = EngineHandle::start(engine_config).await?;
            Ok(Started {
                engine,
                projector_skipped: Some(format!(
                    "not using projector {}: {reason}; images and audio are off",
                    path.display()
                )),
            })
        }
        other => other.map(|engine| Started {
            engine,
            projector_skipped: None,
        }),
    }
}

/// The projector that [`start_engine`] would try for `model`.
pub fn projector_for(config: &Config, model: &Path) -> Option<PathBuf> {
    config
        .mmproj
        .clone()
        .or_else(|| mmproj::find_for(model, Manifest::builtin().ok().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_model_wins_over_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            model: Some("/m.gguf".into()),
            ..Config::default()
        };
        let p = resolve_model(None, &config, dir.path(), Path::new("c.toml")).unwrap();
        assert_eq!(p, PathBuf::from("/m.gguf"));
        let flag = resolve_model(
            Some(Path::new("/f.gguf")),
            &config,
            dir.path(),
            Path::new("c"),
        );
        assert_eq!(flag.unwrap(), PathBuf::from("/f.gguf"));
        let none = resolve_model(None, &Config::default(), dir.path(), Path::new("c.toml"));
        assert!(matches!(none, Err(ModelsError::NoModel { .. })));
    }
}
