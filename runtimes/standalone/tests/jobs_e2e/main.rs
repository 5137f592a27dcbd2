//! Durable jobs end to end: the real `molts` binary on a SQLite file, the fake providers
//! (`molts-fakes`) on loopback speaking HeyGen and Shotstack and calling back like them, and a
//! webhook receiver in the test that checks every Standard Webhooks signature.
//!
//! - **Nothing lost**: a hundred videos and renders (some failing, some with their own webhook
//!   URL) are submitted, the server is killed with SIGKILL while they are in flight and started
//!   again on the same database and artifacts; every job still ends ready or failed, every
//!   ready job's file is stored intact, every webhook arrives signed and saying how its job
//!   ended, and the quota charges exactly the ready ones.
//! - **Outage**: HeyGen answering 500s and timing out fails jobs with `provider_unavailable`
//!   (at submission) or `timed_out` (at the deadline, when status checks never get through),
//!   refunded, none left queued or processing.
//! - **Inbound webhooks**: a signed HeyGen webhook moves a job to ready with no poll due; an
//!   unsigned or wrongly signed one is refused 401 and changes nothing; duplicates change
//!   nothing.
//!
//! Every wait is bounded and says what it waited for; nothing here measures speed.
//!
//! One test binary, a file per subject (`nothing_lost`, `outage`, `inbound_webhooks`), sharing
//! `harness.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod harness;

mod inbound_webhooks;
mod nothing_lost;
mod outage;
