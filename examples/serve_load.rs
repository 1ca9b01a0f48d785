//! Load test for `omnidesk serve` (a benchmark, not part of the test
//! suite; run it through `scripts/bench-serve.sh`).
//!
//! Starts the server binary on 127.0.0.1 with a free port, then N
//! concurrent streaming clients send R requests in total, cycling through a
//! few greedy prompts whose answers are known beforehand. Every streamed
//! answer must equal its prompt's answer, carry one id and end with
//! `[DONE]` — a dropped or mixed-up response fails the run. The server's
//! VmRSS is sampled throughout. Prints requests/s and TTFT percentiles.
//!
//! Usage: serve_load --server-bin PATH --model GGUF [--clients N]
//!        [--requests R] [--max-tokens T] [--threads K]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

const PROMPTS: [&str; 4] = [
    "Name three colours.",
    "What is the capital of France?",
    "Say hello in Spanish.",
    "What is two plus two?",
];

struct Args {
    server_bin: String,
    model: String,
    clients: usize,
    requests: usize,
    max_tokens: u32,
    threads: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        server_bin: String::new(),
        model: String::new(),
        clients: 4,
        requests: 1000,
        max_tokens: 8,
        threads: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--server-bin" => a.server_bin = value()?,
            "--model" => a.model = value()?,
            "--clients" => a.clients = num(value()?)?,
            "--requests" => a.requests = num(value()?)?,
            "--max-tokens" => a.max_tokens = num(value()?)? as u32,
            "--threads" => a.threads = num(value()?)? as u32,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.server_bin.is_empty() || a.model.is_empty() {
        return Err("--server-bin and --model are required".into());
    }
    Ok(a)
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One streamed request: (text, ttft ms) or why it was wrong.
async fn stream_once(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    prompt: &str,
    max_tokens: u32,
) -> Result<(String, f64), String> {
    let body = json!({
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0, "seed": 1, "max_tokens": max_tokens, "stream": true,
    });
    let t = Instant::now();
    let res = client
        .post(format!("{base}/chat/completions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("HTTP {}", res.status()));
    }
    let mut bytes = res.bytes_stream();
    let mut buf = String::new();
    let mut text = String::new();
    let mut ttft = None;
    let mut id: Option<String> = None;
    let mut finishes = 0;
    let mut done = false;
    while let Some(chunk) = bytes.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.map_err(|e| e.to_string())?));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let Some(data) = event.trim().strip_prefix("data: ") else {
                continue;
            };
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let v: Value = serde_json::from_str(data).map_err(|e| format!("{e}: {data}"))?;
            let this = v["id"].as_str().unwrap_or_default().to_string();
            match &id {
                None => id = Some(this),
                Some(first) if *first != this => return Err("ids mixed in one stream".into()),
                Some(_) => {}
            }
            if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
                if !c.is_empty() && ttft.is_none() {
                    ttft = Some(t.elapsed().as_secs_f64() * 1000.0);
                }
                text.push_str(c);
            }
            if v["choices"][0]["finish_reason"].is_string() {
                finishes += 1;
            }
        }
    }
    if !done || finishes != 1 {
        return Err(format!(
            "incomplete stream (done={done}, finishes={finishes})"
        ));
    }
    Ok((text, ttft.unwrap_or(t.elapsed().as_secs_f64() * 1000.0)))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = parse_args()?;
    let dir = std::env::temp_dir().join(format!("omnidesk-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[engine]\nthreads = {}\nn_ctx = 2048\n", args.threads),
    )
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(&args.server_bin)
        .args(["serve", "--port", "0", "--model", &args.model])
        .env("OMNIDESK_DATA_DIR", &dir)
        .env("OMNIDESK_CONFIG", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.server_bin))?;
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let (mut base, mut token) = (String::new(), String::new());
    while token.is_empty() {
        let line = lines
            .next()
            .ok_or("server exited before listening")?
            .map_err(|e| e.to_string())?;
        if let Some(b) = line.strip_prefix("Omnidesk API listening on ") {
            base = b.trim().to_string();
        } else if let Some(t) = line.strip_prefix("Token: ") {
            token = t.trim().to_string();
        }
    }
    let client = reqwest::Client::new();

    // Known answers (also the warm-up).
    let mut expected = Vec::new();
    for p in PROMPTS {
        let (text, _) = stream_once(&client, &base, &token, p, args.max_tokens).await?;
        expected.push(text);
    }
    let rss_start = vm_rss_kib(pid).unwrap_or(0);
    let samples = Arc::new(Mutex::new(Vec::<(f64, u64)>::new()));
    let sampler = {
        let samples = samples.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            loop {
                if let Some(kib) = vm_rss_kib(pid) {
                    if let Ok(mut s) = samples.lock() {
                        s.push((t.elapsed().as_secs_f64(), kib));
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    let next = Arc::new(AtomicUsize::new(0));
    let expected = Arc::new(expected);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            let (next, expected) = (next.clone(), expected.clone());
            let (total, max_tokens) = (args.requests, args.max_tokens);
            tokio::spawn(async move {
                let mut ttfts = Vec::new();
                let mut errors = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        break;
                    }
                    if i > 0 && i % 100 == 0 {
                        eprintln!(
                            "[serve_load] {i} requests started, server VmRSS {} KiB",
                            vm_rss_kib(pid).unwrap_or(0)
                        );
                    }
                    let k = i % PROMPTS.len();
                    match stream_once(&client, &base, &token, PROMPTS[k], max_tokens).await {
                        Ok((text, ttft)) if text == expected[k] => ttfts.push(ttft),
                        Ok((text, _)) => errors.push(format!(
                            "request {i}: got {text:?}, expected {:?}",
                            expected[k]
                        )),
                        Err(e) => errors.push(format!("request {i}: {e}")),
                    }
                }
                (ttfts, errors)
            })
        })
        .collect();
    let mut ttfts = Vec::new();
    let mut errors = Vec::new();
    for w in workers {
        let (t, e) = w.await.map_err(|e| e.to_string())?;
        ttfts.extend(t);
        errors.extend(e);
    }
    let wall = started.elapsed().as_secs_f64();
    sampler.abort();
    let rss_end = vm_rss_kib(pid).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    ttfts.sort_by(f64::total_cmp);
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let rss_max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let rss_min = samples.iter().map(|s| s.1).min().unwrap_or(0);
    let tenth = samples.len() / 10;
    let mean = |s: &[(f64, u64)]| s.iter().map(|x| x.1 as f64).sum::<f64>() / s.len().max(1) as f64;
    println!(
        "clients {}  requests {}  max_tokens {}",
        args.clients, args.requests, args.max_tokens
    );
    println!(
        "ok {}  failed {}  wall {:.1} s  => {:.2} requests/s",
        ttfts.len(),
        errors.len(),
        wall,
        args.requests as f64 / wall
    );
    println!(
        "TTFT ms: p50 {:.0}  p95 {:.0}  p99 {:.0}  max {:.0}",
        percentile(&ttfts, 0.5),
        percentile(&ttfts, 0.95),
        percentile(&ttfts, 0.99),
        percentile(&ttfts, 1.0)
    );
    println!(
        "VmRSS KiB: after warm-up {rss_start}  min {rss_min}  max {rss_max}  end {rss_end}  \
         first-10% mean {:.0}  last-10% mean {:.0}",
        mean(&samples[..tenth]),
        mean(&samples[samples.len() - tenth..])
    );
    for e in errors.iter().take(10) {
        eprintln!("  {e}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} responses were wrong",
            errors.len(),
            args.requests
        ))
    }
}
