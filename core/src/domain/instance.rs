//! Instances (tenants): every agent, key and project belongs to exactly one.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::LimitValue;

/// A tenant of molts, with its own agents, admins and settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance {
    /// Slug chosen at creation (`default`, `acme`); immutable.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Behaviour switches.
    pub settings: InstanceSettings,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// An instance's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceSettings {
    /// Who may call `POST /v1/agents/register`.
    pub registration: RegistrationMode,
    /// SHA-256 of the registration token, when `registration` is `token`. Never serialized.
    #[serde(skip)]
    pub registration_token_hash: Option<String>,
    /// Tier given to newly registered agents.
    pub default_tier: String,
    /// Model config ids this instance may use; `None` means every enabled model.
    pub allowed_models: Option<Vec<String>>,
    /// Bytes of uploaded files the instance's agents may keep together (each also under its
    /// tier's own cap); set by the operator.
    pub storage_bytes: LimitValue,
}

impl InstanceSettings {
    /// Whether a registration token has been set.
    pub fn has_registration_token(&self) -> bool {
        self.registration_token_hash.is_some()
    }

    /// Whether `model_id` is within this instance's allow-list.
    pub fn allows_model(&self, model_id: &str) -> bool {
        self.allowed_models
            .as_ref()
            .is_none_or(|list| list.iter().any(|m| m == model_id))
    }
}

/// How agents join an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// Anyone may register.
    Open,
    /// Registration needs the instance's registration token.
    Token,
    /// Only an admin of the instance may create agents.
    AdminOnly,
}

impl RegistrationMode {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Token => "token",
            Self::AdminOnly => "admin_only",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "token" => Some(Self::Token),
            "admin_only" => Some(Self::AdminOnly),
            _ => None,
        }
    }
}
