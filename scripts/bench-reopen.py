#!/usr/bin/env python3
"""Reopen benchmark (issue 16): the follow-up to a ~3,000-token conversation
in a freshly started `omnidesk serve`, with the conversation's KV cache
restored from disk vs read cold ([engine] kv_cache_mib = 0), next to a
freshly started `llama-server` reading it cold. Reports TTFT medians, the
prompt tokens evaluated, and the bytes saved per 1,000 tokens."""

import argparse
import importlib.util
import json
import os
import shutil
import signal
import statistics
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("switch", os.path.join(HERE, "bench-switch.py"))
switch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(switch)


def body(conv, max_tokens):
    return {
        "model": "m",
        "messages": conv,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def start(kind, args, data):
    if kind == "llama-server":
        return switch.start_llama_server(args)
    mib = 0 if kind == "cold" else 4096
    return switch.start_omnidesk(args, data, f"kv_cache_mib = {mib}\n", f"{kind}.toml")


def stop(p):
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnidesk", required=True)
    ap.add_argument("--llama-server", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--words", type=int, default=2300, help="words in the long first message")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    topic, words = switch.TOPICS[0]
    conv = [{"role": "user", "content": switch.filler(topic, words, args.words)}]
    rows = {}
    with tempfile.TemporaryDirectory() as data:
        # Build the conversation once, in a server that saves it on exit.
        p, host, port, token = start("restored", args, data)
        _, text, last = switch.stream(host, port, "/v1/chat/completions", token, body(conv, 32))
        stop(p)
        conv.append({"role": "assistant", "content": text})
        conv.append({"role": "user", "content": "Thanks. What else should I know?"})
        prompt_tokens = (last.get("usage") or {}).get("prompt_tokens", 0)
        kv = os.path.join(data, "kv-cache")
        saved_bytes = sum(os.path.getsize(os.path.join(kv, f)) for f in os.listdir(kv))
        # Each restored run starts from the cache as the first server left
        # it (a run saves the longer conversation on exit).
        kept = os.path.join(data, "kv-kept")
        shutil.copytree(kv, kept)
        for kind in ["restored", "cold", "llama-server"]:
            rows[kind] = []
            for _ in range(args.reps):
                if kind == "restored":
                    shutil.rmtree(kv)
                    shutil.copytree(kept, kv)
                p, host, port, token = start(kind, args, data)
                ttft, _, last = switch.stream(
                    host, port, "/v1/chat/completions", token, body(conv, 8))
                rows[kind].append((ttft, switch.evaluated(kind if kind == "llama-server" else "omnidesk", last)))
                stop(p)
    report = {
        "prompt_tokens_first_turn": prompt_tokens,
        "kv_file_bytes": saved_bytes,
        "bytes_per_1000_tokens": round(saved_bytes * 1000 / max(prompt_tokens, 1)),
    }
    for kind, rs in rows.items():
        report[kind] = {
            "ttft_ms_median": round(statistics.median(r[0] for r in rs) * 1000, 1),
            "evaluated_median": statistics.median(r[1] or 0 for r in rs),
        }
    report["cold_over_restored"] = round(
        report["cold"]["ttft_ms_median"] / report["restored"]["ttft_ms_median"], 2)
    report["llama_server_cold_over_restored"] = round(
        report["llama-server"]["ttft_ms_median"] / report["restored"]["ttft_ms_median"], 2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for k, v in report.items():
            print(f"{k:>34}: {v}")


if __name__ == "__main__":
    main()
