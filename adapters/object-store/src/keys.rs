//! Checking what callers hand in (keys, content types, ranges) before any backend sees it, so
//! every backend answers a bad input the same way: `Invalid`, with nothing stored.

use std::ops::Range;

use molts_core::ports::check_blob_key;
pub(crate) use molts_core::ports::check_content_type;
use molts_core::{Error, Result};
use object_store::path::Path;

/// The first path segment under which this adapter keeps its own small files (SHA-256 records,
/// local sidecars). Callers' keys may not start with it.
pub(crate) const RESERVED: &str = ".molts";

/// The blob contract's key rule (`molts_core::ports::check_blob_key`: object_store's
/// `Path::parse` alone would strip a leading `/` and let `a/` through, and a file system would
/// resolve `..`), and no key under this adapter's own [`RESERVED`] prefix.
pub(crate) fn check_key(key: &str) -> Result<()> {
    check_blob_key(key)?;
    if key == RESERVED || key.starts_with(".molts/") {
        return Err(Error::invalid(
            "key",
            "object keys under '.molts/' are reserved for the store's own records",
        ));
    }
    Ok(())
}

/// An empty or reversed range is refused before asking the backend (which would refuse it in
/// its own words); whether it starts past the end is known only once the object is looked at.
pub(crate) fn check_range(range: Option<&Range<u64>>) -> Result<()> {
    match range {
        Some(r) if r.start >= r.end => Err(Error::invalid("range", "the byte range is empty")),
        _ => Ok(()),
    }
}

/// The error for a range that starts at or past the end of an object of `size` bytes.
pub(crate) fn range_past_end(start: u64, size: u64) -> Error {
    Error::invalid(
        "range",
        format!("the byte range starts at {start} but the object has {size} bytes"),
    )
}

/// `prefix/rest` as an object_store path (`rest` alone without a prefix).
pub(crate) fn join(prefix: &str, rest: &str) -> Result<Path> {
    let full = if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}/{rest}")
    };
    Path::parse(&full).map_err(|_| Error::invalid("key", "the object key is not a valid path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_prefixed() {
        for good in ["a", "a/b/c.png", "with space/ünï.txt", "a/.hidden", "x..y"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/./b", "a\u{0}", ".molts", ".molts/x",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key(&"k".repeat(1025)).is_err());
        assert_eq!(
            join("runs/7", "a/b").map(|p| p.to_string()).ok(),
            Some("runs/7/a/b".into())
        );
        assert_eq!(
            join("", "a/b").map(|p| p.to_string()).ok(),
            Some("a/b".into())
        );
    }

    #[test]
    fn content_types_and_ranges_are_checked() {
        assert!(check_content_type("image/png").is_ok());
        assert!(check_content_type("text/plain; charset=utf-8").is_ok());
        assert!(check_content_type("").is_err());
        assert!(check_content_type("a\r\nb: c").is_err());
        assert!(check_content_type("bild/ö").is_err());
        assert!(check_range(None).is_ok());
        assert!(check_range(Some(&(0..1))).is_ok());
        assert!(check_range(Some(&(1..1))).is_err());
        assert!(check_range(Some(&Range { start: 2, end: 1 })).is_err());
    }
}
