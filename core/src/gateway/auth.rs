//! Authentication of agents and admins by bearer secret, admin scope checks, and per-agent rate
//! limiting (an agent's keys share one budget).

use crate::ErrorCode;
use std::time::Duration;

use crate::domain::{AdminKey, AdminScope, Agent, AgentStatus, Instance, Tier};
use crate::error::{Error, ErrorKind, Result};
use crate::ports::RateDecision;
use crate::secret;

use super::Gateway;
use super::request_notes::RequestNotes;

/// An authenticated agent, with what every request needs loaded once.
#[derive(Debug, Clone)]
pub struct AgentPrincipal {
    /// The agent.
    pub agent: Agent,
    /// The key it used.
    pub key_id: String,
    /// When that key stops working, if ever.
    pub key_expires_at: Option<crate::Timestamp>,
    /// Its tier.
    pub tier: Tier,
    /// Its instance.
    pub instance: Instance,
    /// What serving this request noted, for the request log (off unless the HTTP layer set
    /// recording notes on it).
    pub notes: RequestNotes,
}

/// An authenticated admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPrincipal {
    /// The key it used.
    pub key_id: String,
    /// What it may reach.
    pub scope: AdminScope,
    /// Whether it may only read.
    pub read_only: bool,
}

impl AdminPrincipal {
    /// Whether this admin may see `instance_id`'s data.
    pub fn can_see(&self, instance_id: &str) -> bool {
        self.scope
            .instance_id()
            .is_none_or(|own| own == instance_id)
    }

    /// Fails unless the admin may change things.
    pub fn require_write(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::forbidden("this admin key is read-only"));
        }
        Ok(())
    }

    /// Fails unless the admin is the operator.
    pub fn require_operator(&self) -> Result<()> {
        match self.scope {
            AdminScope::Operator => Ok(()),
            AdminScope::Instance { .. } => {
                Err(Error::forbidden("only an operator admin key may do this"))
            }
        }
    }

    /// Fails unless the admin may change `instance_id`'s data. Another tenant's data answers
    /// `NotFound`, so a tenant cannot learn what exists elsewhere.
    pub fn require_instance_write(&self, instance_id: &str) -> Result<()> {
        self.require_instance_read(instance_id)?;
        self.require_write()
    }

    /// Fails unless the admin may see `instance_id`'s data.
    pub fn require_instance_read(&self, instance_id: &str) -> Result<()> {
        if self.can_see(instance_id) {
            Ok(())
        } else {
            Err(Error::not_found("instance", instance_id))
        }
    }
}

/// A refused request's rate-limit state, for the `Retry-After` and `x-ratelimit-*` headers.
pub type RateLimited = RateDecision;

impl Gateway {
    /// Finds the agent a bearer key belongs to. Unknown, revoked and expired keys are all the same
    /// `Unauthorized`, so a caller learns nothing from the difference; a suspended agent is
    /// `Forbidden`.
    pub async fn authenticate_agent(&self, presented: &str) -> Result<AgentPrincipal> {
        let now = self.now();
        let cache_key = secret::hash(presented);
        if let Some(principal) = self.inner.caches.principals.get(&cache_key, now) {
            // A cached key still expires on time.
            if principal.key_expires_at.is_none_or(|e| now < e) {
                return Ok(principal);
            }
        }
        let principal = self.load_principal(presented, now).await?;
        self.inner
            .caches
            .principals
            .put(cache_key, principal.clone(), now);
        Ok(principal)
    }

    async fn load_principal(
        &self,
        presented: &str,
        now: crate::Timestamp,
    ) -> Result<AgentPrincipal> {
        let candidates = self
            .inner
            .ports
            .stores
            .api_keys
            .find_api_keys_by_prefix(secret::lookup_prefix(presented))
            .await?;
        let key = candidates
            .into_iter()
            .find(|k| secret::verify(presented, &k.hash))
            .filter(|k| k.is_usable(now))
            .ok_or_else(|| Error::unauthorized("invalid or expired API key"))?;
        let agent = self
            .inner
            .ports
            .stores
            .agents
            .get_agent(&key.agent_id)
            .await?
            .ok_or_else(|| Error::unauthorized("invalid or expired API key"))?;
        if agent.status == AgentStatus::Suspended {
            return Err(
                Error::forbidden("this agent is suspended").with_code(ErrorCode::AgentSuspended)
            );
        }
        let tier = self.tier_of(&agent).await?;
        let instance = self.instance_of(&agent).await?;
        Ok(AgentPrincipal {
            agent,
            key_id: key.id,
            key_expires_at: key.expires_at,
            tier,
            instance,
            notes: RequestNotes::default(),
        })
    }

    /// Finds the admin a bearer key belongs to.
    pub async fn authenticate_admin(&self, presented: &str) -> Result<AdminPrincipal> {
        let now = self.now();
        let key: AdminKey = self
            .inner
            .ports
            .stores
            .admin_keys
            .find_admin_keys_by_prefix(secret::lookup_prefix(presented))
            .await?
            .into_iter()
            .find(|k| secret::verify(presented, &k.hash))
            .filter(|k| k.is_usable(now))
            .ok_or_else(|| Error::unauthorized("invalid or expired admin key"))?;
        Ok(AdminPrincipal {
            key_id: key.id,
            scope: key.scope,
            read_only: key.read_only,
        })
    }

    /// Counts a request against the agent's tier rate (shared by all the agent's keys). `Ok(None)` when the tier is unlimited;
    /// `Ok(Some(decision))` when allowed; a `RateLimited` error carrying `Retry-After` when not.
    pub async fn check_rate(
        &self,
        principal: &AgentPrincipal,
    ) -> Result<Option<RateDecision>, (Error, Option<RateDecision>)> {
        let Some(limit) = principal.tier.requests_per_minute else {
            return Ok(None);
        };
        // Counted per agent, not per key: an agent minting more keys must not multiply its rate.
        let key = format!("agent:{}", principal.agent.id);
        let decision = self
            .inner
            .ports
            .rate_limiter
            .hit(&key, limit, self.inner.config.rate_window, self.now())
            .await
            .map_err(|e| (e, None))?;
        if decision.allowed {
            return Ok(Some(decision));
        }
        let retry = decision.reset_after.max(Duration::from_secs(1));
        let error = Error::new(
            ErrorKind::RateLimited,
            format!("rate limit of {limit} requests per minute reached; retry later"),
        )
        .with_code(ErrorCode::RateLimitExceeded)
        .with_retry_after(retry);
        Err((error, Some(decision)))
    }

    pub(super) async fn tier_of(&self, agent: &Agent) -> Result<Tier> {
        self.inner
            .ports
            .stores
            .tiers
            .get_tier(&agent.tier_id)
            .await?
            .ok_or_else(|| {
                Error::internal(format!(
                    "agent {} is on missing tier {}",
                    agent.id, agent.tier_id
                ))
            })
    }

    /// The agent's instance (its absence is corrupt data, not the caller's mistake).
    pub(super) async fn instance_of(&self, agent: &Agent) -> Result<Instance> {
        self.inner
            .ports
            .stores
            .instances
            .get_instance(&agent.instance_id)
            .await?
            .ok_or_else(|| Error::internal(format!("agent {} has no instance", agent.id)))
    }
}
