#!/usr/bin/env bash
# The GPU code path proven without a GPU (issue 17): the package's
# dynamic-backends omnidesk loads the Vulkan module built by
# scripts/build-vulkan-backend.sh and runs on Mesa's software Vulkan driver
# (lavapipe). Checks that the Vulkan device is found, that the model's
# layers are offloaded to it, and that a greedy answer from the Vulkan path
# is the CPU path's (else the first differing token is shown).
#
#   scripts/test-vulkan.sh [--bin OMNIDESK]   (default: a release build
#       with --features dynamic-backends; an unpacked package's usr/bin/omnidesk
#       runs with its own libraries and CPU modules)
#   scripts/test-vulkan.sh --ci   what scripts/test.sh runs: the dynamic-backends
#       build under the test profile, its llama.cpp built with one CPU module
#       (scripts/cmake/one-cpu-variant.cmake) and the Vulkan module in the same
#       CMake build, so CI pays for one llama.cpp build, not two (~10 min cold)
# lavapipe is slow (~3 tokens/s on Gemma 3 270M): few tokens are asked for.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
say() { printf '[test-vulkan] %s\n' "$*" >&2; }
fail() { printf '[test-vulkan] FAIL: %s\n' "$*" >&2; exit 1; }
bin=
ci=0
case "${1:-}" in
    --bin) bin="$2" ;;
    --ci) ci=1 ;;
esac

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! dpkg -s mesa-vulkan-drivers >/dev/null 2>&1; then
    say "installing Mesa's software Vulkan driver"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers >&2
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/backends" "$dir/data"
if [ "$ci" = 1 ]; then
    hdr="$(scripts/build-vulkan-backend.sh --headers | tail -n 1)"
    # The same package and target selection as `cargo test --workspace
    # --all-targets` (an example turns the dev-dependencies on), so every
    # crate but llama.cpp's two and omnidesk is shared with the test build.
    # GGML_* and CMAKE_* variables reach llama.cpp's CMake through the
    # crate's build script.
    # llama-cpp-sys-2 hard-links its unversioned lib*.so symlinks into the
    # profile folder (and examples/, deps/), where they dangle, and a later
    # run of its build script fails on them (EEXIST): clear them first.
    find "$CARGO_TARGET_DIR/debug" "$CARGO_TARGET_DIR/debug/examples" "$CARGO_TARGET_DIR/debug/deps" \
        -maxdepth 1 -xtype l -name 'lib*.so' -delete 2>/dev/null || true
    say "building omnidesk with dynamic backends, one CPU module and Vulkan"
    GGML_VULKAN=ON CMAKE_PROJECT_INCLUDE="$PWD/scripts/cmake/one-cpu-variant.cmake" \
        CMAKE_PREFIX_PATH="$hdr" CXXFLAGS="-I$hdr/include" \
        cargo build --locked --profile test --workspace --bin omnidesk --example mcp_test_server \
        --features omnidesk/dynamic-backends --message-format=json-render-diagnostics >"$dir/build.json"
    read -r out bin < <(python3 - "$dir/build.json" <<'PY'
import json, sys
out = exe = None
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "build-script-executed" and "llama-cpp-sys-2" in m["package_id"]:
        out = m["out_dir"]
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "omnidesk" \
            and "bin" in m["target"]["kind"]:
        exe = m["executable"]
print(out, exe)
PY
)
    [ -x "$bin" ] && [ -f "$out/backends/libggml-vulkan.so" ] || fail "no Vulkan module in '$out'"
    # The uplifted target/debug/omnidesk is the static test build's again
    # after the next cargo test; this copy keeps its own libraries.
    cp "$bin" "$dir/omnidesk" && bin="$dir/omnidesk"
    cpu_dir="$out/backends"
    lib_dir="$out/lib"
    ln -s "$cpu_dir"/libggml-*.so "$dir/backends/"
else
    module="$(scripts/build-vulkan-backend.sh | tail -n 1)"
    if [ -z "$bin" ]; then
        cargo build --release --locked -p omnidesk --bin omnidesk --features dynamic-backends >&2
        bin="$CARGO_TARGET_DIR/release/omnidesk"
    fi
    # The CPU modules beside the binary (an unpacked package), else those of
    # the dynamic-backends build; the Vulkan module joins them.
    packaged="$(dirname "$bin")/../lib/omnidesk"
    if ls "$packaged"/backends/libggml-cpu-*.so >/dev/null 2>&1; then
        cpu_dir="$packaged/backends"
        lib_dir="$packaged"
    else
        cpu_dir="$( (ls -d "$CARGO_TARGET_DIR"/release/build/llama-cpp-sys-2-*/out/backends 2>/dev/null || true) \
            | while read -r d; do ls "$d"/libggml-cpu-*.so >/dev/null 2>&1 && echo "$d"; done | head -n 1)"
        [ -n "$cpu_dir" ] || fail "no CPU backend modules from a dynamic-backends build"
        lib_dir="$(dirname "$cpu_dir")/lib"
    fi
    ln -s "$cpu_dir"/libggml-cpu-*.so "$module" "$dir/backends/"
fi
MODEL="${OMNIDESK_TEST_MODEL:-$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)}"
# ggml hides CPU-type Vulkan devices (lavapipe is one) unless named.
run() {
    env OMNIDESK_CONFIG=/dev/null OMNIDESK_DATA_DIR="$dir/data" OMNIDESK_BACKENDS_DIR="$dir/backends" \
        GGML_VK_VISIBLE_DEVICES=0 LD_LIBRARY_PATH="$lib_dir" "$bin" "$@"
}

run info --json >"$dir/info.json" || fail "omnidesk info"
python3 - "$dir/info.json" <<'PY' || fail "no Vulkan device: $(cat "$dir/info.json")"
import json, sys
b = json.load(open(sys.argv[1]))["backend"]
vk = [d for d in b["devices"] if d["backend"].lower().startswith("vulkan")]
print(f"[test-vulkan] modules {b['modules']['loaded']} from {b['modules']['dir']}; "
      f"Vulkan devices: {[d['description'] for d in vk]}", file=sys.stderr)
sys.exit(0 if vk else 1)
PY

question="Continue the count: 1, 2, 3, 4, 5,"
for ngl in 0 99; do
    run ask -v --model "$MODEL" --json --temp 0 -n 16 -t 2 -c 512 --n-gpu-layers "$ngl" \
        "$question" >"$dir/ask-$ngl.json" 2>"$dir/log-$ngl.txt" \
        || fail "ask with $ngl GPU layers: $(tail -5 "$dir/log-$ngl.txt")"
done
grep -Eo "offloaded [0-9]+/[0-9]+ layers to GPU" "$dir/log-99.txt" | tail -n 1 >"$dir/offload.txt" || true
python3 - "$dir" <<'PY'
import json, re, sys
d = sys.argv[1]
cpu, gpu = (json.load(open(f"{d}/ask-{n}.json"))["text"] for n in (0, 99))
offload = open(f"{d}/offload.txt").read().strip()
m = re.match(r"offloaded (\d+)/(\d+)", offload)
print(f"[test-vulkan] {offload or 'no offload line in the log'}", file=sys.stderr)
print(f"[test-vulkan] CPU:    {cpu!r}\n[test-vulkan] Vulkan: {gpu!r}", file=sys.stderr)
if not m or int(m.group(1)) == 0:
    sys.exit("[test-vulkan] FAIL: no layer was offloaded to the Vulkan device")
if cpu != gpu:
    i = next((i for i, (a, b) in enumerate(zip(cpu, gpu)) if a != b), min(len(cpu), len(gpu)))
    sys.exit(f"[test-vulkan] FAIL: answers differ from character {i}: {cpu[i:]!r} vs {gpu[i:]!r}")
PY
say "ok"
