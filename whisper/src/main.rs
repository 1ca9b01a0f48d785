//! `omnidesk-whisper`: transcribe one WAV with whisper.cpp and print one
//! JSON line. A separate program because whisper.cpp and llama.cpp each
//! carry their own static ggml, so they cannot link into one binary; the
//! `omnidesk` core runs this as a child process (`audio::whisper`).
//!
//! Usage: `omnidesk-whisper --model GGML.bin [--threads N] [--language L] CLIP.wav`
//!
//! The clip must be mono or stereo PCM (16-bit or float) at 16 kHz, which
//! is what the core writes. Success: `{"text": …, "segments": [{"start_ms",
//! "end_ms", "text"}], "ms": …}` and exit 0. Failure: `{"error": {"code",
//! "message"}}` and exit 1 (2 for a bad command line).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::{json, Value};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

const SAMPLE_RATE: u32 = 16_000;

struct Args {
    model: PathBuf,
    clip: PathBuf,
    threads: i32,
    language: String,
}

/// A failure with a stable code for the core to match on.
struct Failure {
    code: &'static str,
    message: String,
}

fn fail(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut model = None;
    let mut clip = None;
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8)) as i32;
    let mut language = "en".to_string();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--threads" => {
                threads = value("--threads")?
                    .parse()
                    .map_err(|_| "--threads takes a number".to_string())?
            }
            "--language" => language = value("--language")?,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => clip = Some(PathBuf::from(a)),
        }
    }
    Ok(Args {
        model: model.ok_or("--model is required")?,
        clip: clip.ok_or("a WAV file is required")?,
        threads: threads.max(1),
        language,
    })
}

/// Mono f32 samples of a 16 kHz WAV.
fn read_clip(path: &PathBuf) -> Result<Vec<f32>, Failure> {
    let bad = |e: hound::Error| fail("BAD_AUDIO", format!("{}: {e}", path.display()));
    let mut r = hound::WavReader::open(path).map_err(bad)?;
    let spec = r.spec();
    if spec.sample_rate != SAMPLE_RATE {
        return Err(fail(
            "BAD_AUDIO",
            format!("{}: {} Hz, need 16000 Hz", path.display(), spec.sample_rate),
        ));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>().map_err(bad)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(bad)?
        }
    };
    let channels = usize::from(spec.channels.max(1));
    Ok(interleaved
        .chunks(channels)
        .map(|f| f.iter().sum::<f32>() / f.len() as f32)
        .collect())
}

fn transcribe(args: &Args) -> Result<Value, Failure> {
    let started = Instant::now();
    let samples = read_clip(&args.clip)?;
    if !args.model.is_file() {
        return Err(fail(
            "MODEL_NOT_FOUND",
            format!("{} does not exist", args.model.display()),
        ));
    }
    let ctx = WhisperContext::new_with_params(&args.model, WhisperContextParameters::default())
        .map_err(|e| fail("BAD_MODEL", format!("{}: {e}", args.model.display())))?;
    let mut state = ctx
        .create_state()
        .map_err(|e| fail("WHISPER", e.to_string()))?;
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_n_threads(args.threads);
    params.set_language(Some(&args.language));
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    // One question, not a long recording: no context carried between windows.
    params.set_no_context(true);
    state
        .full(params, &samples)
        .map_err(|e| fail("WHISPER", e.to_string()))?;
    let mut segments = Vec::new();
    let mut text = String::new();
    for seg in state.as_iter() {
        let t = seg
            .to_str_lossy()
            .map_err(|e| fail("WHISPER", e.to_string()))?
            .trim()
            .to_string();
        if t.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&t);
        // whisper.cpp timestamps are in 10 ms units.
        segments.push(json!({
            "start_ms": seg.start_timestamp() * 10,
            "end_ms": seg.end_timestamp() * 10,
            "text": t,
        }));
    }
    Ok(json!({
        "text": text,
        "segments": segments,
        "ms": started.elapsed().as_millis() as u64,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("omnidesk-whisper: {e}");
            }
            eprintln!(
                "usage: omnidesk-whisper --model GGML.bin [--threads N] [--language L] CLIP.wav"
            );
            return ExitCode::from(2);
        }
    };
    // Route whisper.cpp's own logging away from stderr (nothing listens).
    whisper_rs::install_logging_hooks();
    match transcribe(&args) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            println!(
                "{}",
                json!({"error": {"code": f.code, "message": f.message}})
            );
            ExitCode::from(1)
        }
    }
}
