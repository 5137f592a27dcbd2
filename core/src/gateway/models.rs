//! What an agent may use: listing its instance's models and resolving a request's `model`.

use crate::ErrorCode;
use crate::domain::{Instance, Modality, ModelConfig, ModelFilter, Provider};
use crate::error::{Error, Result};

use super::{AgentPrincipal, Gateway};

impl Gateway {
    /// Enabled models the caller's instance allows, optionally of one modality.
    pub async fn list_models_for(
        &self,
        principal: &AgentPrincipal,
        modality: Option<Modality>,
    ) -> Result<Vec<ModelConfig>> {
        let filter = ModelFilter {
            modality,
            enabled_only: true,
            ..ModelFilter::default()
        };
        let mut models = self.inner.ports.stores.models.list_models(&filter).await?;
        models.retain(|m| principal.instance.settings.allows_model(&m.id));
        Ok(models)
    }

    /// Resolves a request's `model` — a config id, or the legacy `provider:model` form — to an
    /// enabled config the instance allows. When `modality` is given, the config must make it.
    pub async fn resolve_model(
        &self,
        instance: &Instance,
        requested: &str,
        modality: Option<Modality>,
    ) -> Result<ModelConfig> {
        let not_found = || {
            Error::not_found("model", requested)
                .with_code(ErrorCode::ModelNotFound)
                .with_param("model")
        };
        let usable = |m: &ModelConfig| m.enabled && instance.settings.allows_model(&m.id);
        let found = match self.cached_model(requested).await? {
            Some(m) => Some(m),
            None => match requested.split_once(':') {
                Some((provider, provider_model)) => {
                    let provider = Provider::parse(provider).ok_or_else(not_found)?;
                    let filter = ModelFilter {
                        provider: Some(provider),
                        enabled_only: true,
                        ..ModelFilter::default()
                    };
                    self.inner
                        .ports
                        .stores
                        .models
                        .list_models(&filter)
                        .await?
                        .into_iter()
                        .filter(|m| usable(m))
                        .find(|m| m.provider_model == provider_model || m.id == provider_model)
                }
                None => None,
            },
        };
        let model = found.filter(|m| usable(m)).ok_or_else(not_found)?;
        if let Some(wanted) = modality {
            if model.modality != wanted {
                return Err(Error::invalid(
                    "model",
                    format!(
                        "model '{}' makes {}, not {}",
                        model.id,
                        model.modality.as_str(),
                        wanted.as_str()
                    ),
                ));
            }
        }
        Ok(model)
    }
}

impl Gateway {
    /// The enabled configs sharing the alias `name` that the instance allows, with one picked by
    /// weight first and the rest after it by weight; `None` when `name` is a model id or no alias.
    pub(super) async fn alias_members(
        &self,
        instance: &Instance,
        name: &str,
        modality: Modality,
    ) -> Result<Option<Vec<ModelConfig>>> {
        if self.cached_model(name).await?.is_some() {
            return Ok(None);
        }
        let filter = ModelFilter {
            alias: Some(name.to_owned()),
            modality: Some(modality),
            enabled_only: true,
            ..ModelFilter::default()
        };
        let mut members: Vec<ModelConfig> = self
            .inner
            .ports
            .stores
            .models
            .list_models(&filter)
            .await?
            .into_iter()
            .filter(|m| instance.settings.allows_model(&m.id))
            .collect();
        if members.is_empty() {
            return Ok(None);
        }
        members.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.id.cmp(&b.id)));
        let total: u64 = members.iter().map(|m| u64::from(m.weight)).sum();
        if total > 0 {
            let mut bytes = [0u8; 8];
            self.inner.ports.ids.fill_secret(&mut bytes)?;
            let mut ticket = u64::from_le_bytes(bytes) % total;
            let picked = members
                .iter()
                .position(|m| {
                    let w = u64::from(m.weight);
                    if ticket < w {
                        true
                    } else {
                        ticket -= w;
                        false
                    }
                })
                .unwrap_or(0);
            let first = members.remove(picked);
            members.insert(0, first);
        }
        Ok(Some(members))
    }

    /// A model config by id, through the short-lived cache.
    async fn cached_model(&self, id: &str) -> Result<Option<ModelConfig>> {
        let now = self.now();
        if let Some(hit) = self.inner.caches.models.get(&id.to_owned(), now) {
            return Ok(hit);
        }
        let model = self.inner.ports.stores.models.get_model(id).await?;
        self.inner
            .caches
            .models
            .put(id.to_owned(), model.clone(), now);
        Ok(model)
    }

    /// The model used when a request names none: the first enabled model of `modality` the
    /// instance allows whose provider is enabled and configured, preferring real providers over
    /// the offline demo.
    pub async fn default_model_for(
        &self,
        principal: &AgentPrincipal,
        modality: Modality,
    ) -> Result<ModelConfig> {
        let candidates = self.list_models_for(principal, Some(modality)).await?;
        let usable = |m: &&ModelConfig| {
            let creds = self.inner.providers.credentials(m.provider);
            self.inner.providers.has(m.provider)
                && (m.provider == Provider::Demo
                    || creds.api_key.is_some()
                    // A local OpenAI-compatible server often needs no key, only its address.
                    || (m.provider == Provider::OpenaiCompatible && creds.base_url.is_some()))
        };
        candidates
            .iter()
            .filter(usable)
            .find(|m| m.provider != Provider::Demo)
            .or_else(|| candidates.iter().find(|m| usable(m)))
            .cloned()
            .ok_or_else(|| {
                Error::invalid(
                    "model",
                    format!(
                        "no {} model is available; name one in `model`",
                        modality.as_str()
                    ),
                )
                .with_code(ErrorCode::ModelRequired)
            })
    }
}
