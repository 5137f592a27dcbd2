//! What one quota reservation and its settlement cost on this store, one at a time (the
//! concurrency-1 request path of `scripts/bench.sh` without HTTP and without the provider).
//!
//! ```text
//! cargo run --release -p molts-sea-orm --example quota_bench                 # temp SQLite file
//! cargo run --release -p molts-sea-orm --example quota_bench -- postgres://… 5000
//! ```
//!
//! Prints p50/p90/p99/max of `reserve`, of a `settle` whose measured amount differs from the
//! hold (text tokens), and of one whose amount equals it (images, searches).

use std::time::{Duration, Instant};

use molts_core::domain::{Period, PeriodLimit, ReserveOutcome, ReserveRequest, Unit};
use molts_core::ports::QuotaStore;
use molts_sea_orm::SeaOrmStore;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<22} p50 {:>7.3} ms  p90 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(1.0))
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir()?;
    let url = args.next().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("molts.db").display()
        )
    });
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3000);
    let store = SeaOrmStore::connect(&url).await?;
    store.migrate().await?;
    let agent = format!("agt_bench_{}", std::process::id());
    let now = molts_core::Timestamp::from_timestamp_millis(1_790_000_000_000).unwrap_or_default();
    let request = |i: usize| ReserveRequest {
        reservation_id: format!("rsv_{agent}_{i}"),
        agent_id: agent.clone(),
        unit: Unit::TextToken,
        amount: 40,
        periods: vec![
            PeriodLimit {
                period: Period::Day,
                key: "2026-09-21".to_owned(),
                max: Some(1_000_000_000_000),
            },
            PeriodLimit {
                period: Period::Month,
                key: "2026-09".to_owned(),
                max: Some(1_000_000_000_000),
            },
        ],
        at: now,
        expires_at: now + chrono::Duration::minutes(15),
    };
    // Warm up: pages, connections, counter rows.
    for i in 0..200 {
        store.reserve(&request(i)).await?;
        store.settle(&format!("rsv_{agent}_{i}"), 21, now).await?;
    }
    let (mut reserve, mut settle_diff, mut settle_same) = (Vec::new(), Vec::new(), Vec::new());
    for i in 200..200 + n {
        let t = Instant::now();
        let outcome = store.reserve(&request(i)).await?;
        reserve.push(t.elapsed());
        assert_eq!(outcome, ReserveOutcome::Reserved);
        let id = format!("rsv_{agent}_{i}");
        let t = Instant::now();
        if i % 2 == 0 {
            store.settle(&id, 21, now).await?;
            settle_diff.push(t.elapsed());
        } else {
            store.settle(&id, 40, now).await?;
            settle_same.push(t.elapsed());
        }
    }
    println!("{url}, {n} reservations, one at a time");
    summary("reserve", reserve);
    summary("settle (amount moved)", settle_diff);
    summary("settle (as held)", settle_same);
    store.close().await?;
    Ok(())
}
