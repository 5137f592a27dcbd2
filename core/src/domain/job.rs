//! Durable jobs: avatar videos, timeline renders and avatar personas, which take minutes at the
//! provider. A job is stored (and its quota held) before any provider call, and every later step
//! is a compare-and-swap on its `version`, so replicas, webhooks and the scheduled hook can all
//! push the same job forward without double-charging or losing it.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::{Provider, Unit};

/// What a job makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// An avatar or text-to-video clip (HeyGen, Tavus, Veo, demo).
    Video,
    /// A timeline render (Shotstack, demo).
    Render,
    /// An agent's avatar persona made at a provider (HeyGen talking photo, Tavus replica,
    /// demo); once ready, its provider id is the agent's default avatar there.
    Persona,
}

impl JobKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Render => "render",
            Self::Persona => "persona",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "video" => Some(Self::Video),
            "render" => Some(Self::Render),
            "persona" => Some(Self::Persona),
            _ => None,
        }
    }

    /// The quota unit a job of this kind is counted in.
    pub fn unit(self) -> Unit {
        match self {
            Self::Video => Unit::Video,
            Self::Render => Unit::Render,
            // A persona costs its provider real work (HeyGen and Tavus bill for them), so it
            // is metered in its own unit rather than taken from the video allowance.
            Self::Persona => Unit::Persona,
        }
    }

    /// Units one job of this kind holds.
    pub fn units(self) -> u64 {
        1
    }
}

/// Where a job stands. `Ready`, `Failed` and `Canceled` are final: nothing moves a job out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Stored, quota held, not yet accepted by a provider.
    Queued,
    /// Accepted by the provider, being made.
    Processing,
    /// Done; the output is an artifact.
    Ready,
    /// Given up; the quota was refunded.
    Failed,
    /// Canceled by its agent; refunded unless its provider had accepted it and could not
    /// confirm stopping it (then charged in full).
    Canceled,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [JobStatus; 5] = [
        Self::Queued,
        Self::Processing,
        Self::Ready,
        Self::Failed,
        Self::Canceled,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Whether the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ready | Self::Failed | Self::Canceled)
    }
}

/// Why a job failed, as its agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct JobError {
    /// A stable code (`provider_failed`, `timed_out`, `provider_unavailable`, ...).
    pub code: String,
    /// The provider's message where there is one, secrets removed.
    pub message: String,
}

/// One durable job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `job_…`.
    pub id: String,
    /// The owning agent's instance.
    pub instance_id: String,
    /// The owning agent: only it sees the job.
    pub agent_id: String,
    /// What it makes.
    pub kind: JobKind,
    /// The model config serving it (fallbacks may move it to another before submission).
    pub model_id: String,
    /// That config's provider.
    pub provider: Provider,
    /// The provider's id for it, once accepted.
    pub provider_job_id: Option<String>,
    /// Where it stands.
    pub status: JobStatus,
    /// What was asked for (script, context, avatar and voice, timeline), as given.
    pub input: serde_json::Value,
    /// Units held for it; settled when ready (or canceled after the provider accepted it and
    /// could not cancel), refunded otherwise.
    pub units: u64,
    /// The quota hold's id.
    pub reservation_id: String,
    /// The caller's `Idempotency-Key`, unique per agent.
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the secret in the job's provider callback URL.
    pub callback_token_hash: String,
    /// Where `job.ready` / `job.failed` go, besides the agent's own endpoint.
    pub webhook_url: Option<String>,
    /// Provider calls made for it (submissions and checks). 0 only for a keyed submission's
    /// claim whose hold is not yet confirmed (see `gateway/jobs/claim.rs`).
    pub attempts: u32,
    /// When it is next due a check (also a lease: a worker pushes it forward before working).
    pub next_check_at: Timestamp,
    /// After this it fails with `timed_out`.
    pub deadline_at: Timestamp,
    /// Why it failed.
    pub error: Option<JobError>,
    /// The stored output, once ready.
    pub artifact_id: Option<String>,
    /// Seconds of video, when known.
    pub duration_seconds: Option<f64>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Reached a final status.
    pub finished_at: Option<Timestamp>,
    /// Bumped by every change; updates compare it.
    pub version: u64,
}

/// Which jobs to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQuery {
    /// The owning agent.
    pub agent_id: String,
    /// Only this kind.
    pub kind: Option<JobKind>,
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only jobs with ids before this one (the previous page's last id); newest first.
    pub before: Option<String>,
    /// Page size.
    pub limit: u32,
}
