//! libFuzzer target `doc_pdf`: see `fuzz/targets.rs`.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(
    init: {
        // pdf-extract panics on much malformed input and `parse` turns
        // that into a skip by design; only aborts, overflows and panics
        // outside it are findings (libfuzzer-sys aborts on those itself).
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| targets::run("doc_pdf", data)
);
