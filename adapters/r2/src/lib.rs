//! molts-r2: the `BlobStore` port over a Cloudflare R2 bucket binding.
//!
//! - `put` reads the body, hashes it (SHA-256) and writes the object in one R2 `put`, which is
//!   atomic: a reader sees the old object or the whole new one. The content type is the object's
//!   HTTP metadata and the hash a custom metadata field (`sha256`), so `get` returns both.
//! - `get` of a missing key is `NotFound`; a range past the end is clamped, one starting at or
//!   past it (or empty) is `Invalid`; bad keys and content types are `Invalid` (the rules of `molts_core::ports::check_blob_key` and its siblings).
//! - `signed_url` is `None`: a bucket binding cannot sign (presigning needs R2's S3 API
//!   credentials), so molts serves the bytes itself.
//!
//! R2's JS objects are not `Send`; as in molts-fetch, futures and streams are wrapped at this
//! boundary (`worker::send`), never by loosening core's trait.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use molts_core::ports::{
    BlobMeta, BlobObject, BlobStore, ByteStream, check_blob_key, check_content_type, served_range,
};
use molts_core::{Error, Result};
use sha2::{Digest, Sha256};
use worker::send::{SendFuture, SendWrapper};
use worker::{Bucket, HttpMetadata};

/// The custom metadata field holding the object's SHA-256.
const SHA256_FIELD: &str = "sha256";

/// `BlobStore` over one bucket (`env.bucket("BLOBS")`).
#[derive(Clone)]
pub struct R2BlobStore {
    bucket: SendWrapper<Bucket>,
}

impl R2BlobStore {
    /// A store over the binding.
    pub fn new(bucket: Bucket) -> Self {
        Self {
            bucket: SendWrapper::new(bucket),
        }
    }
}

fn r2_error(what: &'static str, e: &worker::Error) -> Error {
    Error::unavailable(what).with_source(std::io::Error::other(e.to_string()))
}

fn meta_of(key: &str, object: &worker::Object) -> BlobMeta {
    let custom = object.custom_metadata().unwrap_or_default();
    BlobMeta {
        key: key.to_owned(),
        size: object.size(),
        content_type: object
            .http_metadata()
            .content_type
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
        sha256: custom.get(SHA256_FIELD).cloned().unwrap_or_default(),
    }
}

/// An R2 body stream as a `Send` `ByteStream`.
fn send_stream(stream: worker::ByteStream) -> ByteStream {
    futures::stream::unfold(Some(SendWrapper::new(stream)), |state| async move {
        let mut body = state?;
        match SendFuture::new(body.next()).await {
            Some(Ok(chunk)) => Some((Ok(Bytes::from(chunk)), Some(body))),
            Some(Err(e)) => Some((Err(r2_error("reading from R2 failed", &e)), None)),
            None => None,
        }
    })
    .boxed()
}

impl R2BlobStore {
    async fn put_local(
        &self,
        key: &str,
        content_type: &str,
        mut body: ByteStream,
    ) -> Result<BlobMeta> {
        check_blob_key(key)?;
        check_content_type(content_type)?;
        // Read whole before writing: a body that fails part-way then stores nothing, and R2's
        // single put needs the length up front anyway.
        let mut data = Vec::new();
        while let Some(chunk) = body.next().await {
            data.extend_from_slice(&chunk?);
        }
        let sha256 = hex::encode(Sha256::digest(&data));
        let size = data.len() as u64;
        let custom = HashMap::from([(SHA256_FIELD.to_owned(), sha256.clone())]);
        self.bucket
            .put(key, data)
            .http_metadata(HttpMetadata {
                content_type: Some(content_type.to_owned()),
                ..HttpMetadata::default()
            })
            .custom_metadata(custom)
            .execute()
            .await
            .map_err(|e| r2_error("writing to R2 failed", &e))?;
        Ok(BlobMeta {
            key: key.to_owned(),
            size,
            content_type: content_type.to_owned(),
            sha256,
        })
    }

    async fn get_local(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobObject> {
        check_blob_key(key)?;
        let not_found = || Error::not_found("file", key);
        let Some(range) = range else {
            let object = self
                .bucket
                .get(key)
                .execute()
                .await
                .map_err(|e| r2_error("reading from R2 failed", &e))?
                .ok_or_else(not_found)?;
            let meta = meta_of(key, &object);
            let body = match object.body() {
                Some(body) => send_stream(
                    body.stream()
                        .map_err(|e| r2_error("reading from R2 failed", &e))?,
                ),
                None => futures::stream::empty().boxed(),
            };
            return Ok(BlobObject {
                meta,
                body,
                range: None,
            });
        };
        // The size decides whether the range is valid, so look before reading.
        let head = self
            .bucket
            .head(key)
            .await
            .map_err(|e| r2_error("reading from R2 failed", &e))?
            .ok_or_else(not_found)?;
        let served = served_range(&range, head.size())?;
        let object = self
            .bucket
            .get(key)
            .range(worker::Range::OffsetWithLength {
                offset: served.start,
                length: served.end - served.start,
            })
            .execute()
            .await
            .map_err(|e| r2_error("reading from R2 failed", &e))?
            .ok_or_else(not_found)?;
        let meta = meta_of(key, &object);
        let body = match object.body() {
            Some(body) => send_stream(
                body.stream()
                    .map_err(|e| r2_error("reading from R2 failed", &e))?,
            ),
            None => futures::stream::empty().boxed(),
        };
        Ok(BlobObject {
            meta,
            body,
            range: Some(served),
        })
    }
}

#[async_trait]
impl BlobStore for R2BlobStore {
    async fn put(&self, key: &str, content_type: &str, body: ByteStream) -> Result<BlobMeta> {
        SendFuture::new(self.put_local(key, content_type, body)).await
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobObject> {
        SendFuture::new(self.get_local(key, range)).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_blob_key(key)?;
        SendFuture::new(self.bucket.delete(key))
            .await
            .map_err(|e| r2_error("deleting from R2 failed", &e))
    }

    async fn signed_url(&self, _key: &str, _expires_in: Duration) -> Result<Option<String>> {
        Ok(None)
    }
}
