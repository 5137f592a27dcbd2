//! The store contract suite: plain async functions every store adapter runs against itself
//! (memory here, sea-orm on SQLite and PostgreSQL, D1 inside workerd). Each function makes its
//! own uniquely named rows, so they can share one database and run in any order. `run_blob_suite`
//! is the same for `BlobStore`s (memory here, local files and S3 in molts-object-store), and
//! `run_rate_suite` for `RateLimiter`s (memory here, SQL in molts-sea-orm).
//!
//! ```ignore
//! molts_core::testkit::run_all(&stores).await?;
//! molts_core::testkit::run_blob_suite(&blob_store).await?;
//! ```

mod accounts;
mod artifacts;
mod blob;
mod catalog;
mod jobs;
mod quota;
mod rate;
mod requests;
mod storage;
mod webhooks;

pub use accounts::{admin_keys, agents, api_keys, instances, projects, provider_keys};
pub use artifacts::{artifacts, artifacts_concurrent_versions};
pub use blob::{
    blob_failed_put, blob_keys, blob_large, blob_missing_and_delete, blob_overwrite, blob_ranges,
    blob_round_trip, run_blob_suite,
};
pub use catalog::{models, tiers};
pub use jobs::{
    jobs, jobs_compare_and_swap, jobs_concurrent_updates, jobs_due, jobs_idempotency,
    jobs_idempotency_race, jobs_listing,
};
pub use quota::{
    quota_concurrent_exactness, quota_expiry, quota_forgetting, quota_invariant_random_mix,
    quota_ledger,
};
pub use rate::{rate_concurrent_exactness, rate_forget_finished, rate_windows, run_rate_suite};
pub use requests::request_log;
pub use storage::{outputs_by_age, storage_accounting, storage_concurrent_caps};
pub use webhooks::{
    webhook_deliveries, webhook_deliveries_concurrent, webhook_deliveries_due, webhook_endpoints,
};

use chrono::Duration;

use crate::Timestamp;
use crate::error::{ErrorKind, Result};
use crate::ports::Stores;

/// Runs every contract function in turn.
pub async fn run_all(stores: &Stores) -> Result<()> {
    instances(stores).await?;
    projects(stores).await?;
    agents(stores).await?;
    api_keys(stores).await?;
    admin_keys(stores).await?;
    provider_keys(stores).await?;
    tiers(stores).await?;
    models(stores).await?;
    quota_ledger(stores).await?;
    quota_expiry(stores).await?;
    quota_concurrent_exactness(stores, 200, 10).await?;
    quota_invariant_random_mix(stores, 0x5eed, 120).await?;
    quota_forgetting(stores).await?;
    jobs(stores).await?;
    jobs_idempotency(stores).await?;
    jobs_idempotency_race(stores, 20).await?;
    jobs_listing(stores).await?;
    jobs_compare_and_swap(stores).await?;
    jobs_concurrent_updates(stores, 20).await?;
    jobs_due(stores).await?;
    artifacts(stores).await?;
    artifacts_concurrent_versions(stores, 20).await?;
    storage_accounting(stores).await?;
    storage_concurrent_caps(stores, 30).await?;
    outputs_by_age(stores).await?;
    request_log(stores).await?;
    webhook_endpoints(stores).await?;
    webhook_deliveries(stores).await?;
    webhook_deliveries_concurrent(stores, 20).await?;
    webhook_deliveries_due(stores).await?;
    Ok(())
}

/// A fresh unique suffix for row ids and names.
pub(crate) fn unique(prefix: &str) -> String {
    use crate::ids::Ids;
    crate::ids::SystemIds.id(prefix)
}

/// A timestamp with whole milliseconds (what every store keeps).
pub(crate) fn now_ms() -> crate::Timestamp {
    // `Utc::now()`, not `SystemTime`: the suite also runs inside workerd (wasm32).
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// The error kind of a failed call, `None` if it succeeded.
fn kind<T>(result: Result<T>) -> Option<ErrorKind> {
    result.err().map(|e| e.kind())
}

/// How many racers succeeded; every loser must have failed with `Conflict`.
fn winners(outcomes: Vec<Result<()>>) -> Result<usize> {
    let mut won = 0;
    for outcome in outcomes {
        match outcome {
            Ok(()) => won += 1,
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(won)
}

/// Ten years from now: never due in anyone's sweep.
fn far_future() -> Timestamp {
    now_ms() + Duration::days(3650)
}
