#!/usr/bin/env bash
# Build llama.cpp's Vulkan backend as a loadable module (libggml-vulkan.so)
# for the package's dynamic-backends build (issue 17). It is compiled from
# the very llama.cpp tree the llama-cpp-sys-2 crate vendors, so it matches
# the libggml-base.so the package ships, and is loaded at run time from
# /usr/lib/omnidesk/backends; without a Vulkan driver it simply fails to
# open and the CPU is used.
#
# Debian 12's Vulkan headers (1.3.239) are too old for ggml-vulkan
# (vk::LayerSettingEXT), so Debian 13's libvulkan-dev is fetched with a
# private apt configuration and unpacked into the cache; nothing is
# installed system-wide from it. glslc and SPIRV-Headers come from Debian 12.
#
# stdout: the module's path, as the last line. About 6 minutes cold on 2 cores.
#   --headers   only install glslc and unpack the headers; print their prefix
#               (scripts/test-vulkan.sh --ci builds the module inside the
#               crate's own llama.cpp build with them)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
say() { printf '[vulkan] %s\n' "$*" >&2; }
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

missing=()
command -v glslc >/dev/null || missing+=(glslc)
[ -e /usr/include/spirv/unified1/spirv.hpp ] || missing+=(spirv-headers)
dpkg -s libvulkan1 >/dev/null 2>&1 || missing+=(libvulkan1)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Debian 13's Vulkan headers, unpacked privately.
HDR="$CACHE/vulkan-headers"
if [ ! -f "$HDR/usr/include/vulkan/vulkan.hpp" ] || ! grep -q LayerSettingEXT "$HDR/usr/include/vulkan/vulkan_structs.hpp" 2>/dev/null; then
    say "fetching Debian 13's libvulkan-dev headers into $HDR"
    apt_dir="$CACHE/apt-trixie"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$HDR"
    echo "deb ${DEBIAN_MIRROR:-http://deb.debian.org/debian} trixie main" >"$apt_dir/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Debug::NoLocking=1)
    apt-get "${apt_opts[@]}" update -qq >&2
    (cd "$apt_dir" && rm -f libvulkan-dev_*.deb && apt-get "${apt_opts[@]}" download libvulkan-dev >&2)
    dpkg -x "$apt_dir"/libvulkan-dev_*.deb "$HDR"
fi
if [ "${1:-}" = --headers ]; then
    printf '%s\n' "$HDR/usr"
    exit 0
fi

# The crate's vendored llama.cpp (the version Cargo.lock pins).
version="$(awk '/^name = "llama-cpp-sys-2"/ {getline; gsub(/[^0-9.]/, ""); print}' Cargo.lock)"
SRC="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/llama-cpp-sys-2-"$version"/llama.cpp 2>/dev/null | head -n 1)"
if [ -z "$SRC" ]; then
    cargo fetch --locked >&2
    SRC="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/llama-cpp-sys-2-"$version"/llama.cpp | head -n 1)"
fi
BUILD="$CACHE/vulkan-backend/$version"
say "building ggml-vulkan from $SRC into $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_VULKAN=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_COMMON=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DVulkan_INCLUDE_DIR="$HDR/usr/include" -DCMAKE_CXX_FLAGS="-I$HDR/usr/include" >&2
cmake --build "$BUILD" --target ggml-vulkan -j "$(nproc)" >&2
module="$(find "$BUILD" -name 'libggml-vulkan.so' -print -quit)"
[ -n "$module" ] || { say "no libggml-vulkan.so was built"; exit 1; }
say "built $module ($(du -h "$module" | cut -f1))"
printf '%s\n' "$module"
