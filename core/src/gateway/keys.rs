//! Agents managing their own API keys, and admins issuing admin keys.

use chrono::Duration as ChronoDuration;
use serde::Deserialize;

use crate::clock::Timestamp;
use crate::domain::{AdminKey, AdminScope, Agent, ApiKey};
use crate::error::{Error, Result};
use crate::{secret, validate};

use super::{AgentPrincipal, Gateway};

/// Longest key lifetime that can be asked for (ten years).
const MAX_EXPIRES_IN_DAYS: u32 = 3650;
/// Most live keys one agent may hold.
const MAX_KEYS_PER_AGENT: usize = 50;

/// An agent asking for another key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// A label (defaults to "key").
    #[serde(default)]
    pub name: Option<String>,
    /// Days until it expires; never when absent.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A stored API key together with its clear secret, which exists only in this value.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The stored key.
    pub key: ApiKey,
    /// The secret, to show once.
    pub secret: String,
}

/// A stored admin key together with its clear secret.
#[derive(Debug, Clone)]
pub struct IssuedAdminKey {
    /// The stored key.
    pub key: AdminKey,
    /// The secret, to show once.
    pub secret: String,
}

pub(super) fn expiry(now: Timestamp, days: Option<u32>) -> Result<Option<Timestamp>> {
    match days {
        None => Ok(None),
        Some(0) => Err(Error::invalid(
            "expires_in_days",
            "expires_in_days must be at least 1",
        )),
        Some(d) if d > MAX_EXPIRES_IN_DAYS => Err(Error::invalid(
            "expires_in_days",
            format!("expires_in_days must be at most {MAX_EXPIRES_IN_DAYS}"),
        )),
        Some(d) => Ok(Some(now + ChronoDuration::days(i64::from(d)))),
    }
}

impl Gateway {
    pub(super) async fn issue_key(
        &self,
        agent: &Agent,
        name: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<IssuedKey> {
        let fresh = secret::generate(self.inner.ports.ids.as_ref(), "ml")?;
        let key = ApiKey {
            id: self.inner.ports.ids.id("key"),
            agent_id: agent.id.clone(),
            instance_id: agent.instance_id.clone(),
            name: name.to_owned(),
            prefix: fresh.stored.prefix,
            hash: fresh.stored.hash,
            created_at: self.now(),
            expires_at,
            revoked_at: None,
        };
        self.inner
            .ports
            .stores
            .api_keys
            .insert_api_key(&key)
            .await?;
        Ok(IssuedKey {
            key,
            secret: fresh.clear,
        })
    }

    /// The caller's keys, newest last, without secrets.
    pub async fn list_own_keys(&self, principal: &AgentPrincipal) -> Result<Vec<ApiKey>> {
        self.inner
            .ports
            .stores
            .api_keys
            .list_api_keys(&principal.agent.id)
            .await
    }

    /// Makes another key for the caller.
    pub async fn create_own_key(
        &self,
        principal: &AgentPrincipal,
        request: NewKeyRequest,
    ) -> Result<IssuedKey> {
        let name = validate::name("name", request.name.as_deref().unwrap_or("key"), 100)?;
        let expires_at = expiry(self.now(), request.expires_in_days)?;
        let now = self.now();
        let live = self
            .list_own_keys(principal)
            .await?
            .iter()
            .filter(|k| k.is_usable(now))
            .count();
        if live >= MAX_KEYS_PER_AGENT {
            return Err(Error::conflict(format!(
                "an agent may hold at most {MAX_KEYS_PER_AGENT} live keys; revoke one first"
            )));
        }
        self.issue_key(&principal.agent, &name, expires_at).await
    }

    /// Revokes one of the caller's keys (possibly the one in use).
    pub async fn revoke_own_key(&self, principal: &AgentPrincipal, key_id: &str) -> Result<()> {
        let revoked = self
            .inner
            .ports
            .stores
            .api_keys
            .revoke_api_key(&principal.agent.id, key_id, self.now())
            .await?;
        if revoked {
            self.invalidate_caches();
            Ok(())
        } else {
            Err(Error::not_found("key", key_id))
        }
    }

    pub(super) async fn insert_admin_key(
        &self,
        scope: AdminScope,
        read_only: bool,
        name: &str,
        expires_at: Option<Timestamp>,
        stored: secret::StoredSecret,
    ) -> Result<AdminKey> {
        let key = AdminKey {
            id: self.inner.ports.ids.id("adk"),
            scope,
            read_only,
            name: name.to_owned(),
            prefix: stored.prefix,
            hash: stored.hash,
            created_at: self.now(),
            expires_at,
            revoked_at: None,
        };
        self.inner
            .ports
            .stores
            .admin_keys
            .insert_admin_key(&key)
            .await?;
        Ok(key)
    }
}
