#!/usr/bin/env bash
# Push-to-talk latency: time from releasing the button (the recording's
# end) to the first answer token and to the first spoken audio, for a
# 5-second spoken question, with `omnidesk listen --json --speak`.
#
# The microphone and speaker are ALSA `file` devices (no sound card
# needed): the capture side plays espeak-ng speech padded to 5 s, the
# playback side writes into a file. Two set-ups:
#   omni    the tiny omni fixture hears the clip natively (audio chunk)
#   whisper Gemma 3 270M (text only) gets Whisper tiny.en's transcript
# Answers are capped at 16 tokens; the voice is Piper when installed
# (OMNIDESK_TEST_PIPER_VOICE / _ONNXRUNTIME), else espeak-ng.
#
# Then the hands-free case (`omnidesk talk`, scripts/bench_talk.py): in a
# PulseAudio room whose speaker loops back into the microphone, REPS_TALK
# spoken questions (end of speech → first token / first audio, medians)
# and REPS_TALK barge-ins (spoken onset → voice silenced), same set-ups.
#
# Usage: scripts/bench-voice.sh        Env: REPS (5)  REPS_TALK (10)  THREADS (2)
#        OMNIDESK_BIN (default: the debug build, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export OMNIDESK_CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OMNIDESK_CACHE/target}"
REPS="${REPS:-5}" THREADS="${THREADS:-2}"
log() { printf '[bench-voice] %s\n' "$*" >&2; }

BIN="${OMNIDESK_BIN:-$CARGO_TARGET_DIR/debug/omnidesk}"
WHISPER_BIN="$(dirname "$BIN")/omnidesk-whisper"
if [ ! -x "$BIN" ] || [ ! -x "$WHISPER_BIN" ]; then
    cargo build --locked --bin omnidesk -p omnidesk -p omnidesk-whisper >&2
fi
omni="$(scripts/make-omni-fixture.sh | tail -n 1)"
gemma="$(scripts/fetch-test-models.sh gemma3-270m-q4_k_m | tail -n 1)"
whisper="$(scripts/fetch-test-models.sh whisper-tiny-en | tail -n 1)"
voice="$(scripts/fetch-test-models.sh piper-joe-medium | tail -n 1)" || voice=""
runtime="$(scripts/fetch-test-models.sh onnxruntime | tail -n 1)" || runtime=""
vad="$(scripts/fetch-test-models.sh silero-vad | tail -n 1)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
espeak-ng -w "$WORK/q.wav" "I am planning a trip to Europe next spring with my family. What is the capital of France, and what is the weather like there in April?"
# 0.3 s of silence (trimmed by the recorder), then exactly 5 s of speech.
sox "$WORK/q.wav" -r 16000 -c 1 -b 16 -e signed-integer -t raw "$WORK/q.raw" trim 0 5 pad 0.3 0
cat > "$WORK/asound.conf" <<CONF
pcm.!default { type asym; playback.pcm "out"; capture.pcm "in" }
pcm.out { type plug; slave { pcm "outfile"; format S16_LE; rate 22050; channels 1 } }
pcm.outfile { type file; slave.pcm "null"; file "$WORK/played.raw"; format "raw" }
pcm.in { type plug; slave { pcm "infile"; format S16_LE; rate 16000; channels 1 } }
pcm.infile { type file; slave.pcm "null"; file "/dev/null"; infile "$WORK/q.raw"; format "raw" }
CONF
{
    echo "[audio]"
    echo "whisper_model = \"$whisper\""
    if [ -n "$voice" ] && [ -n "$runtime" ]; then
        echo "piper_voice = \"$voice\""
        echo "onnxruntime = \"$runtime\""
    fi
} > "$WORK/config.toml"

run() { # name model [mmproj]
    local name="$1" model="$2" out
    for i in $(seq "$REPS"); do
        out="$(ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$WORK/asound.conf" \
            OMNIDESK_DATA_DIR="$WORK/data" OMNIDESK_CONFIG="$WORK/config.toml" \
            OMNIDESK_WHISPER="$WHISPER_BIN" \
            "$BIN" listen --json --speak --no-save -t "$THREADS" --temp 0 -n 16 \
            --max-seconds 5.3 --model "$model" </dev/null 2>"$WORK/err")" || {
            cat "$WORK/err" >&2
            exit 1
        }
        python3 -c '
import json, sys
r = json.loads(sys.argv[2])
print(sys.argv[1], r["clip_seconds"], r["release_to_first_token_ms"], r["release_to_first_audio_ms"], r["stats"].get("audio_tokens", 0))
' "$name" "$out"
    done
}
{
    run omni "$omni/omni-tiny.gguf"
    run whisper "$gemma"
} > "$WORK/results"
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, clip, tok, audio, atoks = line.split()
    rows.setdefault(name, []).append((float(clip), float(tok), None if audio == "None" else float(audio), int(atoks)))
print(f"{'set-up':8} {'clip s':>6} {'→ first token ms (median, max)':>32} {'→ first audio ms (median, max)':>32} {'audio tokens':>12}")
for name, rs in rows.items():
    tok = [r[1] for r in rs]
    aud = [r[2] for r in rs if r[2] is not None]
    a = f"{statistics.median(aud):8.0f} {max(aud):8.0f}" if aud else "n/a"
    print(f"{name:8} {rs[0][0]:6.2f} {statistics.median(tok):23.0f} {max(tok):8.0f} {a:>32} {rs[0][3]:12d}")
PY

# The hands-free case. Talk needs ONNX Runtime for the VAD either way.
{
    echo "[audio]"
    echo "whisper_model = \"$whisper\""
    echo "onnxruntime = \"$runtime\""
    echo "vad_model = \"$vad\""
    if [ -n "$voice" ]; then echo "piper_voice = \"$voice\""; fi
} > "$WORK/talk.toml"
log "talk mode: ${REPS_TALK:-10} turns and ${REPS_TALK:-10} barge-ins per set-up"
OMNIDESK_WHISPER="$WHISPER_BIN" python3 scripts/bench_talk.py "$BIN" "$WORK/talk.toml" omni "$omni/omni-tiny.gguf" "${REPS_TALK:-10}"
OMNIDESK_WHISPER="$WHISPER_BIN" python3 scripts/bench_talk.py "$BIN" "$WORK/talk.toml" whisper "$gemma" "${REPS_TALK:-10}"
