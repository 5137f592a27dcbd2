//! `GET /health/ready` in-process: 200 when the store and the blob store answer, 503 naming the
//! one that does not (a blob store whose every call fails), and `not_configured` without one.
#![allow(clippy::expect_used)] // a test's setup failing should fail it loudly

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use molts_core::memory::MemoryBlobStore;
use molts_core::ports::{BlobMeta, BlobObject, BlobStore, ByteStream};
use molts_core::{Error, Gateway, GatewayConfig, Ports, Result};
use molts_http_api::{ApiState, router};
use serde_json::Value;
use tower::ServiceExt;

/// A blob store that is down.
struct Down;

#[async_trait]
impl BlobStore for Down {
    async fn put(&self, _key: &str, _content_type: &str, _body: ByteStream) -> Result<BlobMeta> {
        Err(Error::unavailable("the bucket does not answer"))
    }
    async fn get(&self, _key: &str, _range: Option<Range<u64>>) -> Result<BlobObject> {
        Err(Error::unavailable("the bucket does not answer"))
    }
    async fn delete(&self, _key: &str) -> Result<()> {
        Err(Error::unavailable("the bucket does not answer"))
    }
    async fn signed_url(
        &self,
        _key: &str,
        _expires_in: std::time::Duration,
    ) -> Result<Option<String>> {
        Ok(None)
    }
}

async fn ready(blobs: Option<Arc<dyn BlobStore>>) -> (StatusCode, Value) {
    let mut gateway = Gateway::new(Ports::in_memory(), GatewayConfig::default());
    if let Some(blobs) = blobs {
        gateway = gateway.with_blobs(blobs);
    }
    gateway.bootstrap(None).await.expect("bootstrap");
    let app = router(ApiState::new(gateway));
    let request = Request::get("/health/ready")
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).expect("json"))
}

#[tokio::test]
async fn ready_when_every_dependency_answers() {
    let (status, body) = ready(Some(Arc::new(MemoryBlobStore::new()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["store"]["status"], "ok");
    assert_eq!(body["checks"]["blobs"]["status"], "ok");
    assert_eq!(body["down"], serde_json::json!([]));
}

#[tokio::test]
async fn a_blob_store_that_is_down_is_named() {
    let (status, body) = ready(Some(Arc::new(Down))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["down"], serde_json::json!(["blobs"]));
    assert_eq!(body["checks"]["blobs"]["status"], "down");
    assert_eq!(
        body["checks"]["blobs"]["error"],
        "the bucket does not answer"
    );
    assert_eq!(body["checks"]["store"]["status"], "ok");
}

#[tokio::test]
async fn no_blob_store_is_not_configured_not_down() {
    let (status, body) = ready(None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["blobs"]["status"], "not_configured");
}
