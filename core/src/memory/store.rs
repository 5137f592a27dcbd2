//! `MemoryStore`: every store port over maps behind one mutex. One lock makes each operation
//! atomic, which is exactly the contract the SQL stores reach with transactions.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::domain::{
    AdminKey, Agent, ApiKey, Instance, ModelConfig, ModelFilter, Period, Project, Reservation,
    ReservationState, ReserveOutcome, ReserveRequest, Tier, Unit, UsageCounter,
};
use crate::domain::{
    Artifact, InstanceProviderKey, Job, Provider, RequestRecord, StorageScope, WebhookDelivery,
    WebhookEndpoint,
};
use crate::error::{Error, Result};
use crate::ports::{
    AdminKeyStore, AgentQuery, AgentStore, ApiKeyStore, InstanceStore, ModelConfigStore,
    ProjectStore, ProviderKeyStore, QuotaStore, TierStore,
};

type CounterKey = (String, Unit, Period, String);

#[derive(Default)]
pub(super) struct State {
    instances: BTreeMap<String, Instance>,
    projects: BTreeMap<String, Project>,
    agents: BTreeMap<String, Agent>,
    api_keys: BTreeMap<String, ApiKey>,
    admin_keys: BTreeMap<String, AdminKey>,
    tiers: BTreeMap<String, Tier>,
    models: BTreeMap<String, ModelConfig>,
    reservations: BTreeMap<String, Reservation>,
    counters: BTreeMap<CounterKey, u64>,
    provider_keys: BTreeMap<(String, Provider), InstanceProviderKey>,
    pub(super) jobs: BTreeMap<String, Job>,
    pub(super) artifacts: BTreeMap<String, Artifact>,
    /// Upload bytes kept, by scope and owner id.
    pub(super) storage: BTreeMap<(StorageScope, String), u64>,
    /// The request log, by (time-ordered) id.
    pub(super) requests: BTreeMap<String, RequestRecord>,
    pub(super) webhook_endpoints: BTreeMap<String, WebhookEndpoint>,
    pub(super) webhook_deliveries: BTreeMap<String, WebhookDelivery>,
}

/// Every store port in memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every mutation
        // below is a single map operation after all checks.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) fn insert_new<T: Clone>(
    map: &mut BTreeMap<String, T>,
    id: &str,
    value: &T,
    what: &str,
) -> Result<()> {
    if map.contains_key(id) {
        return Err(Error::conflict(format!("{what} '{id}' already exists")));
    }
    map.insert(id.to_owned(), value.clone());
    Ok(())
}

fn replace<T: Clone>(map: &mut BTreeMap<String, T>, id: &str, value: &T, what: &str) -> Result<()> {
    match map.get_mut(id) {
        Some(slot) => {
            *slot = value.clone();
            Ok(())
        }
        None => Err(Error::not_found(what, id)),
    }
}

#[async_trait]
impl InstanceStore for MemoryStore {
    async fn insert_instance(&self, instance: &Instance) -> Result<()> {
        insert_new(
            &mut self.lock().instances,
            &instance.id,
            instance,
            "instance",
        )
    }
    async fn get_instance(&self, id: &str) -> Result<Option<Instance>> {
        Ok(self.lock().instances.get(id).cloned())
    }
    async fn list_instances(&self) -> Result<Vec<Instance>> {
        Ok(self.lock().instances.values().cloned().collect())
    }
    async fn update_instance(&self, instance: &Instance) -> Result<()> {
        replace(
            &mut self.lock().instances,
            &instance.id,
            instance,
            "instance",
        )
    }
    async fn delete_instance(&self, id: &str) -> Result<bool> {
        Ok(self.lock().instances.remove(id).is_some())
    }
}

#[async_trait]
impl ProjectStore for MemoryStore {
    async fn insert_project(&self, project: &Project) -> Result<()> {
        let mut state = self.lock();
        if state
            .projects
            .values()
            .any(|p| p.instance_id == project.instance_id && p.name == project.name)
        {
            return Err(Error::conflict(format!(
                "project '{}' already exists",
                project.name
            )));
        }
        insert_new(&mut state.projects, &project.id, project, "project")
    }
    async fn get_project(&self, id: &str) -> Result<Option<Project>> {
        Ok(self.lock().projects.get(id).cloned())
    }
    async fn list_projects(&self, instance_id: &str) -> Result<Vec<Project>> {
        Ok(self
            .lock()
            .projects
            .values()
            .filter(|p| p.instance_id == instance_id)
            .cloned()
            .collect())
    }
    async fn delete_project(&self, id: &str) -> Result<bool> {
        let mut state = self.lock();
        let existed = state.projects.remove(id).is_some();
        if existed {
            for agent in state.agents.values_mut() {
                if agent.project_id.as_deref() == Some(id) {
                    agent.project_id = None;
                }
            }
        }
        Ok(existed)
    }
}

#[async_trait]
impl AgentStore for MemoryStore {
    async fn insert_agent(&self, agent: &Agent) -> Result<()> {
        let mut state = self.lock();
        if let Some(email) = &agent.email {
            if state
                .agents
                .values()
                .any(|a| a.instance_id == agent.instance_id && a.email.as_ref() == Some(email))
            {
                return Err(Error::conflict("an agent with this email already exists"));
            }
        }
        insert_new(&mut state.agents, &agent.id, agent, "agent")
    }
    async fn get_agent(&self, id: &str) -> Result<Option<Agent>> {
        Ok(self.lock().agents.get(id).cloned())
    }
    async fn list_agents(&self, q: &AgentQuery) -> Result<Vec<Agent>> {
        Ok(self
            .lock()
            .agents
            .values()
            .filter(|a| q.instance_id.as_ref().is_none_or(|i| &a.instance_id == i))
            .filter(|a| {
                q.project_id
                    .as_ref()
                    .is_none_or(|p| a.project_id.as_ref() == Some(p))
            })
            .filter(|a| q.tier_id.as_ref().is_none_or(|t| &a.tier_id == t))
            .filter(|a| q.status.is_none_or(|s| a.status == s))
            .filter(|a| q.after.as_ref().is_none_or(|after| &a.id > after))
            .take(q.limit as usize)
            .cloned()
            .collect())
    }
    async fn update_agent(&self, agent: &Agent) -> Result<()> {
        replace(&mut self.lock().agents, &agent.id, agent, "agent")
    }
    async fn delete_agent(&self, id: &str) -> Result<bool> {
        let mut state = self.lock();
        let existed = state.agents.remove(id).is_some();
        state.api_keys.retain(|_, k| k.agent_id != id);
        Ok(existed)
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        insert_new(&mut self.lock().api_keys, &key.id, key, "key")
    }
    async fn find_api_keys_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKey>> {
        Ok(self
            .lock()
            .api_keys
            .values()
            .filter(|k| k.prefix == prefix)
            .cloned()
            .collect())
    }
    async fn list_api_keys(&self, agent_id: &str) -> Result<Vec<ApiKey>> {
        Ok(self
            .lock()
            .api_keys
            .values()
            .filter(|k| k.agent_id == agent_id)
            .cloned()
            .collect())
    }
    async fn revoke_api_key(&self, agent_id: &str, key_id: &str, at: Timestamp) -> Result<bool> {
        let mut state = self.lock();
        match state.api_keys.get_mut(key_id) {
            Some(k) if k.agent_id == agent_id && k.revoked_at.is_none() => {
                k.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl AdminKeyStore for MemoryStore {
    async fn insert_admin_key(&self, key: &AdminKey) -> Result<()> {
        insert_new(&mut self.lock().admin_keys, &key.id, key, "admin key")
    }
    async fn find_admin_keys_by_prefix(&self, prefix: &str) -> Result<Vec<AdminKey>> {
        Ok(self
            .lock()
            .admin_keys
            .values()
            .filter(|k| k.prefix == prefix)
            .cloned()
            .collect())
    }
    async fn list_admin_keys(&self) -> Result<Vec<AdminKey>> {
        Ok(self.lock().admin_keys.values().cloned().collect())
    }
    async fn revoke_admin_key(&self, id: &str, at: Timestamp) -> Result<bool> {
        match self.lock().admin_keys.get_mut(id) {
            Some(k) if k.revoked_at.is_none() => {
                k.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl TierStore for MemoryStore {
    async fn insert_tier(&self, tier: &Tier) -> Result<()> {
        insert_new(&mut self.lock().tiers, &tier.id, tier, "tier")
    }
    async fn get_tier(&self, id: &str) -> Result<Option<Tier>> {
        Ok(self.lock().tiers.get(id).cloned())
    }
    async fn list_tiers(&self) -> Result<Vec<Tier>> {
        Ok(self.lock().tiers.values().cloned().collect())
    }
    async fn update_tier(&self, tier: &Tier) -> Result<()> {
        replace(&mut self.lock().tiers, &tier.id, tier, "tier")
    }
    async fn delete_tier(&self, id: &str) -> Result<bool> {
        Ok(self.lock().tiers.remove(id).is_some())
    }
}

#[async_trait]
impl ModelConfigStore for MemoryStore {
    async fn insert_model(&self, model: &ModelConfig) -> Result<()> {
        insert_new(&mut self.lock().models, &model.id, model, "model")
    }
    async fn get_model(&self, id: &str) -> Result<Option<ModelConfig>> {
        Ok(self.lock().models.get(id).cloned())
    }
    async fn list_models(&self, filter: &ModelFilter) -> Result<Vec<ModelConfig>> {
        Ok(self
            .lock()
            .models
            .values()
            .filter(|m| filter.matches(m))
            .cloned()
            .collect())
    }
    async fn update_model(&self, model: &ModelConfig) -> Result<()> {
        replace(&mut self.lock().models, &model.id, model, "model")
    }
    async fn delete_model(&self, id: &str) -> Result<bool> {
        Ok(self.lock().models.remove(id).is_some())
    }
}

fn close(
    state: &mut State,
    reservation_id: &str,
    charged: u64,
    new_state: ReservationState,
    at: Timestamp,
) -> Result<Reservation> {
    let reservation = state
        .reservations
        .get_mut(reservation_id)
        .ok_or_else(|| Error::not_found("reservation", reservation_id))?;
    if reservation.state != ReservationState::Reserved {
        return Err(Error::conflict(format!(
            "reservation '{reservation_id}' is already {}",
            reservation.state.as_str()
        )));
    }
    // Never above the hold: the caps were checked against what was held.
    let charged = charged.min(reservation.reserved);
    reservation.state = new_state;
    reservation.charged = Some(charged);
    reservation.closed_at = Some(at);
    let reservation = reservation.clone();
    for (period, key) in [
        (Period::Day, &reservation.day_key),
        (Period::Month, &reservation.month_key),
    ] {
        let counter = state
            .counters
            .entry((
                reservation.agent_id.clone(),
                reservation.unit,
                period,
                key.clone(),
            ))
            .or_insert(0);
        *counter = counter
            .saturating_sub(reservation.reserved)
            .saturating_add(charged);
    }
    Ok(reservation)
}

#[async_trait]
impl QuotaStore for MemoryStore {
    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome> {
        let mut state = self.lock();
        let counter_key = |period: Period, key: &str| {
            (
                request.agent_id.clone(),
                request.unit,
                period,
                key.to_owned(),
            )
        };
        for p in &request.periods {
            let used = state
                .counters
                .get(&counter_key(p.period, &p.key))
                .copied()
                .unwrap_or(0);
            if let Some(max) = p.max {
                if used.saturating_add(request.amount) > max {
                    return Ok(ReserveOutcome::Exceeded {
                        period: p.period,
                        max,
                        used,
                    });
                }
            }
        }
        if state.reservations.contains_key(&request.reservation_id) {
            return Err(Error::conflict("reservation id already used"));
        }
        for p in &request.periods {
            *state
                .counters
                .entry(counter_key(p.period, &p.key))
                .or_insert(0) += request.amount;
        }
        let key_of = |period: Period| {
            request
                .periods
                .iter()
                .find(|p| p.period == period)
                .map(|p| p.key.clone())
                .unwrap_or_default()
        };
        let reservation = Reservation {
            id: request.reservation_id.clone(),
            agent_id: request.agent_id.clone(),
            unit: request.unit,
            reserved: request.amount,
            charged: None,
            state: ReservationState::Reserved,
            day_key: key_of(Period::Day),
            month_key: key_of(Period::Month),
            created_at: request.at,
            closed_at: None,
            expires_at: request.expires_at,
        };
        state
            .reservations
            .insert(reservation.id.clone(), reservation);
        Ok(ReserveOutcome::Reserved)
    }

    async fn settle(
        &self,
        reservation_id: &str,
        actual: u64,
        at: Timestamp,
    ) -> Result<Reservation> {
        close(
            &mut self.lock(),
            reservation_id,
            actual,
            ReservationState::Settled,
            at,
        )
    }

    async fn refund(&self, reservation_id: &str, at: Timestamp) -> Result<Reservation> {
        close(
            &mut self.lock(),
            reservation_id,
            0,
            ReservationState::Refunded,
            at,
        )
    }

    async fn get_reservation(&self, reservation_id: &str) -> Result<Option<Reservation>> {
        Ok(self.lock().reservations.get(reservation_id).cloned())
    }

    async fn expired_reservations(&self, now: Timestamp, limit: u32) -> Result<Vec<Reservation>> {
        let mut expired: Vec<Reservation> = self
            .lock()
            .reservations
            .values()
            .filter(|r| r.state == ReservationState::Reserved && r.expires_at <= now)
            .cloned()
            .collect();
        expired.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
        expired.truncate(limit as usize);
        Ok(expired)
    }

    async fn forget_closed_reservations(&self, before: Timestamp, limit: u32) -> Result<u32> {
        let mut state = self.lock();
        // In id order, as the SQL stores walk their primary key.
        let forgotten: Vec<String> = state
            .reservations
            .values()
            .filter(|r| r.forgotten_before(before))
            .take(limit as usize)
            .map(|r| r.id.clone())
            .collect();
        for id in &forgotten {
            state.reservations.remove(id);
        }
        Ok(u32::try_from(forgotten.len()).unwrap_or(u32::MAX))
    }

    async fn usage(
        &self,
        agent_id: &str,
        periods: &[(Period, String)],
    ) -> Result<Vec<UsageCounter>> {
        let state = self.lock();
        Ok(state
            .counters
            .iter()
            .filter(|((a, _, p, k), _)| {
                a == agent_id && periods.iter().any(|(pp, kk)| pp == p && kk == k)
            })
            .map(|((_, unit, period, key), used)| UsageCounter {
                unit: *unit,
                period: *period,
                key: key.clone(),
                used: *used,
            })
            .collect())
    }
}

#[async_trait]
impl ProviderKeyStore for MemoryStore {
    async fn put_provider_key(&self, key: &InstanceProviderKey) -> Result<()> {
        self.lock()
            .provider_keys
            .insert((key.instance_id.clone(), key.provider), key.clone());
        Ok(())
    }

    async fn list_provider_keys(&self, instance_id: &str) -> Result<Vec<InstanceProviderKey>> {
        let mut keys: Vec<InstanceProviderKey> = self
            .lock()
            .provider_keys
            .values()
            .filter(|k| k.instance_id == instance_id)
            .cloned()
            .collect();
        keys.sort_by(|a, b| a.provider.as_str().cmp(b.provider.as_str()));
        Ok(keys)
    }

    async fn delete_provider_key(&self, instance_id: &str, provider: Provider) -> Result<bool> {
        Ok(self
            .lock()
            .provider_keys
            .remove(&(instance_id.to_owned(), provider))
            .is_some())
    }
}
