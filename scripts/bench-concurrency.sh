#!/usr/bin/env bash
# Concurrency benchmark (issue 16; a benchmark, not part of the test suite):
# 1, 4 and 8 streaming clients at once against `omnidesk serve` and the
# reference `llama-server -np N --cont-batching`, same model and threads:
# aggregate tokens/s, TTFT p50/p95, answers that differ from one client's.
#
# Usage: scripts/bench-concurrency.sh [--clients 1,4,8] [--requests R] [--max-tokens T] [--threads K]
# Environment: OMNIDESK_TEST_MODEL (default: the fetched Gemma 3 270M),
#              OMNIDESK_CACHE, CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
MODEL="${OMNIDESK_TEST_MODEL:-$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)}"
REF_BIN="$(scripts/build-reference.sh | tail -n 1)"
# The dev profile builds llama.cpp at -O3, so debug binaries measure the
# same inference code without a release rebuild.
cargo build --bin omnidesk >&2
exec python3 scripts/bench-concurrency.py --omnidesk "$CARGO_TARGET_DIR/debug/omnidesk" \
    --llama-server "$REF_BIN/llama-server" --model "$MODEL" "$@"
