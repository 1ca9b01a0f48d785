#!/usr/bin/env bash
# Build llama.cpp's own tools (llama-bench, llama-server, llama-mtmd-cli,
# llama-quantize) as a reference for side-by-side benchmarks with omnidesk.
#
# The llama.cpp source comes from the PyPI sdist of llama-cpp-python, which
# vendors the whole llama.cpp tree under vendor/llama.cpp (only PyPI is
# reachable from our build machines, not GitHub).
#
# ggml is compiled for the x86-64-v3 baseline (AVX2/FMA/F16C/BMI2), not for
# the host CPU, so the numbers are comparable with our own build.
#
# Usage:
#   scripts/build-reference.sh                # fetch + build (cached), print bin dir
#   scripts/build-reference.sh --print-path   # only print the bin dir
#   scripts/build-reference.sh --force        # rebuild even if the stamp matches
#
# Environment:
#   OMNIDESK_CACHE        cache root (default: $HOME/.cache/omnidesk)
#   OMNIDESK_BUILD_JOBS   parallel build jobs (default: 2)
#   PYTHON                python used to run pip (default: python3)
#
# Outputs (under $OMNIDESK_CACHE):
#   downloads/llama_cpp_python-<ver>.tar.gz   the pinned sdist (sha256-checked)
#   llama-ref/src/llama_cpp_python-<ver>/     unpacked sdist
#   llama-ref/build/bin/                      the built tools (printed on stdout)
#   llama-ref/VERSION                         llama-cpp-python + llama.cpp version info
#   llama-ref/build.stamp                     version + flags of the current build
set -euo pipefail

# ---- pins --------------------------------------------------------------------
LCP_VERSION="0.3.36"
LCP_SDIST_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
TARGETS=(llama-bench llama-server llama-mtmd-cli llama-quantize)

# ---- helpers -----------------------------------------------------------------
log() { printf '[build-reference] %s\n' "$*" >&2; }
die() { printf '[build-reference] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0" >&2
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH ($2)"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---- arguments ---------------------------------------------------------------
PRINT_ONLY=0
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --print-path) PRINT_ONLY=1 ;;
        --force) FORCE=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown argument: $arg" ;;
    esac
done

CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
DOWNLOADS="$CACHE/downloads"
REF="$CACHE/llama-ref"
SRC_PARENT="$REF/src"
SRC="$SRC_PARENT/llama_cpp_python-$LCP_VERSION"
LLAMA_SRC="$SRC/vendor/llama.cpp"
BUILD="$REF/build"
BIN="$BUILD/bin"
STAMP="$REF/build.stamp"
SDIST="$DOWNLOADS/llama_cpp_python-$LCP_VERSION.tar.gz"
JOBS="${OMNIDESK_BUILD_JOBS:-2}"
PYTHON="${PYTHON:-python3}"

if [[ $PRINT_ONLY == 1 ]]; then
    printf '%s\n' "$BIN"
    exit 0
fi

[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || die "OMNIDESK_BUILD_JOBS must be a positive integer, got '$JOBS'"
need sha256sum "coreutils"
need tar "apt-get install tar"
need flock "apt-get install util-linux"

mkdir -p "$DOWNLOADS" "$REF"
exec 9>"$REF/.lock"
if ! flock -n 9; then
    log "another build-reference.sh is running; waiting for it"
    flock 9
fi

# ---- configuration (also the stamp contents) ---------------------------------
ARCH="$(uname -m)"
CMAKE_ARGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF
    -DLLAMA_CURL=OFF
    -DLLAMA_OPENSSL=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DGGML_OPENMP=ON
)
ARCH_CFLAGS=""
if [[ "$ARCH" == x86_64 ]]; then
    # Same ISA baseline as our own ggml build: x86-64-v3, not -march=native.
    CMAKE_ARGS+=(
        -DGGML_NATIVE=OFF
        -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
        -DGGML_BMI2=ON -DGGML_SSE42=ON
    )
    ARCH_CFLAGS="-march=x86-64-v3"
else
    log "note: host is $ARCH, not x86_64: building with llama.cpp's default CPU flags"
fi

compiler_id() {
    local cc="${CC:-cc}" cxx="${CXX:-c++}"
    printf 'cc: %s\ncxx: %s\n' \
        "$({ "$cc" --version 2>/dev/null || echo "$cc: unknown"; } | sed -n 1p)" \
        "$({ "$cxx" --version 2>/dev/null || echo "$cxx: unknown"; } | sed -n 1p)"
}

stamp_text() {
    printf 'llama-cpp-python %s\nsdist-sha256 %s\narch %s\ncflags %s\ncmake-args %s\ntargets %s\n' \
        "$LCP_VERSION" "$LCP_SDIST_SHA256" "$ARCH" "$ARCH_CFLAGS" "${CMAKE_ARGS[*]}" "${TARGETS[*]}"
    compiler_id
}

binaries_present() {
    local t
    for t in "${TARGETS[@]}"; do
        [[ -x "$BIN/$t" ]] || return 1
    done
}

# ---- 1. fetch the sdist ------------------------------------------------------
fetch_sdist() {
    if [[ -f "$SDIST" ]]; then
        if [[ "$(sha256_of "$SDIST")" == "$LCP_SDIST_SHA256" ]]; then
            log "sdist cached: $SDIST (sha256 ok)"
            return 0
        fi
        log "cached sdist has a wrong sha256, downloading again: $SDIST"
        rm -f "$SDIST"
    fi
    "$PYTHON" -m pip --version >/dev/null 2>&1 \
        || die "'$PYTHON -m pip' does not work; install pip or set PYTHON"
    local staging
    staging="$(mktemp -d "$DOWNLOADS/.staging.XXXXXX")"
    # pip also prepares the sdist's metadata (installs its build backend in an
    # isolated env); that takes a minute or two but happens only once.
    log "downloading llama-cpp-python==$LCP_VERSION sdist from PyPI (pip download, 77 MB)"
    if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$PYTHON" -m pip download \
            --no-deps --no-binary :all: --dest "$staging" \
            "llama-cpp-python==$LCP_VERSION" >&2; then
        rm -rf "$staging"
        die "pip download of llama-cpp-python==$LCP_VERSION failed (is PyPI reachable?)"
    fi
    local got="$staging/$(basename "$SDIST")"
    if [[ ! -f "$got" ]]; then
        rm -rf "$staging"
        die "pip did not produce $(basename "$SDIST")"
    fi
    local sum
    sum="$(sha256_of "$got")"
    if [[ "$sum" != "$LCP_SDIST_SHA256" ]]; then
        rm -rf "$staging"
        die "sha256 mismatch for $(basename "$SDIST"): got $sum, want $LCP_SDIST_SHA256"
    fi
    mv -f "$got" "$SDIST"
    rm -rf "$staging"
    log "sdist saved: $SDIST (sha256 ok)"
}

# ---- 2. unpack ---------------------------------------------------------------
unpack_sdist() {
    local marker="$SRC/.omnidesk-unpacked"
    if [[ -f "$marker" && "$(cat "$marker")" == "$LCP_SDIST_SHA256" \
          && -f "$LLAMA_SRC/CMakeLists.txt" ]]; then
        log "source already unpacked: $SRC"
        return 0
    fi
    log "unpacking into $SRC"
    mkdir -p "$SRC_PARENT"
    local tmp
    tmp="$(mktemp -d "$SRC_PARENT/.unpack.XXXXXX")"
    tar -xzf "$SDIST" -C "$tmp" || { rm -rf "$tmp"; die "cannot unpack $SDIST"; }
    local top="$tmp/llama_cpp_python-$LCP_VERSION"
    if [[ ! -f "$top/vendor/llama.cpp/CMakeLists.txt" ]]; then
        rm -rf "$tmp"
        die "sdist has no vendor/llama.cpp/CMakeLists.txt; layout changed?"
    fi
    printf '%s\n' "$LCP_SDIST_SHA256" >"$top/.omnidesk-unpacked"
    rm -rf "$SRC"
    mv "$top" "$SRC"
    rm -rf "$tmp"
}

# ---- 3. configure + build ----------------------------------------------------
build_tools() {
    # Fresh build dir: CFLAGS/CXXFLAGS are read only on the first configure.
    rm -rf "$BUILD" "$STAMP"
    log "configuring (cmake ${CMAKE_ARGS[*]}${ARCH_CFLAGS:+, C/CXXFLAGS=$ARCH_CFLAGS})"
    CFLAGS="$ARCH_CFLAGS" CXXFLAGS="$ARCH_CFLAGS" \
        cmake -S "$LLAMA_SRC" -B "$BUILD" "${CMAKE_ARGS[@]}" >&2 \
        || die "cmake configure failed (see output above)"
    log "building ${TARGETS[*]} with -j$JOBS under nice (about 6 min on 2 cores)"
    local start=$SECONDS
    nice -n 10 cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" >&2 \
        || die "build failed (see output above)"
    binaries_present || die "build finished but not all of ${TARGETS[*]} are in $BIN"
    log "built in $((SECONDS - start)) s"
}

# ---- 4. version info ---------------------------------------------------------
# cmake_version PREFIX FILE: "MAJOR.MINOR.PATCH" from set(PREFIX_VERSION_* N) lines.
cmake_version() {
    sed -nE "s/^set\($1_VERSION_(MAJOR|MINOR|PATCH) +([0-9]+)\).*/\2/p" "$2" | paste -sd. -
}

write_version() {
    local commit="unknown" commit_date="unknown" count="unknown"
    if command -v git >/dev/null 2>&1 && git -C "$LLAMA_SRC" rev-parse HEAD >/dev/null 2>&1; then
        commit="$(git -C "$LLAMA_SRC" rev-parse HEAD)"
        commit_date="$(git -C "$LLAMA_SRC" log -1 --format=%cI 2>/dev/null || echo unknown)"
        count="$(git -C "$LLAMA_SRC" rev-list --count HEAD 2>/dev/null || echo unknown)"
        if [[ "$(git -C "$LLAMA_SRC" rev-parse --is-shallow-repository 2>/dev/null)" == true ]]; then
            count="unknown (shallow clone in sdist; commit count $count is not the upstream build number)"
        fi
    elif [[ -f "$SRC/.git/modules/vendor/llama.cpp/HEAD" ]]; then
        commit="$(head -n1 "$SRC/.git/modules/vendor/llama.cpp/HEAD")"
    fi
    local llama_ver ggml_ver
    llama_ver="$(cmake_version LLAMA "$LLAMA_SRC/CMakeLists.txt")"
    ggml_ver="$(cmake_version GGML "$LLAMA_SRC/ggml/CMakeLists.txt")"
    local tool_out tool_ver
    tool_out="$("$BIN/llama-server" --version 2>&1 || true)"
    tool_ver="$(sed -n '/^version/{p;q}' <<<"$tool_out")"
    {
        printf 'llama-cpp-python %s\n' "$LCP_VERSION"
        printf 'sdist-sha256 %s\n' "$LCP_SDIST_SHA256"
        printf 'llama.cpp-commit %s\n' "$commit"
        printf 'llama.cpp-commit-date %s\n' "$commit_date"
        printf 'llama.cpp-build-number %s\n' "$count"
        printf 'llama.cpp-version %s\n' "${llama_ver:-unknown}"
        printf 'ggml-version %s\n' "${ggml_ver:-unknown}"
        printf 'llama-server-version %s\n' "${tool_ver:-unknown}"
        printf 'arch %s\ncflags %s\n' "$ARCH" "${ARCH_CFLAGS:-(default)}"
        printf 'cmake-args %s\n' "${CMAKE_ARGS[*]}"
    } >"$REF/VERSION.tmp"
    mv -f "$REF/VERSION.tmp" "$REF/VERSION"
    log "wrote $REF/VERSION:"
    sed 's/^/    /' "$REF/VERSION" >&2
}

# ---- main --------------------------------------------------------------------
WANT_STAMP="$(stamp_text)"
if [[ $FORCE == 0 && -f "$STAMP" ]] && binaries_present \
    && [[ "$(cat "$STAMP")" == "$WANT_STAMP" ]]; then
    log "up to date: llama-cpp-python $LCP_VERSION already built in $BUILD"
    [[ -f "$REF/VERSION" ]] || write_version
    printf '%s\n' "$BIN"
    exit 0
fi

need cmake "apt-get install cmake"
need make "apt-get install build-essential"
need "${CC:-cc}" "apt-get install build-essential"
need "${CXX:-c++}" "apt-get install build-essential"
need nice "coreutils"

fetch_sdist
unpack_sdist
build_tools
write_version
printf '%s\n' "$WANT_STAMP" >"$STAMP"
log "done"
printf '%s\n' "$BIN"
