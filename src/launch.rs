//! Deciding what model to load and starting the engine on it, the same way
//! for every front end: an explicit model (flag or config) wins, else a
//! downloaded manifest model; a projector named by the user is required to
//! work, one merely found next to the model is optional.
//!
//! Threading: async; the model loads on the engine's own thread.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::engine::{EngineConfig, EngineError, EngineHandle};
use crate::gguf;
use crate::hardware;
use crate::models::fit::{self, FitReport};
use crate::models::{self, mmproj, Manifest, ModelsError};

/// The model to load: `explicit` (a flag), else the config's `model`, else
/// the default or fallback manifest model in the data dir.
///
/// # Errors
/// `NoModel` (naming where to put one) when nothing is found; `Manifest`
/// if the manifest is broken.
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
    Manifest::load()?
        .find_chat_model(&dir)
        .ok_or_else(|| ModelsError::NoModel {
            dir,
            config: config_path.display().to_string(),
        })
}

/// Memory estimate and GPU layer choice for `model` (plus its projector,
/// if any) on this machine, from the GGUF header alone.
///
/// # Errors
/// `InvalidModel` for a file that is not a usable GGUF; `Backend` when
/// llama.cpp cannot list the devices.
pub fn fit(config: &Config, model: &Path, mmproj: Option<&Path>) -> crate::Result<FitReport> {
    let header = gguf::inspect(model).map_err(EngineError::from)?;
    let mmproj_bytes = mmproj
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    let hw = hardware::detect()?;
    let cfg = config.engine_config(model.to_path_buf());
    Ok(fit::plan(
        &header,
        cfg.n_ctx,
        cfg.n_batch,
        mmproj_bytes,
        &hw,
        config.engine.n_gpu_layers,
    ))
}

/// What [`start`] will load, decided before any weights are read, so a
/// front end can show it (and any warning) first.
#[derive(Debug, Clone)]
pub struct Plan {
    pub engine: EngineConfig,
    /// True when the projector was only found by name next to the model:
    /// it is then optional and dropped if it does not fit the model.
    pub projector_optional: bool,
    /// Problems worth telling the user, e.g. a model that may not fit in RAM.
    pub warnings: Vec<String>,
}

/// Decide how to load `model` with the config's settings. `mmproj`
/// overrides the config's projector; with neither, one is looked up next
/// to the model. `n_gpu_layers = auto` is resolved from free GPU memory.
///
/// # Errors
/// `UnfinishedDownload` for a `.part` file; the GGUF header check's errors.
pub fn plan(config: &Config, model: PathBuf, mmproj: Option<PathBuf>) -> crate::Result<Plan> {
    if model.extension().is_some_and(|e| e == "part") {
        return Err(ModelsError::UnfinishedDownload(model).into());
    }
    let explicit = mmproj.or_else(|| config.mmproj.clone());
    let projector_optional = explicit.is_none();
    let mut engine = config.engine_config(model.clone());
    engine.mmproj_path =
        explicit.or_else(|| mmproj::find_for(&model, Manifest::load().ok().as_ref()));
    let report = fit(config, &model, engine.mmproj_path.as_deref())?;
    engine.n_gpu_layers = report.n_gpu_layers;
    if engine.kv_cache_bytes > 0 {
        engine.kv_cache_dir = crate::config::data_dir().ok().map(|d| d.join("kv-cache"));
    }
    Ok(Plan {
        engine,
        projector_optional,
        warnings: report.warnings,
    })
}

/// A running engine and what the user should be told about how it started.
#[derive(Debug)]
pub struct Started {
    pub engine: EngineHandle,
    pub warnings: Vec<String>,
}

/// Load the planned model on the engine's thread. An optional projector
/// that does not fit the model is dropped (text-only, with a warning).
///
/// # Errors
/// The engine's load errors; `ProjectorFailed` only for a projector the
/// user named.
pub async fn start(plan: Plan) -> crate::Result<Started> {
    let Plan {
        mut engine,
        projector_optional,
        mut warnings,
    } = plan;
    let handle = match EngineHandle::start(engine.clone()).await {
        Err(EngineError::ProjectorFailed { path, reason }) if projector_optional => {
            warnings.push(format!(
                "not using projector {}: {reason}; images and audio are off",
                path.display()
            ));
            engine.mmproj_path = None;
            EngineHandle::start(engine).await?
        }
        other => other?,
    };
    Ok(Started {
        engine: handle,
        warnings,
    })
}

/// [`plan`] then [`start`], for front ends that show the outcome only.
///
/// # Errors
/// Those of [`plan`] and [`start`].
pub async fn start_engine(
    config: &Config,
    model: PathBuf,
    mmproj: Option<PathBuf>,
) -> crate::Result<Started> {
    let planned = plan(config, model, mmproj)?;
    start(planned).await
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
