#!/usr/bin/env bash
# The 7B shape, measured (issue 17): a random-weight file with the exact
# tensor shapes and Q4_K_M mix of Qwen2.5-Omni-7B's language model (4.7 GB,
# from scripts/make-omni-fixture.sh --shape 7b-q4km, seed 0, never
# committed), then
#   1. omnidesk bench next to llama-bench (scripts/bench.sh, interleaved);
#   2. the memory-fit estimate `omnidesk info` makes from the GGUF header,
#      next to the peak RSS of a real run at the same context, and the
#      n_gpu_layers `auto` picks (with a GPU when one is present).
# The weights are noise, so the answers are too; the shapes, types and
# therefore the work per token are the real model's.
#
# Usage: scripts/bench-7b-shape.sh
# Env:   THREADS (2)  CTX (4096)  P (64)  N (16)  REPS (1)  ROUNDS (1)
#        OMNIDESK_BIN  a built omnidesk (default: a release build; the
#                      package's dynamic-backends build works too)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
THREADS="${THREADS:-2}" CTX="${CTX:-4096}"
export P="${P:-64}" N="${N:-16}" REPS="${REPS:-1}" ROUNDS="${ROUNDS:-1}" THREADS

MODEL="$(scripts/make-omni-fixture.sh --shape 7b-q4km | tail -n 1)/omni-7b-q4_k_m.gguf"
if [ -z "${OMNIDESK_BIN:-}" ]; then
    cargo build --release --locked --bin omnidesk >&2
    export OMNIDESK_BIN="$CARGO_TARGET_DIR/release/omnidesk"
fi
OUT="$OMNIDESK_CACHE/bench/7b-shape-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

echo "[bench-7b] speed: omnidesk bench next to llama-bench" >&2
scripts/bench.sh "$MODEL" | tee "$OUT/speed.txt"

echo "[bench-7b] memory: estimate at context $CTX, then a real run's peak RSS" >&2
OMNIDESK_CONFIG=/dev/null "$OMNIDESK_BIN" info --json -m "$MODEL" -c "$CTX" -t "$THREADS" \
    --n-gpu-layers auto > "$OUT/info.json"
/usr/bin/time -f '%M' -o "$OUT/peak-kib.txt" \
    env OMNIDESK_CONFIG=/dev/null "$OMNIDESK_BIN" bench -m "$MODEL" -c "$CTX" -t "$THREADS" \
    -p "$P" -g "$N" -r 1 --json > "$OUT/bench.json"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
info = json.load(open(f"{out}/info.json"))
fit, hw = info["fit"], info["hardware"]
est = fit["estimate"]
peak = int(open(f"{out}/peak-kib.txt").read().split()[-1]) * 1024
mib = lambda b: b / 2**20
print(f"fit estimate at context {est['n_ctx']}: {mib(est['total']):.0f} MiB "
      f"(weights {mib(est['weights']):.0f} + KV {mib(est['kv_cache']):.0f} + compute {mib(est['compute']):.0f})")
print(f"plan: {fit['n_gpu_layers']} GPU layers (GPU free {mib(sum(d['memory_free'] for d in hw['backend']['devices'] if d['kind'] in ('Gpu', 'IntegratedGpu'))):.0f} MiB); "
      f"RAM {mib(fit['ram_needed']):.0f} MiB, VRAM {mib(fit['vram_needed']):.0f} MiB")
print(f"peak RSS of omnidesk bench at that context: {mib(peak):.0f} MiB")
ram = fit["ram_needed"]
print(f"estimate / measured: {ram / peak:.3f} (error {100 * (ram - peak) / peak:+.1f}%)")
json.dump({"estimate": est, "plan": {k: fit[k] for k in ("n_gpu_layers", "ram_needed", "vram_needed")},
           "peak_rss": peak, "ratio": ram / peak}, open(f"{out}/memory.json", "w"), indent=2)
PY
echo "[bench-7b] raw results in $OUT" >&2
