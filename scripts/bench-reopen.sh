#!/usr/bin/env bash
# Reopen benchmark (issue 16; a benchmark, not part of the test suite): the
# follow-up to a ~3,000-token conversation in a fresh `omnidesk serve`,
# restored from its saved KV cache vs read cold, next to a fresh
# `llama-server` (reference build) reading it cold; same model and threads.
#
# Usage: scripts/bench-reopen.sh [--reps N] [--threads K] [--words W] [--json]
# Environment: OMNIDESK_TEST_MODEL (default: the fetched Gemma 3 270M),
#              OMNIDESK_CACHE, CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
MODEL="${OMNIDESK_TEST_MODEL:-$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)}"
REF_BIN="$(scripts/build-reference.sh | tail -n 1)"
cargo build --bin omnidesk >&2
exec python3 scripts/bench-reopen.py --omnidesk "$CARGO_TARGET_DIR/debug/omnidesk" \
    --llama-server "$REF_BIN/llama-server" --model "$MODEL" "$@"
