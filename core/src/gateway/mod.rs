//! The `Gateway`: the service facade every runtime and the HTTP adapter call. It holds the ports
//! and implements the use cases (registration, authentication, keys, quota, admin), enforcing
//! tenant isolation and scopes itself so no adapter can forget to.

mod admin;
mod admin_agents;
mod admin_models;
mod artifacts;
mod auth;
mod bootstrap;
mod cache;
mod callbacks;
mod deadline;
mod fair_order;
mod files;
mod generate;
mod hold_size;
mod job_progress;
mod jobs;
mod keys;
mod models;
mod outbound;
mod output_check;
mod profile;
mod provider_keys;
mod quota;
mod readiness;
mod register;
mod request_log;
mod request_notes;
mod retention;
mod routing;
mod scheduled;
pub mod settings;
mod webhooks;
mod wiring;

use crate::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

pub use admin::{AdminKeyRequest, InstancePatch, NewInstance, NewProject, Page};
pub use admin_agents::{AgentDetail, AgentListRequest};
pub use admin_models::ModelPatch;
pub use artifacts::{ArtifactContent, ArtifactView};
pub use auth::{AdminPrincipal, AgentPrincipal, RateLimited};
pub use bootstrap::BootstrapReport;
pub use files::{DeletedFile, MAX_UPLOAD_BYTES};
pub use generate::{Generated, MAX_IMAGES_PER_REQUEST, MAX_SPEECH_CHARS, estimate_tokens};
pub use jobs::{
    JobAgent, JobTiming, JobView, MAX_SCRIPT_CHARS, PersonaSubmission, RenderSubmission, Submitted,
    VideoSubmission,
};
pub use keys::{IssuedAdminKey, IssuedKey, NewKeyRequest};
pub use profile::AgentProfile;
pub use provider_keys::ProviderKeyRequest;
pub use quota::{HOLD_TTL, Hold, PeriodUsage, StorageReport, UnitUsage, UsageReport};
pub use readiness::{Check, Readiness};
pub use register::{REGISTRATIONS_PER_WINDOW, Registered};
pub use request_log::{MAX_QUERY_RANGE, RequestLogSettings};
pub use request_notes::{MAX_NOTED_PROMPT, Noted, RequestNotes};
pub use scheduled::{ScheduledReport, ScheduledSettings};
pub use settings::Settings;
pub use webhooks::{WebhookEndpointView, WebhookSettings, sign_webhook};
pub use wiring::{Background, Outbound, Runtime};

use crate::clock::Clock;
use crate::ids::Ids;
use crate::ports::{BlobStore, HttpClient, RateLimiter, Spawner, Stores};
use crate::providers::ProviderRegistry;

/// Settings that shape the gateway's behaviour, the same on every runtime. Runtimes read them
/// with [`GatewayConfig::from_lookup`] (or [`Settings::from_lookup`], which reads them too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Instance that registrations without an `instance` field join.
    pub default_instance: String,
    /// The rate-limit window (requests per minute means 60 s).
    pub rate_window: Duration,
    /// Largest page an admin list returns.
    pub max_page_size: u32,
    /// How long a key's principal and a model config are cached; zero turns caching off. A change
    /// made through this gateway clears the caches at once; other replicas see it within this.
    pub cache_ttl: Duration,
    /// The address agents and providers reach this molts at (`https://molts.example.com`). Jobs
    /// give providers a callback URL under it; without it molts only polls.
    pub public_url: Option<String>,
    /// How durable jobs are paced.
    pub jobs: JobTiming,
    /// Outbound webhook delivery settings.
    pub webhooks: WebhookSettings,
    /// How rounds of scheduled work are bounded (concurrency, time budget, deadlines).
    pub scheduled: ScheduledSettings,
    /// How long generated outputs are kept before the scheduled work deletes them
    /// (`retention.rs`); `None` keeps them forever. Uploads are never expired.
    pub artifact_retention: Option<Duration>,
    /// Whether and how requests are logged (`request_log.rs`).
    pub request_log: RequestLogSettings,
    /// How long a closed (settled or refunded) quota reservation is kept before the scheduled
    /// work forgets it; the per-period counters keep what it charged. See
    /// [`DEFAULT_RESERVATION_RETENTION`].
    pub reservation_retention: Duration,
}

/// Outputs are kept 30 days unless configured otherwise.
pub const DEFAULT_ARTIFACT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Closed reservations are kept two days by default: a day's counter can then be checked
/// against the reservations that made it until the end of the next day (the oldest of them is
/// 48 hours old then), and a log line naming a reservation finds it for as long. Nothing else
/// reads a closed reservation. Longer costs rows in proportion to traffic: every metered call
/// leaves one, about 200 bytes on SQLite with its index entry.
pub const DEFAULT_RESERVATION_RETENTION: Duration = Duration::from_secs(2 * 24 * 60 * 60);

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            default_instance: "default".to_owned(),
            rate_window: Duration::from_secs(60),
            max_page_size: 200,
            cache_ttl: Duration::from_secs(5),
            public_url: None,
            jobs: JobTiming::default(),
            webhooks: WebhookSettings::default(),
            scheduled: ScheduledSettings::default(),
            artifact_retention: Some(DEFAULT_ARTIFACT_RETENTION),
            request_log: RequestLogSettings::default(),
            reservation_retention: DEFAULT_RESERVATION_RETENTION,
        }
    }
}

/// The ports a gateway runs on.
#[derive(Clone)]
pub struct Ports {
    /// Storage.
    pub stores: Stores,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids and secrets.
    pub ids: Arc<dyn Ids>,
    /// Request rates.
    pub rate_limiter: Arc<dyn RateLimiter>,
}

impl Ports {
    /// `stores`, with the system's clock and ids and a rate limiter in this process's memory.
    pub fn with_stores(stores: Stores) -> Self {
        Self {
            stores,
            clock: Arc::new(crate::SystemClock),
            ids: Arc::new(crate::SystemIds),
            rate_limiter: Arc::new(crate::memory::MemoryRateLimiter::new()),
        }
    }

    /// Everything in this process's memory (tests, and embedding molts without a database):
    /// [`Ports::with_stores`] over one `MemoryStore`.
    pub fn in_memory() -> Self {
        Self::with_stores(Stores::from_one(
            Arc::new(crate::memory::MemoryStore::new()),
        ))
    }
}

/// The molts service facade. Cheap to clone (one reference count: every request's handler and
/// every deferred settlement holds one): everything inside is shared.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Parts>,
}

/// What a [`Gateway`] is made of; changed only while it is being built.
#[derive(Clone)]
struct Parts {
    ports: Ports,
    config: Arc<GatewayConfig>,
    providers: Arc<ProviderRegistry>,
    caches: Arc<cache::Caches>,
    secret_box: Option<Arc<crate::sealed::SecretBox>>,
    blobs: Option<Arc<dyn BlobStore>>,
    http: Option<Arc<dyn HttpClient>>,
    webhook_http: Option<Arc<dyn HttpClient>>,
    public_http: Option<Arc<dyn HttpClient>>,
    public_adapters: Arc<outbound::PublicAdapters>,
    heygen_webhook_secret: Option<Arc<str>>,
    spawner: Option<Arc<dyn Spawner>>,
    settles: Arc<quota::PendingSettles>,
    log_queue: Arc<request_log::LogQueue>,
}

impl Gateway {
    /// A gateway over `ports` alone, every other port unset: for tests and embedding. Runtimes
    /// build theirs with [`Gateway::wire`], which requires every port.
    pub fn new(ports: Ports, config: GatewayConfig) -> Self {
        let ttl = chrono::Duration::from_std(config.cache_ttl).unwrap_or(chrono::Duration::zero());
        let parts = Parts {
            ports,
            config: Arc::new(config),
            providers: Arc::new(ProviderRegistry::new()),
            caches: Arc::new(cache::Caches::new(ttl)),
            secret_box: None,
            blobs: None,
            http: None,
            webhook_http: None,
            public_http: None,
            public_adapters: Arc::default(),
            heygen_webhook_secret: None,
            spawner: None,
            settles: Arc::default(),
            log_queue: Arc::default(),
        };
        Self {
            inner: Arc::new(parts),
        }
    }

    /// The parts, to change while building (copied first if this gateway was already cloned).
    fn parts_mut(&mut self) -> &mut Parts {
        Arc::make_mut(&mut self.inner)
    }

    /// The same gateway settling a call's quota hold after answering it, on `spawner`, instead
    /// of before. The hold already keeps the quota from being overspent, so the answer need not
    /// wait for the settlement; the agent's own usage reads (and a reservation that would
    /// otherwise be refused) wait for its pending settlements, and a hold whose settlement is
    /// lost with the process is closed by the scheduled work when it expires, as before. Lend
    /// one only where background work finishes after the response and a graceful shutdown
    /// waits for it.
    #[must_use]
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> Self {
        self.parts_mut().spawner = Some(spawner);
        self
    }

    /// The same gateway keeping generated files and agents' uploads in `blobs` (the operator's
    /// object store). Without one, anything that stores a file answers `Unavailable`.
    #[must_use]
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.parts_mut().blobs = Some(blobs);
        self
    }

    /// The same gateway calling providers through `registry`.
    #[must_use]
    pub fn with_providers(mut self, registry: ProviderRegistry) -> Self {
        self.parts_mut().providers = Arc::new(registry);
        self
    }

    /// The same gateway fetching job outputs and delivering webhooks through `http` (webhooks
    /// unless [`Gateway::with_webhook_http`] gives them their own client, outputs off the
    /// operator's configured origins unless [`Gateway::with_public_only_http`] does).
    #[must_use]
    pub fn with_http(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.parts_mut().http = Some(http);
        self
    }

    /// The same gateway delivering webhooks through `http`: a client that refuses targets
    /// resolving to internal addresses (the native runtimes' `ReqwestHttpClient::for_webhooks`).
    /// Webhook URLs come from agents, so their client must filter, and refusals carry the
    /// webhook's own code (`webhook_url_refused`); provider calls to the operator's hosts (often
    /// a local model server on loopback) keep the unfiltered client, and the rest go through
    /// [`Gateway::with_public_only_http`]'s. Without one, webhooks use `with_http`'s.
    #[must_use]
    pub fn with_webhook_http(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.parts_mut().webhook_http = Some(http);
        self
    }

    /// The same gateway accepting HeyGen account webhooks signed with `secret`
    /// (`HEYGEN_WEBHOOK_SECRET`, the secret HeyGen gave when the endpoint was registered).
    /// An empty or blank secret means none: as an HMAC key it would let anyone sign events.
    #[must_use]
    pub fn with_heygen_webhook_secret(mut self, secret: &str) -> Self {
        let secret = if secret.trim().is_empty() {
            tracing::warn!(
                "HEYGEN_WEBHOOK_SECRET is set but blank: HeyGen account webhooks stay refused"
            );
            None
        } else {
            Some(Arc::from(secret))
        };
        self.parts_mut().heygen_webhook_secret = secret;
        self
    }

    /// The blob store, or `Unavailable` when none is configured.
    pub(crate) fn blobs(&self) -> crate::Result<&Arc<dyn BlobStore>> {
        self.inner.blobs.as_ref().ok_or_else(|| {
            crate::Error::unavailable("no artifact store is configured on this molts")
                .with_code(ErrorCode::ArtifactsNotConfigured)
        })
    }

    /// The outbound HTTP client, or `Unavailable` when none is configured.
    pub(crate) fn http(&self) -> crate::Result<&Arc<dyn HttpClient>> {
        self.inner.http.as_ref().ok_or_else(|| {
            crate::Error::unavailable("no outbound HTTP client is configured on this molts")
        })
    }

    /// The client webhook deliveries go through: their own if given, else the outbound one.
    pub(crate) fn webhook_http(&self) -> crate::Result<&Arc<dyn HttpClient>> {
        match &self.inner.webhook_http {
            Some(http) => Ok(http),
            None => self.http(),
        }
    }

    /// Forgets every cached principal and model config. Called by every change made through the
    /// gateway; call it after changing the stores directly.
    pub fn invalidate_caches(&self) {
        self.inner.caches.clear();
    }

    /// The provider registry.
    pub fn providers(&self) -> &ProviderRegistry {
        &self.inner.providers
    }

    /// The stores, for runtimes that need direct access (migrations, health checks).
    pub fn stores(&self) -> &Stores {
        &self.inner.ports.stores
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// The current time from the clock port.
    pub fn now(&self) -> crate::clock::Timestamp {
        self.inner.ports.clock.now()
    }

    /// A new unique id with `prefix` from the ids port.
    pub fn new_id(&self, prefix: &str) -> String {
        self.inner.ports.ids.id(prefix)
    }
}
