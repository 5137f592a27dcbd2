//! molts-core: the domain of molts behind ports.
//!
//! Tenants (instances), agents and their hashed keys, tiers and the quota ledger, model configs
//! and their resolution, all reached through narrow store traits and the [`Clock`], [`Ids`],
//! [`RateLimiter`], [`HttpClient`] and [`BlobStore`] ports. No runtime lives here: no tokio, no
//! database driver, no HTTP server or client. The crate compiles for `wasm32-unknown-unknown`.
//!
//! Embedding: build [`Stores`] (for example from [`memory::MemoryStore`]), wrap them with the
//! other ports in a [`Gateway`], call [`Gateway::bootstrap`] once, then call its use cases.
#![warn(missing_docs)]

pub mod clock;
pub mod domain;
pub mod error;
pub mod error_code;
pub mod gateway;
pub mod ids;
pub mod memory;
pub mod net;
pub mod ports;
pub mod providers;
pub mod sealed;
pub mod secret;
pub mod seed;
pub mod testkit;
pub mod validate;

pub use clock::{Clock, SystemClock, Timestamp};
pub use error::{Error, ErrorKind, Result};
pub use error_code::{ErrorCode, Retry};
pub use gateway::{Gateway, GatewayConfig, Ports};
pub use ids::{Ids, SystemIds};
pub use ports::{BlobStore, HttpClient, RateLimiter, Stores};
