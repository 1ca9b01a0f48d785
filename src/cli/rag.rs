//! `omnidesk rag eval|bench`: retrieval quality and speed, each run on a
//! fresh index in a temporary directory (the user's index is untouched).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use omnidesk::rag::embed::normalize;
use omnidesk::rag::{Embedder, IngestOptions, Rag, SearchMode, SearchOptions};
use serde::Deserialize;

use super::args::{RagArgs, RagCommand};
use super::context::Context;

/// One line of the question set.
#[derive(Debug, Deserialize)]
struct QaItem {
    question: String,
    /// File name (or path suffix) of the document holding the answer.
    source: String,
    /// Text the right chunk contains, when one file has several chunks.
    contains: Option<String>,
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("omnidesk-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run(ctx: &Context, args: &RagArgs) -> Result<()> {
    let embedder = ctx.embedder(&args.embed)?;
    match &args.command {
        RagCommand::Eval { qa, docs, json } => {
            let docs = match docs {
                Some(d) => d.clone(),
                None => qa
                    .parent()
                    .map(|p| p.join("docs"))
                    .context("cannot find the docs folder next to the question set")?,
            };
            let report = tokio::task::spawn_blocking({
                let qa = qa.clone();
                move || eval(embedder, &qa, &docs)
            })
            .await??;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} questions over {} chunks",
                    report["questions"], report["chunks"]
                );
                println!(
                    "{:<8} {:>8} {:>8} {:>8} {:>8}",
                    "mode", "R@1", "R@5", "R@10", "MRR"
                );
                for m in ["keyword", "vector", "hybrid"] {
                    let r = &report["modes"][m];
                    println!(
                        "{m:<8} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                        r["recall@1"].as_f64().unwrap_or(0.0),
                        r["recall@5"].as_f64().unwrap_or(0.0),
                        r["recall@10"].as_f64().unwrap_or(0.0),
                        r["mrr"].as_f64().unwrap_or(0.0)
                    );
                }
            }
            Ok(())
        }
        RagCommand::Bench {
            docs,
            synthetic,
            queries,
            json,
        } => {
            let (docs, synthetic, queries) = (docs.clone(), *synthetic, *queries);
            let report =
                tokio::task::spawn_blocking(move || bench(embedder, &docs, synthetic, queries))
                    .await??;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            for part in ["machine", "real", "synthetic"] {
                println!("{part}:");
                if let Some(map) = report[part].as_object() {
                    for (k, v) in map {
                        println!("  {k:<28} {v}");
                    }
                }
            }
            Ok(())
        }
    }
}

fn eval(embedder: Arc<dyn Embedder>, qa: &Path, docs: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(qa).with_context(|| format!("cannot read {}", qa.display()))?;
    let items: Vec<QaItem> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{} line {}", qa.display(), i + 1))
        })
        .collect::<Result<_>>()?;
    anyhow::ensure!(!items.is_empty(), "{} has no questions", qa.display());
    let scratch = Scratch::new("rag-eval")?;
    let rag = Rag::open(&scratch.0, embedder)?;
    let report = rag.add_blocking(
        &[docs.to_path_buf()],
        &IngestOptions::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    let mut modes = serde_json::Map::new();
    for (name, mode) in [
        ("keyword", SearchMode::Keyword),
        ("vector", SearchMode::Vector),
        ("hybrid", SearchMode::Hybrid),
    ] {
        let options = SearchOptions {
            limit: 10,
            mode,
            ..Default::default()
        }
        .ungated();
        let (mut r1, mut r5, mut r10, mut mrr) = (0.0, 0.0, 0.0, 0.0);
        for item in &items {
            let hits = rag.search(&item.question, &options)?;
            let rank = hits.iter().position(|h| {
                h.chunk.path.to_string_lossy().ends_with(&item.source)
                    && item
                        .contains
                        .as_ref()
                        .is_none_or(|c| h.chunk.text.contains(c.as_str()))
            });
            if let Some(r) = rank {
                let r = r + 1;
                r1 += f64::from(r <= 1);
                r5 += f64::from(r <= 5);
                r10 += f64::from(r <= 10);
                mrr += 1.0 / r as f64;
            }
        }
        let n = items.len() as f64;
        modes.insert(
            name.into(),
            serde_json::json!({
                "recall@1": r1 / n, "recall@5": r5 / n, "recall@10": r10 / n, "mrr": mrr / n,
            }),
        );
    }
    Ok(serde_json::json!({
        "questions": items.len(),
        "documents": report.files_indexed,
        "chunks": report.chunks_added,
        "modes": modes,
    }))
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let i = ((sorted_ms.len() - 1) as f64 * p).round() as usize;
    sorted_ms[i.min(sorted_ms.len() - 1)]
}

fn time_queries(rag: &Rag, queries: &[String]) -> Result<(f64, f64)> {
    let options = SearchOptions::default();
    let mut ms = Vec::with_capacity(queries.len());
    for q in queries {
        let t = Instant::now();
        rag.search(q, &options)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((percentile(&ms, 0.5), percentile(&ms, 0.95)))
}

/// Deterministic pseudo-embeddings (hashed word features): lets the 100k
/// chunk latency test run without hours of real embedding.
struct HashEmbedder;

impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        "hash-384"
    }
    fn dimension(&self) -> usize {
        384
    }
    fn embed(&self, texts: &[&str]) -> omnidesk::rag::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 384];
                for w in t.split_whitespace() {
                    let h = w.bytes().fold(1469598103934665603u64, |h, b| {
                        (h ^ b as u64).wrapping_mul(1099511628211)
                    });
                    v[(h % 384) as usize] += 1.0;
                    v[((h >> 20) % 384) as usize] -= 0.5;
                }
                normalize(&v)
            })
            .collect())
    }
}

fn bench(
    embedder: Arc<dyn Embedder>,
    docs: &Path,
    synthetic: usize,
    n_queries: usize,
) -> Result<serde_json::Value> {
    // Other work on the machine skews every figure; record it.
    let load_start = sysinfo::System::load_average().one;
    // 1. Real ingest with the real embedding model.
    let scratch = Scratch::new("rag-bench")?;
    let rag = Rag::open(&scratch.0.join("real"), embedder.clone())?;
    let t = Instant::now();
    let report = rag.add_blocking(
        &[docs.to_path_buf()],
        &IngestOptions::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    let ingest_s = t.elapsed().as_secs_f64();
    let texts: Vec<String> = rag.chunk_set()?.into_iter().map(|c| c.2).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    embedder.embed(&refs)?;
    let embed_s = t.elapsed().as_secs_f64();
    let queries: Vec<String> = texts
        .iter()
        .cycle()
        .take(n_queries)
        .map(|t| t.split_whitespace().take(8).collect::<Vec<_>>().join(" "))
        .collect();
    let (real_p50, real_p95) = time_queries(&rag, &queries)?;

    // 2. Synthetic index of `synthetic` chunks: 100 paragraphs per file.
    let corpus = scratch.0.join("corpus");
    std::fs::create_dir_all(&corpus)?;
    // A 4,000-word pseudo-vocabulary drawn with a Zipf-like skew, so term
    // frequencies look like prose rather than a few words everywhere.
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let syllables = [
        "ka", "lo", "mi", "ren", "tor", "va", "shi", "pel", "dun", "gra", "ix", "bo", "ne", "sar",
        "qui", "fen", "ul", "zo", "tha", "mor",
    ];
    let vocab: Vec<String> = (0..4000u64)
        .map(|i| {
            let mut x = i;
            let mut w = String::new();
            for _ in 0..3 {
                w.push_str(syllables[(x % 20) as usize]);
                x /= 20;
            }
            w
        })
        .collect();
    let mut pick = move || {
        // Squaring a uniform draw favours low indices (frequent words).
        let u = (next() % 1_000_000) as f64 / 1_000_000.0;
        (u * u * 4000.0) as usize % 4000
    };
    // One chunk per paragraph: each sits under its own heading.
    let files = synthetic.div_ceil(100);
    let mut samples: Vec<String> = Vec::new();
    for f in 0..files {
        let mut s = String::new();
        for p in 0..100 {
            let n = 15 + pick() % 20;
            let para: Vec<&str> = (0..n).map(|_| vocab[pick()].as_str()).collect();
            if samples.len() < n_queries && (f * 100 + p) % 97 == 0 {
                samples.push(para[..4].join(" "));
            }
            s.push_str(&format!("## Note {f}-{p}\n\n{}.\n\n", para.join(" ")));
        }
        std::fs::write(corpus.join(format!("doc{f:05}.md")), s)?;
    }
    let synth = Rag::open(&scratch.0.join("synthetic"), Arc::new(HashEmbedder))?;
    let t = Instant::now();
    let options = IngestOptions::default();
    let synth_report = synth.add_blocking(
        std::slice::from_ref(&corpus),
        &options,
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    let synth_s = t.elapsed().as_secs_f64();
    let synth_queries = samples;
    let (syn_p50, syn_p95) = time_queries(&synth, &synth_queries)?;
    // The synthetic index searches with hashed vectors; what the real
    // model adds per query is its own embedding of the question.
    let mut embed_ms = Vec::with_capacity(synth_queries.len());
    for q in &synth_queries {
        let t = Instant::now();
        embedder.embed(&[q.as_str()])?;
        embed_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    embed_ms.sort_by(f64::total_cmp);
    let stats = synth.stats()?;
    let db_bytes = std::fs::metadata(scratch.0.join("synthetic/index.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    let usearch_bytes = std::fs::metadata(scratch.0.join("synthetic/vectors.usearch"))
        .map(|m| m.len())
        .unwrap_or(0);
    Ok(serde_json::json!({
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "load_avg_1m_start": load_start,
            "load_avg_1m_end": sysinfo::System::load_average().one,
        },
        "real": {
            "files": report.files_indexed,
            "chunks": report.chunks_added,
            "ingest_s": ingest_s,
            "ingest_chunks_per_s": report.chunks_added as f64 / ingest_s,
            "embed_only_chunks_per_s": texts.len() as f64 / embed_s,
            "query_ms_p50": real_p50,
            "query_ms_p95": real_p95,
        },
        "synthetic": {
            "chunks": synth_report.chunks_added,
            "ingest_s": synth_s,
            "ingest_chunks_per_s": synth_report.chunks_added as f64 / synth_s,
            "query_ms_p50": syn_p50,
            "query_ms_p95": syn_p95,
            "query_embed_ms_p50": percentile(&embed_ms, 0.5),
            "query_embed_ms_p95": percentile(&embed_ms, 0.95),
            "vector_index_memory_bytes": stats.vector_index_bytes,
            "usearch_file_bytes": usearch_bytes,
            "sqlite_file_bytes": db_bytes,
        },
    }))
}
