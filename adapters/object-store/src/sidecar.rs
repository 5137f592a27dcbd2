//! Local files: the file system keeps no content type or digest with a file, so each object has
//! a JSON sidecar at `.molts/meta/<key>.json` naming the data file's e-tag. Why a lock and an
//! e-tag, and what happens without them, is in the crate docs.

use std::ops::Range;

use futures::StreamExt;
use molts_core::ports::{BlobMeta, ByteStream};
use molts_core::{Error, Result};
use object_store::path::Path;
use object_store::{GetResult, ObjectStoreExt, WriteMultipart};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::{ObjectBlobStore, PART_SIZE, PARTS_IN_FLIGHT, UNKNOWN_TYPE, errors};

/// One sidecar.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    content_type: String,
    size: u64,
    sha256: String,
    /// The e-tag of the data file this record describes.
    e_tag: String,
}

/// The sidecar side of a local store.
#[derive(Default)]
pub(crate) struct Sidecars {
    /// Held shared while a reader opens a file and reads its sidecar, exclusively while a writer
    /// renames a file into place and writes its sidecar (or removes both). Never held while a
    /// body streams, so it is a short wait at most.
    lock: RwLock<()>,
}

impl Sidecars {
    fn record_path(store: &ObjectBlobStore, key: &str) -> Result<Path> {
        store.record_path(&format!("meta/{key}.json"))
    }

    pub(crate) async fn put(
        &self,
        store: &ObjectBlobStore,
        key: &str,
        path: &Path,
        content_type: &str,
        mut body: ByteStream,
    ) -> Result<BlobMeta> {
        let record_path = Self::record_path(store, key)?;
        // Always a multipart upload: on a file system that is a staging file beside the target,
        // renamed into place by `finish`, so the old file stays whole until then.
        let upload = store
            .inner
            .put_multipart(path)
            .await
            .map_err(|e| errors::map(e, key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let (mut hasher, mut size) = (Sha256::new(), 0u64);
        loop {
            let next = match writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                Ok(()) => body.next().await,
                Err(e) => Some(Err(errors::map(e, key))),
            };
            match next {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    writer.put(chunk);
                }
                Some(Err(e)) => {
                    // Removes the staging file; the target was never touched.
                    let _ = writer.abort().await;
                    return Err(e);
                }
                None => break,
            }
        }
        let sha256 = hex::encode(hasher.finalize());

        let _exclusive = self.lock.write().await;
        let done = writer.finish().await.map_err(|e| errors::map(e, key))?;
        let e_tag = done
            .e_tag
            .ok_or_else(|| Error::internal("the local file system gave no e-tag"))?;
        let record = Record {
            content_type: content_type.to_owned(),
            size,
            sha256: sha256.clone(),
            e_tag,
        };
        let json = serde_json::to_vec(&record)
            .map_err(|e| Error::internal("cannot encode a sidecar").with_source(e))?;
        // If this fails the new file is in place with a stale sidecar; readers then see the new
        // bytes with a computed digest and the unknown type (never the old meta).
        store
            .inner
            .put(&record_path, json.into())
            .await
            .map_err(|e| errors::map(e, key))?;
        Ok(BlobMeta {
            key: key.to_owned(),
            size,
            content_type: content_type.to_owned(),
            sha256,
        })
    }

    pub(crate) async fn get(
        &self,
        store: &ObjectBlobStore,
        key: &str,
        path: &Path,
        range: Option<Range<u64>>,
    ) -> Result<(BlobMeta, GetResult)> {
        let record_path = Self::record_path(store, key)?;
        let (result, record) = {
            let _shared = self.lock.read().await;
            // The file is open from here on: its bytes are this version's whatever happens next.
            let result = store.open(key, path, range, None).await?;
            let record = match store.inner.get(&record_path).await {
                Ok(found) => {
                    let bytes = found.bytes().await.map_err(|e| errors::map(e, key))?;
                    serde_json::from_slice::<Record>(&bytes).ok()
                }
                Err(e) if errors::is_not_found(&e) => None,
                Err(e) => return Err(errors::map(e, key)),
            };
            (result, record)
        };
        let e_tag = result.meta.e_tag.clone();
        let meta = match record {
            Some(r) if Some(&r.e_tag) == e_tag.as_ref() && r.size == result.meta.size => BlobMeta {
                key: key.to_owned(),
                size: r.size,
                content_type: r.content_type,
                sha256: r.sha256,
            },
            // Not a file this process wrote (or its sidecar write failed): trust only the bytes.
            _ => BlobMeta {
                key: key.to_owned(),
                size: result.meta.size,
                content_type: UNKNOWN_TYPE.to_owned(),
                sha256: store.digest_of(key, path, e_tag).await?,
            },
        };
        Ok((meta, result))
    }

    pub(crate) async fn delete(
        &self,
        store: &ObjectBlobStore,
        key: &str,
        path: &Path,
    ) -> Result<()> {
        let record_path = Self::record_path(store, key)?;
        let _exclusive = self.lock.write().await;
        for target in [path, &record_path] {
            match store.inner.delete(target).await {
                Ok(()) => {}
                Err(e) if errors::is_not_found(&e) => {}
                Err(e) => return Err(errors::map(e, key)),
            }
        }
        Ok(())
    }
}
