//! `omnidesk rag eval|bench`: retrieval quality and speed, each run on a
//! fresh index in a temporary directory (the user's index is untouched).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use omnidesk::rag::chunk::ChunkParams;
use omnidesk::rag::embed::normalize;
use omnidesk::rag::eval::{self, percentile};
use omnidesk::rag::{Embedder, IngestOptions, Rag, SearchMode, SearchOptions};

use super::args::{RagArgs, RagCommand, SearchTuningArgs};
use super::context::Context;

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
        RagCommand::Eval {
            qa,
            docs,
            index,
            chunk_tokens,
            chunk_overlap,
            tuning,
            json,
        } => {
            let docs = match docs {
                Some(d) => d.clone(),
                None => qa
                    .parent()
                    .map(|p| p.join("docs"))
                    .context("cannot find the docs folder next to the question set")?,
            };
            let mut chunk = ChunkParams::default();
            if let Some(n) = chunk_tokens {
                chunk.max_tokens = *n;
            }
            if let Some(n) = chunk_overlap {
                chunk.overlap_tokens = *n;
            }
            let job = EvalJob {
                qa: qa.clone(),
                docs,
                index: index.clone(),
                chunk,
                search: search_options(tuning),
            };
            let report = tokio::task::spawn_blocking(move || eval(embedder, job)).await??;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_eval(&report);
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

/// The search settings `tuning` asks for, over the defaults.
pub fn search_options(tuning: &SearchTuningArgs) -> SearchOptions {
    let mut o = SearchOptions::default();
    if let Some(k) = tuning.rrf_k {
        o.rrf_k = k;
    }
    if let Some(w) = tuning.keyword_weight {
        o.keyword_weight = w;
    }
    if let Some(w) = tuning.keyword_weight_uncovered {
        o.keyword_weight_uncovered = w;
    }
    if let Some(v) = tuning.min_similarity {
        o.min_similarity = v;
    }
    if let Some(v) = tuning.min_coverage {
        o.min_coverage = v;
    }
    if let Some(b) = tuning.by_document {
        o.by_document = b;
    }
    if let Some(w) = tuning.document_weight {
        o.document_weight = w;
    }
    o
}

struct EvalJob {
    qa: PathBuf,
    docs: PathBuf,
    index: Option<PathBuf>,
    chunk: ChunkParams,
    search: SearchOptions,
}

fn eval(embedder: Arc<dyn Embedder>, job: EvalJob) -> Result<serde_json::Value> {
    let items = eval::load(&job.qa).with_context(|| format!("reading {}", job.qa.display()))?;
    let scratch;
    let dir = match &job.index {
        Some(d) => d.clone(),
        None => {
            scratch = Scratch::new("rag-eval")?;
            scratch.0.clone()
        }
    };
    let rag = Rag::open(&dir, embedder)?;
    let options = IngestOptions {
        chunk: job.chunk,
        ..Default::default()
    };
    let report = rag.add_blocking(
        std::slice::from_ref(&job.docs),
        &options,
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    let ingest_s = report.elapsed_ms as f64 / 1000.0;
    let stats = rag.stats()?;
    let result = eval::evaluate(
        &rag,
        &items,
        &[SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid],
        &job.search,
    )?;
    let mut value = serde_json::to_value(&result)?;
    value["documents"] = stats.documents.into();
    value["chunks"] = stats.chunks.into();
    value["ingest"] = serde_json::json!({
        "files_indexed": report.files_indexed,
        "chunks_added": report.chunks_added,
        "seconds": ingest_s,
        "chunks_per_s": if ingest_s > 0.0 { report.chunks_added as f64 / ingest_s } else { 0.0 },
    });
    Ok(value)
}

fn print_eval(report: &serde_json::Value) {
    println!(
        "{} questions over {} documents, {} chunks (ingest: {} chunks in {:.1} s)",
        report["questions"],
        report["documents"],
        report["chunks"],
        report["ingest"]["chunks_added"],
        report["ingest"]["seconds"].as_f64().unwrap_or(0.0),
    );
    println!(
        "{:<8} {:<5} {:>4} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "mode", "lang", "n", "R@1", "R@5", "R@10", "MRR", "ms/query"
    );
    let row = |mode: &str, lang: &str, s: &serde_json::Value, ms: &str| {
        println!(
            "{mode:<8} {lang:<5} {:>4} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {ms:>9}",
            s["questions"].as_u64().unwrap_or(0),
            s["recall@1"].as_f64().unwrap_or(0.0),
            s["recall@5"].as_f64().unwrap_or(0.0),
            s["recall@10"].as_f64().unwrap_or(0.0),
            s["mrr"].as_f64().unwrap_or(0.0),
        );
    };
    for m in ["keyword", "vector", "hybrid"] {
        let r = &report["modes"][m];
        let ms = format!("{:.1}", r["query_ms_mean"].as_f64().unwrap_or(0.0));
        row(m, "all", &r["all"], &ms);
        if let Some(langs) = r["by_lang"].as_object() {
            if langs.len() > 1 {
                for (lang, s) in langs {
                    row(m, lang, s, "");
                }
            }
        }
    }
    let g = &report["gate"];
    println!(
        "relevance gate: {}/{} questions not in the documents found nothing; \
         {} answerable questions refused, {} found their page",
        g["absent_refused"], g["absent"], g["present_refused"], g["present_found"]
    );
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
