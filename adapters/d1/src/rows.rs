//! Rows as D1 returns them (one struct per table, fields named as the columns of the one
//! migrations source) and their conversion to domain values. The encoding is molts-sea-orm's:
//! text enums, JSON as text, unix-millisecond integers, booleans as 0/1. Reading never trusts the
//! row: anything unparsable is an internal "stored data is unreadable" error.

use molts_core::domain::{
    AdminKey, AdminScope, Agent, AgentStatus, ApiKey, Instance, InstanceProviderKey,
    InstanceSettings, LimitValue, Modality, ModelConfig, ModelStatus, Period, Project, Provider,
    RegistrationMode, Reservation, ReservationState, Tier, Unit, UsageCounter,
};
use molts_core::{Error, Result, Timestamp};
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The error for a row that does not hold what molts wrote.
pub(crate) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Error {
    Error::internal("stored data is unreadable")
        .with_source(std::io::Error::other(format!("{what}: {detail}")))
}

/// A cap as a nullable column (NULL: unlimited); a cap a JS number cannot carry is refused.
pub(crate) fn cap_column(param: &'static str, cap: LimitValue) -> Result<Option<i64>> {
    cap.max().map(|n| crate::sql::checked(param, n)).transpose()
}

/// A nullable cap column read back.
pub(crate) fn cap_value(what: &'static str, column: Option<i64>) -> Result<LimitValue> {
    Ok(match column {
        Some(n) => LimitValue::Max(count(what, n)?),
        None => LimitValue::Unlimited,
    })
}

pub(crate) fn ms(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn time(what: &'static str, ms: i64) -> Result<Timestamp> {
    Timestamp::from_timestamp_millis(ms).ok_or_else(|| corrupt(what, ms))
}

pub(crate) fn opt_time(what: &'static str, ms: Option<i64>) -> Result<Option<Timestamp>> {
    ms.map(|m| time(what, m)).transpose()
}

pub(crate) fn count(what: &'static str, n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| corrupt(what, n))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal("could not encode a stored value").with_source(e))
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

pub(crate) fn parsed<T>(
    what: &'static str,
    text: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T> {
    parse(text).ok_or_else(|| corrupt(what, format!("'{text}'")))
}

pub(crate) fn parse_period(s: &str) -> Option<Period> {
    Period::ALL.into_iter().find(|p| p.as_str() == s)
}

#[derive(Deserialize)]
pub(crate) struct InstanceRow {
    id: String,
    name: String,
    registration_mode: String,
    registration_token_hash: Option<String>,
    default_tier: String,
    allowed_models: Option<String>,
    created_at: i64,
    updated_at: i64,
    storage_bytes: Option<i64>,
}

impl InstanceRow {
    pub(crate) fn into_domain(self) -> Result<Instance> {
        Ok(Instance {
            settings: InstanceSettings {
                registration: parsed(
                    "registration mode",
                    &self.registration_mode,
                    RegistrationMode::parse,
                )?,
                registration_token_hash: self.registration_token_hash,
                default_tier: self.default_tier,
                allowed_models: self
                    .allowed_models
                    .as_deref()
                    .map(|t| from_json("allowed models", t))
                    .transpose()?,
                storage_bytes: cap_value("instance storage_bytes", self.storage_bytes)?,
            },
            created_at: time("instance created_at", self.created_at)?,
            updated_at: time("instance updated_at", self.updated_at)?,
            id: self.id,
            name: self.name,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct ProjectRow {
    id: String,
    instance_id: String,
    name: String,
    description: Option<String>,
    created_at: i64,
}

impl ProjectRow {
    pub(crate) fn into_domain(self) -> Result<Project> {
        Ok(Project {
            created_at: time("project created_at", self.created_at)?,
            id: self.id,
            instance_id: self.instance_id,
            name: self.name,
            description: self.description,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct AgentRow {
    id: String,
    instance_id: String,
    project_id: Option<String>,
    name: String,
    email: Option<String>,
    soul_md: String,
    voice_sample_ref: Option<String>,
    tier_id: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl AgentRow {
    pub(crate) fn into_domain(self) -> Result<Agent> {
        Ok(Agent {
            status: parsed("agent status", &self.status, AgentStatus::parse)?,
            created_at: time("agent created_at", self.created_at)?,
            updated_at: time("agent updated_at", self.updated_at)?,
            id: self.id,
            instance_id: self.instance_id,
            project_id: self.project_id,
            name: self.name,
            email: self.email,
            soul_md: self.soul_md,
            voice_sample_ref: self.voice_sample_ref,
            tier_id: self.tier_id,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct ApiKeyRow {
    id: String,
    agent_id: String,
    instance_id: String,
    name: String,
    prefix: String,
    hash: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl ApiKeyRow {
    pub(crate) fn into_domain(self) -> Result<ApiKey> {
        Ok(ApiKey {
            created_at: time("key created_at", self.created_at)?,
            expires_at: opt_time("key expires_at", self.expires_at)?,
            revoked_at: opt_time("key revoked_at", self.revoked_at)?,
            id: self.id,
            agent_id: self.agent_id,
            instance_id: self.instance_id,
            name: self.name,
            prefix: self.prefix,
            hash: self.hash,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct AdminKeyRow {
    id: String,
    instance_id: Option<String>,
    read_only: i64,
    name: String,
    prefix: String,
    hash: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl AdminKeyRow {
    pub(crate) fn into_domain(self) -> Result<AdminKey> {
        Ok(AdminKey {
            scope: match self.instance_id {
                None => AdminScope::Operator,
                Some(instance_id) => AdminScope::Instance { instance_id },
            },
            created_at: time("admin key created_at", self.created_at)?,
            expires_at: opt_time("admin key expires_at", self.expires_at)?,
            revoked_at: opt_time("admin key revoked_at", self.revoked_at)?,
            id: self.id,
            read_only: self.read_only != 0,
            name: self.name,
            prefix: self.prefix,
            hash: self.hash,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct TierRow {
    id: String,
    name: String,
    description: String,
    limits: String,
    requests_per_minute: Option<i64>,
    created_at: i64,
    updated_at: i64,
    storage_bytes: Option<i64>,
}

impl TierRow {
    pub(crate) fn into_domain(self) -> Result<Tier> {
        Ok(Tier {
            limits: from_json("tier limits", &self.limits)?,
            requests_per_minute: self
                .requests_per_minute
                .map(|r| u32::try_from(r).map_err(|_| corrupt("requests per minute", r)))
                .transpose()?,
            storage_bytes: cap_value("tier storage_bytes", self.storage_bytes)?,
            created_at: time("tier created_at", self.created_at)?,
            updated_at: time("tier updated_at", self.updated_at)?,
            id: self.id,
            name: self.name,
            description: self.description,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct ModelRow {
    id: String,
    provider: String,
    modality: String,
    provider_model: String,
    display_name: String,
    description: String,
    capabilities: String,
    pricing: String,
    status: String,
    enabled: i64,
    payload_mapping: Option<String>,
    fallbacks: String,
    alias: Option<String>,
    weight: i64,
    created_at: i64,
    updated_at: i64,
}

impl ModelRow {
    pub(crate) fn into_domain(self) -> Result<ModelConfig> {
        Ok(ModelConfig {
            provider: parsed("model provider", &self.provider, Provider::parse)?,
            modality: parsed("model modality", &self.modality, Modality::parse)?,
            status: parsed("model status", &self.status, ModelStatus::parse)?,
            capabilities: from_json("model capabilities", &self.capabilities)?,
            pricing: from_json("model pricing", &self.pricing)?,
            payload_mapping: self
                .payload_mapping
                .as_deref()
                .map(|t| from_json("model payload mapping", t))
                .transpose()?,
            fallbacks: from_json("model fallbacks", &self.fallbacks)?,
            weight: u32::try_from(self.weight).map_err(|_| corrupt("model weight", self.weight))?,
            alias: self.alias,
            created_at: time("model created_at", self.created_at)?,
            updated_at: time("model updated_at", self.updated_at)?,
            id: self.id,
            provider_model: self.provider_model,
            display_name: self.display_name,
            description: self.description,
            enabled: self.enabled != 0,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct ReservationRow {
    id: String,
    agent_id: String,
    unit: String,
    reserved: i64,
    charged: Option<i64>,
    state: String,
    day_key: String,
    month_key: String,
    created_at: i64,
    closed_at: Option<i64>,
    expires_at: i64,
}

impl ReservationRow {
    pub(crate) fn into_domain(self) -> Result<Reservation> {
        Ok(Reservation {
            unit: parsed("reservation unit", &self.unit, Unit::parse)?,
            reserved: count("reserved units", self.reserved)?,
            charged: self
                .charged
                .map(|c| count("charged units", c))
                .transpose()?,
            state: parsed("reservation state", &self.state, ReservationState::parse)?,
            created_at: time("reservation created_at", self.created_at)?,
            closed_at: opt_time("reservation closed_at", self.closed_at)?,
            expires_at: time("reservation expires_at", self.expires_at)?,
            id: self.id,
            agent_id: self.agent_id,
            day_key: self.day_key,
            month_key: self.month_key,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct CounterRow {
    unit: String,
    period: String,
    period_key: String,
    used: i64,
}

impl CounterRow {
    pub(crate) fn into_domain(self) -> Result<UsageCounter> {
        Ok(UsageCounter {
            unit: parsed("counter unit", &self.unit, Unit::parse)?,
            period: parsed("counter period", &self.period, parse_period)?,
            used: count("used units", self.used)?,
            key: self.period_key,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct ProviderKeyRow {
    instance_id: String,
    provider: String,
    sealed_key: String,
    key_hint: String,
    base_url: Option<String>,
    updated_at: i64,
}

impl ProviderKeyRow {
    pub(crate) fn into_domain(self) -> Result<InstanceProviderKey> {
        Ok(InstanceProviderKey {
            provider: parsed("provider key provider", &self.provider, Provider::parse)?,
            updated_at: time("provider key updated_at", self.updated_at)?,
            instance_id: self.instance_id,
            sealed_key: self.sealed_key,
            key_hint: self.key_hint,
            base_url: self.base_url,
        })
    }
}

/// Converts every row, failing on the first unreadable one.
pub(crate) fn all<R, T>(rows: Vec<R>, convert: impl Fn(R) -> Result<T>) -> Result<Vec<T>> {
    rows.into_iter().map(convert).collect()
}
