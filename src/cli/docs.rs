//! `omnidesk docs`: add, list, remove, rescan and search indexed documents.

use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use omnidesk::rag::{
    IngestEvent, IngestJob, IngestOptions, IngestReport, Rag, SearchOptions, WatchEvent,
};

use super::args::{DocsArgs, DocsCommand};
use super::context::Context;

pub async fn run(ctx: &Context, args: &DocsArgs) -> Result<()> {
    let rag = ctx.open_rag(&args.embed)?;
    match &args.command {
        DocsCommand::Add {
            paths,
            collection,
            json,
        } => {
            let options = IngestOptions {
                collection: collection.clone(),
                ..Default::default()
            };
            let report = drive(rag.add(paths.clone(), options), *json).await?;
            print_report(&report, *json)
        }
        DocsCommand::Rescan { json } => {
            let report = drive(rag.rescan(Default::default()), *json).await?;
            print_report(&report, *json)
        }
        DocsCommand::Watch { debounce_ms, json } => watch(&rag, *debounce_ms, *json).await,
        DocsCommand::List { json } => {
            let docs = rag.documents()?;
            if *json {
                let json = serde_json::json!({ "documents": docs, "stats": rag.stats()? });
                println!("{}", serde_json::to_string_pretty(&json)?);
                return Ok(());
            }
            if docs.is_empty() {
                eprintln!("no documents yet; add some with `omnidesk docs add PATH`");
                return Ok(());
            }
            println!(
                "{:>5}  {:<8}  {:>6}  {:<10}  PATH",
                "ID", "STATUS", "CHUNKS", "COLLECTION"
            );
            for d in docs {
                println!(
                    "{:>5}  {:<8}  {:>6}  {:<10}  {}{}",
                    d.id,
                    d.status,
                    d.chunk_count,
                    d.collection,
                    d.path.display(),
                    d.skip_reason
                        .map(|r| format!("  ({r})"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        DocsCommand::Remove { target } => {
            let n = rag.remove(target)?;
            eprintln!("removed {n} document(s)");
            Ok(())
        }
        DocsCommand::Search {
            query,
            limit,
            collection,
            folder,
            json,
        } => {
            let query = query.join(" ");
            let options = SearchOptions {
                limit: *limit,
                collection: collection.clone(),
                folder: folder.as_deref().map(omnidesk::rag::absolute_path),
                ..Default::default()
            };
            let r = rag.clone();
            let hits = tokio::task::spawn_blocking(move || r.search(&query, &options)).await??;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "results": hits }))?
                );
                return Ok(());
            }
            if hits.is_empty() {
                println!("nothing relevant found");
                return Ok(());
            }
            for (i, h) in hits.iter().enumerate() {
                let c = &h.chunk;
                let mut loc = c.path.display().to_string();
                if let Some(p) = c.page {
                    loc.push_str(&format!(":page {p}"));
                } else if let (Some(a), Some(b)) = (c.line_start, c.line_end) {
                    loc.push_str(&format!(":{a}-{b}"));
                }
                println!(
                    "[{}] {loc}{}  (similarity {:.2})",
                    i + 1,
                    if c.heading.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", c.heading)
                    },
                    h.similarity
                );
                let preview: String = c.text.chars().take(240).collect();
                println!("    {}", preview.replace('\n', " "));
            }
            Ok(())
        }
    }
}

/// `docs watch`: rescan, then index changes until Ctrl-C or SIGTERM.
async fn watch(rag: &Rag, debounce_ms: u64, json: bool) -> Result<()> {
    let report = drive(rag.rescan(Default::default()), json).await?;
    if json {
        println!("{}", serde_json::json!({ "rescan": report }));
    } else {
        print_report(&report, false)?;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = rag.watch(
        Duration::from_millis(debounce_ms.max(1)),
        Default::default(),
        move |ev| drop(tx.send(ev)),
    )?;
    // Listen before announcing, so a Ctrl-C right after the line counts.
    let mut stop = Box::pin(stop_signal()?);
    eprintln!(
        "watching {} for changes (Ctrl-C stops)",
        handle
            .roots()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    loop {
        tokio::select! {
            () = &mut stop => break,
            ev = rx.recv() => match ev {
                Some(WatchEvent::Updated { paths, report }) => {
                    if json {
                        println!("{}", serde_json::json!({ "paths": paths, "report": report }));
                    } else {
                        print_report(&report, false)?;
                    }
                }
                Some(WatchEvent::Failed(e)) => eprintln!("error: {e}"),
                None => break,
            },
        }
    }
    drop(handle);
    eprintln!("stopped watching");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; the handlers are registered before this
/// returns, so no signal between two waits is lost.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Show progress on stderr (a bar on a terminal) until the job ends;
/// Ctrl-C cancels the job after the current file.
pub async fn drive(mut job: IngestJob, quiet: bool) -> Result<IngestReport> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let cancel = job.cancel_flag();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    while let Some(ev) = job.events.recv().await {
        match ev {
            IngestEvent::Scanned { files } => bar.set_length(files as u64),
            IngestEvent::Progress {
                files_done,
                chunks,
                eta_ms,
                ..
            } => {
                bar.set_position(files_done as u64);
                let eta = eta_ms
                    .map(|ms| format!(", ~{}s left", ms.div_ceil(1000)))
                    .unwrap_or_default();
                bar.set_message(format!("{chunks} chunks{eta}"));
            }
            IngestEvent::Skipped { path, reason } => {
                if !quiet {
                    bar.suspend(|| eprintln!("skipped {}: {reason}", path.display()));
                }
            }
        }
    }
    bar.finish_and_clear();
    ctrl_c.abort();
    Ok(job.finish().await?)
}

fn print_report(r: &IngestReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    eprintln!(
        "{} files: {} indexed, {} unchanged, {} skipped, {} removed; {} chunks added, {} removed ({:.1} s){}",
        r.files_seen,
        r.files_indexed,
        r.files_unchanged,
        r.files_skipped,
        r.files_removed,
        r.chunks_added,
        r.chunks_removed,
        r.elapsed_ms as f64 / 1000.0,
        if r.cancelled { " — cancelled" } else { "" }
    );
    for (path, chunks) in &r.truncated {
        eprintln!(
            "only the start of {} is indexed: it makes {chunks} chunks, more than the limit per file",
            path.display()
        );
    }
    Ok(())
}
