//! What parsing in a child process costs per file: every supported file
//! under the given folders, parsed in this process and through one
//! long-lived parse worker (`omnidesk`'s own), `REPS` times each.
//!
//! `cargo run --release --example bench_parse -- target/release/omnidesk assets/rag/docs`
//! (scripts/bench-parse.sh builds both and runs it on the test documents).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use omnidesk::rag::isolate::{ParseSession, Parsed, ParserConfig};
use omnidesk::rag::parse::{self, Format};

fn files(dir: &Path, out: &mut Vec<(PathBuf, Format)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if let Some(f) = Format::of(&p) {
            out.push((p, f));
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(worker) = args.next() else {
        eprintln!("usage: bench_parse OMNIDESK_BINARY DIR...");
        std::process::exit(2);
    };
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut list = Vec::new();
    for d in args {
        files(Path::new(&d), &mut list);
    }
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let docs: Vec<(PathBuf, Format, Vec<u8>)> = list
        .into_iter()
        .filter_map(|(p, f)| std::fs::read(&p).ok().map(|b| (p, f, b)))
        .collect();
    if docs.is_empty() {
        eprintln!("no documents found");
        std::process::exit(2);
    }
    let bytes: usize = docs.iter().map(|d| d.2.len()).sum();
    let no = AtomicBool::new(false);

    let t = Instant::now();
    for _ in 0..reps {
        for (_, f, b) in &docs {
            let _ = parse::parse(*f, b);
        }
    }
    let in_process = t.elapsed().as_secs_f64() * 1000.0 / (reps * docs.len()) as f64;

    let t = Instant::now();
    let mut session = ParseSession::new(ParserConfig::child(&worker));
    let first = session.parse(docs[0].1, &docs[0].2, &no);
    let start_ms = t.elapsed().as_secs_f64() * 1000.0;
    if let Err(e) = first {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let t = Instant::now();
    let mut skipped = 0;
    for _ in 0..reps {
        for (_, f, b) in &docs {
            match session.parse(*f, b, &no) {
                Ok(Parsed::Blocks(_)) => {}
                _ => skipped += 1,
            }
        }
    }
    let child = t.elapsed().as_secs_f64() * 1000.0 / (reps * docs.len()) as f64;
    println!(
        "{} files ({} KiB), {reps} reps; skipped {}",
        docs.len(),
        bytes / 1024,
        skipped / reps
    );
    println!("in process:         {in_process:.3} ms/file");
    println!("in the worker:      {child:.3} ms/file (one long-lived worker)");
    println!(
        "isolation overhead: {:.3} ms/file",
        (child - in_process).max(0.0)
    );
    println!("worker start + first file: {start_ms:.1} ms (once per ingest run)");
    println!("workers started: {}", session.workers_started());
}
