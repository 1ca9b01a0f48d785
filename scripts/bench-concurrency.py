#!/usr/bin/env python3
"""Concurrency benchmark: 1, 4 and 8 streaming clients at once against
`omnidesk serve` and llama.cpp's `llama-server -np N --cont-batching`, same
model, threads and context, in one run.

Each client asks its own questions one after another (greedy, a fixed
answer length). Reported per server and N: aggregate generated tokens/s
over the wall time, time to first token p50/p95, and how many answers
differ from that server's one-client answer to the same question (batched
answers must not be mixed up). Standard library only.

Usage: bench-concurrency.py --omnidesk BIN --llama-server BIN --model GGUF
                            [--threads 2] [--clients 1,4,8] [--requests 2]
                            [--max-tokens 64]
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("switch", os.path.join(HERE, "bench-switch.py"))
switch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(switch)

QUESTIONS = [
    "Write a short poem about the sea.",
    "Explain how a bicycle works.",
    "List five fruits and their colours.",
    "What is the capital of Japan? Tell me about it.",
    "Describe a cat to someone who has never seen one.",
    "Give me three tips for learning to cook.",
    "Why is the sky blue?",
    "Tell me a story about a robot who learns to paint.",
    "How do plants make food from sunlight?",
    "What should I pack for a week of hiking?",
    "Explain what a database index is.",
    "Describe the taste of a lemon.",
    "Why do we have seasons?",
    "Suggest a name for a small bakery and explain it.",
    "How does a refrigerator keep food cold?",
    "Tell me about the history of chess.",
]


def generated(last):
    usage = last.get("usage") or {}
    if usage.get("completion_tokens") is not None:
        return usage["completion_tokens"]
    return (last.get("timings") or {}).get("predicted_n", 0)


def run_clients(host, port, token, n, args):
    """`n` clients, each asking `args.requests` questions in turn; returns
    (wall seconds, [(question, ttft, text, tokens)])."""
    results, lock = [], threading.Lock()

    def client(c):
        for r in range(args.requests):
            q = QUESTIONS[(c * args.requests + r) % len(QUESTIONS)]
            body = {
                "model": "m",
                "messages": [{"role": "user", "content": q}],
                "max_tokens": args.max_tokens,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            ttft, text, last = switch.stream(host, port, "/v1/chat/completions", token, body)
            with lock:
                results.append((q, ttft, text, generated(last)))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started, results


def percentile(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnidesk", required=True)
    ap.add_argument("--llama-server", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--requests", type=int, default=2, help="questions per client")
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    ns = [int(n) for n in args.clients.split(",")]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in ns:
            # The window keeps a slot of its own: N API clients need N + 1.
            starts = [
                ("omnidesk", lambda: switch.start_omnidesk(
                    args, tmp, f"slots = {n + 1}\nkv_cache_mib = 0\n", f"c{n}.toml")),
                ("llama-server", lambda: switch.start_llama_server(
                    args, np=n, extra=["--cont-batching"])),
            ]
            for kind, start in starts:
                p, host, port, token = start()
                try:
                    # One answer to warm up (page cache, thread pool).
                    switch.stream(host, port, "/v1/chat/completions", token, {
                        "model": "m", "messages": [{"role": "user", "content": "Hi"}],
                        "max_tokens": 4, "temperature": 0, "stream": True})
                    rows[(kind, n)] = run_clients(host, port, token, n, args)
                finally:
                    p.terminate()
                    p.wait(timeout=30)
    print(f"concurrency: {args.requests} questions per client, {args.max_tokens} tokens each, "
          f"greedy, {args.threads} threads, {os.path.basename(args.model)}")
    print(f"  {'N':>2} {'server':13s} {'tok/s':>7} {'TTFT p50':>9} {'p95':>7} {'mixed':>5}")
    summary = {}
    for n in ns:
        for kind in ("omnidesk", "llama-server"):
            wall, res = rows[(kind, n)]
            alone = {q: text for q, _, text, _ in rows.get((kind, 1), (0, []))[1]}
            mixed = sum(1 for q, _, text, _ in res if q in alone and alone[q] != text)
            tps = sum(r[3] for r in res) / wall
            ttfts = [r[1] for r in res]
            summary[(kind, n)] = tps
            print(f"  {n:>2} {kind:13s} {tps:7.1f} {percentile(ttfts, 50) * 1000:7.0f}ms "
                  f"{percentile(ttfts, 95) * 1000:5.0f}ms {mixed:>5}")
        o, l = summary[("omnidesk", n)], summary[("llama-server", n)]
        print(f"  {n:>2} ratio omnidesk/llama-server aggregate tok/s: {o / l:.2f}x")
    json.dump({f"{k}-{n}": v for (k, n), v in summary.items()}, sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
