//! Finding the multimodal projector (mmproj) that belongs to a model file,
//! so users need not name it: the manifest's pairing first, then the
//! llama.cpp naming convention `mmproj-<model name>[-quant].gguf`.

use std::path::{Path, PathBuf};

use super::{FileKind, Manifest};

/// The projector next to `model`, if one clearly belongs to it.
pub fn find_for(model: &Path, manifest: Option<&Manifest>) -> Option<PathBuf> {
    let dir = model.parent()?;
    let file_name = model.file_name()?.to_str()?;
    if let Some(m) = manifest {
        let paired = m
            .models
            .iter()
            .filter(|e| {
                e.files
                    .iter()
                    .any(|f| f.kind == FileKind::Model && f.name == file_name)
            })
            .flat_map(|e| e.files.iter().filter(|f| f.kind == FileKind::Mmproj))
            .map(|f| dir.join(&f.name))
            .find(|p| p.is_file());
        if paired.is_some() {
            return paired;
        }
    }
    let base = strip_quant(model.file_stem()?.to_str()?).to_ascii_lowercase();
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            name.starts_with("mmproj") && name.ends_with(".gguf") && name.contains(&base)
        })
        .collect();
    candidates.sort();
    candidates.into_iter().next()
}

/// `Qwen2.5-Omni-7B-Q4_K_M` → `Qwen2.5-Omni-7B`: drop a trailing
/// quantisation tag so model and projector quantisations may differ.
fn strip_quant(stem: &str) -> &str {
    let Some(cut) = stem.rfind(['-', '.']) else {
        return stem;
    };
    let tag = stem[cut + 1..].to_ascii_uppercase();
    let numbered = ["Q", "IQ", "TQ"].iter().any(|p| {
        tag.strip_prefix(p)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    if numbered || ["F16", "BF16", "F32"].contains(&tag.as_str()) {
        &stem[..cut]
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quant_suffixes_are_stripped() {
        assert_eq!(strip_quant("Qwen2.5-Omni-7B-Q4_K_M"), "Qwen2.5-Omni-7B");
        assert_eq!(strip_quant("gemma-3-4b-it-F16"), "gemma-3-4b-it");
        assert_eq!(strip_quant("omni-tiny"), "omni-tiny");
        assert_eq!(
            strip_quant("SmolLM2-135M-Instruct.Q4_1"),
            "SmolLM2-135M-Instruct"
        );
    }

    #[test]
    fn projector_named_after_the_model_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("Qwen2.5-Omni-7B-Q4_K_M.gguf");
        std::fs::write(&model, b"x").unwrap();
        assert_eq!(find_for(&model, None), None);
        std::fs::write(dir.path().join("mmproj-other-model-f16.gguf"), b"x").unwrap();
        assert_eq!(
            find_for(&model, None),
            None,
            "an unrelated projector is not used"
        );
        let proj = dir.path().join("mmproj-Qwen2.5-Omni-7B-Q8_0.gguf");
        std::fs::write(&proj, b"x").unwrap();
        assert_eq!(find_for(&model, None), Some(proj));
    }
}
