//! Wiring the native adapters into a core `Gateway`: the sea-orm store, the artifacts store, the
//! in-process rate limiter, the system clock and ids. Also logging set-up.

use std::io::IsTerminal;
use std::sync::Arc;

use molts_core::domain::Provider;
use molts_core::gateway::WebhookSettings;
use molts_core::memory::MemoryRateLimiter;
use molts_core::ports::RateLimiter;
use molts_core::providers::ProviderRegistry;
use molts_core::sealed::SecretBox;
use molts_core::{Gateway, GatewayConfig, Ports, Stores, SystemClock, SystemIds};
use molts_demo::DemoProvider;
use molts_reqwest::{ReqwestHttpClient, native_providers};
use molts_sea_orm::sea_orm::{ConnectionTrait, DbBackend};
use molts_sea_orm::{SeaOrmStore, SqlRateLimiter};
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings};

/// Sets up `tracing`: human lines on a terminal, JSON with `--log-format json`. The filter comes
/// from `RUST_LOG` (default `info`). Request logs carry method, path and status, never headers,
/// so no key reaches a log.
pub(crate) fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Connects to the database and applies pending migrations.
pub(crate) async fn connect(settings: &Settings) -> Result<SeaOrmStore, String> {
    let store = SeaOrmStore::connect_with(&settings.database_url, settings.store.clone())
        .await
        .map_err(|e| format!("cannot open database: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    Ok(store)
}

/// `molts migrate`.
pub(crate) async fn migrate_only(settings: &Settings) -> Result<(), String> {
    connect(settings).await?;
    tracing::info!(database = %redact(&settings.database_url), "migrations applied");
    Ok(())
}

/// A gateway over the configured database.
pub(crate) async fn gateway(settings: &Settings) -> Result<Gateway, String> {
    let store = connect(settings).await?;
    let blobs = crate::artifacts::open(&settings.artifacts_url)?;
    // On PostgreSQL several replicas may serve one database, so their rate limits live there
    // too; a SQLite file is one process's, and counting in memory keeps a write off every
    // request.
    let rate_limiter: Arc<dyn RateLimiter> =
        if store.connection().get_database_backend() == DbBackend::Postgres {
            Arc::new(SqlRateLimiter::new(store.clone()))
        } else {
            Arc::new(MemoryRateLimiter::new())
        };
    let ports = Ports {
        stores: Stores::from_one(Arc::new(store)),
        clock: Arc::new(SystemClock),
        ids: Arc::new(SystemIds),
        rate_limiter,
    };
    let config = GatewayConfig {
        default_instance: settings.default_instance.clone(),
        public_url: settings.public_url.clone(),
        jobs: settings.jobs.clone(),
        webhooks: WebhookSettings {
            allowed_hosts: settings.webhook_allow_hosts.clone(),
            timeout: settings.webhook_timeout,
            ..WebhookSettings::default()
        },
        ..GatewayConfig::default()
    };
    let http =
        ReqwestHttpClient::new().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    // Webhook URLs come from agents: their own client refuses names resolving to internal
    // addresses (the allow-list aside). So does the client for what the operator did not
    // configure: tenants' own base URLs, and output URLs off the operator's configured origins.
    let egress_proxy = settings.egress_proxy.as_ref();
    molts_reqwest::log_egress_route(egress_proxy);
    let webhook_http =
        ReqwestHttpClient::for_webhooks(settings.webhook_allow_hosts.clone(), egress_proxy)
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
    let public_http =
        ReqwestHttpClient::public_only(settings.webhook_allow_hosts.clone(), egress_proxy)
            .map_err(|e| format!("cannot build the public-only HTTP client: {e}"))?;
    let mut gateway = Gateway::new(ports, config)
        .with_providers(providers(settings)?)
        .with_http(Arc::new(http))
        .with_webhook_http(Arc::new(webhook_http))
        .with_public_only_http(Arc::new(public_http));
    if let Ok(secret) = std::env::var("HEYGEN_WEBHOOK_SECRET") {
        gateway = gateway.with_heygen_webhook_secret(&secret);
    }
    match &settings.secret_key {
        Some(text) => {
            let secret_box = SecretBox::from_text(text)
                .map_err(|e| format!("MOLTS_SECRET_KEY: {}", e.message()))?;
            Ok(gateway.with_secret_box(secret_box).with_blobs(blobs))
        }
        None => Ok(gateway.with_blobs(blobs)),
    }
}

/// The provider registry: every HTTP provider over reqwest, keys and base URLs from the
/// environment under their usual names (`OPENAI_API_KEY`, ...), plus the offline demo provider
/// unless switched off.
fn providers(settings: &Settings) -> Result<ProviderRegistry, String> {
    let registry = native_providers(&|name| std::env::var(name).ok())
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    Ok(if settings.demo_providers {
        registry.with_adapter(Provider::Demo, Arc::new(DemoProvider))
    } else {
        registry
    })
}

/// A database URL with any password replaced, fit for logs.
pub(crate) fn redact(url: &str) -> String {
    molts_core::secret::redact_url(url)
}
