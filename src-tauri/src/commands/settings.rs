//! The settings screen: the config file's user-facing fields. Saving
//! engine fields reloads the model so they take effect.

use omnidesk::config::{BackendKind, Config, FilterAction, SafetySettings};
use omnidesk::engine::SamplingParams;
use omnidesk::models::fit::GpuLayers;
use omnidesk::tts::VoiceEngine;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime, State};

use super::models::load_configured;
use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// The settings the window edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsView {
    pub system_prompt: String,
    pub max_tokens: u32,
    /// 0 = automatic.
    pub n_ctx: u32,
    /// 0 = all cores.
    pub threads: u32,
    /// `None` = automatic (from free GPU memory).
    pub n_gpu_layers: Option<u32>,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub repeat_penalty: f32,
    pub seed: Option<u32>,
    /// Speak answers aloud, sentence by sentence.
    #[serde(default)]
    pub speak_replies: bool,
    /// `auto` (Piper for English when installed, else espeak-ng), `piper`
    /// or `espeak`.
    #[serde(default)]
    pub voice: VoiceEngine,
    /// `local` (this computer) or `openai` (any OpenAI-compatible server).
    #[serde(default)]
    pub backend_kind: BackendKind,
    /// Base URL with the API prefix, e.g. `http://127.0.0.1:8080/v1`.
    #[serde(default)]
    pub backend_url: String,
    /// Model id on that server; empty = the first it lists.
    #[serde(default)]
    pub backend_model: String,
    /// Embedding model id on that server for your documents; empty =
    /// embed on this computer.
    #[serde(default)]
    pub backend_embed_model: String,
    /// Write-only: a new API key; `None` keeps the saved one (only while
    /// the URL stays the same), empty clears it.
    #[serde(default)]
    pub backend_api_key: Option<String>,
    /// Read-only: whether an API key is saved (it is never sent back).
    #[serde(default)]
    pub backend_api_key_set: bool,
    /// The optional output filter (`[safety]`, off by default).
    #[serde(default)]
    pub safety_enabled: bool,
    /// Words or phrases, one per entry.
    #[serde(default)]
    pub safety_words: Vec<String>,
    /// Regular expressions, one per entry.
    #[serde(default)]
    pub safety_patterns: Vec<String>,
    /// `mask` or `stop`.
    #[serde(default)]
    pub safety_action: FilterAction,
    /// Read-only: where these are saved.
    #[serde(default)]
    pub config_path: String,
}

impl SettingsView {
    fn from_config(c: &Config, path: &std::path::Path) -> Self {
        Self {
            system_prompt: c.system_prompt.clone().unwrap_or_default(),
            max_tokens: c.max_tokens,
            n_ctx: c.engine.n_ctx,
            threads: c.engine.threads,
            n_gpu_layers: match c.engine.n_gpu_layers {
                GpuLayers::Auto => None,
                GpuLayers::Count(n) => Some(n),
            },
            temperature: c.sampling.temperature,
            top_k: c.sampling.top_k,
            top_p: c.sampling.top_p,
            min_p: c.sampling.min_p,
            repeat_penalty: c.sampling.repeat_penalty,
            seed: c.sampling.seed,
            speak_replies: c.audio.speak_replies,
            voice: c.audio.voice,
            backend_kind: c.backend.kind,
            backend_url: c.backend.url.clone().unwrap_or_default(),
            backend_model: c.backend.model.clone().unwrap_or_default(),
            backend_embed_model: c.backend.embed_model.clone().unwrap_or_default(),
            backend_api_key: None,
            backend_api_key_set: c.backend.api_key.is_some(),
            safety_enabled: c.safety.enabled,
            safety_words: c.safety.words.clone(),
            safety_patterns: c.safety.patterns.clone(),
            safety_action: c.safety.action,
            config_path: path.display().to_string(),
        }
    }

    fn apply(&self, c: &mut Config) {
        let prompt = self.system_prompt.trim();
        c.system_prompt = (!prompt.is_empty()).then(|| prompt.to_owned());
        c.max_tokens = self.max_tokens;
        c.engine.n_ctx = self.n_ctx;
        c.engine.threads = self.threads;
        c.engine.n_gpu_layers = self.n_gpu_layers.map_or(GpuLayers::Auto, GpuLayers::Count);
        c.audio.speak_replies = self.speak_replies;
        c.audio.voice = self.voice;
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        c.backend.kind = self.backend_kind;
        // A new URL drops the saved key unless one is entered with it.
        c.backend
            .set_endpoint(text(&self.backend_url), self.backend_api_key.clone());
        c.backend.model = text(&self.backend_model);
        c.backend.embed_model = text(&self.backend_embed_model);
        let entries = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect()
        };
        c.safety = SafetySettings {
            enabled: self.safety_enabled,
            words: entries(&self.safety_words),
            patterns: entries(&self.safety_patterns),
            action: self.safety_action,
        };
        c.sampling = SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            seed: self.seed,
            ..c.sampling.clone()
        };
    }
}

/// The current settings.
#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> CommandResult<SettingsView> {
    Ok(SettingsView::from_config(
        &state.settings.get(),
        &state.settings.config_path,
    ))
}

/// Validate and save `settings`; reloads the model when an engine setting
/// changed.
#[tauri::command]
pub async fn update_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: SettingsView,
) -> CommandResult<SettingsView> {
    if settings.max_tokens == 0 {
        return Err(CommandError::invalid("max tokens must be at least 1"));
    }
    let mut next = state.settings.get();
    settings.apply(&mut next);
    next.sampling.validate()?;
    // A remote backend without a URL, or a bad one, is refused here, not
    // found out at the next start.
    next.backend.remote()?;
    next.backend.remote_embeddings()?;
    // A bad filter list is refused with the entry that is wrong.
    omnidesk::turn::filter::OutputFilter::new(&next.safety)
        .map_err(omnidesk::turn::TurnError::from)
        .map_err(omnidesk::Error::from)?;
    let before = state.settings.get();
    let saved = state.settings.update(|c| settings.apply(c))?;
    if saved.engine != before.engine || saved.backend != before.backend {
        load_configured(&app, &state);
    }
    if saved.audio != before.audio {
        // The next spoken answer starts a narrator with the new voice.
        state.speech.reset();
    }
    Ok(SettingsView::from_config(
        &saved,
        &state.settings.config_path,
    ))
}
