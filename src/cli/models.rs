//! `omnidesk models list|pull|rm|verify|import`: the model library from the
//! command line. Downloads show a progress bar on a terminal (plain lines
//! otherwise) and stop cleanly on Ctrl-C, keeping the `.part` for resuming.
//! `pull` prints the stored path(s) on stdout, the main model last.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use omnidesk::models::download::{self, DownloadOptions, DownloadProgress};
use omnidesk::models::library::{self, Verdict};
use omnidesk::models::{pull, Manifest, ModelEntry};
use tokio::sync::mpsc;

use super::args::{ModelsArgs, ModelsCommand};
use super::context::Context;

pub async fn run(ctx: &Context, args: &ModelsArgs) -> Result<()> {
    let manifest = Manifest::load()?;
    match &args.command {
        ModelsCommand::List { json } => list(ctx, &manifest, *json),
        ModelsCommand::Pull {
            target,
            sha256,
            name,
        } => pull(ctx, &manifest, target, sha256.as_deref(), name.as_deref()).await,
        ModelsCommand::Rm { target } => {
            let removed = library::remove(&ctx.models_dir(), &manifest, target)?;
            if removed.is_empty() {
                bail!("`{target}` is not downloaded");
            }
            for p in removed {
                println!("removed {}", p.display());
            }
            Ok(())
        }
        ModelsCommand::Verify { target, json } => verify(ctx, &manifest, target.as_deref(), *json),
        ModelsCommand::Import { path, copy } => {
            let (dest, mode) = library::import(&ctx.models_dir(), path, *copy)
                .with_context(|| format!("cannot import {}", path.display()))?;
            eprintln!(
                "imported ({})",
                serde_json::to_value(mode)?.as_str().unwrap_or("")
            );
            println!("{}", dest.display());
            Ok(())
        }
    }
}

fn list(ctx: &Context, manifest: &Manifest, json: bool) -> Result<()> {
    let dir = ctx.models_dir();
    let local = library::list_local(&dir, manifest)?;
    let others: Vec<_> = local.iter().filter(|f| f.entry.is_none()).collect();
    if json {
        let entries: Vec<_> = manifest
            .models
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id,
                    "role": m.role,
                    "description": m.description,
                    "license": m.license,
                    "modalities": m.modalities,
                    "context_length": m.context_length,
                    "quantization": m.quantization,
                    "approx_mb": m.approx_mb(),
                    "ram_gb": m.ram_gb,
                    "vram_gb": m.vram_gb,
                    "downloaded": m.is_downloaded(&dir),
                    "default": m.id == manifest.default_chat,
                    "fallback": m.id == manifest.fallback_chat,
                    "files": m.files,
                })
            })
            .collect();
        let body = serde_json::json!({
            "models_dir": dir,
            "models": entries,
            "local": others,
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    println!("models dir: {}", dir.display());
    println!(
        "{:<28} {:<9} {:>8} {:>7}  {:<18} {:<10}",
        "ID", "ROLE", "SIZE", "RAM", "MODALITIES", "STATUS"
    );
    for m in &manifest.models {
        let mut status = status_of(m, &dir).to_string();
        if m.id == manifest.default_chat {
            status.push_str(" (default)");
        } else if m.id == manifest.fallback_chat {
            status.push_str(" (fallback)");
        } else if manifest.default_embedding.as_deref() == Some(m.id.as_str()) {
            status.push_str(" (default embedding)");
        }
        println!(
            "{:<28} {:<9} {:>6}MB {:>5.1}GB  {:<18} {}",
            m.id,
            format!("{:?}", m.role).to_lowercase(),
            m.approx_mb(),
            m.ram_gb,
            m.modalities.join(","),
            status
        );
    }
    if !others.is_empty() {
        println!("\nother GGUF files:");
        for f in others {
            println!(
                "  {:<40} {:>6}MB  {}",
                f.name,
                f.size >> 20,
                f.path.display()
            );
        }
    }
    Ok(())
}

fn status_of(m: &ModelEntry, dir: &std::path::Path) -> &'static str {
    let present = m
        .files
        .iter()
        .filter(|f| dir.join(&f.name).is_file())
        .count();
    let partial = m
        .files
        .iter()
        .any(|f| download::part_path(&dir.join(&f.name)).is_file());
    match present {
        n if n == m.files.len() => "downloaded",
        _ if partial => "partial",
        0 => "-",
        _ => "incomplete",
    }
}

async fn pull(
    ctx: &Context,
    manifest: &Manifest,
    target: &str,
    sha256: Option<&str>,
    name: Option<&str>,
) -> Result<()> {
    let dir = ctx.models_dir();
    let sources = ctx.sources();
    let client = download::client()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let opts = DownloadOptions {
        progress: Some(tx),
        ..DownloadOptions::default()
    };
    let cancel = opts.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    let bar = tokio::spawn(show_progress(rx));
    let result = if target.starts_with("http://") || target.starts_with("https://") {
        let Some(sha) = sha256 else {
            bail!("a URL download needs --sha256 HEX so the file can be verified");
        };
        eprintln!("downloading {target}");
        pull::pull_url(&client, target, sha, name, &dir, &sources, &opts)
            .await
            .map(|p| vec![p])
    } else {
        let entry = manifest
            .get(target)
            .ok_or_else(|| omnidesk::models::ModelsError::UnknownModel(target.to_string()))?;
        if sha256.is_some() || name.is_some() {
            bail!("--sha256 and --name apply to URL downloads only");
        }
        eprintln!(
            "downloading {} (~{} MB) into {}",
            entry.id,
            entry.approx_mb(),
            dir.display()
        );
        pull::pull_entry(&client, entry, &dir, &sources, &opts).await
    };
    drop(opts);
    let _ = bar.await;
    let paths = result.with_context(|| format!("cannot pull {target}"))?;
    for p in paths {
        println!("{}", p.display());
    }
    Ok(())
}

/// One bar per file on a terminal; a line per file elsewhere.
async fn show_progress(mut rx: mpsc::UnboundedReceiver<DownloadProgress>) {
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut current: Option<(String, ProgressBar)> = None;
    while let Some(p) = rx.recv().await {
        if current.as_ref().is_none_or(|(f, _)| *f != p.file) {
            if let Some((_, b)) = current.take() {
                b.finish();
            }
            let bar = ProgressBar::new(p.total.unwrap_or(0)).with_style(style.clone());
            bar.set_message(p.file.clone());
            bar.enable_steady_tick(Duration::from_millis(250));
            if bar.is_hidden() {
                eprintln!("  {} …", p.file);
            }
            current = Some((p.file.clone(), bar));
        }
        if let Some((_, b)) = &current {
            if let Some(t) = p.total {
                b.set_length(t);
            }
            b.set_position(p.done);
        }
    }
    if let Some((_, b)) = current {
        b.finish();
    }
}

fn verify(ctx: &Context, manifest: &Manifest, target: Option<&str>, json: bool) -> Result<()> {
    let dir = ctx.models_dir();
    let entries: Vec<&ModelEntry> = match target {
        Some(t) => match manifest
            .get(t)
            .or_else(|| manifest.entry_for_file(t).map(|(e, _)| e))
        {
            Some(e) => vec![e],
            None => bail!("`{t}` is not a manifest model or file (see `omnidesk models list`)"),
        },
        None => manifest
            .models
            .iter()
            .filter(|m| m.files.iter().any(|f| dir.join(&f.name).is_file()))
            .collect(),
    };
    let mut bad = 0;
    let mut rows = Vec::new();
    for e in entries {
        for (path, verdict) in library::verify_entry(&dir, e)? {
            let line = match &verdict {
                Verdict::Ok => "ok (sha256 matches the manifest)".to_string(),
                Verdict::Unpinned { sha256 } => {
                    format!("no pinned hash in the manifest; sha256 {sha256}")
                }
                Verdict::Mismatch { expected, actual } => {
                    bad += 1;
                    format!("MISMATCH: expected {expected}, got {actual}")
                }
                Verdict::Missing => {
                    if target.is_some() {
                        bad += 1;
                    }
                    "missing".to_string()
                }
            };
            if !json {
                println!("{}: {}: {line}", e.id, path.display());
            }
            rows.push(serde_json::json!({ "id": e.id, "path": path, "verdict": verdict }));
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    if bad > 0 {
        bail!("{bad} file(s) failed verification: remove them with `omnidesk models rm` and pull again");
    }
    Ok(())
}
