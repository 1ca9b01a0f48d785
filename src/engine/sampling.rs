//! Sampling settings and their translation into a llama.cpp sampler chain.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use super::error::{EngineError, Result};

/// How the next token is chosen. Defaults follow llama.cpp's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingParams {
    /// 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// 0 disables top-k.
    pub top_k: i32,
    /// 1.0 disables top-p.
    pub top_p: f32,
    /// 0.0 disables min-p.
    pub min_p: f32,
    /// 1.0 disables the repeat penalty.
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: i32,
    /// Fixed seed for reproducible answers; `None` picks a fresh one.
    pub seed: Option<u32>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: None,
        }
    }
}

impl SamplingParams {
    /// Reject values llama.cpp would misbehave on (NaN, negative penalties).
    ///
    /// # Errors
    /// `InvalidRequest` naming the bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(EngineError::InvalidRequest(what.to_string()));
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return bad("temperature must be a number ≥ 0");
        }
        if self.top_k < 0 {
            return bad("top_k must be ≥ 0");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p must be in (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p must be in [0, 1]");
        }
        if !self.repeat_penalty.is_finite() || self.repeat_penalty <= 0.0 {
            return bad("repeat_penalty must be > 0");
        }
        if self.repeat_last_n < -1 {
            return bad("repeat_last_n must be ≥ -1");
        }
        Ok(())
    }

    /// The seed actually used: the configured one or a fresh one.
    pub fn effective_seed(&self) -> u32 {
        self.seed.unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
                .unwrap_or(0x5eed);
            nanos ^ std::process::id().rotate_left(16)
        })
    }

    /// Build the sampler chain: penalties, then truncation, then the draw.
    pub(crate) fn build(&self, model: &LlamaModel, seed: u32) -> LlamaSampler {
        let mut chain = Vec::with_capacity(6);
        if self.repeat_penalty != 1.0 {
            chain.push(LlamaSampler::penalties(
                model.n_vocab(),
                self.repeat_last_n,
                self.repeat_penalty,
                0.0,
                0.0,
            ));
        }
        if self.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            if self.top_k > 0 {
                chain.push(LlamaSampler::top_k(self.top_k));
            }
            if self.top_p < 1.0 {
                chain.push(LlamaSampler::top_p(self.top_p, 1));
            }
            if self.min_p > 0.0 {
                chain.push(LlamaSampler::min_p(self.min_p, 1));
            }
            chain.push(LlamaSampler::temp(self.temperature));
            chain.push(LlamaSampler::dist(seed));
        }
        LlamaSampler::chain_simple(chain)
    }
}

/// Choose the next token from the logits of batch index `at` (-1: the
/// last one) without accepting it.
///
/// `llama_sampler_sample` would accept inside C++, where a grammar throws
/// on output it cannot follow ("Unexpected empty grammar stack") and the
/// exception ends the process; here the choice and the acceptance are
/// apart, and [`accept`] goes through the crate's catching shim.
///
/// # Errors
/// `Sampling` when the chain selects nothing.
pub(crate) fn choose(
    sampler: &mut LlamaSampler,
    ctx: &LlamaContext<'_>,
    at: i32,
) -> Result<LlamaToken> {
    let mut candidates = ctx.token_data_array_ith(at);
    candidates.apply_sampler(sampler);
    candidates
        .selected_token()
        .ok_or_else(|| EngineError::Sampling("the sampler chose no token".into()))
}

/// Tell the chain (grammar, repeat penalty) which token was taken.
///
/// # Errors
/// `Sampling` when llama.cpp threw, e.g. a lazy grammar whose trigger was
/// followed by text the grammar does not allow.
pub(crate) fn accept(sampler: &mut LlamaSampler, token: LlamaToken) -> Result<()> {
    sampler.try_accept(token).map_err(|e| {
        EngineError::Sampling(format!(
            "the grammar could not follow the model's output ({e})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(SamplingParams::default().validate().is_ok());
    }

    #[test]
    fn nan_temperature_is_rejected() {
        let p = SamplingParams {
            temperature: f32::NAN,
            ..Default::default()
        };
        assert!(matches!(p.validate(), Err(EngineError::InvalidRequest(_))));
    }

    #[test]
    fn top_p_zero_is_rejected() {
        let p = SamplingParams {
            top_p: 0.0,
            ..Default::default()
        };
        assert!(p.validate().is_err());
    }

    #[test]
    fn fixed_seed_is_kept() {
        let p = SamplingParams {
            seed: Some(42),
            ..Default::default()
        };
        assert_eq!(p.effective_seed(), 42);
    }
}
