//! A process-local fixed-window rate limiter. Correct for one process; several replicas need a
//! shared limiter (`molts_sea_orm::SqlRateLimiter` over their database, or a Durable Object on
//! Workers).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::error::Result;
use crate::ports::{FixedWindow, RateDecision, RateLimiter};

/// Windows kept before old ones are swept.
const SWEEP_EVERY: usize = 4096;

/// Counts requests per key per window in a map behind one lock.
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateDecision> {
        let FixedWindow {
            index,
            left: reset_after,
            ..
        } = FixedWindow::at(now, window);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= SWEEP_EVERY {
            windows.retain(|_, (i, _)| *i >= index);
        }
        let entry = windows.entry(key.to_owned()).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        Ok(RateDecision {
            allowed,
            limit,
            // Saturating: a key whose limit dropped mid-window (a tier downgrade) may already
            // have used more than the new limit.
            remaining: limit.saturating_sub(entry.1),
            reset_after,
        })
    }

    async fn forget_finished(&self, window: Duration, now: Timestamp) -> Result<u64> {
        let current = FixedWindow::at(now, window).index;
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let before = windows.len();
        windows.retain(|_, (index, _)| *index >= current);
        Ok(u64::try_from(before - windows.len()).unwrap_or(u64::MAX))
    }
}
