//! The `Ids` port: identifiers and secret bytes. Ids are time-ordered (UUIDv7) so listings sort by
//! creation without a second column; secrets come from the OS (or JS) CSPRNG.

use crate::clock::Timestamp;
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

/// The lowest id [`SystemIds`] makes with `prefix` at `at` or later: every id it made with
/// `prefix` before `at` sorts below it as text. A UUIDv7's first 48 bits are its millisecond,
/// so its first 12 hex digits sort as time does; this is those digits for `at`, then zeros.
/// Stores find old rows with it by a range scan of their primary key, with no index on time.
pub fn id_floor(prefix: &str, at: Timestamp) -> String {
    let ms = u64::try_from(at.timestamp_millis())
        .unwrap_or(0)
        .min((1 << 48) - 1);
    format!("{prefix}_{ms:012x}{:020}", 0)
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
    use chrono::Duration;

    use super::*;

    #[test]
    fn ids_sort_between_the_floors_of_their_time() {
        let before = chrono::Utc::now();
        let id = SystemIds.id("rsv");
        let after = chrono::Utc::now();
        // A second either side: the uuid crate reads the clock itself, and may step a
        // millisecond ahead to keep ids made in one millisecond in order.
        assert!(id_floor("rsv", before - Duration::seconds(1)) <= id, "{id}");
        assert!(id < id_floor("rsv", after + Duration::seconds(1)), "{id}");
        assert_eq!(id.len(), id_floor("rsv", after).len());
    }

    #[test]
    fn floors_sort_as_time_does() {
        let t = chrono::DateTime::from_timestamp_millis(1_795_000_000_000).unwrap_or_default();
        assert_eq!(id_floor("job", t), "job_01a1ee565e0000000000000000000000");
        assert!(id_floor("job", t) < id_floor("job", t + Duration::milliseconds(1)));
        assert!(id_floor("job", t + Duration::days(400 * 365)) > id_floor("job", t));
        // Before the epoch there is nothing older to find.
        let early = chrono::DateTime::from_timestamp_millis(-5).unwrap_or_default();
        assert_eq!(id_floor("rsv", early), format!("rsv_{}", "0".repeat(32)));
    }
}
