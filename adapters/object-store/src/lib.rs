//! molts-object-store: the `BlobStore` port over the `object_store` crate, for generated files and
//! agents' uploads in the operator's object store.
//!
//! [`ObjectBlobStore::from_url`] opens `file:///dir` (local files), `memory://`,
//! `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`; cloud credentials,
//! region and endpoint come from the backend's usual environment variables (`AWS_*`,
//! `GOOGLE_*`, `AZURE_*`), with `options` (object_store config keys) on top.
//!
//! Bodies stream: up to 8 MiB goes up in one request, anything longer as a multipart upload of
//! 8 MiB parts (at most two in flight), the SHA-256 computed on the way. Where each object's size,
//! content type and SHA-256 live, and why every reader sees a whole version:
//!
//! - **S3, GCS, Azure, memory** (backends with object attributes): the content type is the
//!   object's `Content-Type`; the SHA-256 is user metadata (`x-amz-meta-sha256`, …) on objects
//!   sent in one request. A multipart upload has to name its metadata before the body (and so
//!   its digest) is known: it carries a fresh upload id instead (`moltsupload`), and the digest
//!   is written to `.molts/sha256/<upload id>` *before* the upload completes. Since the object
//!   and its metadata appear together when the upload completes, a reader who sees the object
//!   always finds its digest. The record of a replaced or deleted version is removed afterwards;
//!   a reader who raced that removal simply reads again.
//! - **Local files** (no attributes): a JSON sidecar at `.molts/meta/<key>.json` holds content
//!   type, size, SHA-256 and the data file's e-tag (inode, mtime, size). Within the process a
//!   lock makes "rename the new file into place, write its sidecar" one step for readers, who
//!   open the file (keeping that version's bytes however it is later replaced) and read the
//!   sidecar under the same lock. A sidecar whose e-tag does not match the file (a file put there
//!   by hand, or another process writing the same directory) is not trusted: the SHA-256 is then
//!   computed from the file and the type is `application/octet-stream`. One molts process per
//!   directory is the supported setup.
//!
//! `signed_url` presigns a GET on S3, GCS and Azure (at most 7 days) and is `None` for local
//! files and memory, where molts serves the bytes itself.

mod attributed;
mod errors;
mod keys;
mod open;
mod sidecar;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use molts_core::ports::{BlobMeta, BlobObject, BlobStore, ByteStream};
use molts_core::{Error, Result};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

/// Multipart part size, and the largest body sent in one request.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploading at once: bounds memory per upload to a few parts.
const PARTS_IN_FLIGHT: usize = 2;
/// The content type of objects whose type molts did not record.
const UNKNOWN_TYPE: &str = "application/octet-stream";
/// The longest presigned URL S3 and GCS accept.
const MAX_SIGNED_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// A `BlobStore` over any object_store backend.
pub struct ObjectBlobStore {
    inner: Arc<dyn ObjectStore>,
    signer: Option<Arc<dyn Signer>>,
    /// Keys live under this path ("" for none).
    prefix: String,
    /// Local files keep metadata in sidecars; everything else in object attributes.
    local: Option<sidecar::Sidecars>,
    /// The URL without credentials or query, for logs.
    described: String,
}

impl fmt::Debug for ObjectBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBlobStore")
            .field("at", &self.described)
            .finish_non_exhaustive()
    }
}

impl ObjectBlobStore {
    /// Where this store keeps objects (`s3://bucket/prefix`, `file:///dir`), safe to log.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// Whether [`BlobStore::signed_url`] can answer with a URL (S3, GCS, Azure).
    pub fn can_sign(&self) -> bool {
        self.signer.is_some()
    }

    fn path(&self, key: &str) -> Result<Path> {
        keys::check_key(key)?;
        keys::join(&self.prefix, key)
    }

    /// A path for the adapter's own records, under the reserved segment.
    fn record_path(&self, rest: &str) -> Result<Path> {
        keys::join(&self.prefix, &format!("{}/{rest}", keys::RESERVED))
    }

    /// Opens `path` (or a range of it), telling a range past the end (`Invalid`) from a missing
    /// object (`NotFound`) the same way on every backend: by looking at the object's size.
    async fn open(
        &self,
        key: &str,
        path: &Path,
        range: Option<Range<u64>>,
        if_match: Option<String>,
    ) -> Result<GetResult> {
        let options = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            if_match,
            ..GetOptions::default()
        };
        match self.inner.get_opts(path, options).await {
            Ok(result) => Ok(result),
            Err(e) if errors::is_not_found(&e) => Err(Error::not_found("object", key)),
            Err(e) => match (range, self.inner.head(path).await) {
                (Some(r), Ok(meta)) if r.start >= meta.size => {
                    Err(keys::range_past_end(r.start, meta.size))
                }
                (_, Err(head)) if errors::is_not_found(&head) => {
                    Err(Error::not_found("object", key))
                }
                _ => Err(errors::map(e, key)),
            },
        }
    }

    /// The SHA-256 of the version `e_tag` of `path`, by reading it whole: for objects molts did
    /// not write. A version replaced meanwhile is `Unavailable` (the caller may read again).
    async fn digest_of(&self, key: &str, path: &Path, e_tag: Option<String>) -> Result<String> {
        let result = self.open(key, path, None, e_tag).await?;
        let mut body = result.into_stream();
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            hasher.update(chunk.map_err(|e| errors::map(e, key))?);
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, key: &str, content_type: &str, body: ByteStream) -> Result<BlobMeta> {
        let path = self.path(key)?;
        keys::check_content_type(content_type)?;
        match &self.local {
            Some(sidecars) => sidecars.put(self, key, &path, content_type, body).await,
            None => attributed::put(self, key, &path, content_type, body).await,
        }
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobObject> {
        let path = self.path(key)?;
        keys::check_range(range.as_ref())?;
        let (meta, result) = match &self.local {
            Some(sidecars) => sidecars.get(self, key, &path, range.clone()).await?,
            None => attributed::get(self, key, &path, range.clone()).await?,
        };
        let served = range.map(|_| result.range.clone());
        let owned_key = key.to_owned();
        Ok(BlobObject {
            meta,
            body: result
                .into_stream()
                .map(move |chunk| chunk.map_err(|e| errors::map(e, &owned_key)))
                .boxed(),
            range: served,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match &self.local {
            Some(sidecars) => sidecars.delete(self, key, &path).await,
            None => attributed::delete(self, key, &path).await,
        }
    }

    async fn signed_url(&self, key: &str, expires_in: Duration) -> Result<Option<String>> {
        let path = self.path(key)?;
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        if expires_in.is_zero() || expires_in > MAX_SIGNED_FOR {
            return Err(Error::invalid(
                "expires_in",
                "a signed URL lasts between 1 second and 7 days",
            ));
        }
        let url = signer
            .signed_url(http::Method::GET, &path, expires_in)
            .await
            .map_err(|e| errors::map(e, key))?;
        Ok(Some(url.to_string()))
    }
}

/// What a put has read of its body before choosing one request or a multipart upload.
struct Head {
    chunks: Vec<Bytes>,
    len: usize,
    hasher: Sha256,
    /// The body ended within the first part.
    ended: bool,
}

/// Reads the body until it ends or passes one part's worth, hashing as it goes.
async fn read_head(body: &mut ByteStream) -> Result<Head> {
    let mut head = Head {
        chunks: Vec::new(),
        len: 0,
        hasher: Sha256::new(),
        ended: false,
    };
    while head.len <= PART_SIZE {
        match body.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                head.hasher.update(&chunk);
                head.len += chunk.len();
                head.chunks.push(chunk);
            }
            None => {
                head.ended = true;
                break;
            }
        }
    }
    Ok(head)
}
