//! Where llama.cpp's loadable backends are found.
//!
//! The installed package is built with `dynamic-backends`: llama.cpp's
//! compute backends are separate modules (`libggml-cpu-<level>.so` for each
//! x86 level, `libggml-vulkan.so`, `libggml-cuda.so`, …) loaded before the
//! backend is initialised, so one install runs on any machine and uses a GPU
//! where its driver is present. A module whose libraries are missing (no
//! driver) fails to open and is skipped by ggml. They are looked for beside
//! the installed binary, never at the build machine's path that the crate
//! bakes in. The static development build has its backends compiled in and
//! loads nothing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Overrides where backend modules are looked for.
pub const BACKENDS_DIR_ENV: &str = "OMNIDESK_BACKENDS_DIR";

/// What was loaded at start-up, for `omnidesk info`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackendModules {
    /// `true` in the `dynamic-backends` build.
    pub dynamic: bool,
    /// The folder the modules came from.
    pub dir: Option<PathBuf>,
    /// Backend registries present after loading (`CPU`, `Vulkan`, `CUDA`, …).
    pub loaded: Vec<String>,
}

/// Folders that may hold the modules, first match wins: the environment
/// override; `<prefix>/lib/omnidesk/backends` for a binary in
/// `<prefix>/bin` (the .deb); `backends/` beside the binary (an unpacked
/// archive, a development tree).
pub fn candidate_dirs(exe: Option<&Path>, env: Option<OsString>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(bin) = exe.and_then(Path::parent) {
        if let Some(prefix) = bin.parent() {
            dirs.push(prefix.join("lib").join("omnidesk").join("backends"));
        }
        dirs.push(bin.join("backends"));
    }
    dirs
}

/// True when `dir` holds a CPU module, the one every machine must load.
pub fn has_cpu_module(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let stem = name
            .strip_prefix(std::env::consts::DLL_PREFIX)
            .unwrap_or(&name);
        stem.starts_with("ggml-cpu") && stem.ends_with(std::env::consts::DLL_SUFFIX)
    })
}

/// Load the modules from the first candidate folder that has a CPU module.
/// Called once, before `llama_backend_init`.
///
/// # Errors
/// A message naming the folders searched when none has a CPU module.
#[cfg(feature = "dynamic-backends")]
pub(crate) fn load() -> Result<BackendModules, String> {
    let exe = std::env::current_exe().ok();
    let searched = candidate_dirs(exe.as_deref(), std::env::var_os(BACKENDS_DIR_ENV));
    let Some(dir) = searched.iter().find(|d| has_cpu_module(d)).cloned() else {
        let list: Vec<String> = searched.iter().map(|d| d.display().to_string()).collect();
        return Err(format!(
            "no llama.cpp CPU backend module (libggml-cpu-*.so) in {}; reinstall the package or set {BACKENDS_DIR_ENV}",
            list.join(", ")
        ));
    };
    let Some(path) = dir.to_str() else {
        return Err(format!("backend folder {} is not UTF-8", dir.display()));
    };
    let c_path = std::ffi::CString::new(path).map_err(|e| e.to_string())?;
    // SAFETY: a valid C string; ggml opens each `libggml-<name>*` module in
    // the folder, keeps the best-scoring CPU variant and skips any that fail.
    unsafe { llama_cpp_sys_2::ggml_backend_load_all_from_path(c_path.as_ptr()) };
    let loaded = registries();
    if !loaded.iter().any(|r| r.eq_ignore_ascii_case("cpu")) {
        return Err(format!(
            "the CPU backend modules in {} could not be loaded on this CPU",
            dir.display()
        ));
    }
    Ok(BackendModules {
        dynamic: true,
        dir: Some(dir),
        loaded,
    })
}

/// The backend registries llama.cpp has (compiled in, or loaded).
pub(crate) fn registries() -> Vec<String> {
    // SAFETY: plain getters over ggml's registry; names are static strings.
    unsafe {
        (0..llama_cpp_sys_2::ggml_backend_reg_count())
            .filter_map(|i| {
                let reg = llama_cpp_sys_2::ggml_backend_reg_get(i);
                if reg.is_null() {
                    return None;
                }
                let name = llama_cpp_sys_2::ggml_backend_reg_name(reg);
                (!name.is_null()).then(|| {
                    std::ffi::CStr::from_ptr(name)
                        .to_string_lossy()
                        .into_owned()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_comes_first_then_the_package_layout_then_beside_the_binary() {
        let dirs = candidate_dirs(
            Some(Path::new("/usr/bin/omnidesk")),
            Some(OsString::from("/opt/gpu")),
        );
        assert_eq!(
            dirs,
            vec![
                PathBuf::from("/opt/gpu"),
                PathBuf::from("/usr/lib/omnidesk/backends"),
                PathBuf::from("/usr/bin/backends"),
            ]
        );
        // An empty override is no override.
        let dirs = candidate_dirs(Some(Path::new("/x/bin/app")), Some(OsString::new()));
        assert_eq!(dirs[0], PathBuf::from("/x/lib/omnidesk/backends"));
        assert!(candidate_dirs(None, None).is_empty());
    }

    #[test]
    fn only_a_folder_with_a_cpu_module_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_cpu_module(dir.path()));
        std::fs::write(dir.path().join("libggml-vulkan.so"), b"").unwrap();
        std::fs::write(dir.path().join("libggml-cpu-haswell.txt"), b"").unwrap();
        assert!(!has_cpu_module(dir.path()));
        std::fs::write(dir.path().join("libggml-cpu-haswell.so"), b"").unwrap();
        assert!(has_cpu_module(dir.path()));
        assert!(!has_cpu_module(&dir.path().join("missing")));
    }
}
