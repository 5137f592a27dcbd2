//! Durable jobs through the gateway, on the memory store and blob store with a manual clock: the
//! state machine, quota held then settled or refunded, idempotency, isolation, cancel, deadlines,
//! provider callbacks and signed webhook deliveries with retries.
//!
//! The provider here is a scripted stand-in for the *port* (the state machine is under test,
//! not an adapter); the real adapters meet their wire formats against the fake servers in
//! `tests/fakes`, and the whole flow runs over real HTTP in the standalone's tests.
//!
//! One test binary, a file per subject: `jobs` (the state machine), `output_checks`, `callbacks`,
//! `webhooks`, `artifacts`, `personas` and `background` (fair, bounded scheduled work), all in the `world` of `world.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
mod world;

mod artifacts;
mod background;
mod callbacks;
mod cancel;
mod idempotency;
mod jobs;
mod output_checks;
mod personas;
mod webhooks;
