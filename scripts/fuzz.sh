#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on a stable toolchain (no nightly,
# no cargo-fuzz needed): builds the targets in fuzz/ with sanitizer-coverage
# flags and runs each for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Seeds come from scripts/make-hostile-corpus.py; findings land in
# fuzz/artifacts/<target>/ (replay one: target/…/<target> FILE). The build
# has its own target dir (RUSTFLAGS differ from the main build), so the first
# run compiles llama.cpp once more; CI runs the bounded stable runner
# (tests/fuzz.rs) instead. With cargo-fuzz installed, `cd fuzz && cargo
# fuzz run -s none doc_html` works on stable too (AddressSanitizer, its
# default, needs nightly).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
SECONDS_PER_TARGET="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(gguf_precheck tool_call_parse doc_text doc_markdown doc_html doc_pdf doc_docx audio_decode image_decode)
fi
OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${OMNIDESK_FUZZ_TARGET_DIR:-$OMNIDESK_CACHE/fuzz-target}"
# What cargo-fuzz passes (all stable -C flags), minus -Zsanitizer.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
# --target keeps RUSTFLAGS off build scripts and proc macros.
cargo build --manifest-path fuzz/Cargo.toml --release --target "$TRIPLE" --bins
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
base=()
if [ -n "${OMNIDESK_TEST_OMNI_DIR:-}" ]; then base=(--base-gguf "$OMNIDESK_TEST_OMNI_DIR/omni-tiny.gguf"); fi
python3 scripts/make-hostile-corpus.py "$corpus" "${base[@]}" >/dev/null
for t in "${TARGETS[@]}"; do
    work="fuzz/corpus/$t"
    mkdir -p "$work" "fuzz/artifacts/$t"
    cp -n "$corpus/seeds/$t/"* "$work/" 2>/dev/null || true
    echo "[fuzz] $t for ${SECONDS_PER_TARGET}s" >&2
    "$CARGO_TARGET_DIR/$TRIPLE/release/$t" "$work" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -timeout=30 -max_len=1048576 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1
done
