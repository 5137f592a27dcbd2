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
