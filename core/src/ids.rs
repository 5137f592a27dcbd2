//! The `Ids` port: identifiers and secret bytes. Ids are time-ordered (UUIDv7) so listings sort by
//! creation without a second column; secrets come from the OS (or JS) CSPRNG.

use crate::error::{Error, Result};

/// Source of identifiers and secret randomness.
///
/// # Contract
/// `id` returns a value unique across replicas; `fill_secret` fills the buffer from a
/// cryptographically secure source or fails, never returning predictable bytes.
pub trait Ids: Send + Sync {
    /// A new unique id, `prefix_` followed by 32 lowercase hex digits.
    fn id(&self, prefix: &str) -> String;
    /// Fills `buf` with secret random bytes.
    fn fill_secret(&self, buf: &mut [u8]) -> Result<()>;
}

/// The smallest id [`SystemIds`] can make with `prefix` at or after `at`: every id made
/// earlier sorts before it, every id made at or after it does not. Stores use it to find
/// records older than a cutoff with a range of their time-ordered primary key.
pub fn first_id_at(prefix: &str, at: crate::Timestamp) -> String {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    // A UUIDv7: 48 bits of milliseconds, version 7, variant 0b10, and the rest zero.
    format!("{prefix}_{ms:012x}70008000000000000000")
}

/// UUIDv7 ids and `getrandom` secrets: the right choice on every runtime.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemIds;

impl Ids for SystemIds {
    fn id(&self, prefix: &str) -> String {
        format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
    }

    fn fill_secret(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|e| {
            Error::internal("no secure randomness available")
                .with_source(std::io::Error::other(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_at_a_time_sorts_between_earlier_and_later_ids() {
        let before = SystemIds.id("req");
        std::thread::sleep(std::time::Duration::from_millis(3));
        let cut = chrono::Utc::now();
        let first = first_id_at("req", cut);
        std::thread::sleep(std::time::Duration::from_millis(3));
        let after = SystemIds.id("req");
        assert_eq!(first.len(), before.len(), "{first}");
        assert!(before < first, "{before} !< {first}");
        assert!(first <= after, "{first} !<= {after}");
        assert!(uuid::Uuid::parse_str(first.trim_start_matches("req_")).is_ok());
    }
}
