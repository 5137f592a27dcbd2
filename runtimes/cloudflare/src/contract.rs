//! Test-only routes (cargo feature `contract-tests`, never in a deploy): the store contract
//! suite (`molts_core::testkit`) against the real D1 binding, a round trip through the real R2
//! binding, and a concurrency check of the Durable Object limiter, each run inside workerd and
//! answered as `{"name","ok","error"}`. scripts/workers-conformance.sh calls them under
//! `wrangler dev`. A failed assertion in the suite panics, which fails the request: the script
//! counts anything but `"ok":true` as a failure.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use molts_core::ports::{BlobStore, RateLimiter};
use molts_core::{Error, Ids, Result, Stores, SystemIds, testkit};

use self::bytes_of::chunks;
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
    "r2_blobs",
    "limiter_exactness",
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
        "r2_blobs" => r2_blobs(env).await,
        "limiter_exactness" => limiter_exactness(env).await,
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

mod bytes_of {
    //! Bodies for the blob check.
    use bytes::Bytes;
    use futures::StreamExt;
    use molts_core::ports::ByteStream;

    /// `data` as a stream of `n`-byte chunks, as an upload arrives.
    pub(super) fn chunks(data: &[u8], n: usize) -> ByteStream {
        let parts: Vec<molts_core::Result<Bytes>> = data
            .chunks(n)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts).boxed()
    }
}

async fn collect(mut body: molts_core::ports::ByteStream) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Put (streamed in chunks), get whole and by range, an out-of-range read, overwrite, delete.
async fn r2_blobs(env: &Env) -> Result<()> {
    let bucket = env.bucket("BLOBS").map_err(|e| {
        Error::internal("no R2 binding `BLOBS`").with_source(std::io::Error::other(e.to_string()))
    })?;
    let store = R2BlobStore::new(bucket);
    let key = SystemIds.id("blob");
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let meta = store.put(&key, "video/mp4", chunks(&data, 8192)).await?;
    check(meta.size == 70_000, "size of what was put")?;
    check(meta.content_type == "video/mp4", "content type")?;
    // SHA-256 of the bytes, computed independently of the adapter.
    let expected = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&data))
    };
    check(meta.sha256 == expected, "sha256 on put")?;
    let whole = store.get(&key, None).await?;
    check(whole.meta == meta, "metadata read back")?;
    check(collect(whole.body).await? == data, "bytes read back")?;
    let part = store.get(&key, Some(100..1100)).await?;
    check(part.range == Some(100..1100), "range served")?;
    check(part.meta.size == 70_000, "size is the whole object's")?;
    check(collect(part.body).await? == data[100..1100], "range bytes")?;
    let past = store.get(&key, Some(70_000..70_010)).await;
    check(
        matches!(&past, Err(e) if e.kind() == molts_core::ErrorKind::Invalid),
        "a range past the end is Invalid",
    )?;
    store
        .put(&key, "text/plain", chunks(b"replaced", 3))
        .await?;
    let replaced = store.get(&key, None).await?;
    check(
        replaced.meta.content_type == "text/plain",
        "overwrite content type",
    )?;
    check(
        collect(replaced.body).await? == b"replaced",
        "overwrite bytes",
    )?;
    check(
        store.signed_url(&key, Duration::from_secs(60)).await? == None,
        "no signed URLs",
    )?;
    store.delete(&key).await?;
    store.delete(&key).await?;
    let gone = store.get(&key, None).await;
    check(
        matches!(&gone, Err(e) if e.kind() == molts_core::ErrorKind::NotFound),
        "a deleted object is NotFound",
    )
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
