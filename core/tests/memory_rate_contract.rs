//! The rate limiter contract suite against the process-local limiter, on the plain futures
//! executor (it needs no runtime).

use molts_core::memory::MemoryRateLimiter;
use molts_core::testkit;

#[test]
fn memory_rate_limiter_passes_the_contract() -> molts_core::Result<()> {
    futures::executor::block_on(testkit::run_rate_suite(&MemoryRateLimiter::new()))
}
