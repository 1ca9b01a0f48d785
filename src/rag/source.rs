//! Which embedding model the document index uses: decided once here for
//! every front end, because the index is re-embedded whenever the model
//! changes — two front ends that chose differently would re-embed it each
//! time the user switched between them.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::engine::RemoteConfig;
use crate::models::Manifest;

/// Where the embedding model runs.
#[derive(Debug, Clone)]
pub enum EmbedSource {
    /// A GGUF on this machine.
    Local(PathBuf),
    /// An OpenAI-compatible server (`[backend] embed_model`).
    Remote(RemoteConfig),
}

/// The embedding model, in this order: `flag` (a one-off choice, e.g.
/// `--embed-model`), the remote server's `[backend] embed_model`, the
/// configured `embedding_model`, else the manifest's default embedding
/// model when it is downloaded into `models_dir`. `None` when there is none.
///
/// # Errors
/// A `[backend] embed_model` without a usable URL.
pub fn choose(
    config: &Config,
    flag: Option<&Path>,
    models_dir: &Path,
) -> Result<Option<EmbedSource>, ConfigError> {
    if let Some(p) = flag {
        return Ok(Some(EmbedSource::Local(p.to_path_buf())));
    }
    if let Some(remote) = config.backend.remote_embeddings()? {
        return Ok(Some(EmbedSource::Remote(remote)));
    }
    if let Some(p) = &config.embedding_model {
        return Ok(Some(EmbedSource::Local(p.clone())));
    }
    Ok(Manifest::load()
        .ok()
        .and_then(|m| m.find_embedding_model(models_dir))
        .map(EmbedSource::Local))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: Option<EmbedSource>) -> Option<PathBuf> {
        match s {
            Some(EmbedSource::Local(p)) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn remote_embeddings_win_over_a_local_model_and_a_flag_over_both() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            embedding_model: Some("/m/minilm.gguf".into()),
            ..Config::default()
        };
        config.backend.url = Some("http://127.0.0.1:9/v1".into());
        config.backend.embed_model = Some("nomic-embed".into());
        let chosen = choose(&config, None, dir.path()).unwrap();
        assert!(matches!(chosen, Some(EmbedSource::Remote(_))), "{chosen:?}");
        let flag = Path::new("/m/other.gguf");
        assert_eq!(
            local(choose(&config, Some(flag), dir.path()).unwrap()),
            Some(flag.to_path_buf())
        );
        config.backend.embed_model = None;
        assert_eq!(
            local(choose(&config, None, dir.path()).unwrap()),
            Some(PathBuf::from("/m/minilm.gguf"))
        );
    }

    #[test]
    fn remote_embeddings_without_a_url_are_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.backend.embed_model = Some("nomic-embed".into());
        assert!(choose(&config, None, dir.path()).is_err());
    }
}
