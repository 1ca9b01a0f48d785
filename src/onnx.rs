//! ONNX Runtime for the models that run on it (the Piper voice, Silero
//! VAD). `libonnxruntime` is loaded at run time from the user's install
//! (PyPI's onnxruntime wheel), once per process.

use std::path::Path;

/// Load `libonnxruntime` at `path` for this process. The first successful
/// load wins; later calls with another path reuse it.
///
/// # Errors
/// Why it cannot be loaded (absent, or older than `ort` needs).
pub fn load_runtime(path: &Path) -> Result<(), String> {
    if !path.is_file() {
        return Err("no such file".into());
    }
    let env = ort::init_from(path).map_err(|e| e.to_string())?;
    // `false` only means an environment exists already, which is fine.
    let _ = env.with_name("omnidesk").commit();
    Ok(())
}
