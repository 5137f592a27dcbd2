//! Test-only routes (cargo feature `contract-tests`, never in a deploy): the contract suites of
//! `molts_core::testkit` (the stores against the real D1 binding, the blob contract against the
//! real R2 binding) and a concurrency check of the Durable Object limiter, each run inside
//! workerd and answered as `{"name","ok","error"}`. scripts/workers-conformance.sh calls them
//! under `wrangler dev`. A failed assertion in the suite panics, which fails the request: the
//! script counts anything but `"ok":true` as a failure. Each contract function has its own check
//! (a failure names it), and `run_all` / `run_blob_suite` run the suites whole, so a contract
//! function added to testkit later runs here without a change to this file.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use molts_core::ports::RateLimiter;
use molts_core::{Error, Ids, Result, Stores, SystemIds, testkit};

use molts_d1::D1Store;
use molts_durable_limiter::DurableRateLimiter;
use molts_r2::R2BlobStore;
use serde_json::json;
use worker::{Env, HttpRequest};

/// Where the test routes live.
pub(crate) const PREFIX: &str = "/_molts_test/";

/// Every check, by the name in the path.
pub(crate) const CHECKS: &[&str] = &[
    "instances",
    "projects",
    "agents",
    "api_keys",
    "admin_keys",
    "provider_keys",
    "tiers",
    "models",
    "quota_ledger",
    "quota_expiry",
    "quota_concurrent_exactness",
    "quota_invariant_random_mix",
    "quota_forgetting",
    "jobs",
    "jobs_idempotency",
    "jobs_idempotency_race",
    "jobs_listing",
    "jobs_compare_and_swap",
    "jobs_concurrent_updates",
    "jobs_due",
    "artifacts",
    "artifacts_concurrent_versions",
    "storage_accounting",
    "storage_concurrent_caps",
    "outputs_by_age",
    "request_log",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_deliveries_concurrent",
    "webhook_deliveries_due",
    "blob_round_trip",
    "blob_ranges",
    "blob_missing_and_delete",
    "blob_keys",
    "blob_overwrite",
    "blob_failed_put",
    "blob_large",
    "limiter_exactness",
    "run_all",
    "run_blob_suite",
];

pub(crate) async fn handle(req: HttpRequest, env: &Env) -> Response {
    let name = req.uri().path().trim_start_matches(PREFIX).to_owned();
    if name == "list" {
        return Json(json!({ "checks": CHECKS })).into_response();
    }
    let outcome = run(&name, env).await;
    let body = match &outcome {
        Ok(()) => json!({ "name": name, "ok": true }),
        Err(e) => json!({ "name": name, "ok": false, "error": e.to_string() }),
    };
    Json(body).into_response()
}

async fn run(name: &str, env: &Env) -> Result<()> {
    let stores = || -> Result<Stores> {
        let db = env.d1("DB").map_err(|e| {
            Error::internal("no D1 binding `DB`").with_source(std::io::Error::other(e.to_string()))
        })?;
        Ok(D1Store::new(db).into_stores())
    };
    let blobs = || -> Result<R2BlobStore> {
        let bucket = env.bucket("BLOBS").map_err(|e| {
            Error::internal("no R2 binding `BLOBS`")
                .with_source(std::io::Error::other(e.to_string()))
        })?;
        Ok(R2BlobStore::new(bucket))
    };
    match name {
        "instances" => testkit::instances(&stores()?).await,
        "projects" => testkit::projects(&stores()?).await,
        "agents" => testkit::agents(&stores()?).await,
        "api_keys" => testkit::api_keys(&stores()?).await,
        "admin_keys" => testkit::admin_keys(&stores()?).await,
        "provider_keys" => testkit::provider_keys(&stores()?).await,
        "tiers" => testkit::tiers(&stores()?).await,
        "models" => testkit::models(&stores()?).await,
        "quota_ledger" => testkit::quota_ledger(&stores()?).await,
        "quota_expiry" => testkit::quota_expiry(&stores()?).await,
        "quota_concurrent_exactness" => {
            testkit::quota_concurrent_exactness(&stores()?, 200, 10).await
        }
        "quota_invariant_random_mix" => {
            testkit::quota_invariant_random_mix(&stores()?, 0x5eed, 120).await
        }
        "quota_forgetting" => testkit::quota_forgetting(&stores()?).await,
        "jobs" => testkit::jobs(&stores()?).await,
        "jobs_idempotency" => testkit::jobs_idempotency(&stores()?).await,
        "jobs_idempotency_race" => testkit::jobs_idempotency_race(&stores()?, 20).await,
        "jobs_listing" => testkit::jobs_listing(&stores()?).await,
        "jobs_compare_and_swap" => testkit::jobs_compare_and_swap(&stores()?).await,
        "jobs_concurrent_updates" => testkit::jobs_concurrent_updates(&stores()?, 20).await,
        "jobs_due" => testkit::jobs_due(&stores()?).await,
        "artifacts" => testkit::artifacts(&stores()?).await,
        "artifacts_concurrent_versions" => {
            testkit::artifacts_concurrent_versions(&stores()?, 20).await
        }
        "storage_accounting" => testkit::storage_accounting(&stores()?).await,
        "storage_concurrent_caps" => testkit::storage_concurrent_caps(&stores()?, 30).await,
        "outputs_by_age" => testkit::outputs_by_age(&stores()?).await,
        "request_log" => testkit::request_log(&stores()?).await,
        "webhook_endpoints" => testkit::webhook_endpoints(&stores()?).await,
        "webhook_deliveries" => testkit::webhook_deliveries(&stores()?).await,
        "webhook_deliveries_concurrent" => {
            testkit::webhook_deliveries_concurrent(&stores()?, 20).await
        }
        "webhook_deliveries_due" => testkit::webhook_deliveries_due(&stores()?).await,
        "blob_round_trip" => testkit::blob_round_trip(&blobs()?).await,
        "blob_ranges" => testkit::blob_ranges(&blobs()?).await,
        "blob_missing_and_delete" => testkit::blob_missing_and_delete(&blobs()?).await,
        "blob_keys" => testkit::blob_keys(&blobs()?).await,
        "blob_overwrite" => testkit::blob_overwrite(&blobs()?).await,
        "blob_failed_put" => testkit::blob_failed_put(&blobs()?).await,
        "blob_large" => testkit::blob_large(&blobs()?).await,
        "limiter_exactness" => limiter_exactness(env).await,
        "run_all" => testkit::run_all(&stores()?).await,
        "run_blob_suite" => testkit::run_blob_suite(&blobs()?).await,
        other => Err(Error::not_found("check", other)),
    }
}

fn check(ok: bool, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::internal(format!("check failed: {what}")))
    }
}

/// 50 concurrent hits on a fresh key with limit 10: exactly 10 allowed, then refusals.
async fn limiter_exactness(env: &Env) -> Result<()> {
    let namespace = env.durable_object("RATE_LIMITER").map_err(|e| {
        Error::internal("no binding `RATE_LIMITER`")
            .with_source(std::io::Error::other(e.to_string()))
    })?;
    let limiter: Arc<dyn RateLimiter> = Arc::new(DurableRateLimiter::new(namespace));
    let key = SystemIds.id("agt");
    let now = chrono_now();
    let hits = (0..50).map(|_| limiter.hit(&key, 10, Duration::from_secs(60), now));
    let decisions = futures::future::join_all(hits).await;
    let mut allowed = 0;
    for d in decisions {
        if d?.allowed {
            allowed += 1;
        }
    }
    check(
        allowed == 10,
        &format!("{allowed} of 50 hits allowed against a limit of 10"),
    )?;
    let after = limiter.hit(&key, 10, Duration::from_secs(60), now).await?;
    check(
        !after.allowed && after.remaining == 0,
        "the window stays full",
    )?;
    let other = limiter
        .hit(&format!("{key}-other"), 10, Duration::from_secs(60), now)
        .await?;
    check(
        other.allowed && other.remaining == 9,
        "keys are independent",
    )
}

fn chrono_now() -> molts_core::Timestamp {
    molts_core::Clock::now(&molts_core::SystemClock)
}
