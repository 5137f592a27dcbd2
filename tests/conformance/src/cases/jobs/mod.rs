//! Durable jobs through the offline demo models: a video and a render submitted (202), polled
//! until ready, their MP4 stored as an artifact whose bytes, size and SHA-256 agree and which
//! serves byte ranges; the seed's `/videos/...` paths; listing with pages and a status filter;
//! cancel; idempotency keys; bad input in the one error format; and provider callbacks refused
//! without the job's secret. Jobs finish whenever the server's scheduled work or a read of a
//! stale job gets to them, so every wait here is a bounded poll, never a fixed sleep.
//!
//! One file per subject: `outputs` (a video and a render made and stored), `lifecycle` (listing,
//! cancel, idempotency), `refused` (bad input, callbacks), `personas`, `webhooks` and `outbound`
//! (a webhook delivered to the suite's receiver, a provider-hosted output fetched from the
//! suite's fakes), sharing `support.rs`. The cases keep their `jobs.` names.

mod lifecycle;
mod outbound;
mod outputs;
mod personas;
mod refused;
mod support;
mod webhooks;

pub(super) use lifecycle::{cancel, idempotency, list};
pub(super) use outbound::{provider_hosted_output, webhook_delivered};
pub(super) use outputs::{render, video, video_seed_paths};
pub(super) use personas::personas;
pub(super) use refused::{bad_input, callbacks_refused};
pub(super) use support::{job_agent, sha256_hex};
pub(super) use webhooks::webhook_endpoint;
