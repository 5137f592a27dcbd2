//! The blob contract on real local files (a temporary directory) and on object_store's memory
//! backend, and what only these show: the files are plain files at their keys, sidecars follow
//! them, a file changed behind molts' back is hashed rather than trusted, digest records of
//! multipart uploads are cleaned up, and neither backend signs URLs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use molts_core::ports::{BlobStore, ByteStream};
use molts_core::{ErrorKind, Result, testkit};
use molts_object_store::ObjectBlobStore;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

const NO_OPTIONS: [(&str, &str); 0] = [];

fn body(data: &[u8]) -> ByteStream {
    futures::stream::iter([Ok(Bytes::copy_from_slice(data))]).boxed()
}

async fn read(
    store: &ObjectBlobStore,
    key: &str,
) -> Result<(molts_core::ports::BlobMeta, Vec<u8>)> {
    let got = store.get(key, None).await?;
    let bytes: Vec<Bytes> = got.body.try_collect().await?;
    Ok((got.meta, bytes.concat()))
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn file_url(dir: &std::path::Path) -> String {
    format!("file://{}", dir.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_pass_the_contract() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| molts_core::Error::internal(e.to_string()))?;
    // A directory that does not exist yet: from_url creates it.
    let root = dir.path().join("data").join("artifacts");
    let store = ObjectBlobStore::from_url(&file_url(&root), NO_OPTIONS)?;
    assert!(root.is_dir());
    testkit::run_blob_suite(&store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_passes_the_contract() -> Result<()> {
    let store = ObjectBlobStore::from_url("memory://", NO_OPTIONS)?;
    testkit::run_blob_suite(&store).await?;
    let prefixed = ObjectBlobStore::from_url("memory:///tenant/a", NO_OPTIONS)?;
    assert_eq!(prefixed.describe(), "memory:///tenant/a");
    testkit::blob_round_trip(&prefixed).await
}

#[tokio::test]
async fn local_objects_are_plain_files_with_sidecars() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| molts_core::Error::internal(e.to_string()))?;
    let store = ObjectBlobStore::from_url(&file_url(dir.path()), NO_OPTIONS)?;
    let meta = store
        .put("runs/7/cat.png", "image/png", body(b"not really a png"))
        .await?;
    let on_disk = std::fs::read(dir.path().join("runs/7/cat.png"))
        .map_err(|e| molts_core::Error::internal(e.to_string()))?;
    assert_eq!(on_disk, b"not really a png");
    let sidecar = dir.path().join(".molts/meta/runs/7/cat.png.json");
    let json = std::fs::read_to_string(&sidecar)
        .map_err(|e| molts_core::Error::internal(e.to_string()))?;
    assert!(
        json.contains("\"image/png\"") && json.contains(&meta.sha256),
        "{json}"
    );
    assert_eq!(
        store
            .signed_url("runs/7/cat.png", Duration::from_secs(60))
            .await?,
        None
    );
    assert!(!store.can_sign());

    // Replaced by hand: the stale sidecar is not believed; the digest is the new bytes'.
    std::fs::write(dir.path().join("runs/7/cat.png"), b"edited by hand")
        .map_err(|e| molts_core::Error::internal(e.to_string()))?;
    let (meta, bytes) = read(&store, "runs/7/cat.png").await?;
    assert_eq!(bytes, b"edited by hand");
    assert_eq!(meta.sha256, sha(b"edited by hand"));
    assert_eq!(meta.size, 14);
    assert_eq!(meta.content_type, "application/octet-stream");

    // Dropped in by hand, no sidecar at all.
    std::fs::create_dir_all(dir.path().join("imports"))
        .map_err(|e| molts_core::Error::internal(e.to_string()))?;
    std::fs::write(dir.path().join("imports/x.bin"), b"0123456789")
        .map_err(|e| molts_core::Error::internal(e.to_string()))?;
    let got = store.get("imports/x.bin", Some(2..5)).await?;
    assert_eq!(got.meta.sha256, sha(b"0123456789"));
    assert_eq!(got.range, Some(2..5));
    let part: Vec<Bytes> = got.body.try_collect().await?;
    assert_eq!(part.concat(), b"234");

    // Delete takes the sidecar and the emptied directories with it.
    store.delete("runs/7/cat.png").await?;
    assert!(!sidecar.exists());
    assert!(!dir.path().join("runs/7").exists());

    // The adapter's own records cannot be reached through keys.
    let reserved = store
        .put(".molts/meta/x.json", "text/plain", body(b"{}"))
        .await;
    assert_eq!(reserved.err().map(|e| e.kind()), Some(ErrorKind::Invalid));
    Ok(())
}

/// Lists the adapter's digest records in `inner`.
async fn records(inner: &InMemory) -> object_store::Result<Vec<Path>> {
    let list: Vec<_> = inner
        .list(Some(&Path::from(".molts/sha256")))
        .try_collect()
        .await?;
    Ok(list.into_iter().map(|m| m.location).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_digest_records_follow_their_objects()
-> std::result::Result<(), Box<dyn std::error::Error>> {
    let inner = Arc::new(InMemory::new());
    let store = ObjectBlobStore::new(inner.clone(), "")?;
    let big = vec![7u8; 9 * 1024 * 1024];
    let meta = store.put("big.bin", "video/mp4", body(&big)).await?;
    assert_eq!(meta.sha256, sha(&big));
    let found = records(&inner).await?;
    assert_eq!(found.len(), 1, "{found:?}");
    let record = inner.get(&found[0]).await?.bytes().await?;
    assert_eq!(record, meta.sha256.as_bytes());
    // The object carries the upload id, not the digest (unknown when the upload began).
    let raw = inner.get(&Path::from("big.bin")).await?;
    assert_eq!(
        raw.attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref()),
        Some("video/mp4")
    );

    // Replaced by a small object (digest as metadata): the old record goes.
    store
        .put("big.bin", "text/plain", body(b"small now"))
        .await?;
    assert!(records(&inner).await?.is_empty());
    store.put("big.bin", "video/mp4", body(&big)).await?;
    assert_eq!(records(&inner).await?.len(), 1);
    store.delete("big.bin").await?;
    assert!(records(&inner).await?.is_empty());

    // An object some other tool wrote: no metadata, so the digest is computed.
    inner
        .put(
            &Path::from("foreign.txt"),
            Bytes::from_static(b"hello").into(),
        )
        .await?;
    let (meta, bytes) = read(&store, "foreign.txt").await?;
    assert_eq!(bytes, b"hello");
    assert_eq!(meta.sha256, sha(b"hello"));
    assert_eq!(meta.content_type, "application/octet-stream");
    Ok(())
}

#[test]
fn urls_are_checked() {
    let kind = |url: &str| {
        ObjectBlobStore::from_url(url, NO_OPTIONS)
            .err()
            .map(|e| e.kind())
    };
    assert_eq!(kind("ftp://host/x"), Some(ErrorKind::Invalid));
    assert_eq!(kind("not a url"), Some(ErrorKind::Invalid));
    assert_eq!(kind("file://relative/dir"), Some(ErrorKind::Invalid));
    assert_eq!(kind("memory:///a//b"), Some(ErrorKind::Invalid));
    let with_option = ObjectBlobStore::from_url("memory://", [("aws_region", "x")]);
    assert_eq!(
        with_option.err().map(|e| e.kind()),
        Some(ErrorKind::Invalid)
    );
    let unknown = ObjectBlobStore::from_url("s3://bucket", [("no_such_option", "x")]);
    assert_eq!(unknown.err().map(|e| e.kind()), Some(ErrorKind::Invalid));
}

/// Presigning is local arithmetic over the credentials, so it is checked here without a server
/// (scripts/s3-tests.sh fetches such a URL from a real S3 API).
#[tokio::test]
async fn s3_urls_are_presigned_without_leaking_the_secret() -> Result<()> {
    let store = ObjectBlobStore::from_url(
        "s3://media-bucket/molts/artifacts",
        [
            ("aws_access_key_id", "AKIDEXAMPLE"),
            ("aws_secret_access_key", "wJalrXUtnFEMI-secret-never-shown"),
            ("aws_region", "eu-west-1"),
        ],
    )?;
    assert!(store.can_sign());
    assert_eq!(store.describe(), "s3://media-bucket/molts/artifacts");
    let url = store
        .signed_url("runs/1/out.mp4", Duration::from_secs(600))
        .await?
        .unwrap_or_default();
    assert!(
        url.starts_with(
            "https://s3.eu-west-1.amazonaws.com/media-bucket/molts/artifacts/runs/1/out.mp4?"
        ) || url.starts_with(
            "https://media-bucket.s3.eu-west-1.amazonaws.com/molts/artifacts/runs/1/out.mp4?"
        ),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-Expires=600") && url.contains("X-Amz-Signature="),
        "{url}"
    );
    assert!(!url.contains("never-shown"), "{url}");
    let too_long = store
        .signed_url("a", Duration::from_secs(8 * 24 * 3600))
        .await;
    assert_eq!(too_long.err().map(|e| e.kind()), Some(ErrorKind::Invalid));
    assert!(!format!("{store:?}").contains("never-shown"));
    Ok(())
}
