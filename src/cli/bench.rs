//! `omnidesk bench`: llama-bench-shaped throughput numbers.

use anyhow::Result;
use omnidesk::engine::BenchParams;

use super::args::BenchArgs;
use super::attach;
use super::context::Context;

pub async fn run(ctx: &Context, args: &BenchArgs) -> Result<()> {
    let engine = ctx.start_engine(args.json).await?;
    let rate = engine.info().capabilities.audio_rate();
    let attached = attach::load(&args.image, &args.audio, rate)?;
    let labels = args
        .image
        .iter()
        .chain(&args.audio)
        .map(|p| p.display().to_string());
    let params = BenchParams {
        n_prompt: args.n_prompt,
        n_gen: args.n_gen,
        repetitions: args.repetitions,
        media: labels.zip(attached.media).collect(),
    };
    let report = engine.bench(params.clone()).await?;
    if args.json {
        let json = serde_json::json!({
            "model": engine.info().path,
            "report": report,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!(
        "model {} — {} threads, batch {}",
        engine.info().path.display(),
        report.n_threads,
        report.n_batch
    );
    println!(
        "pp{:<5} {:>9.2} ± {:.2} tokens/s",
        params.n_prompt, report.pp_tokens_per_s.mean, report.pp_tokens_per_s.stddev
    );
    println!(
        "tg{:<5} {:>9.2} ± {:.2} tokens/s",
        params.n_gen, report.tg_tokens_per_s.mean, report.tg_tokens_per_s.stddev
    );
    println!(
        "ttft    {:>9.1} ± {:.1} ms (prompt of {} tokens)",
        report.time_to_first_token_ms.mean, report.time_to_first_token_ms.stddev, params.n_prompt
    );
    for m in &report.media {
        println!(
            "{} {} ({} cells): {:.1} ± {:.1} ms to encode",
            m.kind, m.label, m.n_cells, m.encode_ms.mean, m.encode_ms.stddev
        );
    }
    Ok(())
}
