#!/usr/bin/env bash
# Load test for `omnidesk serve` (a benchmark, not part of the test suite):
# N concurrent streaming clients x R requests on the small test model.
# Fails if any response is dropped or mixed up; prints requests/s, TTFT
# percentiles and the server's VmRSS over the run.
#
# Usage: scripts/bench-serve.sh [--clients N] [--requests R] [--max-tokens T] [--threads K]
# Environment: OMNIDESK_TEST_MODEL (default: the fetched Gemma 3 270M),
#              OMNIDESK_CACHE, CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
MODEL="${OMNIDESK_TEST_MODEL:-$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)}"

# The dev profile builds llama.cpp at -O3 (see Cargo.toml), so debug
# binaries measure the same inference code without a release rebuild.
cargo build --bin omnidesk --example serve_load >&2
exec "$CARGO_TARGET_DIR/debug/examples/serve_load" \
    --server-bin "$CARGO_TARGET_DIR/debug/omnidesk" --model "$MODEL" "$@"
