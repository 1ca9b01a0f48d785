//! What this machine has: RAM, CPU cores and features, and the compute
//! devices llama.cpp sees (with free memory). Detection is cheap and
//! blocking; call it once per command or screen refresh.

use serde::Serialize;

use crate::engine::{self, BackendInfo, EngineError};

/// A snapshot of the machine's resources.
#[derive(Debug, Clone, Serialize)]
pub struct Hardware {
    pub total_ram: u64,
    pub available_ram: u64,
    pub cpu_cores: usize,
    pub cpu_brand: String,
    /// SIMD features that matter for llama.cpp's CPU kernels.
    pub cpu_features: Vec<&'static str>,
    /// True when this build can offload layers to a GPU backend.
    pub gpu_offload: bool,
    pub backend: BackendInfo,
}

impl Hardware {
    /// Free memory summed over GPU devices (llama.cpp splits layers across them).
    pub fn gpu_free(&self) -> u64 {
        self.backend
            .devices
            .iter()
            .filter(|d| d.kind == "Gpu" || d.kind == "IntegratedGpu")
            .map(|d| d.memory_free)
            .sum()
    }
}

/// Detect RAM, CPU and llama.cpp devices.
///
/// # Errors
/// `Backend` when llama.cpp cannot initialise.
pub fn detect() -> Result<Hardware, EngineError> {
    let backend = engine::backend_info()?;
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
    Ok(Hardware {
        total_ram: sys.total_memory(),
        available_ram: sys.available_memory(),
        cpu_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_brand: sys
            .cpus()
            .first()
            .map(|c| c.brand().trim().to_string())
            .unwrap_or_default(),
        cpu_features: cpu_features(),
        gpu_offload: backend.gpu_offload,
        backend,
    })
}

#[cfg(target_arch = "x86_64")]
fn cpu_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    macro_rules! probe {
        ($($name:tt),*) => {$(
            if std::is_x86_feature_detected!($name) { f.push($name); }
        )*};
    }
    probe!(
        "sse4.2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512bw",
        "avx512vnni"
    );
    f
}

#[cfg(target_arch = "aarch64")]
fn cpu_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    macro_rules! probe {
        ($($name:tt),*) => {$(
            if std::arch::is_aarch64_feature_detected!($name) { f.push($name); }
        )*};
    }
    probe!("neon", "dotprod", "i8mm", "sve");
    f
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn cpu_features() -> Vec<&'static str> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    #[test]
    fn detects_ram_and_cores() {
        let hw = super::detect().unwrap();
        assert!(hw.total_ram > 0 && hw.available_ram <= hw.total_ram);
        assert!(hw.cpu_cores >= 1);
        #[cfg(target_arch = "x86_64")]
        assert!(hw.cpu_features.contains(&"avx2"), "x86-64-v3 baseline");
    }
}
