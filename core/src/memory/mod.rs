//! In-memory adapters: a store implementing every store port, a blob store, and a process-local
//! rate limiter. For tests, demos and embedding; state is lost when the process ends.

mod blob;
mod jobs;
mod rate_limiter;
mod requests;
mod store;

pub use blob::MemoryBlobStore;
pub use rate_limiter::MemoryRateLimiter;
pub use store::MemoryStore;
