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
# The Tauri CLI expects tauri.conf.json beside the app crate and resolves
# its paths from there; the project keeps it at the root. Give the CLI a
# copy with root-relative paths rewritten (removed again afterwards); the
# crate's build script reads the root file itself.
CLI_CONF="$ROOT/src-tauri/tauri.conf.json"
trap 'rm -f "$CLI_CONF"' EXIT
python3 - "$ROOT/tauri.conf.json" "$CLI_CONF" <<'PY'
import json, sys
conf = json.load(open(sys.argv[1]))
conf["build"]["frontendDist"] = "../" + conf["build"]["frontendDist"]
conf["bundle"]["icon"] = ["../" + p for p in conf["bundle"]["icon"]]
json.dump(conf, open(sys.argv[2], "w"), indent=2)
PY
cd "$ROOT/src-tauri"
args=(build --bundles deb --ci)
[ "$profile" = debug ] && args+=(--debug)
"$ROOT/ui/node_modules/.bin/tauri" "${args[@]}" >&2
ls -1t "$CARGO_TARGET_DIR/$profile/bundle/deb/"*.deb | head -n 1
