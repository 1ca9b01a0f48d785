//! Document index end to end: real parsers on the files in assets/rag, the
//! real MiniLM embedding model through llama.cpp, a real usearch file and
//! SQLite database, and the real `omnidesk` binary for SIGKILL and `ask`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use omnidesk::rag::embed::normalize;
use omnidesk::rag::isolate::ParserConfig;
use omnidesk::rag::{Embedder, IngestOptions, IngestReport, LlamaEmbedder, Rag, SearchOptions};

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/rag")
}

/// One embedding thread shared by every test in this binary.
fn embedder() -> Arc<dyn Embedder> {
    static E: OnceLock<Arc<LlamaEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(LlamaEmbedder::start(&common::embed_model(), Some(2)).expect("MiniLM loads"))
    })
    .clone()
}

/// An index whose documents are parsed by the real `omnidesk` binary's
/// worker (this test binary cannot serve as one).
fn open(dir: &Path) -> Rag {
    Rag::open(dir, embedder())
        .unwrap()
        .with_parser(ParserConfig::child(env!("CARGO_BIN_EXE_omnidesk")))
}

fn add(rag: &Rag, path: &Path) -> IngestReport {
    rag.add_blocking(
        &[path.to_path_buf()],
        &IngestOptions::default(),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap()
}

/// A copy of assets/rag/docs indexed into a fresh index.
fn indexed() -> (tempfile::TempDir, PathBuf, Rag, IngestReport) {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    common::copy_tree(&assets().join("docs"), &docs);
    let rag = open(&tmp.path().join("index"));
    let report = add(&rag, &docs);
    (tmp, docs, rag, report)
}

fn top(rag: &Rag, q: &str) -> Vec<omnidesk::rag::SearchHit> {
    rag.search(q, &SearchOptions::default()).unwrap()
}

fn file_name(hit: &omnidesk::rag::SearchHit) -> String {
    hit.chunk
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn embeddings_are_unit_length_and_meaningful() {
    let e = embedder();
    assert_eq!(e.dimension(), 384);
    let v = e
        .embed(&[
            "The cat sits on the mat.",
            "A kitten is resting on a rug.",
            "Quarterly tax filing deadlines for corporations.",
        ])
        .unwrap();
    for x in &v {
        let n: f32 = x.iter().map(|a| a * a).sum();
        assert!((n - 1.0).abs() < 1e-3);
    }
    let sim = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(sim(&v[0], &v[1]) > sim(&v[0], &v[2]) + 0.2);
    // Batching must not change a vector.
    let alone = e.embed(&["A kitten is resting on a rug."]).unwrap();
    assert!(sim(&alone[0], &v[1]) > 0.999);
}

#[test]
fn ingest_then_search_finds_the_right_chunk_in_every_format() {
    let (_tmp, _docs, rag, report) = indexed();
    // guide.md, notes.txt, manual.pdf, policy.docx, 数据库.md, sub/page.html,
    // sub/checksum.rs; .hidden.md is skipped by the walk.
    assert_eq!(report.files_seen, 7, "{report:?}");
    assert_eq!(report.files_indexed, 7, "{report:?}");
    assert_eq!(report.files_skipped, 0, "{report:?}");
    assert_eq!(report.embedded, report.chunks_added);

    let hits = top(&rag, "When do the nightly backups run?");
    assert_eq!(file_name(&hits[0]), "guide.md");
    assert!(
        hits[0].chunk.heading.ends_with("Backups"),
        "{:?}",
        hits[0].chunk
    );
    assert!(hits[0].chunk.line_start.is_some());

    let hits = top(
        &rag,
        "How often must the pressure relief valve be replaced?",
    );
    assert_eq!(file_name(&hits[0]), "manual.pdf");
    assert_eq!(hits[0].chunk.page, Some(2));

    let hits = top(&rag, "Can I get my money back after buying something?");
    assert_eq!(file_name(&hits[0]), "policy.docx");

    let hits = top(&rag, "Who is on call for billing?");
    assert_eq!(file_name(&hits[0]), "page.html");
    assert!(!hits.iter().any(|h| h.chunk.text.contains("secret")));

    let hits = top(&rag, "rolling checksum function");
    assert_eq!(file_name(&hits[0]), "checksum.rs");
}

#[test]
fn chinese_query_finds_the_chinese_chunk_through_trigram_fts() {
    let (_tmp, _docs, rag, _) = indexed();
    let hits = top(&rag, "全文检索索引什么时候重建？");
    assert_eq!(file_name(&hits[0]), "数据库.md");
    assert!(hits[0].keyword_rank.is_some());
    assert!(hits[0].chunk.text.contains("全文检索"));
    let hits = top(&rag, "备份保留多久");
    assert!(hits.iter().any(|h| h.chunk.heading.contains("备份策略")));
}

#[test]
fn unrelated_question_finds_nothing_relevant() {
    let (_tmp, _docs, rag, _) = indexed();
    let hits = top(&rag, "Which football club won the 1998 championship final?");
    assert!(
        hits.is_empty(),
        "{:?}",
        hits.iter()
            .map(|h| (&h.chunk.path, h.similarity))
            .collect::<Vec<_>>()
    );
}

#[test]
fn scope_filter_limits_results_to_a_folder() {
    let (_tmp, docs, rag, _) = indexed();
    let opts = SearchOptions {
        folder: Some(docs.canonicalize().unwrap().join("sub")),
        ..SearchOptions::default()
    }
    .ungated();
    let hits = rag.search("backups", &opts).unwrap();
    assert!(!hits.is_empty());
    assert!(hits
        .iter()
        .all(|h| h.chunk.path.to_string_lossy().contains("/sub/")));
}

#[test]
fn rescan_reembeds_only_the_changed_file_and_drops_removed_ones() {
    let (_tmp, docs, rag, first) = indexed();
    // Same content, new mtime: the hash check keeps it.
    let guide = docs.join("guide.md");
    let f = std::fs::File::options().write(true).open(&guide).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    // Changed content.
    let notes = docs.join("notes.txt");
    let mut text = std::fs::read_to_string(&notes).unwrap();
    text.push_str("\nThe greenhouse heater switches on below four degrees.\n");
    std::fs::write(&notes, text).unwrap();

    let r = rag
        .rescan_blocking(Default::default(), &mut |_| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(r.files_indexed, 1, "{r:?}");
    assert_eq!(r.files_unchanged, first.files_seen - 1, "{r:?}");
    let notes_doc = rag
        .documents()
        .unwrap()
        .into_iter()
        .find(|d| d.path.ends_with("notes.txt"))
        .unwrap();
    assert_eq!(r.embedded as i64, notes_doc.chunk_count);
    let hits = top(&rag, "greenhouse heater temperature");
    assert_eq!(file_name(&hits[0]), "notes.txt");

    // A deleted file leaves both indexes on the next rescan.
    let before: Vec<i64> = hits
        .iter()
        .filter(|h| file_name(h) == "notes.txt")
        .map(|h| h.chunk.id)
        .collect();
    std::fs::remove_file(&notes).unwrap();
    let r = rag
        .rescan_blocking(Default::default(), &mut |_| {}, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(r.files_removed, 1);
    assert_eq!(r.files_indexed, 0);
    assert!(rag.chunks(&before).unwrap().is_empty());
    assert!(before.iter().all(|id| !rag.has_vector(*id)));
}

#[test]
fn remove_deletes_a_document_from_sqlite_fts_and_usearch() {
    let (_tmp, docs, rag, _) = indexed();
    let guide = docs.join("guide.md").canonicalize().unwrap();
    let ids: Vec<i64> = rag
        .search("backups snapshots", &SearchOptions::default().ungated())
        .unwrap()
        .into_iter()
        .filter(|h| h.chunk.path == guide)
        .map(|h| h.chunk.id)
        .collect();
    assert!(!ids.is_empty());
    assert_eq!(rag.remove(&guide.to_string_lossy()).unwrap(), 1);
    assert!(rag.chunks(&ids).unwrap().is_empty());
    assert!(ids.iter().all(|id| !rag.has_vector(*id)));
    let hits = rag
        .search(
            "fourteen snapshots zstd",
            &SearchOptions::default().ungated(),
        )
        .unwrap();
    assert!(hits.iter().all(|h| h.chunk.path != guide));
    assert!(rag.remove("no-such-file.md").is_err());
}

#[test]
fn broken_and_hostile_files_are_skipped_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("broken");
    common::copy_tree(&assets().join("broken"), &dir);
    std::fs::copy(assets().join("docs/guide.md"), dir.join("ok.md")).unwrap();
    let rag = open(&tmp.path().join("index"));
    let r = add(&rag, &dir);
    assert_eq!(r.files_indexed, 1, "{r:?}");
    assert_eq!(r.files_skipped, 4, "{r:?}");
    let reason = |name: &str| {
        r.skipped
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, why)| why.clone())
            .unwrap_or_default()
    };
    assert!(reason("binary.txt").contains("binary"), "{r:?}");
    assert!(reason("notzip.docx").contains("zip"), "{r:?}");
    assert!(reason("bomb.docx").contains("zip bomb"), "{r:?}");
    assert!(!reason("truncated.pdf").is_empty(), "{r:?}");
    // Skips are recorded, and re-adding does not retry unchanged files.
    let docs = rag.documents().unwrap();
    assert_eq!(docs.iter().filter(|d| d.status == "skipped").count(), 4);
    let again = add(&rag, &dir);
    assert_eq!(again.files_unchanged, 5, "{again:?}");
}

#[test]
fn a_very_long_file_is_indexed_up_to_the_chunk_limit_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("long");
    std::fs::create_dir_all(&dir).unwrap();
    let para = "The lighthouse keeper logs the tide every hour and trims the lamp wick at dusk. ";
    let text: String = (0..40)
        .map(|i| format!("Entry {i}. {}\n\n", para.repeat(6)))
        .collect();
    std::fs::write(dir.join("log.txt"), text).unwrap();
    std::fs::copy(assets().join("docs/guide.md"), dir.join("ok.md")).unwrap();
    let rag = open(&tmp.path().join("index"));
    let opts = IngestOptions {
        chunk: omnidesk::rag::chunk::ChunkParams {
            max_chunks: 5,
            ..Default::default()
        },
        ..Default::default()
    };
    let r = rag
        .add_blocking(
            std::slice::from_ref(&dir),
            &opts,
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
    assert_eq!(r.files_indexed, 2, "{r:?}");
    assert_eq!(r.truncated.len(), 1, "{r:?}");
    let (path, made) = &r.truncated[0];
    assert!(path.ends_with("log.txt"), "{r:?}");
    assert!(*made > 5, "{r:?}");
    let docs = rag.documents().unwrap();
    let log = docs.iter().find(|d| d.path.ends_with("log.txt")).unwrap();
    assert_eq!(log.chunk_count, 5, "{log:?}");
    assert!(docs
        .iter()
        .any(|d| d.path.ends_with("ok.md") && d.chunk_count > 0));
}

#[test]
fn corrupt_usearch_file_is_rebuilt_from_sqlite() {
    let (tmp, _docs, rag, report) = indexed();
    let before = rag.chunk_set().unwrap();
    drop(rag);
    let index = tmp.path().join("index");
    std::fs::write(index.join("vectors.usearch"), b"garbage, not an index").unwrap();
    let rag = open(&index);
    let stats = rag.stats().unwrap();
    assert!(stats.rebuilt_vectors);
    assert_eq!(
        stats.reembedded, 0,
        "rebuilt from stored vectors, not re-embedded"
    );
    assert_eq!(stats.vectors, report.chunks_added);
    assert_eq!(rag.chunk_set().unwrap(), before);
    assert_eq!(
        file_name(&top(&rag, "When do the nightly backups run?")[0]),
        "guide.md"
    );
    drop(rag);
    // A clean reopen loads the saved file.
    let rag = open(&index);
    assert!(!rag.stats().unwrap().rebuilt_vectors);
}

/// A different "model": hashed words, 64 dimensions.
struct OtherModel;

impl Embedder for OtherModel {
    fn model_id(&self) -> &str {
        "other-model:64"
    }
    fn dimension(&self) -> usize {
        64
    }
    fn embed(&self, texts: &[&str]) -> omnidesk::rag::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 64];
                for w in t.split_whitespace() {
                    let h = w
                        .bytes()
                        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
                    v[(h % 64) as usize] += 1.0;
                }
                v[0] += 0.01;
                normalize(&v)
            })
            .collect())
    }
}

#[test]
fn changing_the_embedding_model_reembeds_everything() {
    let (tmp, _docs, rag, report) = indexed();
    drop(rag);
    let index = tmp.path().join("index");
    let other = Rag::open(&index, Arc::new(OtherModel)).unwrap();
    let stats = other.stats().unwrap();
    assert_eq!(stats.reembedded, report.chunks_added);
    assert_eq!(stats.vectors, report.chunks_added);
    assert!(!other
        .search("backups", &SearchOptions::default().ungated())
        .unwrap()
        .is_empty());
    drop(other);
    let back = open(&index);
    assert_eq!(back.stats().unwrap().reembedded, report.chunks_added);
    assert_eq!(
        file_name(&top(&back, "When do the nightly backups run?")[0]),
        "guide.md"
    );
}

fn omnidesk(data: &Path) -> Command {
    std::fs::create_dir_all(data).unwrap();
    let config = data.join("config.toml");
    std::fs::write(&config, "[engine]\nthreads = 2\n").unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
    c.env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env("OMNIDESK_EMBED_MODEL", common::embed_model())
        .env_remove("OMNIDESK_MODEL");
    c
}

fn chunk_set(index: &Path) -> Vec<(String, i64, String)> {
    open(index).chunk_set().unwrap()
}

#[test]
fn sigkill_mid_ingest_then_resume_gives_the_same_index() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for i in 0..40 {
        let mut s = format!("# Report {i}\n\n");
        for p in 0..10 {
            s.push_str(&format!(
                "Section {p} of report {i} describes shipment {} arriving at dock {} with {} crates of equipment and spare parts.\n\n",
                i * 100 + p,
                p % 7,
                (i * 13 + p * 7) % 97
            ));
        }
        std::fs::write(corpus.join(format!("report{i:03}.md")), s).unwrap();
    }
    // Uninterrupted reference.
    let clean = tmp.path().join("clean");
    let out = omnidesk(&clean)
        .args(["docs", "add"])
        .arg(&corpus)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Killed partway: wait until some documents are committed, then SIGKILL.
    let killed = tmp.path().join("killed");
    let mut child = omnidesk(&killed)
        .args(["docs", "add"])
        .arg(&corpus)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let db = killed.join("rag/index.db");
    let started = Instant::now();
    loop {
        let n: i64 =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| c.query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0)))
                .unwrap_or(0);
        if n >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "ingest never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let partial = chunk_set(&killed.join("rag"));
    let full = chunk_set(&clean.join("rag"));
    assert!(
        partial.len() < full.len(),
        "the kill came too late to test anything"
    );

    let out = omnidesk(&killed)
        .args(["docs", "add", "--json"])
        .arg(&corpus)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["files_unchanged"].as_u64().unwrap() >= 5, "{report}");
    // A kill that landed while a file was with the parser leaves its
    // "being parsed" mark: that file is skipped until it changes.
    let unfinished: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    assert!(unfinished.len() <= 1, "{report}");
    if let Some(path) = unfinished.first() {
        assert!(report["skipped"][0][1]
            .as_str()
            .unwrap()
            .contains("did not finish"));
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        let out = omnidesk(&killed)
            .args(["docs", "add"])
            .arg(&corpus)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    assert_eq!(chunk_set(&killed.join("rag")), full);
    // And the vector index agrees with SQLite after the resume.
    let rag = open(&killed.join("rag"));
    let stats = rag.stats().unwrap();
    assert_eq!(stats.vectors, stats.chunks);
}

#[test]
fn cli_docs_commands_and_ask_with_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    common::copy_tree(&assets().join("docs"), &docs);
    let out = omnidesk(&data)
        .args(["docs", "add", "--collection", "work"])
        .arg(&docs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = omnidesk(&data)
        .args(["docs", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["documents"].as_array().unwrap().len(), 7);
    assert_eq!(list["documents"][0]["collection"], "work");

    let out = omnidesk(&data)
        .args(["docs", "search", "--json", "pressure relief valve"])
        .output()
        .unwrap();
    let res: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(res["results"][0]["chunk"]["path"]
        .as_str()
        .unwrap()
        .ends_with("manual.pdf"));

    let out = omnidesk(&data)
        .args([
            "docs",
            "search",
            "Which football club won the 1998 championship final?",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing relevant found"));

    let out = omnidesk(&data)
        .args([
            "ask",
            "--docs",
            "--json",
            "--temp",
            "0",
            "--max-tokens",
            "40",
            "-c",
            "2048",
        ])
        .arg("--model")
        .arg(common::test_model())
        .arg("When do the nightly backups run?")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ans: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = ans["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{ans}");
    for s in sources {
        assert!(Path::new(s["path"].as_str().unwrap()).is_file(), "{s}");
    }
    assert!(sources[0]["path"].as_str().unwrap().ends_with("guide.md"));
    assert!(ans["citations"].is_object());
    assert!(ans["stats"]["prompt_tokens"].as_u64().unwrap() < 2048);

    let out = omnidesk(&data)
        .args(["docs", "remove"])
        .arg(docs.join("guide.md"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = omnidesk(&data)
        .args(["docs", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["documents"].as_array().unwrap().len(), 6);
}

#[test]
fn rag_eval_reports_each_mode_per_language_and_the_relevance_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let out = omnidesk(&tmp.path().join("data"))
        .args(["rag", "eval", "--json", "--qa"])
        .arg(assets().parent().unwrap().join("rag-eval/qa.jsonl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["questions"], 25, "{r}");
    for mode in ["keyword", "vector", "hybrid"] {
        let m = &r["modes"][mode];
        assert_eq!(m["by_lang"]["en"]["questions"], 17, "{r}");
        assert_eq!(m["by_lang"]["zh"]["questions"], 8, "{r}");
        assert!(m["query_ms_mean"].as_f64().unwrap() > 0.0, "{r}");
    }
    // The small set is easy: hybrid finds nearly every page first.
    assert!(
        r["modes"]["hybrid"]["all"]["recall@5"].as_f64().unwrap() >= 0.9,
        "{r}"
    );
    assert_eq!(r["gate"]["absent"], 3, "{r}");
    assert!(r["gate"]["absent_refused"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["gate"]["present_refused"], 0, "{r}");
}

#[test]
fn docs_use_the_manifest_default_embedding_model_when_none_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    common::copy_tree(&assets().join("docs"), &docs);
    let docs_cmd = |args: &[&str]| {
        let mut c = omnidesk(&data);
        c.env_remove("OMNIDESK_EMBED_MODEL").args(args);
        c
    };
    // Nothing configured or downloaded: a hint naming the default.
    let out = docs_cmd(&["docs", "add"]).arg(&docs).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("omnidesk models pull all-minilm-l6-v2-f16"),
        "{err}"
    );
    // The default, under its manifest name in the models dir.
    let manifest = omnidesk::models::Manifest::builtin().unwrap();
    let entry = manifest
        .get(manifest.default_embedding.as_deref().unwrap())
        .unwrap();
    let models = data.join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::copy(common::embed_model(), models.join(&entry.model_file().name)).unwrap();
    let out = docs_cmd(&["docs", "add"]).arg(&docs).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = docs_cmd(&["docs", "search", "--json", "pressure relief valve"])
        .output()
        .unwrap();
    let res: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hit = &res["results"][0];
    assert!(hit["chunk"]["path"]
        .as_str()
        .unwrap()
        .ends_with("manual.pdf"));
    assert!(hit["vector_rank"].is_number(), "{hit}");
}

/// Take watch batches until `done` holds after one; returns their
/// reports summed.
fn watch_until(
    rx: &std::sync::mpsc::Receiver<omnidesk::rag::WatchEvent>,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> IngestReport {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sum = IngestReport::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(omnidesk::rag::WatchEvent::Updated { report, .. }) => {
                sum.files_indexed += report.files_indexed;
                sum.files_unchanged += report.files_unchanged;
                sum.files_removed += report.files_removed;
                sum.embedded += report.embedded;
                sum.chunks_removed += report.chunks_removed;
            }
            Ok(omnidesk::rag::WatchEvent::Failed(e)) => panic!("watch batch failed: {e}"),
            Err(_) => panic!("no watch update for: {what}"),
        }
        if done() {
            return sum;
        }
    }
}

#[test]
fn watching_a_folder_indexes_changes_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    std::fs::write(
        docs.join("ferry.md"),
        "# Boats\n\nThe harbour ferry leaves at seven every morning.",
    )
    .unwrap();
    std::fs::write(
        docs.join("sub/bread.txt"),
        "Bread needs flour, water and salt.",
    )
    .unwrap();
    let rag = open(&tmp.path().join("index"));
    assert_eq!(add(&rag, &docs).files_indexed, 2);
    let (tx, rx) = std::sync::mpsc::channel();
    let watch = rag
        .watch(Duration::from_millis(300), Default::default(), move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
    let paths = |rag: &Rag| -> Vec<String> {
        rag.documents()
            .unwrap()
            .into_iter()
            .map(|d| d.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let found = |rag: &Rag, q: &str, file: &str| {
        rag.search(q, &SearchOptions::default())
            .unwrap()
            .first()
            .is_some_and(|h| file_name(h) == file)
    };

    // A new file: only it is read and embedded; the others are not walked.
    std::fs::write(
        docs.join("volcano.md"),
        "# Volcanoes\n\nMount Etna erupted again in the spring, sending ash over Catania.",
    )
    .unwrap();
    let sum = watch_until(&rx, "a new file", || {
        paths(&rag).contains(&"volcano.md".into())
    });
    assert_eq!((sum.files_indexed, sum.files_unchanged), (1, 0), "{sum:?}");
    assert!(found(
        &rag,
        "Which volcano erupted near Catania?",
        "volcano.md"
    ));

    // A changed file is re-embedded with its new text.
    std::fs::write(
        docs.join("sub/bread.txt"),
        "Sourdough starter must be fed with rye flour twice a day.",
    )
    .unwrap();
    watch_until(&rx, "a changed file", || {
        found(&rag, "How often is the sourdough starter fed?", "bread.txt")
    });

    // A removed file leaves both indexes; a hidden file is ignored.
    std::fs::write(docs.join(".ferry.md.swp"), "editor swap").unwrap();
    std::fs::remove_file(docs.join("ferry.md")).unwrap();
    let sum = watch_until(&rx, "a removed file", || {
        !paths(&rag).contains(&"ferry.md".into())
    });
    assert_eq!(sum.files_removed, 1, "{sum:?}");
    assert!(!paths(&rag).iter().any(|p| p.starts_with('.')));
    let stats = rag.stats().unwrap();
    assert_eq!(stats.vectors, stats.chunks);

    // A removed folder takes its documents with it.
    std::fs::remove_dir_all(docs.join("sub")).unwrap();
    watch_until(&rx, "a removed folder", || {
        !paths(&rag).contains(&"bread.txt".into())
    });
    assert_eq!(paths(&rag), ["volcano.md"]);
    drop(watch);
}

#[test]
fn cli_docs_watch_reports_changes_and_stops_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("a.md"),
        "# Tea\n\nGreen tea is steeped at 80 degrees.",
    )
    .unwrap();
    let out = omnidesk(&data)
        .args(["docs", "add"])
        .arg(&docs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = omnidesk(&data)
        .args(["docs", "watch", "--json", "--debounce-ms", "200"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    let out_tx = tx.clone();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send((true, l));
        }
    });
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send((false, l));
        }
    });
    let wait_for = |pred: &dyn Fn(bool, &str) -> bool, what: &str| loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok((is_out, l)) if pred(is_out, &l) => return l,
            Ok(_) => {}
            Err(_) => panic!("no {what} from docs watch"),
        }
    };
    let rescan = wait_for(&|o, l| o && l.contains("\"rescan\""), "rescan report");
    let rescan: serde_json::Value = serde_json::from_str(&rescan).unwrap();
    assert_eq!(rescan["rescan"]["files_unchanged"], 1, "{rescan}");
    wait_for(&|o, l| !o && l.starts_with("watching "), "watching line");

    std::fs::write(
        docs.join("b.md"),
        "# Coffee\n\nEspresso is brewed at 9 bar.",
    )
    .unwrap();
    let line = wait_for(&|o, l| o && l.contains("\"report\""), "a batch report");
    let batch: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(batch["report"]["files_indexed"], 1, "{batch}");
    assert!(
        batch["paths"][0].as_str().unwrap().ends_with("b.md"),
        "{batch}"
    );

    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "docs watch did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// An index written before the word-level keyword index existed (schema
/// 1) gains it on open, filled from the stored chunks.
#[test]
fn an_older_index_gets_its_word_index_built_on_open() {
    let (tmp, _docs, rag, _report) = indexed();
    drop(rag);
    let db = tmp.path().join("index/index.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "DROP TRIGGER chunks_words_ai; DROP TRIGGER chunks_words_ad;
             DROP TABLE chunks_words_vocab; DROP TABLE chunks_words;
             DROP TABLE parsing;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let rag = open(&tmp.path().join("index"));
    let keyword = SearchOptions {
        mode: omnidesk::rag::SearchMode::Keyword,
        ..SearchOptions::default()
    }
    .ungated();
    let hits = rag.search("nightly backups", &keyword).unwrap();
    assert_eq!(file_name(&hits[0]), "guide.md");
    // Chinese still goes through the trigram index.
    let hits = rag.search("数据库备份", &keyword).unwrap();
    assert_eq!(file_name(&hits[0]), "数据库.md");
}
