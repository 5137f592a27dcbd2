//! Operator management of model configs: create, replace, patch, delete, with validation that
//! catches at save time what would otherwise fail at call time.

use serde::Deserialize;

use crate::domain::{ModelConfig, ModelFilter, ModelStatus, Provider};
use crate::error::{Error, Result};
use crate::validate;

use super::{AdminPrincipal, Gateway};

/// A partial change to a model config; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPatch {
    /// New provider model name.
    #[serde(default)]
    pub provider_model: Option<String>,
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New capability tags.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// New pricing object.
    #[serde(default)]
    pub pricing: Option<serde_json::Value>,
    /// New status.
    #[serde(default)]
    pub status: Option<ModelStatus>,
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New payload mapping.
    #[serde(default)]
    pub payload_mapping: Option<serde_json::Value>,
    /// New fallbacks.
    #[serde(default)]
    pub fallbacks: Option<Vec<String>>,
    /// New alias; an empty string removes it.
    #[serde(default)]
    pub alias: Option<String>,
    /// New weight within the alias.
    #[serde(default)]
    pub weight: Option<u32>,
}

impl Gateway {
    /// Model configs passing `filter`; any admin may read them.
    pub async fn admin_list_models(
        &self,
        _admin: &AdminPrincipal,
        filter: &ModelFilter,
    ) -> Result<Vec<ModelConfig>> {
        self.inner.ports.stores.models.list_models(filter).await
    }

    /// One model config.
    pub async fn admin_get_model(&self, _admin: &AdminPrincipal, id: &str) -> Result<ModelConfig> {
        self.inner
            .ports
            .stores
            .models
            .get_model(id)
            .await?
            .ok_or_else(|| Error::not_found("model", id))
    }

    /// Adds a model config (operator only).
    pub async fn admin_create_model(
        &self,
        admin: &AdminPrincipal,
        mut model: ModelConfig,
    ) -> Result<ModelConfig> {
        admin.require_operator()?;
        admin.require_write()?;
        self.check_model(&model).await?;
        let now = self.now();
        model.created_at = now;
        model.updated_at = now;
        self.inner.ports.stores.models.insert_model(&model).await?;
        self.invalidate_caches();
        Ok(model)
    }

    /// Replaces a model config (operator only); the path's id wins over the body's.
    pub async fn admin_replace_model(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        mut model: ModelConfig,
    ) -> Result<ModelConfig> {
        admin.require_operator()?;
        admin.require_write()?;
        let existing = self.admin_get_model(admin, id).await?;
        if model.id != id {
            return Err(Error::invalid("id", "the body's id must match the path's"));
        }
        self.check_model(&model).await?;
        if model.modality != existing.modality {
            // Configs falling back to this one were checked against its old modality.
            let all = self
                .inner
                .ports
                .stores
                .models
                .list_models(&ModelFilter::default())
                .await?;
            if let Some(user) = all
                .iter()
                .find(|m| m.modality != model.modality && m.fallbacks.iter().any(|f| f == id))
            {
                return Err(Error::conflict(format!(
                    "model '{}' lists '{id}' as a fallback and makes {}; change it first",
                    user.id,
                    user.modality.as_str()
                )));
            }
        }
        model.created_at = existing.created_at;
        model.updated_at = self.now();
        self.inner.ports.stores.models.update_model(&model).await?;
        self.invalidate_caches();
        Ok(model)
    }

    /// Changes some fields of a model config (operator only).
    pub async fn admin_patch_model(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        patch: ModelPatch,
    ) -> Result<ModelConfig> {
        admin.require_operator()?;
        admin.require_write()?;
        let mut model = self.admin_get_model(admin, id).await?;
        if let Some(v) = patch.provider_model {
            model.provider_model = v;
        }
        if let Some(v) = patch.display_name {
            model.display_name = v;
        }
        if let Some(v) = patch.description {
            model.description = v;
        }
        if let Some(v) = patch.capabilities {
            model.capabilities = v;
        }
        if let Some(v) = patch.pricing {
            model.pricing = v;
        }
        if let Some(v) = patch.status {
            model.status = v;
        }
        if let Some(v) = patch.enabled {
            model.enabled = v;
        }
        if let Some(v) = patch.payload_mapping {
            model.payload_mapping = Some(v);
        }
        if let Some(v) = patch.fallbacks {
            model.fallbacks = v;
        }
        if let Some(v) = patch.alias {
            model.alias = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = patch.weight {
            model.weight = v;
        }
        self.check_model(&model).await?;
        model.updated_at = self.now();
        self.inner.ports.stores.models.update_model(&model).await?;
        self.invalidate_caches();
        Ok(model)
    }

    /// Removes a model config (operator only). While another config names it as a fallback, or
    /// an instance's `allowed_models` names it, it is refused (409): removing it silently from an
    /// allow-list would change what that tenant may use, and a dangling entry would let a later
    /// config of the same id in unasked.
    pub async fn admin_delete_model(&self, admin: &AdminPrincipal, id: &str) -> Result<()> {
        admin.require_operator()?;
        admin.require_write()?;
        let all = self
            .inner
            .ports
            .stores
            .models
            .list_models(&ModelFilter::default())
            .await?;
        if let Some(user) = all.iter().find(|m| m.fallbacks.iter().any(|f| f == id)) {
            return Err(Error::conflict(format!(
                "model '{}' lists '{id}' as a fallback; change it first",
                user.id
            )));
        }
        let instances = self.inner.ports.stores.instances.list_instances().await?;
        if let Some(instance) = instances.iter().find(|i| {
            i.settings
                .allowed_models
                .as_ref()
                .is_some_and(|list| list.iter().any(|m| m == id))
        }) {
            return Err(Error::conflict(format!(
                "instance '{}' lists '{id}' in allowed_models; change it first",
                instance.id
            )));
        }
        if self.inner.ports.stores.models.delete_model(id).await? {
            self.invalidate_caches();
            Ok(())
        } else {
            Err(Error::not_found("model", id))
        }
    }

    async fn check_model(&self, model: &ModelConfig) -> Result<()> {
        validate::slug("id", &model.id)?;
        // An id and an alias must never be the same name, or a request could mean either.
        if let Some(alias) = &model.alias {
            validate::slug("alias", alias)?;
            if self
                .inner
                .ports
                .stores
                .models
                .get_model(alias)
                .await?
                .is_some()
            {
                return Err(Error::invalid(
                    "alias",
                    format!("'{alias}' is already a model id"),
                ));
            }
        }
        let filter = ModelFilter {
            alias: Some(model.id.clone()),
            ..ModelFilter::default()
        };
        if !self
            .inner
            .ports
            .stores
            .models
            .list_models(&filter)
            .await?
            .is_empty()
        {
            return Err(Error::invalid(
                "id",
                format!("'{}' is already an alias", model.id),
            ));
        }
        validate::name("display_name", &model.display_name, 200)?;
        if model.provider_model.trim().is_empty() {
            return Err(Error::invalid(
                "provider_model",
                "provider_model must not be empty",
            ));
        }
        if !model.pricing.is_object() {
            return Err(Error::invalid("pricing", "pricing must be a JSON object"));
        }
        if model.provider == Provider::Template {
            crate::providers::template::validate_mapping(model)?;
        } else if let Some(mapping) = &model.payload_mapping {
            let obj = mapping.as_object().ok_or_else(|| {
                Error::invalid("payload_mapping", "payload_mapping must be a JSON object")
            })?;
            match obj.get("endpoint") {
                Some(serde_json::Value::String(endpoint)) => {
                    validate::http_url("payload_mapping.endpoint", endpoint)?;
                }
                Some(_) => {
                    return Err(Error::invalid(
                        "payload_mapping.endpoint",
                        "payload_mapping.endpoint must be a string",
                    ));
                }
                None => {}
            }
        }
        for fallback in &model.fallbacks {
            if fallback == &model.id {
                return Err(Error::invalid(
                    "fallbacks",
                    "a model cannot fall back to itself",
                ));
            }
            let target = self.inner.ports.stores.models.get_model(fallback).await?;
            match target {
                None => {
                    return Err(Error::invalid(
                        "fallbacks",
                        format!("fallback '{fallback}' is not a model config"),
                    ));
                }
                Some(t) if t.modality != model.modality => {
                    return Err(Error::invalid(
                        "fallbacks",
                        format!(
                            "fallback '{fallback}' makes {}, not {}",
                            t.modality.as_str(),
                            model.modality.as_str()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}
