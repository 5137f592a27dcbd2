//! Stored keys: agents' API keys and admins' keys. Only the hash and lookup prefix are kept;
//! the clear text exists once, in the response that created it.

use serde::Serialize;

use crate::clock::Timestamp;

/// An agent's API key, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    /// `key_…`
    pub id: String,
    /// The agent it authenticates.
    pub agent_id: String,
    /// The agent's instance (denormalised so a key lookup needs one read).
    pub instance_id: String,
    /// A label the agent chose.
    pub name: String,
    /// First characters of the key, for lookup and recognition.
    pub prefix: String,
    /// SHA-256 of the key. Never serialized.
    #[serde(skip)]
    pub hash: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// Whether the key authenticates at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// What an admin key may reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdminScope {
    /// The operator: every instance, tiers and model configs.
    Operator,
    /// One instance's agents, projects, keys and settings.
    Instance {
        /// The instance.
        instance_id: String,
    },
}

impl AdminScope {
    /// The instance this scope is limited to, if any.
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Self::Operator => None,
            Self::Instance { instance_id } => Some(instance_id),
        }
    }
}

/// An admin's key, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminKey {
    /// `adk_…`
    pub id: String,
    /// What it may reach.
    pub scope: AdminScope,
    /// Read-only keys may list and get, never change.
    pub read_only: bool,
    /// A label.
    pub name: String,
    /// First characters of the key.
    pub prefix: String,
    /// SHA-256 of the key. Never serialized.
    #[serde(skip)]
    pub hash: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl AdminKey {
    /// Whether the key authenticates at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}
