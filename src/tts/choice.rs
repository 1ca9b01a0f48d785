//! Which voice speaks: the Piper neural voice for English when it is
//! installed, espeak-ng otherwise and always for Chinese (the Piper voice
//! we ship is English only). Stateless apart from the loaded voice.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::espeak::{detect_script, Script};
use super::piper::{PiperPaths, PiperSpeaker};
use super::{EspeakSpeaker, Pcm, Speaker};

/// The `[audio] voice` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum VoiceEngine {
    /// Piper when its voice and ONNX Runtime load, else espeak-ng.
    #[default]
    Auto,
    /// Piper for English (an error when it cannot load); espeak-ng for
    /// Chinese.
    Piper,
    /// espeak-ng only.
    Espeak,
}

impl FromStr for VoiceEngine {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "piper" => Ok(Self::Piper),
            "espeak" | "espeak-ng" => Ok(Self::Espeak),
            _ => Err(format!("unknown voice {s:?}: use auto, piper or espeak")),
        }
    }
}

/// Piper for Latin-script text, espeak-ng for Chinese and whenever Piper
/// fails on a sentence (so one bad sentence is still heard).
#[derive(Debug)]
pub struct BilingualSpeaker {
    piper: PiperSpeaker,
    espeak: EspeakSpeaker,
}

impl BilingualSpeaker {
    pub fn new(piper: PiperSpeaker, espeak: EspeakSpeaker) -> Self {
        Self { piper, espeak }
    }
}

impl Speaker for BilingualSpeaker {
    fn name(&self) -> &str {
        "piper"
    }

    fn synthesize(&self, text: &str) -> Result<Pcm> {
        if detect_script(text) == Script::Han {
            return self.espeak.synthesize(text);
        }
        self.piper.synthesize(text).or_else(|e| {
            tracing::warn!(error = %e, "Piper failed on a sentence; using espeak-ng");
            self.espeak.synthesize(text)
        })
    }
}

/// The speaker for `engine`. `piper` says where the Piper voice and ONNX
/// Runtime are; loading the voice takes about a second.
///
/// # Errors
/// Only for [`VoiceEngine::Piper`]: why the voice could not load
/// (`VoiceMissing`, `BadVoice`, `RuntimeMissing`). `Auto` falls back to
/// espeak-ng instead and logs why.
pub fn choose_speaker(engine: VoiceEngine, piper: &PiperPaths) -> Result<Arc<dyn Speaker>> {
    let espeak = EspeakSpeaker::default();
    match engine {
        VoiceEngine::Espeak => Ok(Arc::new(espeak)),
        VoiceEngine::Piper => Ok(Arc::new(BilingualSpeaker::new(
            PiperSpeaker::load(piper)?,
            espeak,
        ))),
        VoiceEngine::Auto => match PiperSpeaker::load(piper) {
            Ok(p) => Ok(Arc::new(BilingualSpeaker::new(p, espeak))),
            Err(e) => {
                tracing::info!(reason = %e, "Piper voice not available; speaking with espeak-ng");
                Ok(Arc::new(espeak))
            }
        },
    }
}

/// Default file names under `<data dir>/voices`, where
/// `scripts/install-voice.sh` puts them.
pub const DEFAULT_PIPER_VOICE: &str = "en_US-joe-medium.onnx";
pub const DEFAULT_ONNXRUNTIME: &str = "libonnxruntime.so";

/// Where the Piper files are: explicit paths win, then (for the runtime)
/// `$ORT_DYLIB_PATH`, then `<data dir>/voices`, then the voices installed
/// with the package (see [`voice_file`]).
pub fn piper_paths(model: Option<&Path>, runtime: Option<&Path>, data_dir: &Path) -> PiperPaths {
    let runtime = runtime.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(super::piper::ORT_DYLIB_ENV)
            .filter(|v| !v.is_empty())
            .map(Into::into)
    });
    PiperPaths {
        model: model.map_or_else(
            || voice_file(data_dir, DEFAULT_PIPER_VOICE),
            Path::to_path_buf,
        ),
        runtime: runtime.unwrap_or_else(|| voice_file(data_dir, DEFAULT_ONNXRUNTIME)),
    }
}

/// `name` in the user's `<data dir>/voices` (`scripts/install-voice.sh`)
/// when it is there, else in the voices the package installed beside the
/// program (`<prefix>/share/omnidesk/voices` for `<prefix>/bin/omnidesk`),
/// else the user's path (which errors then name).
pub fn voice_file(data_dir: &Path, name: &str) -> PathBuf {
    let user = data_dir.join("voices").join(name);
    if user.exists() {
        return user;
    }
    installed_voices()
        .map(|dir| dir.join(name))
        .filter(|p| p.exists())
        .unwrap_or(user)
}

/// `<prefix>/share/omnidesk/voices` for a program in `<prefix>/bin`.
fn installed_voices() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let prefix = exe.parent()?.parent()?;
    Some(prefix.join("share").join("omnidesk").join("voices"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::TtsError;

    fn missing() -> PiperPaths {
        PiperPaths {
            model: "/nonexistent/voice.onnx".into(),
            runtime: "/nonexistent/libonnxruntime.so".into(),
        }
    }

    #[test]
    fn voices_come_from_the_user_then_the_package() {
        let data = tempfile::tempdir().unwrap();
        let name = format!("test-voice-{}.onnx", std::process::id());
        let user = data.path().join("voices").join(&name);
        // Neither has it: the user's path, for the error to name.
        assert_eq!(voice_file(data.path(), &name), user);
        // Installed beside the program (<prefix>/share/omnidesk/voices).
        let installed = installed_voices().unwrap();
        std::fs::create_dir_all(&installed).unwrap();
        std::fs::write(installed.join(&name), b"x").unwrap();
        assert_eq!(voice_file(data.path(), &name), installed.join(&name));
        // The user's own copy wins.
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        std::fs::write(&user, b"y").unwrap();
        assert_eq!(voice_file(data.path(), &name), user);
        std::fs::remove_file(installed.join(&name)).unwrap();
    }

    #[test]
    fn engines_parse() {
        assert_eq!("piper".parse(), Ok(VoiceEngine::Piper));
        assert_eq!("espeak-ng".parse(), Ok(VoiceEngine::Espeak));
        assert!("festival".parse::<VoiceEngine>().is_err());
    }

    #[test]
    fn auto_falls_back_to_espeak() {
        let s = choose_speaker(VoiceEngine::Auto, &missing()).unwrap();
        assert_eq!(s.name(), "espeak-ng");
    }

    #[test]
    fn piper_without_a_voice_is_a_typed_error() {
        let err = choose_speaker(VoiceEngine::Piper, &missing())
            .err()
            .unwrap();
        assert!(matches!(err, TtsError::VoiceMissing { .. }), "{err}");
    }

    #[test]
    fn explicit_paths_win() {
        let p = piper_paths(
            Some(Path::new("/v/x.onnx")),
            Some(Path::new("/r/lib.so")),
            Path::new("/data"),
        );
        assert_eq!(p.model, Path::new("/v/x.onnx"));
        assert_eq!(p.runtime, Path::new("/r/lib.so"));
        assert_eq!(
            piper_paths(None, None, Path::new("/data")).model,
            Path::new("/data/voices/en_US-joe-medium.onnx")
        );
    }
}
