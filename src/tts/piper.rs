//! The Piper neural voice: a VITS model in ONNX, run with ONNX Runtime
//! through the `ort` crate. ONNX Runtime is loaded at run time from a
//! `libonnxruntime.so` the user installs (the one inside PyPI's
//! `onnxruntime` wheel works), so nothing is downloaded while building.
//!
//! Text becomes IPA with the `espeak-ng` program (the phonemizer Piper
//! voices are trained on), IPA becomes ids through the voice's
//! `phoneme_id_map`, and one model run turns a sentence into audio.
//!
//! Threading: [`PiperSpeaker`] is `Send + Sync`; the ONNX session sits
//! behind a mutex, so concurrent calls run one after another.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use super::error::{Result, TtsError};
use super::{Pcm, Speaker};

/// Environment variable naming `libonnxruntime.so` (the `ort` crate's own).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Piper's id scheme: sentence start, sentence end, and the pad id
/// written after every phoneme.
const BOS: char = '^';
const EOS: char = '$';
const PAD: char = '_';

/// Peak level Piper's output is scaled to (its own tools normalise too).
const PEAK: f32 = 0.95;

/// The parts of a voice's `.onnx.json` that synthesis needs.
#[derive(Debug, Clone, Deserialize)]
pub struct VoiceConfig {
    pub audio: AudioConfig,
    pub espeak: EspeakConfig,
    #[serde(default)]
    pub inference: InferenceConfig,
    /// Phoneme (one Unicode scalar) → model input ids.
    pub phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default = "one")]
    pub num_speakers: u32,
}

fn one() -> u32 {
    1
}

/// `audio` in the voice config.
#[derive(Debug, Clone, Deserialize)]
pub struct AudioConfig {
    pub sample_rate: u32,
}

/// `espeak` in the voice config: which espeak-ng voice phonemizes.
#[derive(Debug, Clone, Deserialize)]
pub struct EspeakConfig {
    pub voice: String,
}

/// `inference` in the voice config: VITS sampling scales.
#[derive(Debug, Clone, Deserialize)]
pub struct InferenceConfig {
    pub noise_scale: f32,
    pub length_scale: f32,
    pub noise_w: f32,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        }
    }
}

impl VoiceConfig {
    /// Read and check a voice config.
    ///
    /// # Errors
    /// `VoiceMissing` when the file is absent, `BadVoice` when it is not a
    /// Piper config.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TtsError::VoiceMissing {
                path: path.to_path_buf(),
            },
            _ => bad_voice(path, e),
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|e| bad_voice(path, e))?;
        for special in [BOS, EOS, PAD] {
            if !config.phoneme_id_map.contains_key(&special.to_string()) {
                return Err(bad_voice(
                    path,
                    format!("phoneme_id_map has no {special:?}"),
                ));
            }
        }
        if config.audio.sample_rate == 0 {
            return Err(bad_voice(path, "sample_rate is 0"));
        }
        Ok(config)
    }

    /// Model input ids for IPA text, in Piper's layout:
    /// `^ _ p1 _ p2 _ … $`. Phonemes the voice does not know are dropped.
    pub fn phoneme_ids(&self, phonemes: &str) -> Vec<i64> {
        let id = |c: char| -> &[i64] {
            let mut buf = [0u8; 4];
            self.phoneme_id_map
                .get(&*c.encode_utf8(&mut buf))
                .map_or(&[], Vec::as_slice)
        };
        let mut ids = Vec::with_capacity(phonemes.len() * 2 + 3);
        ids.extend_from_slice(id(BOS));
        ids.extend_from_slice(id(PAD));
        for c in phonemes.chars() {
            let known = id(c);
            if !known.is_empty() {
                ids.extend_from_slice(known);
                ids.extend_from_slice(id(PAD));
            }
        }
        ids.extend_from_slice(id(EOS));
        ids
    }
}

/// Where a Piper voice and ONNX Runtime are.
#[derive(Debug, Clone, PartialEq)]
pub struct PiperPaths {
    /// The voice's `.onnx`; its config is the same path plus `.json`.
    pub model: PathBuf,
    /// `libonnxruntime.so`.
    pub runtime: PathBuf,
}

impl PiperPaths {
    /// The config next to the model: `voice.onnx` → `voice.onnx.json`.
    pub fn config(&self) -> PathBuf {
        let mut s = self.model.clone().into_os_string();
        s.push(".json");
        PathBuf::from(s)
    }
}

/// A Piper voice as a [`Speaker`].
pub struct PiperSpeaker {
    config: VoiceConfig,
    /// The phonemizer program.
    espeak: PathBuf,
    session: Mutex<Session>,
}

impl std::fmt::Debug for PiperSpeaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperSpeaker")
            .field("espeak_voice", &self.config.espeak.voice)
            .field("sample_rate", &self.config.audio.sample_rate)
            .finish_non_exhaustive()
    }
}

impl PiperSpeaker {
    /// Load ONNX Runtime (once per process) and the voice.
    ///
    /// # Errors
    /// `VoiceMissing`/`BadVoice` for the voice files, `RuntimeMissing` when
    /// ONNX Runtime cannot be loaded (absent, or older than `ort` needs).
    pub fn load(paths: &PiperPaths) -> Result<Self> {
        let config = VoiceConfig::load(&paths.config())?;
        if !paths.model.is_file() {
            return Err(TtsError::VoiceMissing {
                path: paths.model.clone(),
            });
        }
        load_runtime(&paths.runtime)?;
        let session = Session::builder()
            .map_err(|e| bad_voice(&paths.model, e))?
            .commit_from_file(&paths.model)
            .map_err(|e| bad_voice(&paths.model, e))?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for want in ["input", "input_lengths", "scales"] {
            if !names.contains(&want) {
                return Err(bad_voice(
                    &paths.model,
                    format!("the model has no input {want:?} (inputs: {names:?})"),
                ));
            }
        }
        Ok(Self {
            config,
            espeak: PathBuf::from("espeak-ng"),
            session: Mutex::new(session),
        })
    }

    /// The voice's output sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.config.audio.sample_rate
    }

    /// IPA for `text`, one espeak-ng clause per item of the result joined
    /// with the text's own clause punctuation (Piper voices learned pauses
    /// and intonation from it).
    ///
    /// # Errors
    /// `EngineMissing` without espeak-ng, `SynthesisFailed` when it fails.
    pub fn phonemize(&self, text: &str) -> Result<String> {
        let mut child = Command::new(&self.espeak)
            // -q: no audio; -b 1: UTF-8 input on stdin, never read as options.
            .args(["-q", "--ipa", "-b", "1", "-v", &self.config.espeak.voice])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TtsError::EngineMissing {
                    program: self.espeak.display().to_string(),
                },
                _ => failed(e),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(text.as_bytes()).map_err(failed)?;
        }
        let out = child.wait_with_output().map_err(failed)?;
        if !out.status.success() {
            return Err(failed(String::from_utf8_lossy(&out.stderr).trim()));
        }
        let ipa = String::from_utf8_lossy(&out.stdout);
        let clauses: Vec<String> = ipa
            .lines()
            .map(strip_language_switches)
            .filter(|l| !l.is_empty())
            .collect();
        Ok(join_clauses(&clauses, &clause_ends(text)))
    }
}

impl Speaker for PiperSpeaker {
    fn name(&self) -> &str {
        "piper"
    }

    fn synthesize(&self, text: &str) -> Result<Pcm> {
        let sample_rate = self.config.audio.sample_rate;
        let phonemes = self.phonemize(text)?;
        if phonemes.trim().is_empty() {
            return Ok(Pcm {
                sample_rate,
                samples: Vec::new(),
            });
        }
        let ids = self.config.phoneme_ids(&phonemes);
        let n = ids.len();
        let inf = &self.config.inference;
        let input = Tensor::from_array(([1usize, n], ids)).map_err(failed)?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(failed)?;
        let scales = Tensor::from_array((
            [3usize],
            vec![inf.noise_scale, inf.length_scale, inf.noise_w],
        ))
        .map_err(failed)?;
        let mut inputs = ort::inputs![
            "input" => input,
            "input_lengths" => lengths,
            "scales" => scales,
        ];
        if self.config.num_speakers > 1 {
            let sid = Tensor::from_array(([1usize], vec![0i64])).map_err(failed)?;
            inputs.push(("sid".into(), sid.into()));
        }
        let mut session = self
            .session
            .lock()
            .map_err(|_| failed("an earlier synthesis panicked"))?;
        let outputs = session.run(inputs).map_err(failed)?;
        if outputs.len() == 0 {
            return Err(TtsError::BadOutput {
                reason: "the model returned nothing".into(),
            });
        }
        let (_, audio) =
            outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(|e| TtsError::BadOutput {
                    reason: e.to_string(),
                })?;
        Ok(Pcm {
            sample_rate,
            samples: normalise(audio),
        })
    }
}

fn load_runtime(path: &Path) -> Result<()> {
    crate::onnx::load_runtime(path).map_err(|reason| TtsError::RuntimeMissing {
        path: path.to_path_buf(),
        reason,
    })
}

/// Scale to a fixed peak; silence (peak under 0.01) is left quiet.
fn normalise(audio: &[f32]) -> Vec<f32> {
    let peak = audio
        .iter()
        .filter(|s| s.is_finite())
        .fold(0.0f32, |m, s| m.max(s.abs()));
    let gain = PEAK / peak.max(0.01);
    audio
        .iter()
        .map(|s| {
            if s.is_finite() {
                (s * gain).clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// The punctuation that ends each clause of `text`, in order (a run such
/// as `?!` or `...` counts once, by its last mark).
fn clause_ends(text: &str) -> Vec<char> {
    let mut ends = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let Some(mark) = clause_mark(c) else { continue };
        let mut last = mark;
        while let Some(&next) = chars.peek() {
            match clause_mark(next) {
                Some(m) => {
                    last = m;
                    chars.next();
                }
                None => break,
            }
        }
        if chars.peek().is_none_or(|n| n.is_whitespace()) || is_cjk_mark(c) {
            ends.push(last);
        }
    }
    ends
}

/// Clause punctuation as Piper writes it (CJK marks map to ASCII).
fn clause_mark(c: char) -> Option<char> {
    match c {
        '.' | ',' | ';' | ':' | '!' | '?' => Some(c),
        '。' => Some('.'),
        '，' | '、' => Some(','),
        '；' => Some(';'),
        '：' => Some(':'),
        '！' => Some('!'),
        '？' => Some('?'),
        _ => None,
    }
}

fn is_cjk_mark(c: char) -> bool {
    !c.is_ascii() && clause_mark(c).is_some()
}

/// Join espeak-ng's clauses with the text's punctuation. When the counts
/// disagree (espeak also breaks at abbreviations and long clauses) the
/// clauses are joined with commas and end with the text's last mark.
fn join_clauses(clauses: &[String], ends: &[char]) -> String {
    let mut out = String::new();
    let aligned = clauses.len() == ends.len();
    for (i, clause) in clauses.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(clause);
        let last = i + 1 == clauses.len();
        let mark = if aligned {
            Some(ends[i])
        } else if last {
            ends.last().copied()
        } else {
            Some(',')
        };
        if let Some(m) = mark {
            out.push(m);
        }
    }
    out
}

/// Drop espeak-ng's language-switch markers such as `(fr)` … `(en)`.
fn strip_language_switches(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        if !inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            out.push_str(&rest[open..=open + close]);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.trim().to_string()
}

fn failed(e: impl std::fmt::Display) -> TtsError {
    TtsError::SynthesisFailed {
        reason: e.to_string(),
    }
}

fn bad_voice(path: &Path, e: impl std::fmt::Display) -> TtsError {
    TtsError::BadVoice {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> VoiceConfig {
        let map: HashMap<String, Vec<i64>> = [("_", 0), ("^", 1), ("$", 2), (" ", 3), (",", 8)]
            .into_iter()
            .chain([("h", 20), ("ə", 59), ("l", 24), ("ˈ", 120), ("o", 27)])
            .map(|(k, v)| (k.to_string(), vec![v]))
            .collect();
        VoiceConfig {
            audio: AudioConfig { sample_rate: 22050 },
            espeak: EspeakConfig {
                voice: "en-us".into(),
            },
            inference: InferenceConfig::default(),
            phoneme_id_map: map,
            num_speakers: 1,
        }
    }

    #[test]
    fn ids_follow_pipers_layout() {
        assert_eq!(
            config().phoneme_ids("həl"),
            vec![1, 0, 20, 0, 59, 0, 24, 0, 2]
        );
    }

    #[test]
    fn unknown_phonemes_are_dropped() {
        assert_eq!(config().phoneme_ids("hX"), vec![1, 0, 20, 0, 2]);
    }

    #[test]
    fn clause_ends_follow_the_text() {
        assert_eq!(
            clause_ends("Hello there, how are you today?! Fine..."),
            vec![',', '!', '.']
        );
        assert_eq!(clause_ends("3.5 apples"), Vec::<char>::new());
        assert_eq!(clause_ends("你好，世界。"), vec![',', '.']);
    }

    #[test]
    fn clauses_take_their_punctuation() {
        let c = vec!["həlˈoʊ ðˈɛɹ".to_string(), "hˌaʊ ɑːɹ juː".to_string()];
        assert_eq!(join_clauses(&c, &[',', '?']), "həlˈoʊ ðˈɛɹ, hˌaʊ ɑːɹ juː?");
        assert_eq!(join_clauses(&c, &['.']), "həlˈoʊ ðˈɛɹ, hˌaʊ ɑːɹ juː.");
        assert_eq!(join_clauses(&c, &[]), "həlˈoʊ ðˈɛɹ, hˌaʊ ɑːɹ juː");
    }

    #[test]
    fn language_switches_are_removed() {
        assert_eq!(strip_language_switches("(fr)ʃɑ̃sɔ̃(en) ænd"), "ʃɑ̃sɔ̃ ænd");
    }

    #[test]
    fn output_is_scaled_to_the_peak() {
        let out = normalise(&[0.0, 0.5, -0.25, f32::NAN]);
        assert_eq!(out, vec![0.0, PEAK, -PEAK / 2.0, 0.0]);
    }

    #[test]
    fn a_missing_config_is_a_typed_error() {
        let err = VoiceConfig::load(Path::new("/nonexistent/voice.onnx.json")).unwrap_err();
        assert!(matches!(err, TtsError::VoiceMissing { .. }), "{err}");
    }

    #[test]
    fn a_config_without_the_special_phonemes_is_bad() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.onnx.json");
        std::fs::write(
            &path,
            r#"{"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},"phoneme_id_map":{"a":[5]}}"#,
        )
        .unwrap();
        let err = VoiceConfig::load(&path).unwrap_err();
        assert!(matches!(err, TtsError::BadVoice { .. }), "{err}");
    }
}
