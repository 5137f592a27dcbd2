//! Outbound webhooks: an agent's endpoint and the outbox of signed deliveries (Standard Webhooks:
//! `webhook-id`, `webhook-timestamp`, `webhook-signature`). A delivery is written before anyone
//! is told a job finished, and retried until the endpoint answers 2xx or the attempts run out.

use serde::Serialize;

use crate::clock::Timestamp;

/// An agent's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// The agent.
    pub agent_id: String,
    /// Where events go; `None` when the agent only gives URLs per request.
    pub url: Option<String>,
    /// The signing secret, `whsec_` + base64 of 32 random bytes. It must be kept to sign, so it
    /// is stored as is: it authenticates molts to the agent, not the agent to molts.
    pub secret: String,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet acknowledged; due again at `next_attempt_at`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed, or the URL was refused.
    Failed,
}

impl DeliveryStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event to one URL, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookDelivery {
    /// `msg_…`: the `webhook-id`, the same on every retry so receivers can deduplicate. Derived
    /// from the job and event, so writing the same event twice is a no-op.
    pub id: String,
    /// The agent it is for.
    pub agent_id: String,
    /// The job it is about.
    pub job_id: String,
    /// `job.ready` or `job.failed`.
    pub event_type: String,
    /// The target.
    pub url: String,
    /// The exact body sent (signed as is).
    #[serde(skip)]
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it is next due (also a lease while an attempt is in flight).
    pub next_attempt_at: Timestamp,
    /// The last attempt's HTTP status, if the endpoint answered.
    pub last_status: Option<u16>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// Written.
    pub created_at: Timestamp,
    /// Acknowledged.
    pub delivered_at: Option<Timestamp>,
}
