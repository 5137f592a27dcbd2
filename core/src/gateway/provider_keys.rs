//! Tenants' own provider keys: admins of an instance set, list (never see) and remove them;
//! routing uses them for that instance's agents instead of the operator's key. A base URL the
//! instance's admin set is refused by its text when it names an internal host, and every call
//! to it goes through the public-only client (`outbound.rs`), which also judges what the name
//! resolves to; one the operator set is the operator's choice, recorded in the sealed key.

use crate::ErrorCode;
use serde::Deserialize;

use crate::domain::{AdminScope, Instance, InstanceProviderKey, Provider};
use crate::error::{Error, Result};
use crate::net::host_is_refused;
use crate::providers::{Credentials, env_names};
use crate::sealed::SecretBox;
use crate::validate;

use super::outbound::InstanceCredentials;
use super::{AdminPrincipal, Gateway};

/// What an admin sends to set a key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyRequest {
    /// The provider's API key.
    pub api_key: String,
    /// An optional base URL override.
    #[serde(default)]
    pub base_url: Option<String>,
}

fn context(instance_id: &str, provider: Provider) -> String {
    format!("instance:{instance_id}/provider:{}", provider.as_str())
}

/// The sealing context of a key whose base URL the operator's own admin set. The store has no
/// column for who set a base URL; binding the operator's choice into the sealed key's
/// associated data records it where it cannot be forged without `MOLTS_SECRET_KEY`, nor carried
/// over to another URL: a key sealed this way opens only with the URL it was set with. Keys
/// sealed with the plain context (a tenant's own choice, or a key stored before this existed)
/// send to their base URL through the public-only client.
fn operator_base_url_context(instance_id: &str, provider: Provider, base_url: &str) -> String {
    format!(
        "{}/base_url_set_by_operator:{base_url}",
        context(instance_id, provider)
    )
}

impl Gateway {
    /// The same gateway sealing tenants' provider keys with `secret_box`.
    #[must_use]
    pub fn with_secret_box(mut self, secret_box: SecretBox) -> Self {
        self.parts_mut().secret_box = Some(std::sync::Arc::new(secret_box));
        self
    }

    /// A tenant's base URL is where molts sends requests on the tenant's behalf, from inside the
    /// operator's network: like a webhook URL it may not name a loopback, private, link-local
    /// or internal host (the cloud metadata address, a database) unless the operator
    /// allow-listed it (`MOLTS_WEBHOOK_ALLOW_HOSTS`). The operator's own admins may set any.
    fn refuse_internal_base_url(&self, raw: &str) -> Result<()> {
        let url = url::Url::parse(raw)
            .map_err(|_| Error::invalid("base_url", "base_url must be an absolute http(s) URL"))?;
        let host = url
            .host()
            .ok_or_else(|| Error::invalid("base_url", "base_url has no host"))?;
        if host_is_refused(&host, &self.inner.config.webhooks.allowed_hosts) {
            return Err(Error::invalid(
                "base_url",
                "base_url points at a loopback, private, link-local or internal address",
            )
            .with_code(ErrorCode::BaseUrlRefused));
        }
        Ok(())
    }

    fn secret_box(&self) -> Result<&SecretBox> {
        self.inner.secret_box.as_deref().ok_or_else(|| {
            Error::invalid("api_key", "this server stores no tenant provider keys: the operator must set MOLTS_SECRET_KEY")
                .with_code(ErrorCode::SecretKeyNotConfigured)
        })
    }

    /// An instance's provider keys (hints only).
    pub async fn admin_list_provider_keys(
        &self,
        admin: &AdminPrincipal,
        instance_id: &str,
    ) -> Result<Vec<InstanceProviderKey>> {
        self.admin_get_instance(admin, instance_id).await?;
        self.inner
            .ports
            .stores
            .provider_keys
            .list_provider_keys(instance_id)
            .await
    }

    /// Sets an instance's key for `provider`, sealed.
    pub async fn admin_put_provider_key(
        &self,
        admin: &AdminPrincipal,
        instance_id: &str,
        provider: Provider,
        request: ProviderKeyRequest,
    ) -> Result<InstanceProviderKey> {
        admin.require_instance_write(instance_id)?;
        self.admin_get_instance(admin, instance_id).await?;
        if env_names(provider).is_none() {
            return Err(Error::invalid(
                "provider",
                format!("provider '{}' takes no key", provider.as_str()),
            ));
        }
        let api_key = request.api_key.trim();
        if api_key.len() < 8 || api_key.chars().any(char::is_whitespace) {
            return Err(Error::invalid(
                "api_key",
                "api_key must be at least 8 characters with no spaces",
            ));
        }
        let base_url = request
            .base_url
            .as_deref()
            .map(|u| validate::http_url("base_url", u))
            .transpose()?;
        if let Some(url) = &base_url
            && admin.scope != AdminScope::Operator
        {
            self.refuse_internal_base_url(url)?;
        }
        // The operator may point a tenant anywhere (a model server inside its network); that
        // choice is sealed with the key, so calls to it keep the unfiltered client.
        let seal_context = match &base_url {
            Some(url) if admin.scope == AdminScope::Operator => {
                operator_base_url_context(instance_id, provider, url)
            }
            _ => context(instance_id, provider),
        };
        let sealed_key =
            self.secret_box()?
                .seal(self.inner.ports.ids.as_ref(), &seal_context, api_key)?;
        let hint_start = api_key.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
        let key = InstanceProviderKey {
            instance_id: instance_id.to_owned(),
            provider,
            sealed_key,
            key_hint: format!("…{}", &api_key[hint_start..]),
            base_url,
            updated_at: self.now(),
        };
        self.inner
            .ports
            .stores
            .provider_keys
            .put_provider_key(&key)
            .await?;
        self.invalidate_caches();
        Ok(key)
    }

    /// Removes an instance's key for `provider`; its agents fall back to the operator's key.
    pub async fn admin_delete_provider_key(
        &self,
        admin: &AdminPrincipal,
        instance_id: &str,
        provider: Provider,
    ) -> Result<()> {
        admin.require_instance_write(instance_id)?;
        self.admin_get_instance(admin, instance_id).await?;
        let removed = self
            .inner
            .ports
            .stores
            .provider_keys
            .delete_provider_key(instance_id, provider)
            .await?;
        self.invalidate_caches();
        if removed {
            Ok(())
        } else {
            Err(Error::not_found("provider key", provider.as_str()))
        }
    }

    /// The credentials a call for `instance` uses with `provider`: the instance's own key when it
    /// has one, else the operator's; with whether the instance chose the base URL.
    pub(super) async fn credentials_for(
        &self,
        instance: &Instance,
        provider: Provider,
    ) -> Result<InstanceCredentials> {
        let now = self.now();
        let cache_key = (instance.id.clone(), provider);
        if let Some(hit) = self.inner.caches.credentials.get(&cache_key, now) {
            return Ok(hit);
        }
        let own = self
            .inner
            .ports
            .stores
            .provider_keys
            .list_provider_keys(&instance.id)
            .await?
            .into_iter()
            .find(|k| k.provider == provider);
        let resolved = match own {
            Some(key) => {
                let secret_box = self.inner.secret_box.as_deref().ok_or_else(|| {
                    Error::unavailable("this instance's provider key cannot be opened: MOLTS_SECRET_KEY is not set")
                        .with_code(ErrorCode::ProviderNotConfigured)
                })?;
                // Opened under the operator's binding of this very URL: the operator chose it.
                let by_operator = key.base_url.as_deref().and_then(|url| {
                    let bound = operator_base_url_context(&instance.id, provider, url);
                    secret_box.open(&bound, &key.sealed_key).ok()
                });
                let (api_key, tenant_base_url) = match by_operator {
                    Some(api_key) => (api_key, false),
                    None => (
                        secret_box.open(&context(&instance.id, provider), &key.sealed_key)?,
                        key.base_url.is_some(),
                    ),
                };
                let global = self.inner.providers.credentials(provider);
                InstanceCredentials {
                    credentials: Credentials {
                        api_key: Some(api_key),
                        base_url: key.base_url.or_else(|| global.base_url.clone()),
                    },
                    tenant_base_url,
                }
            }
            None => {
                InstanceCredentials::operator(self.inner.providers.credentials(provider).clone())
            }
        };
        self.inner
            .caches
            .credentials
            .put(cache_key, resolved.clone(), now);
        Ok(resolved)
    }
}
