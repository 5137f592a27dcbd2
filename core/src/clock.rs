//! The `Clock` port: every "now" in core comes from here, so tests can move time and the Workers
//! runtime can read `Date.now()` where `std::time` is unavailable.

use chrono::{DateTime, Datelike, Utc};

/// A point in time, always UTC.
pub type Timestamp = DateTime<Utc>;

/// Source of the current time.
///
/// # Contract
/// `now` never goes backwards within one process by more than the host clock does; core only uses
/// it for expiry, windows and period keys, never for ordering writes.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The host's wall clock: the OS clock natively, JavaScript's `Date.now()` on
/// `wasm32-unknown-unknown` (Workers, browsers), where `std::time` would panic.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// A clock the caller sets by hand, for tests and simulations.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    /// A clock that reads `start` until moved.
    pub fn new(start: Timestamp) -> Self {
        Self(std::sync::Mutex::new(start))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The calendar periods quotas are counted in. Keys are UTC calendar days and months, so every
/// replica agrees on which counter a request lands in without coordination.
pub fn day_key(at: Timestamp) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The month key (`2026-11`) for `at`.
pub fn month_key(at: Timestamp) -> String {
    format!("{:04}-{:02}", at.year(), at.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn period_keys_are_utc_calendar() {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).single();
        let t = t.unwrap_or_default();
        assert_eq!(day_key(t), "2026-11-30");
        assert_eq!(month_key(t), "2026-11");
        let clock = ManualClock::new(t);
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(day_key(clock.now()), "2026-12-01");
        assert_eq!(month_key(clock.now()), "2026-12");
    }
}
