//! Untrusted parsing in a child process, end to end: hostile files made
//! here by code (recursive PDFs, a truncated one, deep nesting, HTML with
//! `&` before Chinese text) next to good notes, through the real `omnidesk`
//! binary and its parse worker, the real MiniLM model and SQLite; workers
//! that hang or lie are small shell scripts.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use omnidesk::rag::db::{Db, FileState};
use omnidesk::rag::isolate::{ParseLimits, ParseSession, Parsed, ParserConfig};
use omnidesk::rag::parse::Format;
use omnidesk::rag::{Embedder, IngestOptions, IngestReport, LlamaEmbedder, Rag};
use sha2::{Digest, Sha256};

fn embedder() -> Arc<dyn Embedder> {
    static E: OnceLock<Arc<LlamaEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(LlamaEmbedder::start(&common::embed_model(), Some(2)).expect("MiniLM loads"))
    })
    .clone()
}

fn worker() -> ParserConfig {
    ParserConfig::child(env!("CARGO_BIN_EXE_omnidesk"))
}

fn omnidesk(data: &Path) -> Command {
    std::fs::create_dir_all(data).unwrap();
    let config = data.join("config.toml");
    std::fs::write(&config, "[engine]\nthreads = 2\n").unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnidesk"));
    c.env("OMNIDESK_DATA_DIR", data)
        .env("OMNIDESK_CONFIG", &config)
        .env("OMNIDESK_EMBED_MODEL", common::embed_model())
        // The binary must find its worker by itself (self-exec).
        .env_remove("OMNIDESK_PARSE_WORKER")
        .env_remove("OMNIDESK_MODEL");
    c
}

fn run_json(c: &mut Command) -> serde_json::Value {
    let out = c.output().unwrap();
    assert_ok(&out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn assert_ok(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {err}", out.status);
    assert!(!err.contains("overflowed its stack"), "{err}");
}

/// A PDF with a correct xref table around `objects` (object `i + 1`).
fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn obj(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn stream(dict: &str, content: &str) -> Vec<u8> {
    format!(
        "<< {dict} /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
    .into_bytes()
}

const FONT: &str = "/Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >> >>";

/// A page that is its own `/Parent`.
fn self_parent_pdf() -> Vec<u8> {
    pdf(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj("<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"),
        stream("", "BT /F1 12 Tf 72 720 Td (Hello) Tj ET"),
    ])
}

/// A form XObject that draws itself.
fn self_drawing_pdf() -> Vec<u8> {
    pdf(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << {FONT} /XObject << /X1 5 0 R >> >> >>"
        )),
        stream("", "BT /F1 12 Tf 72 720 Td (Loop) Tj ET /X1 Do"),
        stream(
            &format!(
                "/Type /XObject /Subtype /Form /BBox [0 0 612 792] \
                 /Resources << {FONT} /XObject << /X1 5 0 R >> >>"
            ),
            "BT /F1 12 Tf 72 700 Td (again) Tj ET /X1 Do",
        ),
    ])
}

/// A valid one-page PDF cut in the middle.
fn truncated_pdf() -> Vec<u8> {
    let whole = pdf(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << {FONT} >> >>"
        )),
        stream("", "BT /F1 12 Tf 72 720 Td (Truncated text) Tj ET"),
    ]);
    whole[..whole.len() / 2].to_vec()
}

/// Arrays nested 200,000 deep in a page's text operators.
fn nested_pdf() -> Vec<u8> {
    let depth = 200_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    pdf(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << {FONT} >> >>"
        )),
        stream("", &format!("BT /F1 12 Tf 72 720 Td {nested} TJ ET")),
    ])
}

const HTML: &str = "<html><body><h1>研发&数据库备份</h1>\
    <p>研发&数据库每天凌晨三点备份到异地机房，保留三十天。</p>\
    <p>R&D keeps the database backups for thirty days.</p></body></html>";

const HOSTILE: [&str; 4] = [
    "self-parent.pdf",
    "self-drawing.pdf",
    "truncated.pdf",
    "nested.pdf",
];

/// Hostile PDFs, the HTML page and two good notes in `dir`.
fn folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("self-parent.pdf"), self_parent_pdf()).unwrap();
    std::fs::write(dir.join("self-drawing.pdf"), self_drawing_pdf()).unwrap();
    std::fs::write(dir.join("truncated.pdf"), truncated_pdf()).unwrap();
    std::fs::write(dir.join("nested.pdf"), nested_pdf()).unwrap();
    std::fs::write(dir.join("page.html"), HTML).unwrap();
    std::fs::write(
        dir.join("ferry.md"),
        "# Ferry\n\nThe ferry to Lindholm island leaves from pier 4 at 7:15 every morning.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bread.txt"),
        "Sourdough bread needs flour, water, salt and a mature starter.\n",
    )
    .unwrap();
}

fn skipped(report: &serde_json::Value) -> Vec<(String, String)> {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let path = s[0].as_str().unwrap();
            let name = Path::new(path).file_name().unwrap().to_string_lossy();
            (name.into_owned(), s[1].as_str().unwrap().to_string())
        })
        .collect()
}

fn top_file(data: &Path, query: &str) -> String {
    let res = run_json(omnidesk(data).args(["docs", "search", "--json", query]));
    let path = res["results"][0]["chunk"]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("nothing found for {query:?}: {res}"));
    Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn docs_add_skips_hostile_files_with_reasons_and_indexes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    folder(&docs);

    let report = run_json(omnidesk(&data).args(["docs", "add", "--json"]).arg(&docs));
    let skips = skipped(&report);
    let names: Vec<&str> = skips.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = HOSTILE.to_vec();
    expected.sort();
    assert_eq!(names, expected, "{report}");
    assert_eq!(report["files_indexed"], 3, "{report}");
    let reason = |name: &str| &skips.iter().find(|(n, _)| n == name).unwrap().1;
    // The two recursions end in the worker, not in us.
    for name in ["self-parent.pdf", "self-drawing.pdf"] {
        assert_eq!(
            reason(name),
            "the pdf parser crashed on this file (stack overflow)",
            "{name}"
        );
    }
    assert!(
        reason("truncated.pdf").contains("malformed PDF"),
        "{report}"
    );
    assert!(reason("nested.pdf").contains("crashed"), "{report}");

    // The good ones are found, the Chinese HTML included.
    assert_eq!(
        top_file(&data, "When does the ferry leave the pier?"),
        "ferry.md"
    );
    assert_eq!(top_file(&data, "数据库备份"), "page.html");

    // `docs list` shows why each bad file was skipped.
    let list = run_json(omnidesk(&data).args(["docs", "list", "--json"]));
    let docs_json = list["documents"].as_array().unwrap();
    assert_eq!(docs_json.len(), 7);
    for d in docs_json {
        let name = d["path"].as_str().unwrap();
        if HOSTILE.iter().any(|h| name.ends_with(h)) {
            assert_eq!(d["status"], "skipped", "{d}");
            assert!(!d["skip_reason"].as_str().unwrap().is_empty(), "{d}");
        } else {
            assert_eq!(d["status"], "ingested", "{d}");
        }
    }
    let out = omnidesk(&data).args(["docs", "list"]).output().unwrap();
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(reason("self-parent.pdf")), "{text}");

    // Unchanged bad files are not parsed again.
    let again = run_json(omnidesk(&data).args(["docs", "add", "--json"]).arg(&docs));
    assert_eq!(again["files_unchanged"], 7, "{again}");
    assert_eq!(again["files_skipped"], 0, "{again}");

    // One that changes is: fixed, it is indexed.
    std::fs::write(
        docs.join("self-parent.pdf"),
        pdf(&[
            obj("<< /Type /Catalog /Pages 2 0 R >>"),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
                 /Resources << {FONT} >> >>"
            )),
            stream(
                "",
                "BT /F1 12 Tf 72 720 Td (The lighthouse keeper logs the fog signal hourly.) Tj ET",
            ),
        ]),
    )
    .unwrap();
    let third = run_json(omnidesk(&data).args(["docs", "rescan", "--json"]));
    assert_eq!(third["files_unchanged"], 6, "{third}");
    assert_eq!(third["files_indexed"], 1, "{third}");
    assert_eq!(
        top_file(
            &data,
            "How often does the lighthouse keeper log the fog signal?"
        ),
        "self-parent.pdf"
    );
}

#[test]
fn a_being_parsed_mark_left_by_a_crash_skips_the_file_until_it_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let good = docs.join("good.md");
    let crashed = docs.join("crashed.md");
    std::fs::write(&good, "# Bees\n\nA honey bee colony has one queen.\n").unwrap();
    std::fs::write(&crashed, "# Owls\n\nBarn owls hunt by sound at night.\n").unwrap();
    // A process marked crashed.md and died before clearing the mark.
    let path = crashed.canonicalize().unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    let state = FileState {
        size: meta.len(),
        mtime: meta
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
        sha256: Sha256::digest(std::fs::read(&path).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    };
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    Db::open(&data.join("rag/index.db"))
        .unwrap()
        .mark_parsing(&path, &state, dead_pid)
        .unwrap();

    let report = run_json(omnidesk(&data).args(["docs", "add", "--json"]).arg(&docs));
    assert_eq!(report["files_indexed"], 1, "{report}");
    assert_eq!(
        skipped(&report),
        [(
            "crashed.md".to_string(),
            omnidesk::rag::ingest::UNFINISHED_PARSE.to_string()
        )]
    );
    let db = Db::open(&data.join("rag/index.db")).unwrap();
    assert_eq!(db.parse_mark(&path).unwrap(), None, "the mark is used up");
    drop(db);
    let again = run_json(omnidesk(&data).args(["docs", "add", "--json"]).arg(&docs));
    assert_eq!(again["files_unchanged"], 2, "{again}");

    // Touched (same bytes, new mtime), it is parsed again and indexed.
    let f = std::fs::File::options().write(true).open(&crashed).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let third = run_json(omnidesk(&data).args(["docs", "add", "--json"]).arg(&docs));
    assert_eq!(third["files_indexed"], 1, "{third}");
    assert_eq!(top_file(&data, "How do barn owls hunt?"), "crashed.md");
}

/// A shell script that greets like a worker, then does `then`.
fn fake_worker(dir: &Path, name: &str, then: &str) -> PathBuf {
    let hello = br#"{"worker":"omnidesk-parse","protocol":1}"#;
    let mut frame = (hello.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(hello);
    let octal: String = frame.iter().map(|b| format!("\\{b:03o}")).collect();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nprintf '{octal}'\n{then}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

fn add_with(rag: &Rag, dir: &Path, cancel: &AtomicBool) -> IngestReport {
    rag.add_blocking(
        &[dir.to_path_buf()],
        &IngestOptions::default(),
        &mut |_| {},
        cancel,
    )
    .unwrap()
}

#[test]
fn cancel_ends_a_worker_stuck_in_a_file_and_leaves_it_unrecorded() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("slow.md"), "# Slow\n\nThis one never finishes.\n").unwrap();
    let stuck = fake_worker(tmp.path(), "stuck.sh", "exec sleep 600");
    let index = tmp.path().join("index");
    let rag = Rag::open(&index, embedder())
        .unwrap()
        .with_parser(ParserConfig::child(&stuck));
    let cancel = Arc::new(AtomicBool::new(false));
    let job = {
        let (rag, docs, cancel) = (rag.clone(), docs.clone(), cancel.clone());
        std::thread::spawn(move || add_with(&rag, &docs, &cancel))
    };
    // Wait until the file is with the worker, then cancel.
    let started = Instant::now();
    loop {
        let marks: i64 = rusqlite::Connection::open(index.join("index.db"))
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM parsing", [], |r| r.get(0)))
            .unwrap_or(0);
        if marks == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never parsed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let cancelled_at = Instant::now();
    cancel.store(true, Ordering::Relaxed);
    let report = job.join().unwrap();
    // Bound, not a speed claim: the worker sleeps for 600 s.
    assert!(cancelled_at.elapsed() < Duration::from_secs(30));
    assert!(report.cancelled, "{report:?}");
    assert_eq!(report.files_skipped, 0, "{report:?}");
    assert!(rag.documents().unwrap().is_empty(), "nothing recorded");

    // A cancelled file is not held against it: the real worker indexes it.
    let rag = rag.with_parser(worker());
    let report = add_with(&rag, &docs, &AtomicBool::new(false));
    assert_eq!(report.files_indexed, 1, "{report:?}");
}

#[test]
fn workers_that_hang_or_lie_cost_their_file_only() {
    let tmp = tempfile::tempdir().unwrap();
    let stuck = fake_worker(tmp.path(), "stuck.sh", "exec sleep 600");
    let liar = fake_worker(
        tmp.path(),
        "liar.sh",
        "head -c 4 >/dev/null; printf 'garbage, not a frame at all'; exec sleep 600",
    );
    let dies = fake_worker(tmp.path(), "dies.sh", "head -c 4 >/dev/null; kill -SEGV $$");
    let no = AtomicBool::new(false);
    let limits = ParseLimits {
        wall: Duration::from_secs(1),
        ..ParseLimits::default()
    };

    let mut s = ParseSession::new(ParserConfig::child(&stuck).with_limits(limits));
    for _ in 0..2 {
        match s.parse(Format::Text, b"some text", &no).unwrap() {
            Parsed::Skipped(r) => assert!(r.0.contains("took longer than 1 s"), "{r}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(s.workers_started(), 2, "a new worker after the killed one");

    let mut s = ParseSession::new(ParserConfig::child(&liar).with_limits(limits));
    match s.parse(Format::Text, b"some text", &no).unwrap() {
        Parsed::Skipped(r) => assert!(r.0.contains("garbage"), "{r}"),
        other => panic!("{other:?}"),
    }

    let mut s = ParseSession::new(ParserConfig::child(&dies).with_limits(limits));
    match s.parse(Format::Text, b"some text", &no).unwrap() {
        Parsed::Skipped(r) => assert_eq!(r.0, "the text parser crashed on this file (signal 11)"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_real_worker_parses_many_files_and_survives_nothing_it_should_not() {
    let mut s = ParseSession::new(worker());
    let no = AtomicBool::new(false);
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/rag/docs");
    for (name, format) in [
        ("guide.md", Format::Markdown),
        ("manual.pdf", Format::Pdf),
        ("policy.docx", Format::Docx),
        ("sub/page.html", Format::Html),
    ] {
        let bytes = std::fs::read(assets.join(name)).unwrap();
        let child = s.parse(format, &bytes, &no).unwrap();
        let here = omnidesk::rag::parse::parse(format, &bytes).unwrap();
        assert_eq!(child, Parsed::Blocks(here), "{name}");
    }
    assert_eq!(s.workers_started(), 1, "one worker for every file");
    // A crash costs one worker; the next file gets a fresh one.
    match s.parse(Format::Pdf, &self_parent_pdf(), &no).unwrap() {
        Parsed::Skipped(r) => assert!(!r.0.is_empty()),
        other => panic!("{other:?}"),
    }
    let after = s.parse(Format::Text, b"still alive", &no).unwrap();
    assert!(matches!(after, Parsed::Blocks(_)), "{after:?}");
}
