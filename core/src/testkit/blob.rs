//! Contract checks for `BlobStore`s: plain async functions every implementation runs against
//! itself (memory here; local files, S3 and memory behind `object_store` in molts-object-store).
//! Each makes its own uniquely named keys, so runs can share a bucket and run in any order.
//!
//! Ranges follow HTTP: `a..b` past the end is clamped to the end; an empty or reversed range, or
//! one starting at or past the end (so any range of an empty object), is `Invalid`.
//!
//! No executor is assumed: concurrency is `futures::future::join` in one task, where a put and a reader
//! take turns at every await, so the checks run the same on tokio and in a wasm host.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::channel::oneshot;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::ports::{BlobMeta, BlobStore, ByteStream};

use super::{kind, unique};

const MIB: usize = 1024 * 1024;

/// Runs every blob contract function in turn.
pub async fn run_blob_suite(store: &dyn BlobStore) -> Result<()> {
    blob_round_trip(store).await?;
    blob_ranges(store).await?;
    blob_missing_and_delete(store).await?;
    blob_keys(store).await?;
    blob_overwrite(store).await?;
    blob_failed_put(store).await?;
    blob_large(store).await?;
    Ok(())
}

/// Put then get: size and lowercase-hex SHA-256 computed, content type kept, body intact; a body
/// in several chunks is one object.
pub async fn blob_round_trip(store: &dyn BlobStore) -> Result<()> {
    let key = format!("{}/hello.txt", unique("blob"));
    let text: &[u8] = b"hello, molts";
    let meta = store
        .put(&key, "text/plain; charset=utf-8", chunked(text, 5))
        .await?;
    let expected = BlobMeta {
        key: key.clone(),
        size: 12,
        content_type: "text/plain; charset=utf-8".to_owned(),
        // Independently known digest of "hello, molts", so a store that hashes the wrong bytes
        // (or upper-cases) cannot agree with itself here.
        sha256: sha256_hex(text),
    };
    assert_eq!(meta, expected);
    assert_eq!(meta.sha256.len(), 64);
    assert!(
        meta.sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let got = store.get(&key, None).await?;
    assert_eq!(got.meta, expected);
    assert_eq!(got.range, None);
    assert_eq!(collect(got.body).await?, text);

    let png_key = format!("{}/pixel.png", unique("blob"));
    let binary: Vec<u8> = (0..=255u8).cycle().take(4099).collect();
    let meta = store
        .put(&png_key, "image/png", chunked(&binary, 1000))
        .await?;
    assert_eq!(meta.content_type, "image/png");
    assert_eq!(meta.size, 4099);
    assert_eq!(meta.sha256, sha256_hex(&binary));
    let got = store.get(&png_key, None).await?;
    assert_eq!(got.meta.content_type, "image/png");
    assert_eq!(got.meta.sha256, sha256_hex(&binary));
    assert_eq!(collect(got.body).await?, binary);
    store.delete(&key).await?;
    store.delete(&png_key).await?;
    Ok(())
}

/// Byte ranges: exact, clamped at the end, the last byte; empty, reversed and past-the-end ranges
/// are `Invalid`; the meta always describes the whole object; an empty object round-trips.
pub async fn blob_ranges(store: &dyn BlobStore) -> Result<()> {
    let key = format!("{}/ranged.bin", unique("blob"));
    let data = pattern(1000, 7);
    let whole = store
        .put(&key, "application/octet-stream", chunked(&data, 333))
        .await?;
    for (asked, served) in [
        (10..20, 10..20),
        (0..1000, 0..1000),
        (990..5000, 990..1000),
        (999..1000, 999..1000),
        (0..1, 0..1),
    ] {
        let got = store.get(&key, Some(asked.clone())).await?;
        assert_eq!(got.meta, whole, "range {asked:?}");
        assert_eq!(got.range, Some(served.clone()), "range {asked:?}");
        assert_eq!(
            collect(got.body).await?,
            &data[served.start as usize..served.end as usize],
            "range {asked:?}"
        );
    }
    // Built with `Range { .. }` so the reversed one is not mistaken for a typo.
    let reversed = Range { start: 20, end: 10 };
    for bad in [1000..1001, 5000..6000, reversed, 5..5] {
        assert_eq!(
            kind(store.get(&key, Some(bad.clone())).await),
            Some(ErrorKind::Invalid),
            "range {bad:?}"
        );
    }
    let missing = format!("{}/missing.bin", unique("blob"));
    assert_eq!(
        kind(store.get(&missing, Some(0..10)).await),
        Some(ErrorKind::NotFound)
    );

    let empty_key = format!("{}/empty", unique("blob"));
    let meta = store.put(&empty_key, "text/plain", chunked(&[], 1)).await?;
    assert_eq!(meta.size, 0);
    assert_eq!(
        meta.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let got = store.get(&empty_key, None).await?;
    assert_eq!(got.meta, meta);
    assert!(collect(got.body).await?.is_empty());
    assert_eq!(
        kind(store.get(&empty_key, Some(0..1)).await),
        Some(ErrorKind::Invalid)
    );
    store.delete(&key).await?;
    store.delete(&empty_key).await?;
    Ok(())
}

/// A missing key is `NotFound`; delete is idempotent and touches only its own key; a deleted key
/// can be written again.
pub async fn blob_missing_and_delete(store: &dyn BlobStore) -> Result<()> {
    let dir = unique("blob");
    let key = format!("{dir}/a/b");
    let sibling = format!("{dir}/a/bc");
    assert_eq!(kind(store.get(&key, None).await), Some(ErrorKind::NotFound));
    store.delete(&key).await?;
    store.put(&key, "text/plain", chunked(b"first", 2)).await?;
    store
        .put(&sibling, "text/plain", chunked(b"sibling", 7))
        .await?;
    store.delete(&key).await?;
    assert_eq!(kind(store.get(&key, None).await), Some(ErrorKind::NotFound));
    store.delete(&key).await?;
    assert_eq!(
        collect(store.get(&sibling, None).await?.body).await?,
        b"sibling"
    );
    let again = store.put(&key, "text/csv", chunked(b"second", 3)).await?;
    assert_eq!(again.content_type, "text/csv");
    assert_eq!(collect(store.get(&key, None).await?.body).await?, b"second");
    store.delete(&key).await?;
    store.delete(&sibling).await?;
    Ok(())
}

/// Keys with slashes (nested, side by side, non-ASCII) are distinct objects; malformed keys and
/// content types are `Invalid` and store nothing.
pub async fn blob_keys(store: &dyn BlobStore) -> Result<()> {
    let dir = unique("blob");
    let keys = [
        format!("{dir}/x/y/z.png"),
        format!("{dir}/x/y.png"),
        format!("{dir}/x/yz.png"),
        format!("{dir}/deep/a/b/c/d/e/f.txt"),
        format!("{dir}/with space & ünïcode.txt"),
    ];
    for (i, key) in keys.iter().enumerate() {
        let body = format!("object {i} at {key}");
        let meta = store
            .put(key, "text/plain", chunked(body.as_bytes(), 4))
            .await?;
        assert_eq!(&meta.key, key);
    }
    for (i, key) in keys.iter().enumerate() {
        let got = store.get(key, None).await?;
        assert_eq!(&got.meta.key, key);
        assert_eq!(
            collect(got.body).await?,
            format!("object {i} at {key}").as_bytes()
        );
    }
    store.delete(&keys[1]).await?;
    assert_eq!(
        kind(store.get(&keys[1], None).await),
        Some(ErrorKind::NotFound)
    );
    assert!(store.get(&keys[0], None).await.is_ok());
    assert!(store.get(&keys[2], None).await.is_ok());
    for key in &keys {
        store.delete(key).await?;
    }

    for bad in [
        String::new(),
        format!("/{dir}/lead"),
        format!("{dir}/trail/"),
        format!("{dir}//double"),
        format!("{dir}/../escape"),
        format!("{dir}/./here"),
        format!("{dir}/bell\u{7}"),
        format!("{dir}/new\nline"),
    ] {
        let put = store.put(&bad, "text/plain", chunked(b"x", 1)).await;
        assert_eq!(kind(put), Some(ErrorKind::Invalid), "put {bad:?}");
        assert_eq!(
            kind(store.get(&bad, None).await),
            Some(ErrorKind::Invalid),
            "get {bad:?}"
        );
    }
    let key = format!("{dir}/typed");
    for bad in ["", "text/plain\r\nx-injected: 1"] {
        let put = store.put(&key, bad, chunked(b"x", 1)).await;
        assert_eq!(kind(put), Some(ErrorKind::Invalid), "content type {bad:?}");
    }
    assert_eq!(kind(store.get(&key, None).await), Some(ErrorKind::NotFound));
    Ok(())
}

/// Overwrite is all-or-nothing: while a new version streams in, a reader gets the whole old
/// object with the old meta, and afterwards the whole new one; never a mix of bytes or of
/// metadata. The new body pauses half-way until a read has completed, so a read in the middle of
/// the put is certain, not a matter of timing. Both versions are larger than 8 MiB so stores
/// that switch to multipart uploads there are checked on that path too.
pub async fn blob_overwrite(store: &dyn BlobStore) -> Result<()> {
    let key = format!("{}/versioned.bin", unique("blob"));
    let old = Version::new(b'o', 9 * MIB + 11, "text/plain");
    let new = Version::new(b'n', 10 * MIB + 123, "application/x-new");
    assert_eq!(
        store.put(&key, old.content_type, old.body(None)).await?,
        old.meta(&key)
    );

    let (first_read_tx, first_read_rx) = oneshot::channel();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, key, content_type) = (Arc::clone(&done), key.as_str(), new.content_type);
        let body = new.body(Some(first_read_rx));
        async move {
            let result = store.put(key, content_type, body).await;
            done.store(true, Ordering::SeqCst);
            result
        }
    };
    let reader = async {
        let mut first_read_tx = Some(first_read_tx);
        let mut seen = Vec::new();
        // Bounded so a store whose put never finishes fails the suite instead of hanging it.
        for _ in 0..10_000 {
            if done.load(Ordering::SeqCst) {
                break;
            }
            let got = store.get(&key, None).await?;
            let which = check_version(&got.meta, &collect(got.body).await?, &key, &old, &new)?;
            if let Some(tx) = first_read_tx.take() {
                assert_eq!(
                    which, b'o',
                    "a read during the put saw the new version early"
                );
                let _ = tx.send(());
            }
            seen.push(which);
            YieldNow::default().await;
        }
        Ok::<_, Error>(seen)
    };
    let (written, seen) = futures::future::join(writer, reader).await;
    assert_eq!(written?, new.meta(&key));
    let seen = seen?;
    assert!(
        !seen.is_empty() && seen[0] == b'o',
        "no read overlapped the put"
    );
    // Once a reader has seen the new version it never goes back.
    assert!(seen.windows(2).all(|w| !(w[0] == b'n' && w[1] == b'o')));
    let got = store.get(&key, None).await?;
    assert_eq!(
        check_version(&got.meta, &collect(got.body).await?, &key, &old, &new)?,
        b'n'
    );
    store.delete(&key).await?;
    Ok(())
}

/// A body that fails part-way (here after more than 8 MiB, past any multipart switch) fails the
/// put and changes nothing: an existing object keeps its bytes and meta, a new key stays absent.
pub async fn blob_failed_put(store: &dyn BlobStore) -> Result<()> {
    let key = format!("{}/kept.txt", unique("blob"));
    let kept = store
        .put(&key, "text/plain", chunked(b"the original", 4))
        .await?;
    let failed = store.put(&key, "image/png", failing_body(9 * MIB)).await;
    assert!(failed.is_err(), "a body that failed was stored");
    let got = store.get(&key, None).await?;
    assert_eq!(got.meta, kept);
    assert_eq!(collect(got.body).await?, b"the original");

    let fresh = format!("{}/never.bin", unique("blob"));
    assert!(
        store
            .put(&fresh, "image/png", failing_body(MIB))
            .await
            .is_err()
    );
    assert_eq!(
        kind(store.get(&fresh, None).await),
        Some(ErrorKind::NotFound)
    );
    store.delete(&key).await?;
    Ok(())
}

/// A multi-MiB body streamed in odd-sized chunks: stored whole with the right digest, read back
/// byte for byte, and ranges across 8 MiB part boundaries come back right.
pub async fn blob_large(store: &dyn BlobStore) -> Result<()> {
    let key = format!("{}/large.bin", unique("blob"));
    let data = pattern(20 * MIB + 7, 42);
    let digest = sha256_hex(&data);
    let meta = store
        .put(&key, "video/mp4", chunked(&data, MIB + 4099))
        .await?;
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(meta.sha256, digest);
    let got = store.get(&key, None).await?;
    assert_eq!(got.meta, meta);
    let body = collect(got.body).await?;
    assert_eq!(body.len(), data.len());
    assert!(body == data, "large body differs");
    let eight = 8 * MIB as u64;
    for r in [
        eight - 10..eight + 10,
        2 * eight - 1..2 * eight + 1,
        0..3 * eight,
    ] {
        let got = store.get(&key, Some(r.clone())).await?;
        let served = r.start..r.end.min(data.len() as u64);
        assert_eq!(got.range, Some(served.clone()));
        assert_eq!(got.meta.sha256, digest);
        let part = collect(got.body).await?;
        assert!(
            part == data[served.start as usize..served.end as usize],
            "range {r:?} differs"
        );
    }
    store.delete(&key).await?;
    assert_eq!(kind(store.get(&key, None).await), Some(ErrorKind::NotFound));
    Ok(())
}

/// One version of an object in the overwrite check: every byte the same, so a mix shows.
struct Version {
    byte: u8,
    size: usize,
    content_type: &'static str,
    sha256: String,
}

impl Version {
    fn new(byte: u8, size: usize, content_type: &'static str) -> Self {
        Self {
            byte,
            size,
            content_type,
            sha256: sha256_hex(&vec![byte; size]),
        }
    }

    fn meta(&self, key: &str) -> BlobMeta {
        BlobMeta {
            key: key.to_owned(),
            size: self.size as u64,
            content_type: self.content_type.to_owned(),
            sha256: self.sha256.clone(),
        }
    }

    /// The body in 512 KiB chunks; with `pause`, it waits half-way until that fires.
    fn body(&self, pause: Option<oneshot::Receiver<()>>) -> ByteStream {
        let chunk = Bytes::from(vec![self.byte; 512 * 1024]);
        let size = self.size;
        futures::stream::unfold((0usize, pause), move |(sent, mut pause)| {
            let chunk = chunk.clone();
            async move {
                if sent >= size {
                    return None;
                }
                if sent >= size / 2 {
                    if let Some(rx) = pause.take() {
                        // A dropped sender (the reader gave up) just lets the put go on.
                        let _ = rx.await;
                    }
                }
                YieldNow::default().await;
                let n = chunk.len().min(size - sent);
                Some((Ok(chunk.slice(..n)), (sent + n, pause)))
            }
        })
        .boxed()
    }
}

/// Which version a read returned, after checking that its bytes and meta all belong to it.
fn check_version(
    meta: &BlobMeta,
    body: &[u8],
    key: &str,
    old: &Version,
    new: &Version,
) -> Result<u8> {
    let version = match body.first() {
        Some(&b) if b == old.byte => old,
        Some(&b) if b == new.byte => new,
        other => return Err(Error::internal(format!("unexpected first byte {other:?}"))),
    };
    assert!(
        body.iter().all(|&b| b == version.byte),
        "a read mixed two versions' bytes"
    );
    assert_eq!(body.len(), version.size, "a read had the wrong length");
    assert_eq!(
        meta,
        &version.meta(key),
        "a read's meta belongs to another version"
    );
    Ok(version.byte)
}

/// `data` as a stream of `chunk`-byte pieces (at least one piece, even when empty).
pub(crate) fn chunked(data: &[u8], chunk: usize) -> ByteStream {
    let pieces: Vec<Result<Bytes>> = if data.is_empty() {
        vec![Ok(Bytes::new())]
    } else {
        data.chunks(chunk.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect()
    };
    futures::stream::iter(pieces).boxed()
}

/// `size` bytes of 64 KiB chunks, then an error: a client that went away mid-upload.
fn failing_body(size: usize) -> ByteStream {
    let chunk = Bytes::from(pattern(64 * 1024, 3));
    let count = size / chunk.len();
    futures::stream::iter((0..count).map(move |_| Ok(chunk.clone())))
        .chain(futures::stream::once(async {
            Err(Error::unavailable("the client went away mid-upload"))
        }))
        .boxed()
}

/// Reads a whole body.
pub(crate) async fn collect(body: ByteStream) -> Result<Vec<u8>> {
    body.try_fold(Vec::new(), |mut acc, chunk| async move {
        acc.extend_from_slice(&chunk);
        Ok(acc)
    })
    .await
}

/// Deterministic, non-repeating-looking bytes (a xorshift), so misplaced ranges show.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Returns `Pending` once after waking itself: lets the other side of a `join` run, on any
/// executor.
#[derive(Default)]
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
