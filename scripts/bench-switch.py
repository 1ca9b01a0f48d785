#!/usr/bin/env python3
"""Switch benchmark: two long conversations continued alternately, against
`omnidesk serve` and llama.cpp's `llama-server -np 2` in one run.

For every follow-up it records the time to the first streamed token and how
many prompt tokens the server evaluated (omnidesk: prompt_tokens minus
usage.prompt_tokens_details.cached_tokens; llama-server: timings.prompt_n),
and prints the medians side by side with their ratio. Standard library only.

Usage: bench-switch.py --omnidesk BIN --llama-server BIN --model GGUF
                       [--threads 2] [--rounds 10] [--words 1100] [--slots N]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import http.client

TOPICS = [
    ("lighthouses", "keeper lamp lens fog horn rocks storm coast tower beam ship"),
    ("bread baking", "flour yeast dough oven crust knead proof starter loaf salt"),
]


def filler(topic, words, n):
    """A long user message on `topic`, made of its words in varied order."""
    vocab = words.split()
    out = [f"Here are my long notes about {topic}."]
    for i in range(n):
        out.append(vocab[(i * 7 + i // 3) % len(vocab)])
        if i % 12 == 11:
            out[-1] += "."
    return " ".join(out)


def stream(host, port, path, token, body):
    """POST a streaming chat request; (ttft_s, text, last_json)."""
    conn = http.client.HTTPConnection(host, port, timeout=600)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.monotonic()
    conn.request("POST", path, json.dumps(body), headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"{path}: HTTP {resp.status}: {resp.read()[:300]!r}")
    ttft, text, last = None, [], {}
    for raw in resp:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                if ttft is None:
                    ttft = time.monotonic() - started
                text.append(piece)
        if chunk.get("usage") or chunk.get("timings"):
            last = chunk
    conn.close()
    return ttft if ttft is not None else time.monotonic() - started, "".join(text), last


def evaluated(kind, last):
    if kind == "llama-server":
        return (last.get("timings") or {}).get("prompt_n")
    usage = last.get("usage") or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return usage.get("prompt_tokens", 0) - cached


def run_case(kind, host, port, token, args):
    convs = [[{"role": "user", "content": filler(t, w, args.words)}] for t, w in TOPICS]
    rows = []
    for r in range(args.rounds + 1):
        for i, conv in enumerate(convs):
            if r > 0:
                conv.append({"role": "user", "content": f"Follow-up {r}: and what else?"})
            body = {
                "model": "m",
                "messages": conv,
                "max_tokens": 8,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            ttft, text, last = stream(host, port, "/v1/chat/completions", token, body)
            conv.append({"role": "assistant", "content": text})
            if r > 0:  # round 0 builds the two conversations
                rows.append((ttft, evaluated(kind, last)))
    return rows


def start_omnidesk(args, tmp, engine=None, name="config.toml"):
    """`omnidesk serve` with data in `tmp` and these `[engine]` lines
    (default: the threads and slots of `args`); (process, host, port, token)."""
    if engine is None:
        engine = f"slots = {args.slots}\n"
    config = os.path.join(tmp, name)
    with open(config, "w") as f:
        f.write(f"[engine]\nthreads = {args.threads}\nn_ctx = 8192\n{engine}")
    env = dict(os.environ, OMNIDESK_CONFIG=config, OMNIDESK_DATA_DIR=tmp)
    p = subprocess.Popen(
        [args.omnidesk, "serve", "--port", "0", "--model", args.model],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    addr = token = None
    while token is None:
        line = p.stdout.readline()
        if not line:
            raise SystemExit("omnidesk serve did not start")
        m = re.match(r"Omnidesk API listening on http://([^/\s]+)", line)
        if m:
            addr = m.group(1)
        if line.startswith("Token: "):
            token = line.split(": ", 1)[1].strip()
    host, port = addr.rsplit(":", 1)
    return p, host, int(port), token


def start_llama_server(args, np=2, extra=()):
    """The reference server with `np` slots; (process, host, port, None)."""
    port = 18000 + os.getpid() % 1000
    p = subprocess.Popen(
        [args.llama_server, "-m", args.model, "-t", str(args.threads), "-c", "8192",
         "-np", str(np), "--port", str(port), "--host", "127.0.0.1", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return p, "127.0.0.1", port, None
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("llama-server did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnidesk", required=True)
    ap.add_argument("--llama-server", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--words", type=int, default=1100)
    ap.add_argument("--slots", type=int, default=0,
                    help="omnidesk's [engine] slots (0 = auto; 1 = one sequence, as before)")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, start in [("omnidesk", lambda: start_omnidesk(args, tmp)),
                            ("llama-server", lambda: start_llama_server(args))]:
            p, host, port, token = start()
            try:
                results[kind] = run_case(kind, host, port, token, args)
            finally:
                p.terminate()
                p.wait(timeout=30)
    print(f"switch: 2 conversations, {args.rounds} alternating rounds, "
          f"{args.threads} threads, {os.path.basename(args.model)}")
    med = {}
    for kind, rows in results.items():
        ttft = statistics.median(r[0] for r in rows)
        ev = statistics.median(r[1] for r in rows if r[1] is not None)
        med[kind] = (ttft, ev)
        print(f"  {kind:13s} median TTFT {ttft * 1000:8.1f} ms, "
              f"median prompt tokens evaluated {ev:6.0f}")
    o, l = med["omnidesk"], med["llama-server"]
    print(f"  ratio omnidesk/llama-server: TTFT {o[0] / l[0]:.2f}x")
    json.dump({k: {"ttft_ms": v[0] * 1000, "evaluated": v[1]} for k, v in med.items()},
              sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
