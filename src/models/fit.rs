//! Will a model fit, and how many layers go to the GPU?
//!
//! The memory a model needs is estimated from its GGUF header alone:
//! weights (the file size), the f16 KV cache for the chosen context
//! (`n_layer × n_ctx × n_head_kv × (head_dim_k + head_dim_v) × 2 bytes`),
//! compute buffers (logits plus activations for one batch) and the
//! projector. [`plan`] compares that with free RAM and GPU memory and picks
//! `n_gpu_layers` when the setting is `auto`. Pure functions; no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::gguf::GgufInfo;
use crate::hardware::Hardware;

/// Context used when the config says 0 ("the model's own, capped").
pub const AUTO_CTX_CAP: u32 = 4096;
/// GPU memory left alone for the driver, display and fragmentation.
pub const VRAM_RESERVE: u64 = 512 << 20;
/// Fixed overhead of a llama.cpp context (graphs, allocator slack).
const FIXED_OVERHEAD: u64 = 64 << 20;

/// `n_gpu_layers` setting: a number, or `auto` to pick from free GPU memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "LayersRepr", into = "LayersRepr")]
pub enum GpuLayers {
    #[default]
    Auto,
    Count(u32),
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum LayersRepr {
    N(u32),
    S(String),
}

impl TryFrom<LayersRepr> for GpuLayers {
    type Error = String;
    fn try_from(r: LayersRepr) -> Result<Self, String> {
        match r {
            LayersRepr::N(n) => Ok(Self::Count(n)),
            LayersRepr::S(s) => s.parse(),
        }
    }
}

impl From<GpuLayers> for LayersRepr {
    fn from(g: GpuLayers) -> Self {
        match g {
            GpuLayers::Auto => Self::S("auto".into()),
            GpuLayers::Count(n) => Self::N(n),
        }
    }
}

impl FromStr for GpuLayers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        s.parse()
            .map(Self::Count)
            .map_err(|_| format!("`{s}` is not a layer count or \"auto\""))
    }
}

impl fmt::Display for GpuLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Count(n) => write!(f, "{n}"),
        }
    }
}

/// The numbers of a model that decide its memory use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelShape {
    pub n_layer: u64,
    pub n_embd: u64,
    pub n_head_kv: u64,
    pub head_dim_k: u64,
    pub head_dim_v: u64,
    pub n_vocab: u64,
    pub n_ctx_train: u64,
    pub weights_bytes: u64,
}

impl ModelShape {
    /// Read the shape from a GGUF header; missing keys fall back to
    /// conservative values (all heads are KV heads).
    pub fn from_gguf(info: &GgufInfo) -> Self {
        let arch = &info.architecture;
        let num = |key: &str| -> Option<u64> {
            let full = format!("{arch}.{key}");
            info.metadata
                .iter()
                .find(|(k, _)| *k == full)
                .and_then(|(_, v)| v.trim().parse().ok())
        };
        let n_embd = info.embedding_length.unwrap_or(0);
        let n_head = num("attention.head_count").unwrap_or(1).max(1);
        let n_head_kv = num("attention.head_count_kv").unwrap_or(n_head);
        let head_dim = n_embd / n_head;
        Self {
            n_layer: info.block_count.unwrap_or(0),
            n_embd,
            n_head_kv,
            head_dim_k: num("attention.key_length").unwrap_or(head_dim),
            head_dim_v: num("attention.value_length").unwrap_or(head_dim),
            n_vocab: info.vocab_size.unwrap_or(0),
            n_ctx_train: info.context_length.unwrap_or(0),
            weights_bytes: info.file_size,
        }
    }

    /// The context the engine will use for a configured `n_ctx` (0 = auto).
    pub fn effective_ctx(&self, n_ctx: u32) -> u64 {
        if n_ctx > 0 {
            return u64::from(n_ctx);
        }
        match self.n_ctx_train {
            0 => u64::from(AUTO_CTX_CAP),
            t => t.min(u64::from(AUTO_CTX_CAP)),
        }
    }
}

/// Estimated memory for one loaded model, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryEstimate {
    pub n_ctx: u64,
    pub weights: u64,
    pub kv_cache: u64,
    pub compute: u64,
    pub mmproj: u64,
    pub total: u64,
}

/// Estimate memory for `shape` at context `n_ctx` and batch `n_batch`.
pub fn estimate(shape: &ModelShape, n_ctx: u64, n_batch: u64, mmproj_bytes: u64) -> MemoryEstimate {
    let kv_cache =
        shape.n_layer * n_ctx * shape.n_head_kv * (shape.head_dim_k + shape.head_dim_v) * 2;
    // Logits for a batch (f32) plus a few activations of width n_embd per token.
    let compute = n_batch * (shape.n_vocab + 16 * shape.n_embd) * 4 + FIXED_OVERHEAD;
    let total = shape.weights_bytes + kv_cache + compute + mmproj_bytes;
    MemoryEstimate {
        n_ctx,
        weights: shape.weights_bytes,
        kv_cache,
        compute,
        mmproj: mmproj_bytes,
        total,
    }
}

/// Layers to offload so that weights and KV cache fit in `gpu_free` bytes.
/// Returns `n_layer + 1` (all repeating layers plus the output layer) when
/// everything fits, 0 without a GPU.
pub fn pick_gpu_layers(shape: &ModelShape, est: &MemoryEstimate, gpu_free: u64) -> u32 {
    if gpu_free == 0 || shape.n_layer == 0 {
        return 0;
    }
    let usable = (gpu_free / 10 * 9)
        .saturating_sub(VRAM_RESERVE)
        .saturating_sub(est.compute + est.mmproj);
    if usable >= est.weights + est.kv_cache {
        return u32::try_from(shape.n_layer + 1).unwrap_or(u32::MAX);
    }
    let per_layer = est.weights / (shape.n_layer + 1) + est.kv_cache / shape.n_layer;
    let n = usable / per_layer.max(1);
    u32::try_from(n.min(shape.n_layer)).unwrap_or(0)
}

/// The decision for one model on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    pub estimate: MemoryEstimate,
    pub n_gpu_layers: u32,
    /// Share of the model placed on the GPU (0..=1).
    pub gpu_fraction: f64,
    pub ram_needed: u64,
    pub vram_needed: u64,
    pub ram_available: u64,
    pub vram_free: u64,
    /// Human-readable problems ("will not fit in RAM…"); empty when fine.
    pub warnings: Vec<String>,
}

/// Decide `n_gpu_layers` (when `Auto`) and check RAM/VRAM for a model.
pub fn plan(
    info: &GgufInfo,
    n_ctx: u32,
    n_batch: u32,
    mmproj_bytes: u64,
    hw: &Hardware,
    layers: GpuLayers,
) -> FitReport {
    let shape = ModelShape::from_gguf(info);
    let est = estimate(
        &shape,
        shape.effective_ctx(n_ctx),
        u64::from(n_batch.max(1)),
        mmproj_bytes,
    );
    let vram_free = if hw.gpu_offload { hw.gpu_free() } else { 0 };
    let n_gpu_layers = match layers {
        GpuLayers::Count(n) if hw.gpu_offload => n,
        GpuLayers::Count(_) => 0,
        GpuLayers::Auto => pick_gpu_layers(&shape, &est, vram_free),
    };
    let total_layers = shape.n_layer + 1;
    let frac = (u64::from(n_gpu_layers).min(total_layers)) as f64 / total_layers as f64;
    let on_gpu = ((est.weights + est.kv_cache) as f64 * frac) as u64;
    let vram_needed = if n_gpu_layers > 0 {
        on_gpu + est.compute
    } else {
        0
    };
    let ram_needed = est.total.saturating_sub(on_gpu);
    let mut warnings = Vec::new();
    if ram_needed > hw.available_ram {
        warnings.push(format!(
            "this model needs about {} MiB of RAM but only {} MiB are available; it may fail to load or the system may kill Omnidesk. Use a smaller model or context (--ctx-size)",
            ram_needed >> 20,
            hw.available_ram >> 20
        ));
    }
    if vram_needed > vram_free && n_gpu_layers > 0 {
        warnings.push(format!(
            "{n_gpu_layers} GPU layers need about {} MiB of GPU memory but {} MiB are free; use --n-gpu-layers auto or a smaller number",
            vram_needed >> 20,
            vram_free >> 20
        ));
    }
    FitReport {
        estimate: est,
        n_gpu_layers,
        gpu_fraction: frac,
        ram_needed,
        vram_needed,
        ram_available: hw.available_ram,
        vram_free,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen2.5-7B-like shape: 28 layers, 4 KV heads of 128, 4.7 GB weights.
    fn seven_b() -> ModelShape {
        ModelShape {
            n_layer: 28,
            n_embd: 3584,
            n_head_kv: 4,
            head_dim_k: 128,
            head_dim_v: 128,
            n_vocab: 152_064,
            n_ctx_train: 32768,
            weights_bytes: 4_700 << 20,
        }
    }

    #[test]
    fn kv_cache_follows_the_formula() {
        let s = seven_b();
        let e = estimate(&s, 4096, 512, 0);
        // 28 × 4096 × 4 × 256 × 2 bytes = 224 MiB.
        assert_eq!(e.kv_cache, 28 * 4096 * 4 * 256 * 2);
        assert_eq!(e.kv_cache, 224 << 20);
        assert_eq!(e.total, e.weights + e.kv_cache + e.compute);
    }

    #[test]
    fn auto_context_is_capped() {
        let s = seven_b();
        assert_eq!(s.effective_ctx(0), 4096);
        assert_eq!(s.effective_ctx(8192), 8192);
    }

    #[test]
    fn everything_goes_to_a_big_gpu() {
        let s = seven_b();
        let e = estimate(&s, 4096, 512, 0);
        assert_eq!(pick_gpu_layers(&s, &e, 24 << 30), 29);
    }

    #[test]
    fn part_goes_to_a_small_gpu_and_none_without_one() {
        let s = seven_b();
        let e = estimate(&s, 4096, 512, 0);
        let n = pick_gpu_layers(&s, &e, 4 << 30);
        assert!(n > 0 && n < 28, "{n}");
        // More memory never means fewer layers.
        assert!(pick_gpu_layers(&s, &e, 3 << 30) <= n);
        assert_eq!(pick_gpu_layers(&s, &e, 0), 0);
        assert_eq!(pick_gpu_layers(&s, &e, 256 << 20), 0);
    }

    #[test]
    fn gpu_layers_setting_parses_numbers_and_auto() {
        assert_eq!("auto".parse::<GpuLayers>().unwrap(), GpuLayers::Auto);
        assert_eq!("12".parse::<GpuLayers>().unwrap(), GpuLayers::Count(12));
        assert!("lots".parse::<GpuLayers>().is_err());
        #[derive(Deserialize)]
        struct T {
            n: GpuLayers,
        }
        let t: T = toml::from_str("n = 7").unwrap();
        assert_eq!(t.n, GpuLayers::Count(7));
        let t: T = toml::from_str("n = \"auto\"").unwrap();
        assert_eq!(t.n, GpuLayers::Auto);
    }
}
