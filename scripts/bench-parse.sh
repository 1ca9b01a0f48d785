#!/usr/bin/env bash
# What parse isolation costs per file: the RAG test documents (assets/rag
# and assets/rag-eval) parsed in process and through one long-lived
# `omnidesk` parse worker (examples/bench_parse.rs), plus the worker's
# start-up, paid once per ingest run.
#
# Usage: scripts/bench-parse.sh [DIR...]     Env: REPS (20), PROFILE (release)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
PROFILE="${PROFILE:-release}"
flag=(); [ "$PROFILE" = release ] && flag=(--release)
cargo build "${flag[@]}" --locked --bin omnidesk --example bench_parse >&2
dir="$CARGO_TARGET_DIR/$([ "$PROFILE" = release ] && echo release || echo debug)"
[ "$#" -gt 0 ] || set -- assets/rag/docs assets/rag-eval/docs
"$dir/examples/bench_parse" "$dir/omnidesk" "$@"
