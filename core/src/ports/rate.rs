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

/// Counts requests per key in fixed windows.
///
/// # Contract
/// `hit` atomically checks and records: of N concurrent hits on a fresh window with limit L,
/// exactly min(N, L) are allowed. A refused hit is not counted. Windows are aligned to multiples
/// of `window` since the Unix epoch, so every replica agrees on them.
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
}
