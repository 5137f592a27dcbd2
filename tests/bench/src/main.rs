//! `molts-bench`: the latency molts adds over calling the provider directly.
//!
//! Sends the same chat completion to the fake OpenAI endpoint directly and through molts (agent
//! key authentication, the per-agent rate limiter and quota reserve/settle all on), at
//! concurrency 1 and 32, and prints p50/p99 latency, throughput, and molts' added latency as
//! figures and ratios. With `--runs n` each concurrency is measured n times (direct and through
//! molts alternating) and the medians are printed too: on a shared machine one run says little.
//! Run it through `scripts/bench.sh`, which starts the fake and molts. With `--soak-minutes`
//! it instead holds molts under load for that long and prints it minute by minute (`soak.rs`).

mod soak;

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
    /// Measurements per concurrency level; medians are printed when more than one.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Also write every request's start (ms since its measurement began) and latency to this CSV
    /// file, to see when the slow ones happen (a tail that comes in bursts at a steady interval
    /// is background work, not the request path).
    #[arg(long)]
    latencies: Option<std::path::PathBuf>,
    /// Instead of measuring added latency, send requests through molts at the first
    /// `--concurrency` for this many minutes, printing figures each minute.
    #[arg(long)]
    soak_minutes: Option<u64>,
    /// With `--soak-minutes`: molts' process id, to print its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// With `--soak-minutes`: molts' SQLite file, to print its size and its log's.
    #[arg(long)]
    database: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy)]
struct Stats {
    p50: Duration,
    p99: Duration,
    throughput: f64,
}

/// One measurement: the fake directly, then through molts.
#[derive(Clone, Copy)]
struct Pair {
    direct: Stats,
    via: Stats,
}

impl Pair {
    fn added_p50(&self) -> Duration {
        self.via.p50.saturating_sub(self.direct.p50)
    }

    fn added_p99(&self) -> Duration {
        self.via.p99.saturating_sub(self.direct.p99)
    }
}

fn median<T: Copy>(
    pairs: &[Pair],
    key: impl Fn(&Pair) -> T,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> T {
    let mut values: Vec<T> = pairs.iter().map(key).collect();
    values.sort_by(&cmp);
    values[values.len() / 2]
}

fn print_row(label: &str, p: &Pair) {
    println!(
        "{label:>11} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>9.3}ms {:>9.3}ms",
        ms(p.direct.p50),
        ms(p.direct.p99),
        p.direct.throughput,
        ms(p.via.p50),
        ms(p.via.p99),
        p.via.throughput,
        ms(p.added_p50()),
        ms(p.added_p99()),
    );
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
) -> Result<(Stats, Vec<(Duration, Duration)>), String> {
    let started = Instant::now();
    let results: Vec<Result<(Duration, Duration), String>> = futures::stream::iter(0..requests)
        .map(|_| async {
            let t = Instant::now();
            let start = t.duration_since(started);
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
            Ok((start, t.elapsed()))
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    let mut timed = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    timed.sort();
    let stats = stats(timed.iter().map(|&(_, latency)| latency).collect(), wall);
    Ok((stats, timed))
}

/// Appends one measurement's requests to the `--latencies` CSV.
fn record(
    out: &mut Option<std::fs::File>,
    concurrency: usize,
    run_no: usize,
    path: &str,
    timed: &[(Duration, Duration)],
) -> Result<(), String> {
    use std::io::Write;
    let Some(file) = out else { return Ok(()) };
    let mut text = String::new();
    for (start, latency) in timed {
        text.push_str(&format!(
            "{concurrency},{run_no},{path},{:.3},{:.3}\n",
            ms(*start),
            ms(*latency)
        ));
    }
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())
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

    if let Some(minutes) = args.soak_minutes {
        run(&client, &molts_url, &key, &body, 300, 8).await?;
        let soak = soak::Soak {
            client: &client,
            url: &molts_url,
            key: &key,
            body: &body,
            concurrency: args.concurrency.first().copied().unwrap_or(32).max(1),
            minutes,
            pid: args.pid,
            database: args.database.clone(),
            latencies: args.latencies.clone(),
        };
        return soak.run().await;
    }

    // Warm both paths (connections, caches, SQLite pages).
    run(&client, &direct_url, &args.direct_key, &body, 300, 8).await?;
    run(&client, &molts_url, &key, &body, 300, 8).await?;

    println!(
        "requests per measurement: {}; measurements per concurrency: {}",
        args.requests,
        args.runs.max(1)
    );
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
    let mut out = match &args.latencies {
        Some(path) => {
            let mut file = std::fs::File::create(path).map_err(|e| e.to_string())?;
            use std::io::Write;
            writeln!(file, "concurrency,run,path,start_ms,latency_ms")
                .map_err(|e| e.to_string())?;
            Some(file)
        }
        None => None,
    };
    for &c in &args.concurrency {
        let mut pairs = Vec::new();
        for run_no in 0..args.runs.max(1) {
            let (direct, timed) = run(
                &client,
                &direct_url,
                &args.direct_key,
                &body,
                args.requests,
                c,
            )
            .await?;
            record(&mut out, c, run_no + 1, "direct", &timed)?;
            let (via, timed) = run(&client, &molts_url, &key, &body, args.requests, c).await?;
            record(&mut out, c, run_no + 1, "molts", &timed)?;
            let pair = Pair { direct, via };
            let label = if args.runs > 1 {
                format!("{c} #{}", run_no + 1)
            } else {
                c.to_string()
            };
            print_row(&label, &pair);
            pairs.push(pair);
        }
        // Each column's own median (so a row need not be one run), and the ratios of those.
        let by_time = |a: &Duration, b: &Duration| a.cmp(b);
        let by_rate = |a: &f64, b: &f64| a.total_cmp(b);
        let m = Pair {
            direct: Stats {
                p50: median(&pairs, |p| p.direct.p50, by_time),
                p99: median(&pairs, |p| p.direct.p99, by_time),
                throughput: median(&pairs, |p| p.direct.throughput, by_rate),
            },
            via: Stats {
                p50: median(&pairs, |p| p.via.p50, by_time),
                p99: median(&pairs, |p| p.via.p99, by_time),
                throughput: median(&pairs, |p| p.via.throughput, by_rate),
            },
        };
        if pairs.len() > 1 {
            println!(
                "{:>11} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>7.3}ms {:>7.3}ms {:>9.0} | {:>9.3}ms {:>9.3}ms",
                format!("{c} median"),
                ms(m.direct.p50),
                ms(m.direct.p99),
                m.direct.throughput,
                ms(m.via.p50),
                ms(m.via.p99),
                m.via.throughput,
                ms(median(&pairs, Pair::added_p50, by_time)),
                ms(median(&pairs, Pair::added_p99, by_time)),
            );
        }
        println!(
            "{:>11} | latency ratio p50 {:.2}x, p99 {:.2}x; throughput ratio {:.2}",
            "",
            ms(m.via.p50) / ms(m.direct.p50),
            ms(m.via.p99) / ms(m.direct.p99),
            m.via.throughput / m.direct.throughput
        );
    }
    Ok(())
}
