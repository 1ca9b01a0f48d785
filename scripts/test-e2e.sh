#!/usr/bin/env bash
# End-to-end test of the desktop app: the real binary in a real WebKitGTK
# WebView under Xvfb, driven by tauri-driver + WebKitWebDriver, answering
# with the real test model. Screenshots land in
# $CARGO_TARGET_DIR/debug/e2e-screenshots/. Expects scripts/setup.sh to have
# run (xvfb, webkit2gtk-driver, imagemagick, node) and OMNIDESK_TEST_MODEL.
set -euo pipefail
cd "$(dirname "$0")/.."

export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
if [ -x "$OMNIDESK_CACHE/node-venv/bin/node" ]; then export PATH="$OMNIDESK_CACHE/node-venv/bin:$PATH"; fi
log() { printf '[e2e] %s\n' "$*" >&2; }

# tauri-driver is only on crates.io; keep one build of it in the cache.
TOOLS="$OMNIDESK_CACHE/tools"
if [ ! -x "$TOOLS/bin/tauri-driver" ]; then
    log "installing tauri-driver into $TOOLS (a few minutes, once)"
    nice cargo install tauri-driver --version '^2' --locked --root "$TOOLS" >&2
fi
export TAURI_DRIVER="$TOOLS/bin/tauri-driver"

# test.sh has built ui/dist already: building it again gives it new file
# times, and the app (which embeds it) would be compiled again (~2 min).
[ "${OMNIDESK_UI_BUILT:-0}" = 1 ] || scripts/build-ui.sh
# Same package/target selection as scripts/test.sh, so cargo's feature
# unification matches and nothing (llama.cpp above all) is rebuilt.
log "cargo test: the ignored window test"
cargo test --workspace --all-targets --locked app_answers_streams_stops_persists_and_takes_images -- --ignored --nocapture
