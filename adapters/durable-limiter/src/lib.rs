//! molts-durable-limiter: the `RateLimiter` port over a Cloudflare Durable Object.
//!
//! Each rate key (an agent) gets its own object, addressed by name, so every Worker isolate
//! anywhere agrees on one counter. The object does the check and the record in one step: it
//! holds its window in memory, decides and counts without awaiting anything in between (a
//! Durable Object runs one event at a time and never interleaves synchronous code), then writes
//! the window to its storage before answering (the output gate holds the answer until the write
//! is durable). So of N concurrent hits on a fresh window with limit L exactly min(N, L) are
//! allowed, and an evicted object reloads its window from storage instead of forgetting it (the
//! predecessor checked and recorded in two calls, and lost history on eviction).
//!
//! Semantics are `molts_core::memory::MemoryRateLimiter`'s: fixed windows aligned to multiples
//! of the window since the Unix epoch, refused hits not counted, `remaining` saturating when a
//! limit dropped mid-window.
//!
//! [`RateLimiterObject`] is the Durable Object class (exported by the worker; `wrangler.toml`
//! binds it as `RATE_LIMITER`); [`DurableRateLimiter`] is the port, used by the worker.

mod object;

use std::time::Duration;

use async_trait::async_trait;
use molts_core::ports::{FixedWindow, RateDecision, RateLimiter};
use molts_core::{Error, Result, Timestamp};
use serde::{Deserialize, Serialize};
use worker::send::{SendFuture, SendWrapper};
use worker::{Method, ObjectNamespace, Request, RequestInit};

pub use object::RateLimiterObject;

/// What the port sends the object.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct Hit {
    limit: u32,
    window_ms: u64,
    now_ms: i64,
}

/// What the object answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct Decision {
    allowed: bool,
    limit: u32,
    remaining: u32,
    reset_after_ms: u64,
}

/// The stored window: its width, index and count.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
struct Window {
    width_ms: u64,
    index: i64,
    count: u32,
}

/// Checks and records one hit on `window` (in place): the whole decision, with no I/O.
fn decide(window: &mut Window, hit: Hit) -> Decision {
    let FixedWindow { index, left, .. } =
        FixedWindow::at_ms(hit.now_ms, Duration::from_millis(hit.window_ms));
    let left = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
    if window.index != index || window.width_ms != hit.window_ms {
        *window = Window {
            width_ms: hit.window_ms,
            index,
            count: 0,
        };
    }
    let allowed = window.count < hit.limit;
    if allowed {
        window.count += 1;
    }
    Decision {
        allowed,
        limit: hit.limit,
        remaining: hit.limit.saturating_sub(window.count),
        reset_after_ms: left,
    }
}

/// `RateLimiter` over the Durable Object namespace bound as `RATE_LIMITER`.
#[derive(Clone)]
pub struct DurableRateLimiter {
    namespace: SendWrapper<ObjectNamespace>,
}

impl DurableRateLimiter {
    /// A limiter over the namespace (`env.durable_object("RATE_LIMITER")`).
    pub fn new(namespace: ObjectNamespace) -> Self {
        Self {
            namespace: SendWrapper::new(namespace),
        }
    }

    async fn hit_local(&self, key: &str, hit: Hit) -> worker::Result<Decision> {
        let stub = self.namespace.id_from_name(key)?.get_stub()?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(serde_json::to_string(&hit)?.into()));
        // The host is a placeholder: a stub's fetch goes to the object, never the network.
        let request = Request::new_with_init("https://rate-limiter/hit", &init)?;
        let mut response = stub.fetch_with_request(request).await?;
        if response.status_code() != 200 {
            return Err(worker::Error::RustError(format!(
                "the limiter object answered {}",
                response.status_code()
            )));
        }
        response.json().await
    }
}

#[async_trait]
impl RateLimiter for DurableRateLimiter {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateDecision> {
        let hit = Hit {
            limit,
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            now_ms: now.timestamp_millis(),
        };
        let decision = SendFuture::new(self.hit_local(key, hit))
            .await
            .map_err(|e| {
                Error::unavailable("the rate limiter is unavailable")
                    .with_source(std::io::Error::other(e.to_string()))
            })?;
        Ok(RateDecision {
            allowed: decision.allowed,
            limit: decision.limit,
            remaining: decision.remaining,
            reset_after: Duration::from_millis(decision.reset_after_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(limit: u32, now_ms: i64) -> Hit {
        Hit {
            limit,
            window_ms: 60_000,
            now_ms,
        }
    }

    #[test]
    fn counts_up_to_the_limit_then_refuses_without_counting() {
        let mut w = Window::default();
        let t = 1_800_000_012_345;
        let answers: Vec<Decision> = (0..4).map(|_| decide(&mut w, hit(3, t))).collect();
        assert_eq!(
            answers.iter().map(|d| d.allowed).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(answers[2].remaining, 0);
        assert_eq!(w.count, 3, "a refused hit is not counted");
        assert_eq!(
            answers[0].reset_after_ms,
            60_000 - (t.rem_euclid(60_000) as u64)
        );
    }

    #[test]
    fn windows_are_aligned_to_the_epoch_and_reset() {
        let mut w = Window::default();
        // The last millisecond of one window, then the first of the next (1.8e12 is a multiple
        // of 60 000).
        let edge = 1_800_000_000_000 + 59_999;
        assert!(decide(&mut w, hit(1, edge)).allowed);
        let refused = decide(&mut w, hit(1, edge));
        assert!(!refused.allowed);
        assert_eq!(refused.reset_after_ms, 1);
        let next = decide(&mut w, hit(1, edge + 1));
        assert!(next.allowed);
        assert_eq!(next.reset_after_ms, 60_000);
    }

    #[test]
    fn a_lowered_limit_saturates_remaining() {
        let mut w = Window::default();
        let t = 1_800_000_000_000;
        for _ in 0..5 {
            decide(&mut w, hit(10, t));
        }
        let lowered = decide(&mut w, hit(2, t));
        assert!(!lowered.allowed);
        assert_eq!(lowered.remaining, 0);
        assert_eq!(lowered.limit, 2);
    }

    #[test]
    fn wire_shapes_round_trip() -> serde_json::Result<()> {
        let h = hit(5, 42);
        assert_eq!(serde_json::from_str::<Hit>(&serde_json::to_string(&h)?)?, h);
        Ok(())
    }
}
