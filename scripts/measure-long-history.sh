#!/usr/bin/env bash
# Time one /v1/chat/completions request with N short messages against
# `omnidesk serve`, and report serve's peak RSS (VmHWM).
# Usage: scripts/measure-long-history.sh OMNIDESK_BIN MODEL N [extra serve flags...]
set -euo pipefail
bin=$1 model=$2 n=$3
shift 3
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
printf '[engine]\nthreads = 2\nn_ctx = 2048\n' > "$dir/config.toml"
OMNIDESK_DATA_DIR=$dir OMNIDESK_CONFIG=$dir/config.toml \
  "$bin" serve --port 0 --model "$model" "$@" > "$dir/out" 2> "$dir/err" &
pid=$!
for _ in $(seq 1 600); do grep -q '^Token: ' "$dir/out" 2>/dev/null && break; sleep 0.2; done
base=$(sed -n 's/^Omnidesk API listening on //p' "$dir/out")
token=$(sed -n 's/^Token: //p' "$dir/out")
python3 - "$n" > "$dir/body.json" <<'PY'
import json, sys
n = int(sys.argv[1])
msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"} for i in range(n)]
msgs.append({"role": "user", "content": "Say hello."})
print(json.dumps({"messages": msgs, "max_tokens": 1, "temperature": 0, "stream": True}))
PY
echo "rss before: $(grep VmHWM /proc/$pid/status)"
curl -sS -N --max-time "${MAX_TIME:-300}" -o "$dir/answer" \
  -w 'status %{http_code}  first byte %{time_starttransfer} s  total %{time_total} s\n' \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary @"$dir/body.json" "$base/chat/completions" || echo "curl gave up after ${MAX_TIME:-300} s"
head -c 300 "$dir/answer"; echo
echo "rss peak: $(grep VmHWM /proc/$pid/status)"
