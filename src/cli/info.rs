//! `omnidesk info`: backend, devices and the model's metadata.

use anyhow::Result;
use omnidesk::engine;

use super::args::InfoArgs;
use super::context::Context;

pub async fn run(ctx: &Context, args: &InfoArgs) -> Result<()> {
    let backend = engine::backend_info()?;
    // Without a model we still show the backend, with a hint.
    let model = match ctx.model_path() {
        Ok(_) => Some(ctx.start_engine(true).await?),
        Err(e) => {
            if !args.json {
                eprintln!("(no model loaded: {e})");
            }
            None
        }
    };
    if args.json {
        let json = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "backend": backend,
            "model": model.as_ref().map(|m| m.info()),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!("omnidesk {}", env!("CARGO_PKG_VERSION"));
    println!(
        "backend: llama.cpp, GPU offload {}",
        if backend.gpu_offload {
            "available"
        } else {
            "not in this build"
        }
    );
    for d in &backend.devices {
        println!(
            "  device {} ({}, {}): {} — {} MiB free of {} MiB",
            d.name,
            d.backend,
            d.kind,
            d.description,
            d.memory_free >> 20,
            d.memory_total >> 20
        );
    }
    if let Some(m) = model {
        let i = m.info();
        println!("model: {}", i.path.display());
        println!("  name: {}", i.name.as_deref().unwrap_or("-"));
        println!("  architecture: {}", i.architecture);
        println!(
            "  parameters: {:.1} M, {:.1} MiB",
            i.n_params as f64 / 1e6,
            i.size_bytes as f64 / (1024.0 * 1024.0)
        );
        println!("  context: {} (trained {})", i.n_ctx, i.n_ctx_train);
        println!(
            "  layers: {}, embedding: {}, vocabulary: {}",
            i.n_layer, i.n_embd, i.n_vocab
        );
        println!("  threads: {}, GPU layers: {}", i.n_threads, i.n_gpu_layers);
        println!("  chat template: {}", i.chat_template);
        println!("  metadata:");
        for (k, v) in &i.metadata {
            println!("    {k} = {v}");
        }
    }
    Ok(())
}
