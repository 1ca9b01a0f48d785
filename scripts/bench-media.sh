#!/usr/bin/env bash
# Image and audio encode time: omnidesk bench next to llama.cpp's own
# llama-mtmd-cli (built by scripts/build-reference.sh) on the same model,
# projector, files and threads. Both report encode + decode of the
# embeddings; prints our/reference speed ratios of the medians over REPS.
#
# Usage: scripts/bench-media.sh [MODEL.gguf MMPROJ.gguf]
#        (default: the tiny omni fixture from scripts/make-omni-fixture.sh)
# Env:   THREADS (2)  REPS (3)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
THREADS="${THREADS:-2}" REPS="${REPS:-3}"

if [ "$#" -ge 2 ]; then
    MODEL="$1" MMPROJ="$2"
else
    dir="$(scripts/make-omni-fixture.sh | tail -n 1)"
    MODEL="$dir/omni-tiny.gguf" MMPROJ="$dir/mmproj-omni-tiny.gguf"
fi
for tool in convert sox; do
    command -v "$tool" >/dev/null || { apt-get install -y -qq imagemagick sox >&2; break; }
done
REF_BIN="$(scripts/build-reference.sh | tail -n 1)"
# OMNIDESK_BIN: an already built binary (skips the release build).
if [ -z "${OMNIDESK_BIN:-}" ]; then
    cargo build --release --locked --bin omnidesk >&2
fi
OURS="${OMNIDESK_BIN:-$CARGO_TARGET_DIR/release/omnidesk}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp assets/fixtures/photo-448.jpg "$WORK/image-448.jpg"
/usr/bin/convert assets/fixtures/photo-448.jpg -resize 896x896! "$WORK/image-896.jpg"
sox assets/fixtures/hello.wav -r 16000 -c 1 "$WORK/audio-30s.wav" pad 0 "$(python3 -c 'print(30 - 1.7)')"

ours_json="$(OMNIDESK_CONFIG=/dev/null "$OURS" bench --model "$MODEL" --mmproj "$MMPROJ" -t "$THREADS" \
    -p 0 -g 0 -r "$REPS" --image "$WORK/image-448.jpg" --image "$WORK/image-896.jpg" \
    --audio "$WORK/audio-30s.wav" --json)"

ref_ms() { # flag file -> median of encode+decode ms over REPS runs
    local all=""
    for _ in $(seq "$REPS"); do
        ms=$("$REF_BIN/llama-mtmd-cli" -m "$MODEL" --mmproj "$MMPROJ" "$1" "$2" -p x -n 1 \
                -t "$THREADS" --temp 0 -v 2>&1 |
             awk '/batch encoding done in|decoded \(batch/ { for (i=1;i<=NF;i++) if ($i=="ms") s+=$(i-1) } END { print s+0 }')
        all="$all $ms"
    done
    python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" $all
}
ref_448=$(ref_ms --image "$WORK/image-448.jpg")
ref_896=$(ref_ms --image "$WORK/image-896.jpg")
ref_30s=$(ref_ms --audio "$WORK/audio-30s.wav")

python3 - "$ours_json" "$ref_448" "$ref_896" "$ref_30s" <<'PY'
import json, sys
ours = {m["label"].rsplit("/", 1)[-1]: m for m in json.loads(sys.argv[1])["report"]["media"]}
refs = {"image-448.jpg": float(sys.argv[2]), "image-896.jpg": float(sys.argv[3]), "audio-30s.wav": float(sys.argv[4])}
print(f"{'input':<16}{'cells':>7}{'omnidesk ms':>13}{'mtmd-cli ms':>13}{'speed ratio':>13}")
for name, ref in refs.items():
    m = ours[name]
    med = m["encode_ms"]["median"]
    print(f"{name:<16}{m['n_cells']:>7}{med:>13.1f}{ref:>13.1f}{ref / med:>13.3f}")
PY
