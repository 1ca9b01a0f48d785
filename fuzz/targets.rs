//! The fuzz targets' bodies, shared by the libFuzzer binaries in
//! `fuzz/fuzz_targets/` (`cargo fuzz run NAME`) and the bounded stable-Rust
//! runner in `tests/fuzz.rs` that CI runs. Each takes arbitrary bytes and
//! must return without panicking, aborting or hanging; what the library
//! answers (a typed error, a skip reason, a result) is not judged here.

#![allow(dead_code)]

use omnidesk::rag::parse::{parse, Format, Skip};

/// Every target, by the name its binary and seed folder use.
pub const TARGETS: &[&str] = &[
    "gguf_precheck",
    "tool_call_parse",
    "doc_text",
    "doc_markdown",
    "doc_html",
    "doc_pdf",
    "doc_docx",
    "audio_decode",
    "image_decode",
];

/// Run target `name` on `data`.
///
/// # Panics
/// On an unknown name, and (on purpose) when a document parser of ours
/// reports that it panicked: that is a bug the fuzzer must surface.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "gguf_precheck" => gguf_precheck(data),
        "tool_call_parse" => tool_call_parse(data),
        "doc_text" => document(Format::Text, data),
        "doc_markdown" => document(Format::Markdown, data),
        "doc_html" => document(Format::Html, data),
        "doc_pdf" => isolated(Format::Pdf, data),
        "doc_docx" => document(Format::Docx, data),
        "audio_decode" => audio_decode(data),
        "image_decode" => image_decode(data),
        other => panic!("no fuzz target {other}"),
    }
}

/// The pre-check on bytes in memory (the same checks `inspect` runs on a
/// file).
fn gguf_precheck(data: &[u8]) {
    let _ = omnidesk::gguf::inspect_bytes(data);
}

fn tool_call_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = omnidesk::tools::parse::parse(&text);
}

fn document(format: Format, data: &[u8]) {
    match parse(format, data) {
        // pdf-extract panics on much malformed input; `parse` turns that
        // into a skip by design. Our own parsers must not panic at all.
        Err(Skip(reason)) if reason.contains("crashed") && format != Format::Pdf => {
            panic!("the {} parser panicked: {reason}", format.name())
        }
        _ => {}
    }
}

/// PDF goes through the parse worker, as every ingest does: pdf-extract can
/// recurse past any stack on a hostile file, which no process survives, so
/// what must hold is that the *caller* does (the worker's death is a skip).
/// The worker is `$OMNIDESK_PARSE_WORKER` (tests/fuzz.rs sets it to the
/// built `omnidesk`); without it the parse runs here and may crash.
fn isolated(format: Format, data: &[u8]) {
    use omnidesk::rag::isolate::{ParseSession, ParserConfig};
    use std::cell::RefCell;
    thread_local! {
        static SESSION: RefCell<ParseSession> = RefCell::new(ParseSession::new(ParserConfig::from_env()));
    }
    let cancel = std::sync::atomic::AtomicBool::new(false);
    SESSION.with(|s| {
        let _ = s.borrow_mut().parse(format, data, &cancel);
    });
}

fn audio_decode(data: &[u8]) {
    let limits = omnidesk::media::audio::AudioLimits::default();
    let _ = omnidesk::media::audio::load_bytes(data.to_vec(), None, "fuzz", 16_000, &limits);
}

fn image_decode(data: &[u8]) {
    let limits = omnidesk::media::image::ImageLimits::default();
    let _ = omnidesk::media::image::load_bytes(data, "fuzz.png", &limits);
}
