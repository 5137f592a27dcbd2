//! The soak: saturated load through molts for minutes on end, printed minute by minute.
//!
//! What a short benchmark cannot show is growth: a log that is never restarted, a table that
//! only grows, memory that is never given back, a stall that comes once a minute. So every
//! minute this prints the requests answered, their p50/p99/p99.9 and maximum latency, and how
//! molts stands: its resident memory (from `/proc/<pid>/status`), and its SQLite write-ahead
//! log and database file sizes (the log's largest size seen in the minute, sampled every
//! second, as well as at the minute's end). Figures only: nothing here passes or fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the soak runs against, and where to look at molts.
pub(crate) struct Soak<'a> {
    pub(crate) client: &'a reqwest::Client,
    pub(crate) url: &'a str,
    pub(crate) key: &'a str,
    pub(crate) body: &'a Value,
    pub(crate) concurrency: usize,
    pub(crate) minutes: u64,
    /// molts' process id, for its resident memory.
    pub(crate) pid: Option<u32>,
    /// molts' SQLite file; its `-wal` beside it.
    pub(crate) database: Option<PathBuf>,
    /// Where to write every request's start (ms since the soak began) and latency, as
    /// `--latencies` does for the latency benchmark: to see whether slow requests come
    /// together (something every request waits for) and how often.
    pub(crate) latencies: Option<PathBuf>,
}

/// The answered requests of one minute (when each started, since the soak began, and how
/// long it took), and its failures.
#[derive(Default)]
struct Minute {
    requests: Vec<(Duration, Duration)>,
    errors: u64,
}

impl Soak<'_> {
    /// Runs the load for `minutes`, printing a line a minute.
    pub(crate) async fn run(&self) -> Result<(), String> {
        println!(
            "soak: {} minute(s) at concurrency {}; the log's size is the minute's largest \
             (sampled each second) / at its end",
            self.minutes, self.concurrency
        );
        println!(
            "{:>3} | {:>8} {:>7} | {:>8} {:>8} {:>8} {:>8} | {:>8} | {:>17} | {:>9}",
            "min",
            "requests",
            "req/s",
            "p50",
            "p99",
            "p99.9",
            "max",
            "RSS",
            "WAL max / end",
            "database"
        );
        println!(
            "  0 | {:>8} {:>7} | {:>8} {:>8} {:>8} {:>8} | {:>8} | {:>17} | {:>9}",
            "",
            "",
            "",
            "",
            "",
            "",
            mib(self.rss()),
            format!("{} / {}", mib(self.wal()), mib(self.wal())),
            mib(self.database_bytes()),
        );
        let minute = Arc::new(Mutex::new(Minute::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let began = Instant::now();
        let mut csv = match &self.latencies {
            Some(path) => {
                use std::io::Write;
                let mut file = std::fs::File::create(path).map_err(|e| e.to_string())?;
                writeln!(file, "start_ms,latency_ms").map_err(|e| e.to_string())?;
                Some(file)
            }
            None => None,
        };
        let sent = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..self.concurrency)
            .map(|_| {
                let worker = Worker {
                    client: self.client.clone(),
                    url: self.url.to_owned(),
                    key: self.key.to_owned(),
                    body: self.body.clone(),
                    minute: minute.clone(),
                    stop: stop.clone(),
                    sent: sent.clone(),
                    began,
                };
                tokio::spawn(worker.run())
            })
            .collect();
        for n in 1..=self.minutes {
            let minute_began = Instant::now();
            let mut wal_max = 0u64;
            while minute_began.elapsed() < Duration::from_secs(60) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                wal_max = wal_max.max(self.wal().unwrap_or(0));
            }
            let done = std::mem::take(&mut *minute.lock().unwrap_or_else(PoisonError::into_inner));
            if let Some(file) = &mut csv {
                use std::io::Write;
                let mut text = String::new();
                for (start, latency) in &done.requests {
                    text.push_str(&format!(
                        "{:.3},{:.3}\n",
                        crate::ms(*start),
                        crate::ms(*latency)
                    ));
                }
                file.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
            }
            self.print(n, done, minute_began.elapsed(), wal_max);
        }
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            let _ = worker.await;
        }
        println!("requests sent in all: {}", sent.load(Ordering::Relaxed));
        Ok(())
    }

    fn print(&self, n: u64, done: Minute, took: Duration, wal_max: u64) {
        let mut latencies: Vec<Duration> = done.requests.iter().map(|&(_, l)| l).collect();
        latencies.sort();
        let count = latencies.len();
        let at = |q: f64| {
            latencies
                .get(((count.max(1) as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |d| crate::ms(*d))
        };
        let wal_end = self.wal();
        let errors = if done.errors > 0 {
            format!(" ({} failed)", done.errors)
        } else {
            String::new()
        };
        println!(
            "{n:>3} | {count:>8} {:>7.0} | {:>6.2}ms {:>6.2}ms {:>6.1}ms {:>6.1}ms | {:>8} | {:>17} | {:>9}{errors}",
            count as f64 / took.as_secs_f64(),
            at(0.50),
            at(0.99),
            at(0.999),
            at(1.0),
            mib(self.rss()),
            format!(
                "{} / {}",
                mib(wal_end.map(|end| end.max(wal_max))),
                mib(wal_end)
            ),
            mib(self.database_bytes()),
        );
    }

    /// molts' resident memory in bytes (Linux).
    fn rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    fn wal(&self) -> Option<u64> {
        let db = self.database.as_deref()?;
        file_size(&with_suffix(db, "-wal"))
    }

    fn database_bytes(&self) -> Option<u64> {
        file_size(self.database.as_deref()?)
    }
}

/// One of the concurrent clients: a request after another until told to stop.
struct Worker {
    client: reqwest::Client,
    url: String,
    key: String,
    body: Value,
    minute: Arc<Mutex<Minute>>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    began: Instant,
}

impl Worker {
    async fn run(self) {
        while !self.stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let ok = match self
                .client
                .post(&self.url)
                .bearer_auth(&self.key)
                .json(&self.body)
                .send()
                .await
            {
                Ok(r) => {
                    let status = r.status();
                    r.bytes().await.is_ok() && status.is_success()
                }
                Err(_) => false,
            };
            let latency = t.elapsed();
            self.sent.fetch_add(1, Ordering::Relaxed);
            let mut minute = self.minute.lock().unwrap_or_else(PoisonError::into_inner);
            if ok {
                minute
                    .requests
                    .push((t.duration_since(self.began), latency));
            } else {
                minute.errors += 1;
            }
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn mib(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{:.1}M", b as f64 / (1024.0 * 1024.0)),
        None => "-".to_owned(),
    }
}
