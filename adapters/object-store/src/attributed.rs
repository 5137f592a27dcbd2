//! Backends with object attributes (S3, GCS, Azure, memory): the content type and SHA-256 travel
//! with the object itself, so a reader always gets the meta of the version whose bytes it reads.
//! See the crate docs for the multipart case, where the digest sits in a record named by the
//! upload id the object carries.

use std::ops::Range;

use futures::StreamExt;
use molts_core::ports::{BlobMeta, ByteStream};
use molts_core::{Error, Result};
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, GetResult, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
};
use sha2::Digest;

use crate::{ObjectBlobStore, PART_SIZE, PARTS_IN_FLIGHT, UNKNOWN_TYPE, errors, read_head};

/// User-metadata names: lowercase letters and digits only, which S3, GCS and Azure (whose names
/// must be C# identifiers) all keep as given.
const SHA256: &str = "sha256";
const UPLOAD: &str = "moltsupload";

/// Times a read starts over when the digest record of the version it opened was just removed
/// (the object was replaced or deleted under it).
const READ_ATTEMPTS: usize = 4;

pub(crate) async fn put(
    store: &ObjectBlobStore,
    key: &str,
    path: &Path,
    content_type: &str,
    mut body: ByteStream,
) -> Result<BlobMeta> {
    let previous = upload_of(store, key, path).await?;
    let head = read_head(&mut body).await?;
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, content_type.to_owned().into());

    let (size, sha256, upload) = if head.ended {
        let sha256 = hex::encode(head.hasher.finalize());
        attributes.insert(metadata(SHA256), sha256.clone().into());
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        let payload = PutPayload::from_iter(head.chunks);
        store
            .inner
            .put_opts(path, payload, options)
            .await
            .map_err(|e| errors::map(e, key))?;
        (head.len as u64, sha256, None)
    } else {
        let upload = uuid::Uuid::new_v4().simple().to_string();
        attributes.insert(metadata(UPLOAD), upload.clone().into());
        let options = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        let multipart = store
            .inner
            .put_multipart_opts(path, options)
            .await
            .map_err(|e| errors::map(e, key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(multipart, PART_SIZE);
        for chunk in head.chunks {
            writer.put(chunk);
        }
        let (mut hasher, mut size) = (head.hasher, head.len as u64);
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
                    // Nothing was published: the object (if any) keeps its old version.
                    let _ = writer.abort().await;
                    return Err(e);
                }
                None => break,
            }
        }
        let sha256 = hex::encode(hasher.finalize());
        // The digest is in place before the object appears; see the crate docs.
        let record = store.record_path(&format!("sha256/{upload}"))?;
        if let Err(e) = store.inner.put(&record, sha256.clone().into()).await {
            let _ = writer.abort().await;
            return Err(errors::map(e, key));
        }
        if let Err(e) = writer.finish().await {
            let _ = store.inner.delete(&record).await;
            return Err(errors::map(e, key));
        }
        (size, sha256, Some(upload))
    };
    if let Some(old) = previous.filter(|old| Some(old) != upload.as_ref()) {
        forget_record(store, &old).await;
    }
    Ok(BlobMeta {
        key: key.to_owned(),
        size,
        content_type: content_type.to_owned(),
        sha256,
    })
}

pub(crate) async fn get(
    store: &ObjectBlobStore,
    key: &str,
    path: &Path,
    range: Option<Range<u64>>,
) -> Result<(BlobMeta, GetResult)> {
    for _ in 0..READ_ATTEMPTS {
        let result = store.open(key, path, range.clone(), None).await?;
        let content_type = text(&result.attributes, &Attribute::ContentType)
            .unwrap_or(UNKNOWN_TYPE)
            .to_owned();
        let sha256 = if let Some(sha) = text(&result.attributes, &metadata(SHA256)) {
            sha.to_owned()
        } else if let Some(upload) = text(&result.attributes, &metadata(UPLOAD)) {
            let record = store.record_path(&format!("sha256/{upload}"))?;
            match store.inner.get(&record).await {
                Ok(found) => {
                    let bytes = found.bytes().await.map_err(|e| errors::map(e, key))?;
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                // The version opened was replaced or deleted and its record removed since:
                // start over, to read whatever is there now.
                Err(e) if errors::is_not_found(&e) => continue,
                Err(e) => return Err(errors::map(e, key)),
            }
        } else {
            // Written by something other than molts: no digest recorded, so compute it.
            store
                .digest_of(key, path, result.meta.e_tag.clone())
                .await?
        };
        let meta = BlobMeta {
            key: key.to_owned(),
            size: result.meta.size,
            content_type,
            sha256,
        };
        return Ok((meta, result));
    }
    Err(Error::unavailable(
        "the object kept changing while it was being read; try again",
    ))
}

pub(crate) async fn delete(store: &ObjectBlobStore, key: &str, path: &Path) -> Result<()> {
    let previous = upload_of(store, key, path).await?;
    match store.inner.delete(path).await {
        Ok(()) => {}
        Err(e) if errors::is_not_found(&e) => {}
        Err(e) => return Err(errors::map(e, key)),
    }
    if let Some(old) = previous {
        forget_record(store, &old).await;
    }
    Ok(())
}

/// The upload id the current version of `path` carries, if it was a multipart upload.
async fn upload_of(store: &ObjectBlobStore, key: &str, path: &Path) -> Result<Option<String>> {
    let options = GetOptions {
        head: true,
        ..GetOptions::default()
    };
    match store.inner.get_opts(path, options).await {
        Ok(found) => Ok(text(&found.attributes, &metadata(UPLOAD)).map(str::to_owned)),
        Err(e) if errors::is_not_found(&e) => Ok(None),
        Err(e) => Err(errors::map(e, key)),
    }
}

/// Removes the digest record of a version that is gone. A failure only leaves a 64-byte file
/// behind, so it is logged, not returned.
async fn forget_record(store: &ObjectBlobStore, upload: &str) {
    let Ok(record) = store.record_path(&format!("sha256/{upload}")) else {
        return;
    };
    match store.inner.delete(&record).await {
        Ok(()) => {}
        Err(e) if errors::is_not_found(&e) => {}
        Err(e) => tracing::warn!(
            error = %errors::scrub(&e.to_string()),
            "could not remove the digest record of a replaced object"
        ),
    }
}

fn metadata(name: &'static str) -> Attribute {
    Attribute::Metadata(name.into())
}

fn text<'a>(attributes: &'a Attributes, attribute: &Attribute) -> Option<&'a str> {
    attributes.get(attribute).map(AttributeValue::as_ref)
}
