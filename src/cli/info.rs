//! `omnidesk info`: backend, devices, this machine's hardware, how the
//! model fits in it, and the model's metadata.

use anyhow::Result;
use omnidesk::{engine, hardware};

use super::args::InfoArgs;
use super::context::Context;

pub async fn run(ctx: &Context, args: &InfoArgs) -> Result<()> {
    let backend = engine::backend_info()?;
    let hw = hardware::detect()?;
    // Without a model we still show the backend, with a hint.
    let fit = match ctx.model_path() {
        Ok(p) => Some(ctx.fit(&p, None)?),
        Err(_) => None,
    };
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
            "hardware": hw,
            "fit": fit,
            "model": model.as_ref().map(|m| m.info()),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!("omnidesk {}", env!("CARGO_PKG_VERSION"));
    println!(
        "backend: llama.cpp, GPU offload {}",
        match (backend.gpu_offload, backend.modules.dynamic) {
            (true, _) => "available",
            (false, true) =>
                "unavailable (the loaded modules found no GPU: none, or no driver for it)",
            (false, false) => "not in this build",
        }
    );
    let m = &backend.modules;
    if m.dynamic {
        println!(
            "  backend modules from {}: {}",
            m.dir
                .as_ref()
                .map_or("?".into(), |d| d.display().to_string()),
            m.loaded.join(", ")
        );
    }
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
    println!("hardware:");
    println!(
        "  RAM: {} MiB available of {} MiB",
        hw.available_ram >> 20,
        hw.total_ram >> 20
    );
    println!(
        "  CPU: {} ({} threads), features: {}",
        if hw.cpu_brand.is_empty() {
            "?"
        } else {
            &hw.cpu_brand
        },
        hw.cpu_cores,
        hw.cpu_features.join(" ")
    );
    println!("  GPU memory free: {} MiB", hw.gpu_free() >> 20);
    if let Some(f) = &fit {
        let e = &f.estimate;
        println!(
            "  model needs ~{} MiB at context {} (weights {} + KV cache {} + compute {} MiB)",
            e.total >> 20,
            e.n_ctx,
            e.weights >> 20,
            e.kv_cache >> 20,
            e.compute >> 20
        );
        println!(
            "  plan: {} GPU layers; RAM {} MiB, VRAM {} MiB",
            f.n_gpu_layers,
            f.ram_needed >> 20,
            f.vram_needed >> 20
        );
        for w in &f.warnings {
            println!("  warning: {w}");
        }
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
