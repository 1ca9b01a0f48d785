//! Turns parsed flags plus the config file into what commands need: the
//! effective settings, the store and a running engine.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use omnidesk::config::{self, Config};
use omnidesk::engine::{EngineHandle, GenerateRequest};
use omnidesk::launch;
use omnidesk::store::Store;

use super::args::{GenerationArgs, GlobalArgs};

/// Effective settings for one invocation.
pub struct Context {
    pub config: Config,
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub model_flag: Option<PathBuf>,
    pub mmproj_flag: Option<PathBuf>,
}

impl Context {
    /// Load the config and apply the global flags on top.
    pub fn new(global: &GlobalArgs) -> Result<Self> {
        let config_path = match &global.config {
            Some(p) => p.clone(),
            None => config::default_config_path()?,
        };
        let mut config = Config::load(global.config.as_deref())?;
        if let Some(n) = global.ctx_size {
            config.engine.n_ctx = n;
        }
        if let Some(n) = global.threads {
            config.engine.threads = n;
        }
        if let Some(n) = global.n_gpu_layers {
            config.engine.n_gpu_layers = n;
        }
        if let Some(n) = global.batch_size {
            config.engine.batch_size = n;
        }
        let data_dir = match &global.data_dir {
            Some(d) => d.clone(),
            None => config::data_dir()?,
        };
        Ok(Self {
            config,
            config_path,
            data_dir,
            model_flag: global.model.clone(),
            mmproj_flag: global.mmproj.clone(),
        })
    }

    /// `--model`, else the config's `model`, else a downloaded manifest model.
    pub fn model_path(&self) -> Result<PathBuf> {
        Ok(launch::resolve_model(
            self.model_flag.as_deref(),
            &self.config,
            &self.data_dir,
            &self.config_path,
        )?)
    }

    /// Start the engine on the resolved model, showing what is loading. A
    /// projector found by name next to the model is optional: if it does
    /// not fit the model, the model still starts, text-only, with a warning.
    pub async fn start_engine(&self, quiet: bool) -> Result<EngineHandle> {
        let model = self.model_path()?;
        if !quiet {
            let projector = self
                .mmproj_flag
                .clone()
                .or_else(|| launch::projector_for(&self.config, &model));
            match projector {
                Some(p) => eprintln!("Loading {} with {} …", model.display(), p.display()),
                None => eprintln!("Loading {} …", model.display()),
            }
        }
        let started = launch::start_engine(&self.config, model.clone(), self.mmproj_flag.clone())
            .await
            .with_context(|| format!("cannot use model {}", model.display()))?;
        if let Some(why) = started.projector_skipped {
            eprintln!("warning: {why}");
        }
        Ok(started.engine)
    }

    /// The conversation database in the data dir.
    pub fn open_store(&self) -> Result<Store> {
        let path = self.data_dir.join("omnidesk.db");
        Store::open(&path)
            .with_context(|| format!("cannot open the history database {}", path.display()))
    }

    /// A request template from config and per-command flags.
    pub fn request(&self, gen: &GenerationArgs) -> GenerateRequest {
        let mut sampling = self.config.sampling.clone();
        if let Some(v) = gen.temp {
            sampling.temperature = v;
        }
        if let Some(v) = gen.top_k {
            sampling.top_k = v;
        }
        if let Some(v) = gen.top_p {
            sampling.top_p = v;
        }
        if let Some(v) = gen.min_p {
            sampling.min_p = v;
        }
        if let Some(v) = gen.repeat_penalty {
            sampling.repeat_penalty = v;
        }
        if gen.seed.is_some() {
            sampling.seed = gen.seed;
        }
        GenerateRequest {
            messages: Vec::new(),
            sampling,
            max_tokens: gen.max_tokens.unwrap_or(self.config.max_tokens),
            stop: gen.stop.clone(),
        }
    }
}
