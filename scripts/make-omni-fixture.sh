#!/usr/bin/env bash
# Build the random-weight omni test model (text + vision + audio mmproj) with
# scripts/make-omni-fixture.py, in a private venv.
#
# Usage:
#   scripts/make-omni-fixture.sh [--shape tiny|7b|7b-q4km] [--force]
#
#   --shape 7b   Qwen2.5-Omni-7B shapes (~18 GB of F16, for GPU benchmarks only;
#                no recorded sha256, so only the files' presence is checked)
#   --shape 7b-q4km  the 7B text model alone, quantised like the real
#                download (Q4_K_M mix, 4.7 GB): memory fit and speed at the
#                real size (scripts/bench-7b-shape.sh); no mmproj
#   --force      regenerate even when the files are already there
#
# stdout: the output directory, as the last line. Progress goes to stderr.
#
# Environment:
#   OMNIDESK_CACHE   cache root (default: $HOME/.cache/omnidesk)
#   PYTHON           python (>= 3.11) used to create the venv (default: python3)
#
# Layout under $OMNIDESK_CACHE:
#   venv/                       python venv with the pinned gguf + numpy
#   test-models/omni-<shape>/   omni-<shape>.gguf, mmproj-omni-<shape>.gguf
#
# The tiny files are skipped when present with the sha256 recorded below. The
# generator is deterministic (seed 0); if a regenerated file's sha256 differs
# from the recorded one (e.g. after changing the generator or the pins), the
# files are still usable: a warning is printed and the new values should be
# recorded here.
set -euo pipefail

GGUF_VERSION=0.19.0
NUMPY_VERSION=2.4.6
SEED=0

# sha256 of the seed-0 tiny fixture (gguf 0.19.0, numpy 2.4.6)
TINY_TEXT_SHA256=714a98bca03465363bb602d510f23905b479a4d90a8c3f92f1bd21e4c343548c
TINY_MMPROJ_SHA256=dbb57ca490b3f11647a15067fe69a772b513eb39480e0bab7d1a8a25f0d3719c

log() { printf '[make-omni-fixture] %s\n' "$*" >&2; }
die() { printf '[make-omni-fixture] ERROR: %s\n' "$*" >&2; exit 1; }

SHAPE=tiny
FORCE=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --shape) SHAPE="${2:?--shape needs a value}"; shift 2 ;;
        --shape=*) SHAPE="${1#--shape=}"; shift ;;
        --force) FORCE=1; shift ;;
        -h|--help) sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
case "$SHAPE" in tiny|7b|7b-q4km) ;; *) die "--shape must be tiny, 7b or 7b-q4km" ;; esac

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
VENV="$CACHE/venv"
OUT_DIR="$CACHE/test-models/omni-$SHAPE"
TEXT="$OUT_DIR/omni-$SHAPE.gguf"
MMPROJ="$OUT_DIR/mmproj-omni-$SHAPE.gguf"
GEN_ARGS=(--shape "$SHAPE")
if [[ "$SHAPE" == 7b-q4km ]]; then
    TEXT="$OUT_DIR/omni-7b-q4_k_m.gguf"
    MMPROJ="$TEXT"  # none is written
    GEN_ARGS=(--shape 7b --quant q4_k_m --text-only)
fi
PYTHON="${PYTHON:-python3}"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

up_to_date() {
    [[ -f "$TEXT" && -f "$MMPROJ" ]] || return 1
    if [[ "$SHAPE" == tiny ]]; then
        [[ "$(sha256_of "$TEXT")" == "$TINY_TEXT_SHA256" ]] || return 1
        [[ "$(sha256_of "$MMPROJ")" == "$TINY_MMPROJ_SHA256" ]] || return 1
    fi
    return 0
}

if [[ "$FORCE" == 0 ]] && up_to_date; then
    log "up to date: $OUT_DIR"
    printf '%s\n' "$OUT_DIR"
    exit 0
fi

# ---- venv with the pinned packages ------------------------------------------
venv_ok() {
    [[ -x "$VENV/bin/python" ]] || return 1
    "$VENV/bin/python" - "$GGUF_VERSION" "$NUMPY_VERSION" <<'EOF' >/dev/null 2>&1
import sys, importlib.metadata as m
sys.exit(0 if (m.version("gguf"), m.version("numpy")) == (sys.argv[1], sys.argv[2]) else 1)
EOF
}

if ! venv_ok; then
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating venv $VENV"
        "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed (Debian: apt-get install python3-venv)"
    fi
    log "installing gguf==$GGUF_VERSION numpy==$NUMPY_VERSION into $VENV"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet --progress-bar off \
        "gguf==$GGUF_VERSION" "numpy==$NUMPY_VERSION" >&2 \
        || die "pip install failed (is PyPI reachable? numpy $NUMPY_VERSION needs python >= 3.11)"
    venv_ok || die "venv $VENV does not have the pinned versions after install"
fi

# ---- generate ---------------------------------------------------------------
mkdir -p "$OUT_DIR"
log "generating shape=$SHAPE seed=$SEED into $OUT_DIR"
"$VENV/bin/python" "$SCRIPT_DIR/make-omni-fixture.py" "$OUT_DIR" --seed "$SEED" "${GEN_ARGS[@]}" >&2 \
    || die "generator failed"

if [[ "$SHAPE" == tiny ]]; then
    got_text="$(sha256_of "$TEXT")"
    got_mmproj="$(sha256_of "$MMPROJ")"
    if [[ "$got_text" != "$TINY_TEXT_SHA256" || "$got_mmproj" != "$TINY_MMPROJ_SHA256" ]]; then
        log "WARNING: sha256 differs from the recorded values (files are still usable):"
        log "  TINY_TEXT_SHA256=$got_text"
        log "  TINY_MMPROJ_SHA256=$got_mmproj"
    fi
fi

printf '%s\n' "$OUT_DIR"
