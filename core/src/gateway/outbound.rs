//! Which HTTP client an outbound request to a provider goes through, by who chose its
//! destination. molts sends from inside the operator's network, so a destination someone else
//! chose must not reach loopback, private, link-local (cloud metadata) or internal hosts:
//!
//! - **The operator's configuration** — keys and base URLs from the environment, a template
//!   model's endpoint, a base URL the operator's own admins set for a tenant — goes through the
//!   unfiltered client (`Gateway::with_http`'s, inside the providers' adapters): the operator may
//!   point it at a local model server or the test fakes on loopback.
//! - **A tenant's own base URL** (set by the instance's admin) goes through the public-only
//!   client (`Gateway::with_public_only_http`) for every call: its text was checked when it was
//!   set, but a public-looking name may resolve to `127.0.0.1` or `169.254.169.254`.
//! - **A URL a provider answered with** (a job's output, a generated image, Veo's redirect to
//!   storage) goes through the public-only client too, after the same text check as webhook
//!   URLs — unless it is on the very origin (scheme, host and port) of the operator-configured
//!   base URL the call went to: a local server or a fake serving its own files. The origin, not
//!   just the host: a loopback model server's neighbour on another port (a database) is not
//!   where its files live.
//!
//! The public-only client refuses an internal address, by text and by what a name resolves to,
//! unless the host is on the operator's allow-list (`MOLTS_WEBHOOK_ALLOW_HOSTS`, the same list
//! as webhooks; the policy is `crate::net`). Without one (Workers, where the platform resolves
//! and fetches from Cloudflare's network rather than the operator's), the URL-text checks are
//! what remains: a tenant's base URL when it is set, a provider's URL here.

use crate::ErrorCode;
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{ModelConfig, Provider};
use crate::error::{Error, Result};
use crate::net::host_is_refused;
use crate::ports::{HttpClient, HttpRequest, HttpResponse, RequestOptions};
use crate::providers::{Credentials, ProviderAdapter, http_adapters};

use super::Gateway;

/// The HTTP providers' adapters over the public-only client, by provider.
pub(super) type PublicAdapters = HashMap<Provider, Arc<dyn ProviderAdapter>>;

/// A provider's credentials for one instance, and whether the instance chose where they send.
#[derive(Debug, Clone)]
pub(super) struct InstanceCredentials {
    /// Key and base URL.
    pub(super) credentials: Credentials,
    /// The base URL is one the instance's own admin set (not the operator's): calls to it go
    /// through the public-only client.
    pub(super) tenant_base_url: bool,
}

impl InstanceCredentials {
    /// The operator's configuration, as is.
    pub(super) fn operator(credentials: Credentials) -> Self {
        Self {
            credentials,
            tenant_base_url: false,
        }
    }
}

/// Whether a call for `model` with `resolved` sends to a host a tenant chose. A template model
/// sends to its own endpoint (the operator's) whoever's key fills `{api_key}`.
fn sends_to_tenant_host(model: &ModelConfig, resolved: &InstanceCredentials) -> bool {
    resolved.tenant_base_url && model.provider != Provider::Template
}

/// The message of a refused provider-given URL: names no address, since it reaches agents.
fn output_refused() -> Error {
    Error::forbidden(
        "the provider answered with a URL on a loopback, private, link-local or other internal \
         address, which molts does not fetch",
    )
    .with_code(ErrorCode::OutputUrlRefused)
}

impl Gateway {
    /// The same gateway sending every request whose destination the operator did not choose —
    /// calls to a tenant's own `base_url`, downloads of URLs providers answer with — through
    /// `http`: a client that refuses internal addresses unless allow-listed (the native
    /// runtimes' `ReqwestHttpClient::public_only`), answering a refusal with the code
    /// `ErrorCode::AddressRefused`. The HTTP providers' adapters are built a second time over
    /// it. Without one, those requests use the unfiltered clients, after the URL-text checks.
    #[must_use]
    pub fn with_public_only_http(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.parts_mut().public_adapters =
            Arc::new(http_adapters(http.clone()).into_iter().collect());
        self.parts_mut().public_http = Some(http);
        self
    }

    /// The client for provider-given URLs off the operator's origins: the public-only one if
    /// given, else the outbound one.
    fn public_http(&self) -> Result<&Arc<dyn HttpClient>> {
        match &self.inner.public_http {
            Some(http) => Ok(http),
            None => self.http(),
        }
    }

    /// The adapter a call for `model` with `resolved` goes through: the registry's (over the
    /// unfiltered client), or its twin over the public-only client when a tenant chose the host.
    pub(super) fn adapter_for(
        &self,
        model: &ModelConfig,
        resolved: &InstanceCredentials,
    ) -> Result<Arc<dyn ProviderAdapter>> {
        // A provider the operator did not enable stays disabled, whoever's key it would use.
        let operators = self.inner.providers.adapter(model.provider)?;
        if sends_to_tenant_host(model, resolved)
            && let Some(public) = self.inner.public_adapters.get(&model.provider)
        {
            return Ok(public.clone());
        }
        Ok(operators.clone())
    }

    /// The origin a provider-given URL must be on to be fetched unfiltered: that of the base URL
    /// (a template's endpoint) the operator configured for this call. `None` when a tenant chose
    /// the host, or the provider's public default is used (its files, on a CDN, pass the
    /// public-only client anyway).
    pub(super) fn operator_origin(
        model: &ModelConfig,
        resolved: &InstanceCredentials,
    ) -> Option<url::Origin> {
        if sends_to_tenant_host(model, resolved) {
            return None;
        }
        let base = match model.provider {
            Provider::Template => model
                .payload_mapping
                .as_ref()
                .and_then(|m| m.get("endpoint"))
                .and_then(serde_json::Value::as_str)?,
            _ => resolved.credentials.base_url.as_deref()?,
        };
        let origin = url::Url::parse(base).ok()?.origin();
        origin.is_tuple().then_some(origin)
    }

    /// The origin provider-given URLs from `model`'s calls for `instance` may be fetched
    /// unfiltered on (see [`Gateway::operator_origin`]); `None` if the credentials do not resolve.
    pub(super) async fn output_origin(
        &self,
        instance: &crate::domain::Instance,
        model: &ModelConfig,
    ) -> Option<url::Origin> {
        let resolved = self
            .credentials_for(instance, super::routing::credentials_of(model))
            .await
            .ok()?;
        Self::operator_origin(model, &resolved)
    }

    /// A GET of `raw`, a URL a provider answered with (no key is sent), and the client to send it
    /// through: the unfiltered one only on `operator`'s origin; otherwise the URL is refused by
    /// its text when it names an internal host, and goes through the public-only client. A
    /// refusal, here or by that client, is `Forbidden` `output_url_refused`: asking the provider
    /// again gives the same URL, so it is not retried.
    pub(super) fn provider_url_get(
        &self,
        raw: &str,
        operator: Option<&url::Origin>,
    ) -> Result<(ProviderUrlClient, HttpRequest)> {
        let invalid = || Error::unavailable("the provider gave a URL that is not valid");
        let url = url::Url::parse(raw).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(output_refused());
        }
        let http = if operator.is_some_and(|origin| *origin == url.origin()) {
            self.http()?
        } else {
            let host = url.host().ok_or_else(output_refused)?;
            if host_is_refused(&host, &self.inner.config.webhooks.allowed_hosts) {
                return Err(output_refused());
            }
            self.public_http()?
        };
        let request = http::Request::get(url.as_str())
            .body(bytes::Bytes::new())
            .map_err(|_| invalid())?;
        Ok((ProviderUrlClient(http.clone()), request))
    }
}

/// The client [`Gateway::provider_url_get`] chose, reading the public-only client's refusal as
/// `output_url_refused` (so no caller can forget to).
pub(super) struct ProviderUrlClient(Arc<dyn HttpClient>);

#[async_trait]
impl HttpClient for ProviderUrlClient {
    async fn send(&self, request: HttpRequest, options: RequestOptions) -> Result<HttpResponse> {
        self.0.send(request, options).await.map_err(|e| {
            if e.code() == Some(ErrorCode::AddressRefused) {
                output_refused()
            } else {
                e
            }
        })
    }
}

/// A refusal of a tenant's own base URL by the public-only client, as the agent sees it: the
/// provider is misconfigured for this instance (`Unavailable`, so routing moves on to a
/// fallback), and its admin or the operator can fix that.
pub(super) fn tenant_refusal(error: Error, provider: Provider) -> Error {
    if error.code() != Some(ErrorCode::AddressRefused) {
        return error;
    }
    Error::unavailable(format!(
        "provider '{}': the base_url this instance set for it resolves only to loopback, \
         private, link-local or other internal addresses (its admin can change it; the operator \
         can allow-list the host)",
        provider.as_str()
    ))
    .with_code(ErrorCode::ProviderBaseUrlRefused)
}
