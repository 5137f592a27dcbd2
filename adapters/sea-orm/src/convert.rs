//! Domain values to rows and back: text enums, JSON text, unix-millisecond timestamps and the
//! u64 <-> BIGINT boundary. Reading never trusts the row: anything unparsable is `Corrupt`.

use molts_core::domain::{
    AdminKey, AdminScope, Agent, AgentStatus, ApiKey, Instance, InstanceSettings, LimitValue,
    Modality, ModelConfig, ModelStatus, Period, Project, Provider, RegistrationMode, Reservation,
    ReservationState, Tier, Unit, UsageCounter,
};
use molts_core::{Error, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entity::{
    admin_key, agent, api_key, instance, model_config, project, quota_counter, quota_reservation,
    tier,
};
use crate::error::StoreError;

pub(crate) type Read<T> = std::result::Result<T, StoreError>;

pub(crate) fn ms(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn time(what: &'static str, ms: i64) -> Read<Timestamp> {
    Timestamp::from_timestamp_millis(ms).ok_or_else(|| StoreError::corrupt(what, ms))
}

pub(crate) fn opt_time(what: &'static str, ms: Option<i64>) -> Read<Option<Timestamp>> {
    ms.map(|m| time(what, m)).transpose()
}

/// A unit count for a BIGINT column; counts beyond i64 are refused, not wrapped.
pub(crate) fn count(param: &'static str, n: u64) -> molts_core::Result<i64> {
    i64::try_from(n).map_err(|_| Error::invalid(param, format!("{param} is too large")))
}

pub(crate) fn read_count(what: &'static str, n: i64) -> Read<u64> {
    u64::try_from(n).map_err(|_| StoreError::corrupt(what, n))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> molts_core::Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal("could not encode a stored value").with_source(e))
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &'static str, text: &str) -> Read<T> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn parsed<T>(
    what: &'static str,
    text: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Read<T> {
    parse(text).ok_or_else(|| StoreError::corrupt(what, format!("'{text}'")))
}

pub(crate) fn parse_period(s: &str) -> Option<Period> {
    Period::ALL.into_iter().find(|p| p.as_str() == s)
}

pub(crate) fn instance_row(i: &Instance) -> molts_core::Result<instance::Model> {
    Ok(instance::Model {
        id: i.id.clone(),
        name: i.name.clone(),
        registration_mode: i.settings.registration.as_str().to_owned(),
        registration_token_hash: i.settings.registration_token_hash.clone(),
        default_tier: i.settings.default_tier.clone(),
        allowed_models: i
            .settings
            .allowed_models
            .as_ref()
            .map(to_json)
            .transpose()?,
        storage_bytes: cap_column("storage_bytes", i.settings.storage_bytes)?,
        created_at: ms(i.created_at),
        updated_at: ms(i.updated_at),
    })
}

/// A cap as a nullable column: NULL is unlimited.
pub(crate) fn cap_column(param: &'static str, cap: LimitValue) -> molts_core::Result<Option<i64>> {
    cap.max().map(|n| count(param, n)).transpose()
}

/// A nullable cap column read back.
pub(crate) fn cap_value(what: &'static str, column: Option<i64>) -> Read<LimitValue> {
    Ok(match column {
        Some(n) => LimitValue::Max(read_count(what, n)?),
        None => LimitValue::Unlimited,
    })
}

pub(crate) fn instance(m: instance::Model) -> Read<Instance> {
    Ok(Instance {
        settings: InstanceSettings {
            registration: parsed(
                "registration mode",
                &m.registration_mode,
                RegistrationMode::parse,
            )?,
            registration_token_hash: m.registration_token_hash,
            default_tier: m.default_tier,
            allowed_models: m
                .allowed_models
                .as_deref()
                .map(|t| from_json("allowed models", t))
                .transpose()?,
            storage_bytes: cap_value("instance storage_bytes", m.storage_bytes)?,
        },
        created_at: time("instance created_at", m.created_at)?,
        updated_at: time("instance updated_at", m.updated_at)?,
        id: m.id,
        name: m.name,
    })
}

pub(crate) fn project_row(p: &Project) -> project::Model {
    project::Model {
        id: p.id.clone(),
        instance_id: p.instance_id.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        created_at: ms(p.created_at),
    }
}

pub(crate) fn project(m: project::Model) -> Read<Project> {
    Ok(Project {
        created_at: time("project created_at", m.created_at)?,
        id: m.id,
        instance_id: m.instance_id,
        name: m.name,
        description: m.description,
    })
}

pub(crate) fn agent_row(a: &Agent) -> agent::Model {
    agent::Model {
        id: a.id.clone(),
        instance_id: a.instance_id.clone(),
        project_id: a.project_id.clone(),
        name: a.name.clone(),
        email: a.email.clone(),
        soul_md: a.soul_md.clone(),
        voice_sample_ref: a.voice_sample_ref.clone(),
        tier_id: a.tier_id.clone(),
        status: a.status.as_str().to_owned(),
        created_at: ms(a.created_at),
        updated_at: ms(a.updated_at),
    }
}

pub(crate) fn agent(m: agent::Model) -> Read<Agent> {
    Ok(Agent {
        status: parsed("agent status", &m.status, AgentStatus::parse)?,
        created_at: time("agent created_at", m.created_at)?,
        updated_at: time("agent updated_at", m.updated_at)?,
        id: m.id,
        instance_id: m.instance_id,
        project_id: m.project_id,
        name: m.name,
        email: m.email,
        soul_md: m.soul_md,
        voice_sample_ref: m.voice_sample_ref,
        tier_id: m.tier_id,
    })
}

pub(crate) fn api_key_row(k: &ApiKey) -> api_key::Model {
    api_key::Model {
        id: k.id.clone(),
        agent_id: k.agent_id.clone(),
        instance_id: k.instance_id.clone(),
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        hash: k.hash.clone(),
        created_at: ms(k.created_at),
        expires_at: k.expires_at.map(ms),
        revoked_at: k.revoked_at.map(ms),
    }
}

pub(crate) fn api_key(m: api_key::Model) -> Read<ApiKey> {
    Ok(ApiKey {
        created_at: time("key created_at", m.created_at)?,
        expires_at: opt_time("key expires_at", m.expires_at)?,
        revoked_at: opt_time("key revoked_at", m.revoked_at)?,
        id: m.id,
        agent_id: m.agent_id,
        instance_id: m.instance_id,
        name: m.name,
        prefix: m.prefix,
        hash: m.hash,
    })
}

pub(crate) fn admin_key_row(k: &AdminKey) -> admin_key::Model {
    admin_key::Model {
        id: k.id.clone(),
        instance_id: k.scope.instance_id().map(str::to_owned),
        read_only: k.read_only,
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        hash: k.hash.clone(),
        created_at: ms(k.created_at),
        expires_at: k.expires_at.map(ms),
        revoked_at: k.revoked_at.map(ms),
    }
}

pub(crate) fn admin_key(m: admin_key::Model) -> Read<AdminKey> {
    Ok(AdminKey {
        scope: match m.instance_id {
            None => AdminScope::Operator,
            Some(instance_id) => AdminScope::Instance { instance_id },
        },
        created_at: time("admin key created_at", m.created_at)?,
        expires_at: opt_time("admin key expires_at", m.expires_at)?,
        revoked_at: opt_time("admin key revoked_at", m.revoked_at)?,
        id: m.id,
        read_only: m.read_only,
        name: m.name,
        prefix: m.prefix,
        hash: m.hash,
    })
}

pub(crate) fn tier_row(t: &Tier) -> molts_core::Result<tier::Model> {
    Ok(tier::Model {
        id: t.id.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
        limits: to_json(&t.limits)?,
        requests_per_minute: t.requests_per_minute.map(i64::from),
        storage_bytes: cap_column("storage_bytes", t.storage_bytes)?,
        created_at: ms(t.created_at),
        updated_at: ms(t.updated_at),
    })
}

pub(crate) fn tier(m: tier::Model) -> Read<Tier> {
    Ok(Tier {
        limits: from_json("tier limits", &m.limits)?,
        requests_per_minute: m
            .requests_per_minute
            .map(|r| u32::try_from(r).map_err(|_| StoreError::corrupt("requests per minute", r)))
            .transpose()?,
        storage_bytes: cap_value("tier storage_bytes", m.storage_bytes)?,
        created_at: time("tier created_at", m.created_at)?,
        updated_at: time("tier updated_at", m.updated_at)?,
        id: m.id,
        name: m.name,
        description: m.description,
    })
}

pub(crate) fn model_row(c: &ModelConfig) -> molts_core::Result<model_config::Model> {
    Ok(model_config::Model {
        id: c.id.clone(),
        provider: c.provider.as_str().to_owned(),
        modality: c.modality.as_str().to_owned(),
        provider_model: c.provider_model.clone(),
        display_name: c.display_name.clone(),
        description: c.description.clone(),
        capabilities: to_json(&c.capabilities)?,
        pricing: to_json(&c.pricing)?,
        status: c.status.as_str().to_owned(),
        enabled: c.enabled,
        payload_mapping: c.payload_mapping.as_ref().map(to_json).transpose()?,
        fallbacks: to_json(&c.fallbacks)?,
        alias: c.alias.clone(),
        weight: i64::from(c.weight),
        created_at: ms(c.created_at),
        updated_at: ms(c.updated_at),
    })
}

pub(crate) fn model(m: model_config::Model) -> Read<ModelConfig> {
    Ok(ModelConfig {
        provider: parsed("model provider", &m.provider, Provider::parse)?,
        modality: parsed("model modality", &m.modality, Modality::parse)?,
        status: parsed("model status", &m.status, ModelStatus::parse)?,
        capabilities: from_json("model capabilities", &m.capabilities)?,
        pricing: from_json("model pricing", &m.pricing)?,
        payload_mapping: m
            .payload_mapping
            .as_deref()
            .map(|t| from_json("model payload mapping", t))
            .transpose()?,
        fallbacks: from_json("model fallbacks", &m.fallbacks)?,
        weight: u32::try_from(m.weight)
            .map_err(|_| StoreError::corrupt("model weight", m.weight))?,
        alias: m.alias,
        created_at: time("model created_at", m.created_at)?,
        updated_at: time("model updated_at", m.updated_at)?,
        id: m.id,
        provider_model: m.provider_model,
        display_name: m.display_name,
        description: m.description,
        enabled: m.enabled,
    })
}

pub(crate) fn reservation(m: quota_reservation::Model) -> Read<Reservation> {
    Ok(Reservation {
        unit: parsed("reservation unit", &m.unit, Unit::parse)?,
        reserved: read_count("reserved units", m.reserved)?,
        charged: m
            .charged
            .map(|c| read_count("charged units", c))
            .transpose()?,
        state: parsed("reservation state", &m.state, ReservationState::parse)?,
        created_at: time("reservation created_at", m.created_at)?,
        closed_at: opt_time("reservation closed_at", m.closed_at)?,
        expires_at: time("reservation expires_at", m.expires_at)?,
        id: m.id,
        agent_id: m.agent_id,
        day_key: m.day_key,
        month_key: m.month_key,
    })
}

pub(crate) fn counter(m: quota_counter::Model) -> Read<UsageCounter> {
    Ok(UsageCounter {
        unit: parsed("counter unit", &m.unit, Unit::parse)?,
        period: parsed("counter period", &m.period, parse_period)?,
        used: read_count("used units", m.used)?,
        key: m.period_key,
    })
}
