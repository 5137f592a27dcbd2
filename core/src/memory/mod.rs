//! In-memory adapters: a store implementing every store port, and a process-local rate limiter.
//! For tests, demos and embedding; state is lost when the process ends.

mod rate_limiter;
mod store;

pub use rate_limiter::MemoryRateLimiter;
pub use store::MemoryStore;
