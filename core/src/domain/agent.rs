//! Agents (the API's callers) and projects (groupings of agents inside an instance).

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// An AI agent with an account on one instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    /// `agt_…`
    pub id: String,
    /// The owning instance.
    pub instance_id: String,
    /// Optional grouping inside the instance.
    pub project_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Contact email, unique within the instance when given.
    pub email: Option<String>,
    /// The agent's SOUL.md: who it is, in its own words.
    pub soul_md: String,
    /// Where its voice sample lives (a URL, later an artifact id).
    pub voice_sample_ref: Option<String>,
    /// Its tier id.
    pub tier_id: String,
    /// Whether it may call the API.
    pub status: AgentStatus,
    /// When it registered.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Whether an agent may use the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// May call the API.
    Active,
    /// Keys are refused until an admin reactivates it.
    Suspended,
}

impl AgentStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// What registration asks for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// Display name (1–100 characters).
    pub name: String,
    /// Optional contact email.
    #[serde(default)]
    pub email: Option<String>,
    /// SOUL.md text (up to 64 KiB).
    #[serde(default)]
    pub soul_md: String,
    /// Optional http(s) URL of a voice sample.
    #[serde(default)]
    pub voice_sample_url: Option<String>,
    /// Instance to join; `default` when absent.
    #[serde(default)]
    pub instance: Option<String>,
    /// The instance's registration token, when it requires one.
    #[serde(default)]
    pub registration_token: Option<String>,
    /// Optional project within the instance.
    #[serde(default)]
    pub project_id: Option<String>,
}

/// An admin's change to an agent; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    /// New tier id.
    #[serde(default)]
    pub tier: Option<String>,
    /// Suspend or reactivate.
    #[serde(default)]
    pub status: Option<AgentStatus>,
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Move to a project (`null` is not distinguishable from absent; use an empty string to clear).
    #[serde(default)]
    pub project_id: Option<String>,
}

/// A named grouping of agents inside an instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// `prj_…`
    pub id: String,
    /// The owning instance.
    pub instance_id: String,
    /// Name, unique within the instance.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
}
