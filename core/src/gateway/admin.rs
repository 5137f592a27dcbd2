//! Admin use cases for instances, projects, tiers and admin keys. Every method takes the
//! authenticated admin and enforces its scope: an instance admin sees only its own instance, and
//! other tenants' things answer `NotFound`.

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::{
    AdminKey, AdminScope, AgentStatus, Instance, InstanceSettings, LimitValue, Project,
    RegistrationMode, Tier,
};
use crate::error::{Error, Result};
use crate::ports::AgentQuery;
use crate::{secret, validate};

use super::keys::{IssuedAdminKey, expiry};
use super::{AdminPrincipal, Gateway};

/// A page of a longer list.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Whether more follow; pass the last item's id as `after` to get them.
    pub has_more: bool,
}

/// A new instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstance {
    /// Slug.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Registration mode (open by default).
    #[serde(default)]
    pub registration: Option<RegistrationMode>,
    /// Registration token, required when the mode is `token`.
    #[serde(default)]
    pub registration_token: Option<String>,
    /// Default tier (`free` by default).
    #[serde(default)]
    pub default_tier: Option<String>,
    /// Allowed model ids; every enabled model when absent.
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Bytes of uploads the instance's agents may keep together (unlimited when absent).
    #[serde(default)]
    pub storage_bytes: Option<LimitValue>,
}

/// A change to an instance; absent fields stay. `allowed_models: null` lifts the allow-list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstancePatch {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New registration mode.
    #[serde(default)]
    pub registration: Option<RegistrationMode>,
    /// New registration token (stored hashed).
    #[serde(default)]
    pub registration_token: Option<String>,
    /// New default tier.
    #[serde(default)]
    pub default_tier: Option<String>,
    /// New allow-list; `Some(None)` (JSON null) removes it.
    #[serde(default, deserialize_with = "present")]
    pub allowed_models: Option<Option<Vec<String>>>,
    /// New storage cap for the instance's uploads (a number of bytes or `"unlimited"`).
    #[serde(default)]
    pub storage_bytes: Option<LimitValue>,
}

/// Distinguishes a JSON `null` (Some(None)) from an absent field (None).
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A new project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Its instance (an instance admin's own by default).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Name, unique in the instance.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A request for a new admin key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminKeyRequest {
    /// A label.
    pub name: String,
    /// Limit the key to this instance; an operator key when absent (operators only).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Read-only key.
    #[serde(default)]
    pub read_only: bool,
    /// Days until it expires.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

const MIN_REGISTRATION_TOKEN_LEN: usize = 16;

fn registration_token_hash(token: &str) -> Result<String> {
    if token.len() < MIN_REGISTRATION_TOKEN_LEN {
        return Err(Error::invalid(
            "registration_token",
            format!("registration_token must be at least {MIN_REGISTRATION_TOKEN_LEN} characters"),
        ));
    }
    Ok(secret::hash(token))
}

impl Gateway {
    // ---- instances -------------------------------------------------------------------------

    /// Instances the admin can see.
    pub async fn admin_list_instances(&self, admin: &AdminPrincipal) -> Result<Vec<Instance>> {
        let mut all = self.inner.ports.stores.instances.list_instances().await?;
        all.retain(|i| admin.can_see(&i.id));
        Ok(all)
    }

    /// One instance.
    pub async fn admin_get_instance(&self, admin: &AdminPrincipal, id: &str) -> Result<Instance> {
        admin.require_instance_read(id)?;
        self.inner
            .ports
            .stores
            .instances
            .get_instance(id)
            .await?
            .ok_or_else(|| Error::not_found("instance", id))
    }

    /// Creates an instance (operator only).
    pub async fn admin_create_instance(
        &self,
        admin: &AdminPrincipal,
        request: NewInstance,
    ) -> Result<Instance> {
        admin.require_operator()?;
        admin.require_write()?;
        validate::slug("id", &request.id)?;
        let name = validate::name("name", &request.name, 100)?;
        let registration = request.registration.unwrap_or(RegistrationMode::Open);
        let token_hash = request
            .registration_token
            .as_deref()
            .map(registration_token_hash)
            .transpose()?;
        if registration == RegistrationMode::Token && token_hash.is_none() {
            return Err(Error::invalid(
                "registration_token",
                "registration mode 'token' needs a registration_token",
            ));
        }
        let default_tier = request.default_tier.unwrap_or_else(|| "free".to_owned());
        self.require_tier(&default_tier, "default_tier").await?;
        if let Some(models) = &request.allowed_models {
            self.require_models(models).await?;
        }
        let now = self.now();
        let instance = Instance {
            id: request.id,
            name,
            settings: InstanceSettings {
                registration,
                registration_token_hash: token_hash,
                default_tier,
                allowed_models: request.allowed_models,
                storage_bytes: request.storage_bytes.unwrap_or(LimitValue::Unlimited),
            },
            created_at: now,
            updated_at: now,
        };
        self.inner
            .ports
            .stores
            .instances
            .insert_instance(&instance)
            .await?;
        Ok(instance)
    }

    /// Changes an instance's name or registration; its default tier and allowed models only
    /// for the operator.
    pub async fn admin_update_instance(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        patch: InstancePatch,
    ) -> Result<Instance> {
        admin.require_instance_write(id)?;
        let mut instance = self.admin_get_instance(admin, id).await?;
        if let Some(name) = patch.name {
            instance.name = validate::name("name", &name, 100)?;
        }
        if let Some(token) = patch.registration_token {
            instance.settings.registration_token_hash = Some(registration_token_hash(&token)?);
        }
        if let Some(mode) = patch.registration {
            instance.settings.registration = mode;
        }
        if instance.settings.registration == RegistrationMode::Token
            && instance.settings.registration_token_hash.is_none()
        {
            return Err(Error::invalid(
                "registration_token",
                "registration mode 'token' needs a registration_token",
            ));
        }
        // The default tier, the model allow-list and the storage cap are commercial terms:
        // operator only.
        if patch.default_tier.is_some()
            || patch.allowed_models.is_some()
            || patch.storage_bytes.is_some()
        {
            admin.require_operator()?;
        }
        if let Some(storage_bytes) = patch.storage_bytes {
            instance.settings.storage_bytes = storage_bytes;
        }
        if let Some(tier) = patch.default_tier {
            self.require_tier(&tier, "default_tier").await?;
            instance.settings.default_tier = tier;
        }
        if let Some(models) = patch.allowed_models {
            if let Some(list) = &models {
                self.require_models(list).await?;
            }
            instance.settings.allowed_models = models;
        }
        instance.updated_at = self.now();
        self.inner
            .ports
            .stores
            .instances
            .update_instance(&instance)
            .await?;
        self.invalidate_caches();
        Ok(instance)
    }

    /// Deletes an empty instance (operator only): no agents, projects or live admin keys. The
    /// default instance cannot be deleted.
    pub async fn admin_delete_instance(&self, admin: &AdminPrincipal, id: &str) -> Result<()> {
        admin.require_operator()?;
        admin.require_write()?;
        if id == self.inner.config.default_instance {
            return Err(Error::conflict("the default instance cannot be deleted"));
        }
        let query = AgentQuery {
            instance_id: Some(id.to_owned()),
            limit: 1,
            ..AgentQuery::default()
        };
        if !self
            .inner
            .ports
            .stores
            .agents
            .list_agents(&query)
            .await?
            .is_empty()
        {
            return Err(Error::conflict(
                "the instance still has agents; delete them first",
            ));
        }
        // Projects and admin keys are scoped by the instance id alone: left behind, they would
        // belong to (and, for live keys, administer) a later instance created with the same id.
        if !self
            .inner
            .ports
            .stores
            .projects
            .list_projects(id)
            .await?
            .is_empty()
        {
            return Err(Error::conflict(
                "the instance still has projects; delete them first",
            ));
        }
        let now = self.now();
        let live_keys = self.inner.ports.stores.admin_keys.list_admin_keys().await?;
        if live_keys
            .iter()
            .any(|k| k.scope.instance_id() == Some(id) && k.is_usable(now))
        {
            return Err(Error::conflict(
                "the instance still has live admin keys; revoke them first",
            ));
        }
        // The tenant's own provider keys go with it.
        for key in self
            .inner
            .ports
            .stores
            .provider_keys
            .list_provider_keys(id)
            .await?
        {
            self.inner
                .ports
                .stores
                .provider_keys
                .delete_provider_key(id, key.provider)
                .await?;
        }
        if self
            .inner
            .ports
            .stores
            .instances
            .delete_instance(id)
            .await?
        {
            self.invalidate_caches();
            Ok(())
        } else {
            Err(Error::not_found("instance", id))
        }
    }

    // ---- projects --------------------------------------------------------------------------

    /// An instance's projects.
    pub async fn admin_list_projects(
        &self,
        admin: &AdminPrincipal,
        instance_id: &str,
    ) -> Result<Vec<Project>> {
        admin.require_instance_read(instance_id)?;
        self.inner
            .ports
            .stores
            .projects
            .list_projects(instance_id)
            .await
    }

    /// Creates a project.
    pub async fn admin_create_project(
        &self,
        admin: &AdminPrincipal,
        request: NewProject,
    ) -> Result<Project> {
        let instance_id = request
            .instance_id
            .or_else(|| admin.scope.instance_id().map(str::to_owned))
            .ok_or_else(|| Error::invalid("instance_id", "instance_id is required"))?;
        admin.require_instance_write(&instance_id)?;
        self.admin_get_instance(admin, &instance_id).await?;
        let project = Project {
            id: self.inner.ports.ids.id("prj"),
            instance_id,
            name: validate::name("name", &request.name, 100)?,
            description: request.description,
            created_at: self.now(),
        };
        self.inner
            .ports
            .stores
            .projects
            .insert_project(&project)
            .await?;
        Ok(project)
    }

    /// Deletes a project; its agents stay, without a project.
    pub async fn admin_delete_project(&self, admin: &AdminPrincipal, id: &str) -> Result<()> {
        let project = self
            .inner
            .ports
            .stores
            .projects
            .get_project(id)
            .await?
            .filter(|p| admin.can_see(&p.instance_id))
            .ok_or_else(|| Error::not_found("project", id))?;
        admin.require_instance_write(&project.instance_id)?;
        self.inner.ports.stores.projects.delete_project(id).await?;
        self.invalidate_caches();
        Ok(())
    }

    // ---- tiers -----------------------------------------------------------------------------

    /// Every tier; any admin may read them.
    pub async fn admin_list_tiers(&self, _admin: &AdminPrincipal) -> Result<Vec<Tier>> {
        self.inner.ports.stores.tiers.list_tiers().await
    }

    /// One tier.
    pub async fn admin_get_tier(&self, _admin: &AdminPrincipal, id: &str) -> Result<Tier> {
        self.inner
            .ports
            .stores
            .tiers
            .get_tier(id)
            .await?
            .ok_or_else(|| Error::not_found("tier", id))
    }

    /// Creates a tier (operator only).
    pub async fn admin_create_tier(&self, admin: &AdminPrincipal, mut tier: Tier) -> Result<Tier> {
        admin.require_operator()?;
        admin.require_write()?;
        check_tier(&tier)?;
        let now = self.now();
        tier.created_at = now;
        tier.updated_at = now;
        self.inner.ports.stores.tiers.insert_tier(&tier).await?;
        Ok(tier)
    }

    /// Replaces a tier (operator only); the path's id must match the body's.
    pub async fn admin_replace_tier(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        mut tier: Tier,
    ) -> Result<Tier> {
        admin.require_operator()?;
        admin.require_write()?;
        let existing = self.admin_get_tier(admin, id).await?;
        if tier.id != id {
            return Err(Error::invalid("id", "the body's id must match the path's"));
        }
        check_tier(&tier)?;
        tier.created_at = existing.created_at;
        tier.updated_at = self.now();
        self.inner.ports.stores.tiers.update_tier(&tier).await?;
        self.invalidate_caches();
        Ok(tier)
    }

    /// Deletes a tier no agent or instance uses (operator only).
    pub async fn admin_delete_tier(&self, admin: &AdminPrincipal, id: &str) -> Result<()> {
        admin.require_operator()?;
        admin.require_write()?;
        let query = AgentQuery {
            tier_id: Some(id.to_owned()),
            limit: 1,
            ..AgentQuery::default()
        };
        if !self
            .inner
            .ports
            .stores
            .agents
            .list_agents(&query)
            .await?
            .is_empty()
        {
            return Err(Error::conflict("agents are on this tier; move them first"));
        }
        let instances = self.inner.ports.stores.instances.list_instances().await?;
        if let Some(i) = instances.iter().find(|i| i.settings.default_tier == id) {
            return Err(Error::conflict(format!(
                "instance '{}' gives this tier to new agents; change it first",
                i.id
            )));
        }
        if self.inner.ports.stores.tiers.delete_tier(id).await? {
            self.invalidate_caches();
            Ok(())
        } else {
            Err(Error::not_found("tier", id))
        }
    }

    // ---- admin keys ------------------------------------------------------------------------

    /// Admin keys the admin can see (an instance admin: its instance's).
    pub async fn admin_list_admin_keys(&self, admin: &AdminPrincipal) -> Result<Vec<AdminKey>> {
        let mut keys = self.inner.ports.stores.admin_keys.list_admin_keys().await?;
        keys.retain(|k| match (&admin.scope, k.scope.instance_id()) {
            (AdminScope::Operator, _) => true,
            (AdminScope::Instance { instance_id }, Some(theirs)) => instance_id == theirs,
            (AdminScope::Instance { .. }, None) => false,
        });
        Ok(keys)
    }

    /// Issues an admin key. Instance admins may only issue keys for their own instance.
    pub async fn admin_create_admin_key(
        &self,
        admin: &AdminPrincipal,
        request: AdminKeyRequest,
    ) -> Result<IssuedAdminKey> {
        admin.require_write()?;
        let name = validate::name("name", &request.name, 100)?;
        let scope = match request.instance_id {
            Some(instance_id) => {
                admin.require_instance_write(&instance_id)?;
                self.admin_get_instance(admin, &instance_id).await?;
                AdminScope::Instance { instance_id }
            }
            None => {
                admin.require_operator()?;
                AdminScope::Operator
            }
        };
        let expires_at = expiry(self.now(), request.expires_in_days)?;
        let fresh = secret::generate(self.inner.ports.ids.as_ref(), "mla")?;
        let key = self
            .insert_admin_key(scope, request.read_only, &name, expires_at, fresh.stored)
            .await?;
        Ok(IssuedAdminKey {
            key,
            secret: fresh.clear,
        })
    }

    /// Revokes an admin key. The last live operator key cannot be revoked, so the operator
    /// cannot lock themselves out.
    pub async fn admin_revoke_admin_key(&self, admin: &AdminPrincipal, id: &str) -> Result<()> {
        admin.require_write()?;
        let keys = self.admin_list_admin_keys(admin).await?;
        let target = keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| Error::not_found("admin key", id))?;
        let now = self.now();
        if target.scope == AdminScope::Operator && !target.read_only {
            let live_operators = keys
                .iter()
                .filter(|k| k.scope == AdminScope::Operator && !k.read_only && k.is_usable(now))
                .count();
            if live_operators <= 1 && target.is_usable(now) {
                return Err(Error::conflict("cannot revoke the last operator admin key"));
            }
        }
        if self
            .inner
            .ports
            .stores
            .admin_keys
            .revoke_admin_key(id, now)
            .await?
        {
            Ok(())
        } else {
            Err(Error::not_found("admin key", id))
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    pub(super) async fn require_tier(&self, id: &str, param: &'static str) -> Result<Tier> {
        self.inner
            .ports
            .stores
            .tiers
            .get_tier(id)
            .await?
            .ok_or_else(|| Error::invalid(param, format!("tier '{id}' does not exist")))
    }

    async fn require_models(&self, ids: &[String]) -> Result<()> {
        for id in ids {
            if self
                .inner
                .ports
                .stores
                .models
                .get_model(id)
                .await?
                .is_none()
            {
                return Err(Error::invalid(
                    "allowed_models",
                    format!("model '{id}' does not exist"),
                ));
            }
        }
        Ok(())
    }
}

fn check_tier(tier: &Tier) -> Result<()> {
    validate::slug("id", &tier.id)?;
    validate::name("name", &tier.name, 100)?;
    if tier.requests_per_minute == Some(0) {
        return Err(Error::invalid(
            "requests_per_minute",
            "requests_per_minute must be at least 1 (omit it for unlimited)",
        ));
    }
    Ok(())
}

/// Agents that may be listed, as a status filter word.
pub(super) fn parse_status(s: &str) -> Result<AgentStatus> {
    AgentStatus::parse(s)
        .ok_or_else(|| Error::invalid("status", "status must be active or suspended"))
}
