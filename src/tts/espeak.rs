//! The espeak-ng voice: runs the `espeak-ng` program per sentence and reads
//! the WAV it writes to stdout. Robotic but small, offline, and it speaks
//! both English and Mandarin. Stateless; any thread may call it.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::error::{Result, TtsError};
use super::{Pcm, Speaker};

/// Which writing system dominates a text, to pick a voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Latin,
    Han,
}

/// More Han characters than Latin letters means Chinese.
pub fn detect_script(text: &str) -> Script {
    let (han, latin) = text.chars().fold((0usize, 0usize), |(h, l), c| {
        if ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c) {
            (h + 1, l)
        } else if c.is_ascii_alphabetic() {
            (h, l + 1)
        } else {
            (h, l)
        }
    });
    if han > latin {
        Script::Han
    } else {
        Script::Latin
    }
}

/// espeak-ng as a [`Speaker`].
#[derive(Debug, Clone)]
pub struct EspeakSpeaker {
    /// The program to run.
    pub program: PathBuf,
    /// Voice for Latin-script text.
    pub english_voice: String,
    /// Voice for Chinese text (`cmn` = Mandarin).
    pub chinese_voice: String,
    /// Words per minute; `None` = espeak's default (175).
    pub words_per_minute: Option<u32>,
}

impl Default for EspeakSpeaker {
    fn default() -> Self {
        Self {
            program: PathBuf::from("espeak-ng"),
            english_voice: "en".into(),
            chinese_voice: "cmn".into(),
            words_per_minute: None,
        }
    }
}

impl EspeakSpeaker {
    /// The voice `text` will be spoken with.
    pub fn voice_for(&self, text: &str) -> &str {
        match detect_script(text) {
            Script::Han => &self.chinese_voice,
            Script::Latin => &self.english_voice,
        }
    }
}

impl Speaker for EspeakSpeaker {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn synthesize(&self, text: &str) -> Result<Pcm> {
        let mut cmd = Command::new(&self.program);
        // -b 1: the text is UTF-8; it comes on stdin so no text is ever
        // mistaken for an option.
        cmd.args(["-b", "1", "--stdout", "-v", self.voice_for(text)]);
        if let Some(wpm) = self.words_per_minute {
            cmd.args(["-s", &wpm.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TtsError::EngineMissing {
                    program: self.program.display().to_string(),
                },
                _ => TtsError::SynthesisFailed {
                    reason: e.to_string(),
                },
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| TtsError::SynthesisFailed {
                    reason: e.to_string(),
                })?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| TtsError::SynthesisFailed {
                reason: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(TtsError::SynthesisFailed {
                reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        parse_wav(&out.stdout)
    }
}

/// Read a 16-bit PCM WAV. espeak-ng streams to stdout with a placeholder
/// length in its header, so the data runs to the end of the bytes.
pub fn parse_wav(bytes: &[u8]) -> Result<Pcm> {
    let bad = |reason: &str| TtsError::BadOutput {
        reason: reason.into(),
    };
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a WAV file"));
    }
    let mut pos = 12;
    let mut format: Option<(u16, u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            let f = bytes.get(body..body + 16).ok_or_else(|| bad("short fmt"))?;
            let channels = u16::from_le_bytes([f[2], f[3]]);
            let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
            let bits = u16::from_le_bytes([f[14], f[15]]);
            format = Some((channels.max(1), rate, bits));
        } else if id == b"data" {
            let (channels, rate, bits) = format.ok_or_else(|| bad("data before fmt"))?;
            if bits != 16 || rate == 0 {
                return Err(bad("only 16-bit PCM is supported"));
            }
            let end = body.saturating_add(size).min(bytes.len());
            let frames = bytes[body..end].chunks_exact(2 * usize::from(channels));
            let samples = frames
                .map(|f| {
                    f.chunks_exact(2)
                        .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0)
                        .sum::<f32>()
                        / f32::from(channels)
                })
                .collect();
            return Ok(Pcm {
                sample_rate: rate,
                samples,
            });
        }
        pos = body.saturating_add(size + (size & 1));
    }
    Err(bad("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_detection_picks_the_voice() {
        let s = EspeakSpeaker::default();
        assert_eq!(s.voice_for("Hello there"), "en");
        assert_eq!(s.voice_for("你好，世界"), "cmn");
        assert_eq!(s.voice_for("用 Rust 写的程序很快"), "cmn");
    }

    #[test]
    fn a_missing_program_is_a_typed_error() {
        let s = EspeakSpeaker {
            program: "/nonexistent/espeak-ng".into(),
            ..Default::default()
        };
        assert!(matches!(
            s.synthesize("hi"),
            Err(TtsError::EngineMissing { .. })
        ));
    }

    #[test]
    fn garbage_is_not_a_wav() {
        assert!(matches!(
            parse_wav(b"hello"),
            Err(TtsError::BadOutput { .. })
        ));
    }
}
