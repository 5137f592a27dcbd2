//! `MemoryBlobStore`: the `BlobStore` port over a map of immutable byte buffers. A put reads the
//! whole body first and swaps the entry in under the lock at the end, so a reader holds either
//! the old buffer or the new one; a failed body leaves the map untouched.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ports::{
    BlobMeta, BlobObject, BlobStore, ByteStream, check_blob_key as check_key, check_content_type,
    served_range,
};

/// Objects in memory, for tests and embedding; state is lost when the process ends.
#[derive(Default)]
pub struct MemoryBlobStore {
    objects: Mutex<BTreeMap<String, Arc<Stored>>>,
}

struct Stored {
    meta: BlobMeta,
    bytes: Bytes,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Stored>>> {
        // Every mutation is one map operation, so a poisoned lock holds consistent data.
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: &str, content_type: &str, mut body: ByteStream) -> Result<BlobMeta> {
        check_key(key)?;
        check_content_type(content_type)?;
        let mut hasher = Sha256::new();
        let mut buf = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            buf.extend_from_slice(&chunk);
        }
        let meta = BlobMeta {
            key: key.to_owned(),
            size: buf.len() as u64,
            content_type: content_type.to_owned(),
            sha256: hex::encode(hasher.finalize()),
        };
        let stored = Arc::new(Stored {
            meta: meta.clone(),
            bytes: buf.freeze(),
        });
        self.lock().insert(key.to_owned(), stored);
        Ok(meta)
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobObject> {
        check_key(key)?;
        let stored = self
            .lock()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found("object", key))?;
        let served = range
            .map(|r| served_range(&r, stored.meta.size))
            .transpose()?;
        let bytes = match &served {
            // Both ends are within the buffer, whose length fits usize.
            Some(r) => stored.bytes.slice(r.start as usize..r.end as usize),
            None => stored.bytes.clone(),
        };
        Ok(BlobObject {
            meta: stored.meta.clone(),
            body: futures::stream::iter([Ok(bytes)]).boxed(),
            range: served,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        self.lock().remove(key);
        Ok(())
    }

    async fn signed_url(&self, key: &str, _expires_in: Duration) -> Result<Option<String>> {
        check_key(key)?;
        Ok(None)
    }
}
