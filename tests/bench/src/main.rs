//! `molts-bench`: the latency molts adds over calling the provider directly.
//!
//! Sends the same chat completion to the fake OpenAI endpoint directly and through molts (agent
//! key authentication, the per-agent rate limiter and quota reserve/settle all on), at
//! concurrency 1 and 32, and prints p50/p99 latency, throughput, and molts' added latency as
//! figures and ratios. Run it through `scripts/bench.sh`, which starts the fake and molts.

use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// molts' base URL.
    #[arg(long)]
    molts: String,
    /// An operator admin token for molts.
    #[arg(long)]
    admin_token: String,
    /// The fake's OpenAI base URL (`…/openai/v1`).
    #[arg(long)]
    direct: String,
    /// The fake's OpenAI key.
    #[arg(long)]
    direct_key: String,
    /// Requests per measurement.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    concurrency: Vec<usize>,
}

struct Stats {
    p50: Duration,
    p99: Duration,
    throughput: f64,
}

fn stats(mut samples: Vec<Duration>, wall: Duration) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        throughput: samples.len() as f64 / wall.as_secs_f64(),
    }
}

async fn run(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
    requests: usize,
    concurrency: usize,
) -> Result<Stats, String> {
    let started = Instant::now();
    let results: Vec<Result<Duration, String>> = futures::stream::iter(0..requests)
        .map(|_| async {
            let t = Instant::now();
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status();
            let bytes = r.bytes().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
            }
            Ok(t.elapsed())
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    let samples = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(stats(samples, wall))
}

async fn admin(
    client: &reqwest::Client,
    args: &Args,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Result<Value, String> {
    let r = client
        .request(method, format!("{}{path}", args.molts))
        .bearer_auth(&args.admin_token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{path}: {status} {v}"));
    }
    Ok(v)
}

/// An agent on a tier whose rate and quota are checked on every request but never bind.
async fn bench_agent(client: &reqwest::Client, args: &Args) -> Result<String, String> {
    let suffix = std::process::id();
    let tier = format!("bench-{suffix}");
    admin(
        client,
        args,
        reqwest::Method::POST,
        "/v1/admin/tiers",
        json!({
            "id": tier, "name": "Benchmark", "requests_per_minute": 100_000_000u64,
            "limits": {"text_token": {"day": 1_000_000_000_000u64, "month": 1_000_000_000_000u64}}
        }),
    )
    .await?;
    let registered = admin(
        client,
        args,
        reqwest::Method::POST,
        "/v1/admin/agents",
        json!({"name": format!("bench {suffix}")}),
    )
    .await?;
    let agent = registered["agent_id"]
        .as_str()
        .ok_or("no agent id")?
        .to_owned();
    admin(
        client,
        args,
        reqwest::Method::PATCH,
        &format!("/v1/admin/agents/{agent}"),
        json!({"tier": tier}),
    )
    .await?;
    registered["api_key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no key".to_owned())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| e.to_string())?;
    let key = bench_agent(&client, &args).await?;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello in five words."}], "max_tokens": 32});
    let direct_url = format!("{}/chat/completions", args.direct.trim_end_matches('/'));
    let molts_url = format!("{}/v1/chat/completions", args.molts.trim_end_matches('/'));

    // Warm both paths (connections, caches, SQLite pages).
    run(&client, &direct_url, &args.direct_key, &body, 300, 8).await?;
    run(&client, &molts_url, &key, &body, 300, 8).await?;

    println!("requests per measurement: {}", args.requests);
    println!(
        "{:>11} | {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} | {:>11} {:>11}",
        "concurrency",
        "direct50",
        "direct99",
        "direct/s",
        "molts50",
        "molts99",
        "molts/s",
        "added p50",
        "added p99"
    );
    for &c in &args.concurrency {
        let direct = run(
            &client,
            &direct_url,
            &args.direct_key,
            &body,
            args.requests,
            c,
        )
        .await?;
        let via = run(&client, &molts_url, &key, &body, args.requests, c).await?;
        println!(
            "{c:>11} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>9.3}ms {:>9.3}ms",
            ms(direct.p50),
            ms(direct.p99),
            direct.throughput,
            ms(via.p50),
            ms(via.p99),
            via.throughput,
            ms(via.p50.saturating_sub(direct.p50)),
            ms(via.p99.saturating_sub(direct.p99)),
        );
        println!(
            "{:>11} | latency ratio p50 {:.2}x, p99 {:.2}x; throughput ratio {:.2}",
            "",
            ms(via.p50) / ms(direct.p50),
            ms(via.p99) / ms(direct.p99),
            via.throughput / direct.throughput
        );
    }
    Ok(())
}
