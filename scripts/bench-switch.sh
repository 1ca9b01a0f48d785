#!/usr/bin/env bash
# Switch benchmark (issue 16; a benchmark, not part of the test suite): two
# ~1,500-token conversations continued alternately, `omnidesk serve` side by
# side with the reference `llama-server -np 2`, same model and threads.
#
# Usage: scripts/bench-switch.sh [--rounds N] [--threads K] [--words W]
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
exec python3 scripts/bench-switch.py --omnidesk "$CARGO_TARGET_DIR/debug/omnidesk" \
    --llama-server "$REF_BIN/llama-server" --model "$MODEL" "$@"
