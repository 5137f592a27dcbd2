//! The one way a runtime builds its gateway: [`Gateway::wire`] over a [`Runtime`] whose every
//! port is a required field, and the shared [`Settings`]. A runtime that forgets a client, the
//! blob store or its choice of background work does not compile; one that has none of
//! something says so with an explicit variant ([`Background::BeforeAnswering`]) rather than by
//! leaving an `Option` empty. The `with_*` builders stay for tests that need one piece.

use std::sync::Arc;

use crate::domain::Provider;
use crate::error::Result;
use crate::ports::{BlobStore, HttpClient, Spawner};
use crate::providers::{ProviderAdapter, ProviderRegistry};

use super::settings::Settings;
use super::{Gateway, Ports};

/// The outbound HTTP clients, by who chose where a request goes (see `gateway/outbound.rs`).
#[derive(Clone)]
pub struct Outbound {
    /// Destinations the operator configured: output URLs on the origin of a configured base
    /// URL (a local server, the fakes). Unfiltered, so loopback works. (The providers' own
    /// adapters in the [`ProviderRegistry`] hold their client.)
    pub operator: Arc<dyn HttpClient>,
    /// Agents' webhook URLs: refuses internal addresses unless allow-listed, answering the
    /// refusal with the code `webhook_url_refused` (natively by what a name resolves to; where
    /// the runtime resolves for itself, by the URL's text).
    pub webhooks: Arc<dyn HttpClient>,
    /// Tenants' own base URLs and the URLs providers answer with, off the operator's origins:
    /// refuses internal addresses unless allow-listed, with the code
    /// [`crate::ErrorCode::AddressRefused`].
    pub public_only: Arc<dyn HttpClient>,
}

/// Where an answered call's quota hold is settled.
#[derive(Clone)]
pub enum Background {
    /// After answering, on this spawner (a runtime whose graceful shutdown waits for it).
    Spawn(Arc<dyn Spawner>),
    /// Before answering: the runtime has nothing that outlives a response (Lambda may freeze
    /// the process once it answers; a Worker's gateway outlives any one request's
    /// `waitUntil`), or it is a one-shot command.
    BeforeAnswering,
}

/// Everything a runtime must provide; no field is optional.
#[derive(Clone)]
pub struct Runtime {
    /// Storage, clock, ids, rate limiter.
    pub ports: Ports,
    /// The outbound HTTP clients.
    pub outbound: Outbound,
    /// Generated files and agents' uploads.
    pub blobs: Arc<dyn BlobStore>,
    /// Every HTTP provider, over the runtime's HTTP client, keys and base URLs read through the
    /// runtime's lookup.
    pub providers: ProviderRegistry,
    /// The offline demo provider, served unless `MOLTS_DEMO_PROVIDERS=false`.
    pub demo: Arc<dyn ProviderAdapter>,
    /// Where answered calls settle.
    pub background: Background,
}

impl Gateway {
    /// The gateway a runtime serves: `runtime`'s ports shaped by the shared `settings`.
    ///
    /// # Errors
    /// `Invalid` naming `MOLTS_SECRET_KEY` when that key is not a 32-byte key.
    pub fn wire(runtime: Runtime, settings: &Settings) -> Result<Self> {
        let Runtime {
            ports,
            outbound,
            blobs,
            providers,
            demo,
            background,
        } = runtime;
        let providers = if settings.demo_providers {
            providers.with_adapter(Provider::Demo, demo)
        } else {
            providers
        };
        let mut gateway = Self::new(ports, settings.gateway.clone())
            .with_providers(providers)
            .with_blobs(blobs)
            .with_http(outbound.operator)
            .with_webhook_http(outbound.webhooks)
            .with_public_only_http(outbound.public_only);
        if let Background::Spawn(spawner) = background {
            gateway = gateway.with_spawner(spawner);
        }
        if let Some(secret_box) = settings.secret_box()? {
            gateway = gateway.with_secret_box(secret_box);
        }
        if let Some(secret) = &settings.heygen_webhook_secret {
            gateway = gateway.with_heygen_webhook_secret(secret);
        }
        Ok(gateway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryBlobStore;
    use crate::ports::{HttpRequest, HttpResponse, RequestOptions};

    /// A client that records which role sent, and answers 200 with an empty body.
    struct Named(&'static str, Arc<std::sync::Mutex<Vec<&'static str>>>);

    #[async_trait::async_trait]
    impl HttpClient for Named {
        async fn send(&self, _: HttpRequest, _: RequestOptions) -> Result<HttpResponse> {
            if let Ok(mut sent) = self.1.lock() {
                sent.push(self.0);
            }
            http::Response::builder()
                .status(200)
                .body(futures::StreamExt::boxed(futures::stream::empty()))
                .map_err(|_| crate::Error::internal("response"))
        }
    }

    fn runtime(sent: &Arc<std::sync::Mutex<Vec<&'static str>>>) -> Runtime {
        Runtime {
            ports: Ports::in_memory(),
            outbound: Outbound {
                operator: Arc::new(Named("operator", sent.clone())),
                webhooks: Arc::new(Named("webhooks", sent.clone())),
                public_only: Arc::new(Named("public_only", sent.clone())),
            },
            blobs: Arc::new(MemoryBlobStore::new()),
            providers: ProviderRegistry::new(),
            // Any adapter stands in for the demo one: only its registration is looked at.
            demo: Arc::new(crate::providers::PexelsAdapter::new(Arc::new(Named(
                "demo",
                sent.clone(),
            )))),
            background: Background::BeforeAnswering,
        }
    }

    #[test]
    fn every_port_given_is_the_one_used() -> Result<()> {
        futures::executor::block_on(every_port_given_is_the_one_used_async())
    }

    async fn every_port_given_is_the_one_used_async() -> Result<()> {
        let sent = Arc::default();
        let gateway = Gateway::wire(runtime(&sent), &Settings::default())?;
        gateway.blobs()?;
        let request = || {
            http::Request::get("https://example.com/")
                .body(bytes::Bytes::new())
                .map_err(|_| crate::Error::internal("request"))
        };
        gateway
            .http()?
            .send(request()?, RequestOptions::default())
            .await?;
        gateway
            .webhook_http()?
            .send(request()?, RequestOptions::default())
            .await?;
        let (public, get) = gateway.provider_url_get("https://cdn.example.com/v.mp4", None)?;
        public.send(get, RequestOptions::default()).await?;
        let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(sent, ["operator", "webhooks", "public_only"]);
        Ok(())
    }

    #[test]
    fn the_demo_provider_follows_the_setting() -> Result<()> {
        let sent = Arc::default();
        let on = Gateway::wire(runtime(&sent), &Settings::default())?;
        assert!(on.providers().adapter(Provider::Demo).is_ok());
        let off = Settings {
            demo_providers: false,
            ..Settings::default()
        };
        let off = Gateway::wire(runtime(&sent), &off)?;
        assert!(off.providers().adapter(Provider::Demo).is_err());
        Ok(())
    }
}
