//! Contract checks for a `RateLimiter` (the in-memory one here, the SQL one on SQLite and
//! PostgreSQL in molts-sea-orm): exactness under concurrency, refusals not counted, windows
//! aligned to the epoch, keys independent, a lowered limit honoured mid-window, finished windows
//! forgotten and current ones kept.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::ports::RateLimiter;

use super::{now_ms, unique};

const MINUTE: Duration = Duration::from_secs(60);

fn check(ok: bool, what: impl Into<String>) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "rate limiter contract: {}",
            what.into()
        )))
    }
}

/// The start of the minute `now` is in, plus `ms`.
fn in_this_minute(ms: i64) -> crate::Timestamp {
    let now = now_ms().timestamp_millis();
    let start = now - now.rem_euclid(60_000);
    chrono::DateTime::from_timestamp_millis(start + ms).unwrap_or_else(now_ms)
}

/// `hits` concurrent hits on a fresh key with `limit`: exactly `limit` allowed.
pub async fn rate_concurrent_exactness(
    limiter: &dyn RateLimiter,
    hits: usize,
    limit: u32,
) -> Result<()> {
    let key = unique("rate");
    let now = in_this_minute(1_000);
    let decisions =
        futures::future::join_all((0..hits).map(|_| limiter.hit(&key, limit, MINUTE, now))).await;
    let mut allowed = 0usize;
    for decision in decisions {
        if decision?.allowed {
            allowed += 1;
        }
    }
    let expected = hits.min(usize::try_from(limit).unwrap_or(usize::MAX));
    check(
        allowed == expected,
        format!("{allowed} of {hits} concurrent hits allowed against a limit of {limit}"),
    )
}

/// One key through a window and into the next: remaining counts down, a refusal is not counted,
/// the window resets on the epoch-aligned boundary, and other keys are untouched.
pub async fn rate_windows(limiter: &dyn RateLimiter) -> Result<()> {
    let key = unique("rate");
    let at = in_this_minute(15_000);
    for expected_remaining in [2, 1, 0] {
        let d = limiter.hit(&key, 3, MINUTE, at).await?;
        check(
            d.allowed && d.remaining == expected_remaining && d.limit == 3,
            format!("hit with {expected_remaining} left: {d:?}"),
        )?;
        check(
            d.reset_after == Duration::from_secs(45),
            format!("15 s into the minute, the window resets in 45 s: {d:?}"),
        )?;
    }
    for _ in 0..3 {
        let d = limiter.hit(&key, 3, MINUTE, at).await?;
        check(
            !d.allowed && d.remaining == 0,
            format!("a full window refuses: {d:?}"),
        )?;
    }
    // Refusals were not counted: raising the limit mid-window frees exactly the difference.
    let d = limiter.hit(&key, 4, MINUTE, at).await?;
    check(
        d.allowed && d.remaining == 0,
        format!("a raised limit allows one more: {d:?}"),
    )?;
    // A lowered limit below what was used refuses, with nothing left (not an underflow).
    let d = limiter.hit(&key, 2, MINUTE, at).await?;
    check(
        !d.allowed && d.remaining == 0,
        format!("a lowered limit refuses: {d:?}"),
    )?;

    let other = limiter.hit(&unique("rate"), 3, MINUTE, at).await?;
    check(
        other.allowed && other.remaining == 2,
        format!("keys are independent: {other:?}"),
    )?;

    let next = in_this_minute(60_000);
    let d = limiter.hit(&key, 3, MINUTE, next).await?;
    check(
        d.allowed && d.remaining == 2 && d.reset_after == MINUTE,
        format!("the next minute is a fresh window: {d:?}"),
    )
}

/// `forget_finished` forgets a window that has ended and keeps the current one's count. What was
/// forgotten is seen by going back to its moment: a forgotten window starts over from nothing.
pub async fn rate_forget_finished(limiter: &dyn RateLimiter) -> Result<()> {
    let (old, current) = (unique("rate"), unique("rate"));
    let last_minute = in_this_minute(-30_000);
    let now = in_this_minute(10_000);
    for _ in 0..2 {
        limiter.hit(&old, 3, MINUTE, last_minute).await?;
        limiter.hit(&current, 3, MINUTE, now).await?;
    }
    let forgotten = limiter.forget_finished(MINUTE, now).await?;
    check(
        forgotten >= 1,
        format!("a finished window is forgotten (forgot {forgotten})"),
    )?;
    let d = limiter.hit(&old, 3, MINUTE, last_minute).await?;
    check(
        d.allowed && d.remaining == 2,
        format!("the forgotten window starts over: {d:?}"),
    )?;
    let d = limiter.hit(&current, 3, MINUTE, now).await?;
    check(
        d.allowed && d.remaining == 0,
        format!("the current window keeps its count: {d:?}"),
    )
}

/// Every rate limiter contract check.
pub async fn run_rate_suite(limiter: &dyn RateLimiter) -> Result<()> {
    rate_windows(limiter).await?;
    rate_forget_finished(limiter).await?;
    rate_concurrent_exactness(limiter, 200, 10).await
}
