//! What callers hand in, checked before R2 sees it, by the rules every `BlobStore` keeps (the
//! blob contract in `molts_core::testkit`; molts-object-store checks the same way): a bad key,
//! content type or range is `Invalid` and nothing is stored.

use std::ops::Range;

use molts_core::{Error, Result};

/// Keys are `/`-separated names: not empty, at most 1024 bytes (R2's limit too), no leading,
/// trailing or doubled `/`, no `.` or `..` segment, no control characters.
pub(crate) fn check_key(key: &str) -> Result<()> {
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

/// A content type is served back as an HTTP header: non-empty printable ASCII.
pub(crate) fn check_content_type(content_type: &str) -> Result<()> {
    if content_type.is_empty() || !content_type.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::invalid(
            "content_type",
            "a content type is non-empty printable ASCII",
        ));
    }
    Ok(())
}

/// The part of an object of `size` bytes that `range` asks for, clamped at the end as HTTP
/// does; an empty or reversed range, or one starting at or past the end, is `Invalid`.
pub(crate) fn served(range: &Range<u64>, size: u64) -> Result<Range<u64>> {
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
    use super::*;

    #[test]
    fn keys_and_content_types_are_checked() {
        for good in ["a", "a/b/c.png", "with space/ünï.txt", "a/.hidden", "x..y"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "../a", "a/./b", "a\u{0}", "a\nb"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key(&"k".repeat(1025)).is_err());
        assert!(check_content_type("text/plain; charset=utf-8").is_ok());
        for bad in ["", "a\r\nb: c", "bild/ö"] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ranges_are_clamped_or_refused() {
        assert_eq!(served(&(10..20), 1000).ok(), Some(10..20));
        assert_eq!(served(&(990..5000), 1000).ok(), Some(990..1000));
        assert_eq!(served(&(999..1000), 1000).ok(), Some(999..1000));
        for bad in [1000..1001, 5..5, Range { start: 20, end: 10 }] {
            assert!(served(&bad, 1000).is_err(), "{bad:?}");
        }
        assert!(served(&(0..1), 0).is_err(), "any range of an empty object");
    }
}
