//! The blob contract on a real S3 API over HTTP: a local moto server that scripts/s3-tests.sh
//! installs, starts and points these tests at through the usual AWS variables
//! (`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, `AWS_REGION`, keys) plus `MOLTS_TEST_S3_ENDPOINT`.
//!
//! Both tests are `#[ignore]`d, so a plain `cargo test` lists them as ignored instead of passing
//! them silently; the script runs them with `--ignored`. Run by hand without the script they fail
//! and say so, rather than reaching for whatever AWS account the shell has credentials for.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use molts_core::ports::BlobStore;
use molts_core::testkit;
use molts_object_store::ObjectBlobStore;
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const NO_OPTIONS: [(&str, &str); 0] = [];

/// The moto endpoint the script started, or a failure that says how to get one.
fn endpoint() -> Result<String, String> {
    std::env::var("MOLTS_TEST_S3_ENDPOINT").map_err(|_| {
        "MOLTS_TEST_S3_ENDPOINT is not set: run scripts/s3-tests.sh, which starts a local S3 \
         server (moto) and runs these tests against it"
            .to_owned()
    })
}

/// A fresh bucket on the local server (moto takes an unsigned CreateBucket).
async fn bucket(endpoint: &str, name: &str) -> TestResult {
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("CreateBucket {name}: {}", response.status()).into());
    }
    Ok(())
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("molts-{tag}-{}-{nanos}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local S3 server: run scripts/s3-tests.sh"]
async fn s3_passes_the_contract() -> TestResult {
    let endpoint = endpoint()?;
    let name = unique("contract");
    bucket(&endpoint, &name).await?;
    // Credentials, region and endpoint come from the environment, as in production.
    let store = ObjectBlobStore::from_url(&format!("s3://{name}/runs/one"), NO_OPTIONS)?;
    assert!(store.can_sign());
    testkit::run_blob_suite(&store).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local S3 server: run scripts/s3-tests.sh"]
async fn s3_presigned_urls_fetch_the_stored_bytes() -> TestResult {
    let endpoint = endpoint()?;
    let name = unique("signed");
    bucket(&endpoint, &name).await?;
    let store = ObjectBlobStore::from_url(&format!("s3://{name}/artifacts"), NO_OPTIONS)?;
    let client = reqwest::Client::new();

    // One object sent in one request (digest as metadata), one multipart upload (12 MiB).
    for (key, size) in [
        ("runs/1/small.png", 300_000usize),
        ("runs/1/large.mp4", 12 << 20),
    ] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let content_type = if key.ends_with(".png") {
            "image/png"
        } else {
            "video/mp4"
        };
        let chunks: Vec<_> = data
            .chunks(1 << 20)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let meta = store
            .put(key, content_type, futures::stream::iter(chunks).boxed())
            .await?;
        assert_eq!(meta.sha256, hex::encode(Sha256::digest(&data)));

        let url = store
            .signed_url(key, Duration::from_secs(300))
            .await?
            .ok_or("S3 should sign")?;
        assert!(
            url.starts_with(&format!("{endpoint}/{name}/artifacts/{key}?")),
            "{url}"
        );
        assert!(
            url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=300"),
            "{url}"
        );
        assert!(
            !url.contains("AWS_SECRET") && !url.contains(&secret()),
            "{url}"
        );

        // Fetched by a client with no credentials at all: the URL is the only authority.
        let response = client.get(&url).send().await?;
        assert_eq!(response.status(), 200, "{url}");
        let served_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(served_type.as_deref(), Some(content_type));
        let body = response.bytes().await?;
        assert_eq!(body.len(), data.len());
        assert!(body == data, "{key}: presigned GET returned other bytes");
        store.delete(key).await?;
    }
    // The multipart upload's digest record went with its object.
    let listing = client
        .get(format!("{endpoint}/{name}?list-type=2&prefix=artifacts/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(listing.contains("<ListBucketResult"), "{listing}");
    assert!(!listing.contains("<Key>"), "objects left behind: {listing}");
    Ok(())
}

/// The secret key the script exported, so the URL can be checked not to contain it.
fn secret() -> String {
    std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "unset-secret".to_owned())
}
