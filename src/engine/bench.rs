//! Throughput measurement in the shape of llama.cpp's `llama-bench`
//! (pp: one prompt of N tokens; tg: N single-token decodes), so the two
//! can be compared number for number.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use super::error::{EngineError, Result};
use super::worker::{ms_since, per_second, Session};
use crate::media::Media;

/// Sizes and repetitions, named after llama-bench's `-p`, `-n`, `-r`,
/// plus media whose encoding time to measure (as `llama-mtmd-cli` logs it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchParams {
    pub n_prompt: u32,
    pub n_gen: u32,
    pub repetitions: u32,
    /// (label, media) pairs; the label is echoed in the report.
    #[serde(skip)]
    pub media: Vec<(String, Media)>,
}

impl Default for BenchParams {
    fn default() -> Self {
        Self {
            n_prompt: 512,
            n_gen: 128,
            repetitions: 3,
            media: Vec::new(),
        }
    }
}

/// Encode timing of one image or clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaBench {
    pub label: String,
    pub kind: String,
    /// KV cells it takes (encoder tokens plus marker tokens).
    pub n_cells: usize,
    /// Encoding plus decoding its embeddings into the context, in ms.
    pub encode_ms: Measure,
}

/// Mean, standard deviation and median over repetitions (the median for
/// comparisons: one preempted repetition on a busy machine moves the mean).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub mean: f64,
    pub stddev: f64,
    #[serde(default)]
    pub median: f64,
}

impl Measure {
    fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let var = samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        } else {
            sorted[mid]
        };
        Self {
            mean,
            stddev: var.sqrt(),
            median,
        }
    }
}

/// Results of one benchmark run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub params: BenchParams,
    pub n_threads: u32,
    pub n_batch: u32,
    /// Prompt processing, tokens per second.
    pub pp_tokens_per_s: Measure,
    /// Generation, tokens per second.
    pub tg_tokens_per_s: Measure,
    /// Prompt of `n_prompt` tokens to the first sampled token, in ms.
    pub time_to_first_token_ms: Measure,
    pub media: Vec<MediaBench>,
}

pub(crate) fn run(session: &mut Session<'_>, params: &BenchParams) -> Result<BenchReport> {
    let n_ctx = session.n_ctx as usize;
    let needed = params.n_prompt as usize + params.n_gen as usize;
    if needed > n_ctx && needed > 0 {
        return Err(EngineError::InvalidRequest(format!(
            "bench needs {needed} tokens of context but n_ctx is {n_ctx}"
        )));
    }
    if params.repetitions == 0 {
        return Err(EngineError::InvalidRequest(
            "repetitions must be ≥ 1".into(),
        ));
    }
    let tokens = pseudo_random_tokens(session.model.n_vocab(), params.n_prompt.max(16) as usize);
    let never = AtomicBool::new(false);

    // Warm-up, as llama-bench does, so first-touch costs are not measured.
    session.reset();
    session.decode_tokens(&tokens[..tokens.len().min(16)], true, &never)?;

    let mut pp = Vec::new();
    let mut ttft = Vec::new();
    let mut tg = Vec::new();
    for _ in 0..params.repetitions {
        if params.n_prompt > 0 {
            session.reset();
            let t = Instant::now();
            session.decode_tokens(&tokens, true, &never)?;
            let mut greedy = LlamaSampler::greedy();
            let _ = greedy.sample(&session.ctx, -1);
            let total = ms_since(t);
            ttft.push(total);
            pp.push(per_second(tokens.len(), total));
        }
        if params.n_gen > 0 {
            session.reset();
            let t = Instant::now();
            for i in 0..params.n_gen as usize {
                session.decode_tokens(&tokens[i % tokens.len()..][..1], true, &never)?;
            }
            tg.push(per_second(params.n_gen as usize, ms_since(t)));
        }
    }
    let mut media = Vec::new();
    for (label, m) in &params.media {
        let mut samples = Vec::new();
        let mut n_cells = session.preprocess_media(m)?;
        for _ in 0..params.repetitions {
            session.reset();
            let t = Instant::now();
            n_cells = session.eval_media(m)?;
            samples.push(ms_since(t));
        }
        media.push(MediaBench {
            label: label.clone(),
            kind: m.kind().into(),
            n_cells,
            encode_ms: Measure::of(&samples),
        });
    }
    session.reset();
    Ok(BenchReport {
        params: params.clone(),
        n_threads: session.n_threads,
        n_batch: session.n_batch,
        pp_tokens_per_s: Measure::of(&pp),
        tg_tokens_per_s: Measure::of(&tg),
        time_to_first_token_ms: Measure::of(&ttft),
        media,
    })
}

/// Deterministic token ids spread over the vocabulary (an LCG), like
/// llama-bench's random prompt.
fn pseudo_random_tokens(n_vocab: i32, n: usize) -> Vec<LlamaToken> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let vocab = u64::try_from(n_vocab.max(1)).unwrap_or(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            LlamaToken::new(((state >> 33) % vocab) as i32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_median_ignores_one_slow_repetition() {
        let m = Measure::of(&[10.0, 11.0, 12.0, 100.0]);
        assert_eq!(m.median, 11.5);
        assert!(m.mean > 30.0);
        assert_eq!(Measure::of(&[3.0, 1.0, 2.0]).median, 2.0);
    }

    #[test]
    fn measure_of_constant_samples_has_no_spread() {
        let m = Measure::of(&[2.0, 2.0, 2.0]);
        assert_eq!(m.mean, 2.0);
        assert_eq!(m.stddev, 0.0);
    }

    #[test]
    fn random_tokens_stay_inside_vocab() {
        let t = pseudo_random_tokens(1000, 500);
        assert!(t.iter().all(|t| (0..1000).contains(&t.0)));
        assert!(t.windows(2).any(|w| w[0] != w[1]));
    }
}
