//! The `RateLimiter` port: per-key request rates, checked and recorded in one atomic step (the
//! predecessor checked and recorded in two calls, and lost requests between them).

use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::error::Result;

/// The limiter's answer, with what the `x-ratelimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether this request may proceed (it has been counted if so).
    pub allowed: bool,
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests left in the current window after this one.
    pub remaining: u32,
    /// Time until the window resets.
    pub reset_after: Duration,
}

/// The fixed window a moment falls in: windows are `width` long and aligned to multiples of it
/// since the Unix epoch, so every replica and every limiter agrees on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindow {
    /// The window's number since the epoch.
    pub index: i64,
    /// Its start, unix milliseconds.
    pub start_ms: i64,
    /// Its end (the next window's start), unix milliseconds.
    pub end_ms: i64,
    /// Time left in it from the moment asked about.
    pub left: Duration,
}

impl FixedWindow {
    /// The window of `width` (at least a millisecond) that `now_ms` falls in.
    pub fn at_ms(now_ms: i64, width: Duration) -> Self {
        let width = i64::try_from(width.as_millis()).unwrap_or(i64::MAX).max(1);
        let index = now_ms.div_euclid(width);
        let start_ms = now_ms - now_ms.rem_euclid(width);
        let left = width - now_ms.rem_euclid(width);
        Self {
            index,
            start_ms,
            end_ms: start_ms.saturating_add(width),
            left: Duration::from_millis(u64::try_from(left).unwrap_or(0)),
        }
    }

    /// The window of `width` that `now` falls in.
    pub fn at(now: Timestamp, width: Duration) -> Self {
        Self::at_ms(now.timestamp_millis(), width)
    }
}

/// Counts requests per key in fixed windows.
///
/// # Contract
/// `hit` atomically checks and records: of N concurrent hits on a fresh window with limit L,
/// exactly min(N, L) are allowed. A refused hit is not counted. Windows are aligned to multiples
/// of `window` since the Unix epoch, so every replica agrees on them. `forget_finished` removes
/// only windows that ended by `now`: a key's current window keeps its count.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` if it fits in `limit` per `window`.
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateDecision>;

    /// Forgets the windows of `window`'s width that ended by `now`, so a key never seen again
    /// does not keep its last window forever; answers how many were forgotten. The scheduled
    /// work calls it. The default forgets nothing, for limiters whose state goes away on its
    /// own (a Durable Object per key).
    async fn forget_finished(&self, window: Duration, now: Timestamp) -> Result<u64> {
        let _ = (window, now);
        Ok(0)
    }
}
