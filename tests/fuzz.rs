//! Bounded fuzzing on stable Rust, part of `cargo test`: every target of
//! `fuzz/targets.rs` (the same bodies the libFuzzer binaries in `fuzz/`
//! run) gets its seeds (valid inputs and the hostile corpus, both from
//! `scripts/make-hostile-corpus.py`) and then mutations of them from a
//! fixed-seed generator, for `OMNIDESK_FUZZ_SECONDS` (default 15) each.
//!
//! Why not libFuzzer here: coverage-guided builds need sanitizer-coverage
//! flags on the omnidesk crate, and on stable the only way to pass them is
//! RUSTFLAGS for the whole graph in a separate target dir, which rebuilds
//! llama.cpp (minutes on CI). `scripts/fuzz.sh` does that build for
//! longer, guided runs.
//!
//! Each target runs in a child process (this test binary re-run as the
//! ignored `fuzz_worker` test) with an address-space limit, so an abort or
//! a stack overflow is a reported finding, with the input saved, instead
//! of the end of the test binary.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const AS_LIMIT: u64 = 4 << 30;
/// Seeds larger than this only run unmutated (parsing 16 MiB per
/// iteration would leave no time for mutations).
const MAX_MUTATED_SEED: usize = 1 << 20;

fn budget() -> Duration {
    let secs = std::env::var("OMNIDESK_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15.0f64);
    Duration::from_secs_f64(secs)
}

/// Corpus classes whose files seed each target.
fn classes(target: &str) -> &'static [&'static str] {
    match target {
        "gguf_precheck" => &["gguf"],
        "doc_text" => &["text"],
        "doc_markdown" => &["markdown"],
        "doc_html" => &["html"],
        "doc_pdf" => &["pdf"],
        "doc_docx" => &["docx"],
        "audio_decode" => &["audio"],
        "image_decode" => &["image"],
        _ => &[],
    }
}

/// The corpus, generated once per test binary into a temp dir.
fn corpus() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("corpus");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-hostile-corpus.py");
        let mut c = Command::new("python3");
        c.arg(&script).arg(&root);
        if let Some(m) = std::env::var_os("OMNIDESK_TEST_OMNI_DIR") {
            c.arg("--base-gguf")
                .arg(PathBuf::from(m).join("omni-tiny.gguf"));
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "corpus script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, root)
    })
    .1
}

/// Seed files for `target`: its valid seeds and the matching hostile cases.
fn seed_files(root: &Path, target: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("seeds").join(target))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    for (_, case) in manifest.as_object().unwrap() {
        if classes(target).contains(&case["class"].as_str().unwrap_or("")) {
            files.push(root.join(case["file"].as_str().unwrap()));
        }
    }
    files.sort();
    files
}

/// xorshift64*: fixed seed, so a run is repeatable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u64] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0xffff_fffb,
    1 << 31,
    1 << 32,
    1 << 40,
    1 << 60,
    u64::MAX,
];

/// One to eight stacked mutations of `input` (with `other` for splices):
/// bit flips, interesting integers over header fields, inserted, deleted,
/// repeated and spliced ranges, truncation.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = d.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
            }
            2 if len >= 8 => {
                let i = rng.below(len - 7);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let bytes = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                let w = [1, 2, 4, 8][rng.below(4)];
                d[i..i + w].copy_from_slice(&bytes[..w]);
            }
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(64);
                let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(i..i, ins);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(4096));
                d.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let chunk = d[i..i + n].to_vec();
                let times = 1 + rng.below(16);
                for _ in 0..times {
                    d.splice(i..i, chunk.iter().copied());
                }
            }
            6 if !other.is_empty() => {
                let cut = rng.below(d.len() + 1);
                let from = rng.below(other.len());
                d.truncate(cut);
                d.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => d.truncate(rng.below(len)),
            _ => {}
        }
    }
    d.truncate(4 << 20);
    d
}

/// The child: runs one target until the budget is spent, writing each
/// input to `OMNIDESK_FUZZ_INPUT` first so a crash leaves it behind.
#[test]
#[ignore = "the child process of the fuzz_* tests; does nothing on its own"]
fn fuzz_worker() {
    let (Ok(target), Ok(seeds), Ok(input_path)) = (
        std::env::var("OMNIDESK_FUZZ_TARGET"),
        std::env::var("OMNIDESK_FUZZ_SEEDS"),
        std::env::var("OMNIDESK_FUZZ_INPUT"),
    ) else {
        return;
    };
    let seeds: Vec<Vec<u8>> = seeds
        .split('\n')
        .filter(|s| !s.is_empty())
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    let mut current = std::fs::File::create(&input_path).unwrap();
    let mut record = |data: &[u8]| {
        current.set_len(0).unwrap();
        current.rewind().unwrap();
        current.write_all(data).unwrap();
    };
    let started = Instant::now();
    let mut runs = 0u64;
    for s in &seeds {
        record(s);
        targets::run(&target, s);
        runs += 1;
    }
    let small: Vec<&Vec<u8>> = seeds
        .iter()
        .filter(|s| s.len() <= MAX_MUTATED_SEED)
        .collect();
    let mut rng = Rng(std::env::var("OMNIDESK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0517_DE5C));
    while !small.is_empty() && started.elapsed() < budget() {
        let a = small[rng.below(small.len())];
        let b = small[rng.below(small.len())];
        let input = mutate(&mut rng, a, b);
        record(&input);
        targets::run(&target, &input);
        runs += 1;
    }
    println!("FUZZ-RUNS {runs}");
}

/// Run `target` in a child; fails with the saved input on any finding.
fn fuzz(target: &str) {
    let root = corpus();
    let seeds = seed_files(root, target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let list: Vec<String> = seeds.iter().map(|p| p.display().to_string()).collect();
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("input.bin");
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "fuzz_worker",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OMNIDESK_FUZZ_TARGET", target)
    .env("OMNIDESK_PARSE_WORKER", env!("CARGO_BIN_EXE_omnidesk"))
    .env("OMNIDESK_FUZZ_SEEDS", list.join("\n"))
    .env("OMNIDESK_FUZZ_INPUT", &input)
    .env("MALLOC_ARENA_MAX", "2")
    .env("TMPDIR", scratch.path())
    .stdin(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: AS_LIMIT,
                rlim_max: AS_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read output on threads so a chatty child never blocks.
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    // A bound on the whole run, not a speed check: budget plus the
    // unmutated seeds (a few seconds) and a wide margin.
    let limit = budget() + Duration::from_secs(120);
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let runs = out
        .lines()
        // libtest prints "test fuzz_worker ... " before the worker's line.
        .find_map(|l| l.split("FUZZ-RUNS ").nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let ok = status.is_some_and(|s| s.success()) && runs != "?";
    if ok {
        eprintln!("fuzz {target}: {runs} inputs, no finding");
        return;
    }
    let saved = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-findings")
        .join(format!("{target}-{}.bin", std::process::id()));
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    let _ = std::fs::copy(&input, &saved);
    let why = match status {
        None => format!("still running after {} s (hang)", limit.as_secs()),
        Some(st) => format!("child ended with {st}"),
    };
    let tail = |s: &str| {
        let mut i = s.len().saturating_sub(2000);
        while !s.is_char_boundary(i) {
            i += 1;
        }
        s[i..].to_string()
    };
    panic!(
        "fuzz {target}: {why}; input saved to {} (replay: `cargo fuzz run {target} {}`); stderr:\n{}",
        saved.display(),
        saved.display(),
        tail(&err)
    );
}

#[test]
fn fuzz_gguf_precheck() {
    fuzz("gguf_precheck");
}

#[test]
fn fuzz_tool_call_parse() {
    fuzz("tool_call_parse");
}

#[test]
fn fuzz_doc_text() {
    fuzz("doc_text");
}

#[test]
fn fuzz_doc_markdown() {
    fuzz("doc_markdown");
}

#[test]
fn fuzz_doc_html() {
    fuzz("doc_html");
}

#[test]
fn fuzz_doc_pdf() {
    fuzz("doc_pdf");
}

#[test]
fn fuzz_doc_docx() {
    fuzz("doc_docx");
}

#[test]
fn fuzz_audio_decode() {
    fuzz("audio_decode");
}

#[test]
fn fuzz_image_decode() {
    fuzz("image_decode");
}

#[test]
fn every_target_has_a_test_and_a_libfuzzer_binary() {
    let me = include_str!("fuzz.rs");
    let manifest = include_str!("../fuzz/Cargo.toml");
    for t in targets::TARGETS {
        assert!(me.contains(&format!("fn fuzz_{t}()")), "{t}: no test here");
        assert!(
            manifest.contains(&format!("name = \"{t}\"")),
            "{t}: no [[bin]] in fuzz/Cargo.toml"
        );
    }
}

#[test]
fn mutations_are_repeatable_from_the_seed() {
    let seed = b"GGUF\x03\x00\x00\x00 some header bytes".to_vec();
    let run = || {
        let mut rng = Rng(7);
        (0..50)
            .map(|_| mutate(&mut rng, &seed, b"other"))
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.iter().any(|m| m != &seed), "mutations change the input");
}
