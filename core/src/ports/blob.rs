//! The `BlobStore` port: generated files and agents' uploads in the operator's object store
//! (local files, S3, GCS, Azure natively; R2 on Workers).

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};
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

/// The contract's key rule, for every `BlobStore` to check before its backend sees a key: `/`-
/// separated names, 1 to 1024 bytes, no leading, trailing or doubled `/`, no `.` or `..`
/// segment, no control characters — what every object store and a file system accept alike.
pub fn check_blob_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.len() > 1024
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        || key.chars().any(char::is_control);
    if bad {
        return Err(Error::invalid(
            "key",
            "an object key is 1 to 1024 bytes of '/'-separated names, none empty, '.' or '..', \
             without control characters",
        ));
    }
    Ok(())
}

/// The contract's content-type rule: it is served back as an HTTP header, so non-empty printable
/// ASCII.
pub fn check_content_type(content_type: &str) -> Result<()> {
    if content_type.is_empty() || !content_type.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::invalid(
            "content_type",
            "a content type is non-empty printable ASCII",
        ));
    }
    Ok(())
}

/// The part of an object of `size` bytes that `range` asks for, clamped at the end as HTTP does;
/// an empty or reversed range, or one starting at or past the end, is `Invalid` (an HTTP 416,
/// not a silent empty body).
pub fn served_range(range: &Range<u64>, size: u64) -> Result<Range<u64>> {
    if range.start >= range.end {
        return Err(Error::invalid("range", "the byte range is empty"));
    }
    if range.start >= size {
        return Err(Error::invalid(
            "range",
            format!(
                "the byte range starts at {} but the object has {size} bytes",
                range.start
            ),
        ));
    }
    Ok(range.start..range.end.min(size))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn keys_and_content_types_are_checked() {
        for good in ["a", "a/b/c.png", "with space/ünï.txt", "a/.hidden", "x..y"] {
            assert!(check_blob_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "../a", "a/./b", "a\u{0}", "a\nb"] {
            assert!(check_blob_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_blob_key(&"k".repeat(1025)).is_err());
        assert!(check_content_type("text/plain; charset=utf-8").is_ok());
        for bad in ["", "a\r\nb: c", "bild/ö"] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ranges_are_clamped_or_refused() {
        assert_eq!(served_range(&(10..20), 1000).ok(), Some(10..20));
        assert_eq!(served_range(&(990..5000), 1000).ok(), Some(990..1000));
        assert_eq!(served_range(&(999..1000), 1000).ok(), Some(999..1000));
        for bad in [1000..1001, 5..5, Range { start: 20, end: 10 }] {
            assert!(served_range(&bad, 1000).is_err(), "{bad:?}");
        }
        assert!(
            served_range(&(0..1), 0).is_err(),
            "any range of an empty object"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn a_served_range_lies_inside_the_object_and_the_request(
            start in prop_oneof![0u64..64, any::<u64>()],
            end in prop_oneof![0u64..64, any::<u64>()],
            size in prop_oneof![0u64..64, any::<u64>()],
        ) {
            match served_range(&(start..end), size) {
                Ok(r) => {
                    prop_assert!(r.start < r.end && r.end <= size);
                    prop_assert!(r.start == start && r.end <= end);
                }
                Err(e) => prop_assert!(start >= end || start >= size, "{}", e),
            }
        }

        #[test]
        fn any_key_or_content_type_is_checked_without_panicking(text in any::<String>()) {
            if check_blob_key(&text).is_ok() {
                prop_assert!(!text.is_empty() && text.len() <= 1024 && !text.starts_with('/'));
            }
            if check_content_type(&text).is_ok() {
                prop_assert!(http::HeaderValue::from_str(&text).is_ok());
            }
        }
    }
}
