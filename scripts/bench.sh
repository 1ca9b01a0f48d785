#!/usr/bin/env bash
# Omnidesk's throughput next to llama.cpp's own llama-bench: same model,
# threads, prompt/generation sizes and batch, in one run, rounds
# interleaved so machine noise hits both alike. Prints our/llama-bench ratios.
#
# Usage: scripts/bench.sh [MODEL.gguf]   (default: the Gemma 3 270M test model)
# Env:   THREADS (2)  P (512)  N (128)  REPS (3)  ROUNDS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
THREADS="${THREADS:-2}" P="${P:-512}" N="${N:-128}" REPS="${REPS:-3}" ROUNDS="${ROUNDS:-2}"

MODEL="${1:-$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)}"
REF_BIN="$(scripts/build-reference.sh | tail -n 1)"
# OMNIDESK_BIN: an already built binary (skips the release build).
if [ -z "${OMNIDESK_BIN:-}" ]; then
    cargo build --release --locked --bin omnidesk >&2
fi
OURS="${OMNIDESK_BIN:-$CARGO_TARGET_DIR/release/omnidesk}"
OUT="$OMNIDESK_CACHE/bench/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

for round in $(seq 1 "$ROUNDS"); do
    echo "[bench] round $round/$ROUNDS: omnidesk" >&2
    OMNIDESK_CONFIG=/dev/null "$OURS" bench --model "$MODEL" -t "$THREADS" -c $((P + N)) -b 512 \
        -p "$P" -g "$N" -r "$REPS" --json > "$OUT/ours-$round.json"
    echo "[bench] round $round/$ROUNDS: llama-bench" >&2
    "$REF_BIN/llama-bench" -m "$MODEL" -t "$THREADS" -b 512 -ub 512 \
        -p "$P" -n "$N" -r "$REPS" -o json > "$OUT/ref-$round.json" 2>/dev/null
done

python3 - "$OUT" "$ROUNDS" "$P" "$N" "$THREADS" "$MODEL" <<'PY'
import json, sys, statistics, pathlib
out, rounds, p, n, threads, model = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ours_pp, ours_tg, ours_ttft, ref_pp, ref_tg = [], [], [], [], []
for r in range(1, rounds + 1):
    o = json.load(open(f"{out}/ours-{r}.json"))["report"]
    ours_pp.append(o["pp_tokens_per_s"]["mean"]); ours_tg.append(o["tg_tokens_per_s"]["mean"])
    ours_ttft.append(o["time_to_first_token_ms"]["mean"])
    for rec in json.load(open(f"{out}/ref-{r}.json")):
        (ref_pp if rec["n_prompt"] > 0 else ref_tg).append(rec["avg_ts"])
m = statistics.mean
rows = [("pp" + p, m(ours_pp), m(ref_pp)), ("tg" + n, m(ours_tg), m(ref_tg))]
print(f"model {pathlib.Path(model).name}, {threads} threads, {rounds} rounds")
print(f"{'test':<8}{'omnidesk t/s':>14}{'llama-bench t/s':>17}{'ratio':>8}")
for name, a, b in rows:
    print(f"{name:<8}{a:>14.2f}{b:>17.2f}{a / b:>8.3f}")
print(f"time to first token (prompt of {p}): {m(ours_ttft):.1f} ms")
json.dump({"model": model, "threads": threads, "rows": [{"test": t, "omnidesk": a, "llama_bench": b, "ratio": a / b} for t, a, b in rows],
           "ttft_ms": m(ours_ttft)}, open(f"{out}/summary.json", "w"), indent=2)
PY
echo "[bench] raw results in $OUT" >&2
