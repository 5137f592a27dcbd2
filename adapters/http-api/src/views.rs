//! Response shapes that differ from the core structs: key-once responses, the seed-compatible
//! profile, OpenAI's list and model shapes, and instance settings without secrets.

use chrono::{DateTime, Utc};
use molts_core::domain::{Agent, ApiKey, Instance, ModelConfig, RegistrationMode, Tier};
use molts_core::gateway::{AgentProfile, IssuedKey, Registered, UsageReport};
use serde::Serialize;

/// `{"object":"list","data":[…]}`, OpenAI's list envelope.
#[derive(Serialize)]
pub(crate) struct List<T> {
    object: &'static str,
    data: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_more: Option<bool>,
}

impl<T> List<T> {
    pub(crate) fn of(data: Vec<T>) -> Self {
        Self {
            object: "list",
            data,
            has_more: None,
        }
    }

    pub(crate) fn page(data: Vec<T>, has_more: bool) -> Self {
        Self {
            object: "list",
            data,
            has_more: Some(has_more),
        }
    }
}

/// The answer to registration: the key, this once.
#[derive(Serialize)]
pub(crate) struct RegisteredView {
    agent_id: String,
    api_key: String,
    key_id: String,
    key_prefix: String,
    name: String,
    email: Option<String>,
    instance_id: String,
    project_id: Option<String>,
    tier: String,
    status: &'static str,
    created_at: DateTime<Utc>,
    warning: &'static str,
}

const SHOWN_ONCE: &str = "Store api_key now: molts keeps only its hash and cannot show it again.";

impl From<Registered> for RegisteredView {
    fn from(r: Registered) -> Self {
        Self {
            agent_id: r.agent.id,
            api_key: r.key.secret,
            key_id: r.key.key.id,
            key_prefix: r.key.key.prefix,
            name: r.agent.name,
            email: r.agent.email,
            instance_id: r.agent.instance_id,
            project_id: r.agent.project_id,
            tier: r.agent.tier_id,
            status: r.agent.status.as_str(),
            created_at: r.agent.created_at,
            warning: SHOWN_ONCE,
        }
    }
}

/// A key as listed (no secret), marking the one in use.
#[derive(Serialize)]
pub(crate) struct KeyView {
    id: String,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    current: bool,
}

impl KeyView {
    pub(crate) fn new(key: ApiKey, current_key_id: &str) -> Self {
        Self {
            current: key.id == current_key_id,
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A newly made key, with its secret this once.
#[derive(Serialize)]
pub(crate) struct IssuedKeyView {
    id: String,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    key: String,
    warning: &'static str,
}

impl From<IssuedKey> for IssuedKeyView {
    fn from(k: IssuedKey) -> Self {
        Self {
            id: k.key.id,
            name: k.key.name,
            prefix: k.key.prefix,
            created_at: k.key.created_at,
            expires_at: k.key.expires_at,
            key: k.secret,
            warning: SHOWN_ONCE,
        }
    }
}

/// `GET /v1/agents/me`: profile, tier, usage with limits and remaining, plus the seed's fields.
#[derive(Serialize)]
pub(crate) struct MeView {
    agent_id: String,
    name: String,
    email: Option<String>,
    soul_md: String,
    voice_sample_ref: Option<String>,
    instance_id: String,
    project_id: Option<String>,
    status: &'static str,
    created_at: DateTime<Utc>,
    tier: TierSummary,
    usage: UsageReport,
    videos_generated: u64,
    monthly_usage_minutes: f64,
}

#[derive(Serialize)]
struct TierSummary {
    id: String,
    name: String,
    requests_per_minute: Option<u32>,
}

impl From<AgentProfile> for MeView {
    fn from(p: AgentProfile) -> Self {
        let videos_generated = p.videos_this_month();
        let monthly_usage_minutes = p.speech_minutes_this_month();
        let Agent {
            id,
            name,
            email,
            soul_md,
            voice_sample_ref,
            instance_id,
            project_id,
            status,
            created_at,
            ..
        } = p.agent;
        let Tier {
            id: tier_id,
            name: tier_name,
            requests_per_minute,
            ..
        } = p.tier;
        Self {
            agent_id: id,
            name,
            email,
            soul_md,
            voice_sample_ref,
            instance_id,
            project_id,
            status: status.as_str(),
            created_at,
            tier: TierSummary {
                id: tier_id,
                name: tier_name,
                requests_per_minute,
            },
            usage: p.usage,
            videos_generated,
            monthly_usage_minutes,
        }
    }
}

/// A model in OpenAI's shape, with molts' extra fields after the standard four.
#[derive(Serialize)]
pub(crate) struct ModelView {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
    display_name: String,
    modality: &'static str,
    status: &'static str,
    capabilities: Vec<String>,
}

impl ModelView {
    /// An alias, listed like a model: requests naming it are balanced across its members.
    pub(crate) fn alias(name: String, member: &ModelConfig) -> Self {
        Self {
            object: "model",
            created: member.created_at.timestamp(),
            owned_by: "molts",
            modality: member.modality.as_str(),
            status: member.status.as_str(),
            display_name: format!("{name} (balanced alias)"),
            id: name,
            capabilities: member.capabilities.clone(),
        }
    }
}

impl From<ModelConfig> for ModelView {
    fn from(m: ModelConfig) -> Self {
        Self {
            object: "model",
            created: m.created_at.timestamp(),
            owned_by: m.provider.as_str(),
            modality: m.modality.as_str(),
            status: m.status.as_str(),
            id: m.id,
            display_name: m.display_name,
            capabilities: m.capabilities,
        }
    }
}

/// An instance with its settings; the registration token is reported as set or not, never shown.
#[derive(Serialize)]
pub(crate) struct InstanceView {
    id: String,
    name: String,
    settings: SettingsView,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct SettingsView {
    registration: RegistrationMode,
    registration_token_set: bool,
    default_tier: String,
    allowed_models: Option<Vec<String>>,
}

impl From<Instance> for InstanceView {
    fn from(i: Instance) -> Self {
        Self {
            settings: SettingsView {
                registration: i.settings.registration,
                registration_token_set: i.settings.has_registration_token(),
                default_tier: i.settings.default_tier,
                allowed_models: i.settings.allowed_models,
            },
            id: i.id,
            name: i.name,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}
