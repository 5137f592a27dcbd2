//! The `BlobStore` port: generated files and agents' uploads in the operator's object store
//! (local files, S3, GCS, Azure natively; R2 on Workers).

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::ports::ByteStream;

/// What is known about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    pub content_type: String,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// A stored object being read.
pub struct BlobObject {
    /// Its metadata (size is the whole object's).
    pub meta: BlobMeta,
    /// The bytes asked for.
    pub body: ByteStream,
    /// The byte range served, when a range was asked for.
    pub range: Option<Range<u64>>,
}

/// Stores and serves files.
///
/// # Contract
/// `put` is all-or-nothing: a reader sees the old object or the whole new one. `get` of a missing
/// key is `NotFound`; a range past the end is `Invalid`. `signed_url` answers `None` where the
/// backend cannot sign (then molts serves the bytes itself).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes an object, computing its size and SHA-256.
    async fn put(&self, key: &str, content_type: &str, body: ByteStream) -> Result<BlobMeta>;
    /// Reads an object, or a byte range of it.
    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobObject>;
    /// Removes an object; removing a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// A time-limited URL to fetch the object directly, where supported.
    async fn signed_url(&self, key: &str, expires_in: Duration) -> Result<Option<String>>;
}
