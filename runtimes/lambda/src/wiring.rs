//! The cold start: logging, the sea-orm store with its migrations, the provider registry, the
//! artifacts store, the core `Gateway` and its bootstrap. This is the standalone binary's wiring minus what Lambda has no use
//! for (flags, a config file, a token banner); the adapters chosen are the same.

use std::sync::Arc;

use molts_core::domain::Provider;
use molts_core::providers::ProviderRegistry;
use molts_core::{Gateway, GatewayConfig, Ports, Stores, SystemClock, SystemIds};
use molts_demo::DemoProvider;
use molts_reqwest::native_providers;
use molts_sea_orm::{SeaOrmStore, SqlRateLimiter};
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings, redact};

/// Sets up `tracing` on stderr, which Lambda sends to CloudWatch Logs. No colours: CloudWatch
/// shows escape codes as text. The filter comes from `RUST_LOG` (default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Connects, migrates, builds the gateway and bootstraps it with the operator token: what every
/// cold start does once, before the first event is taken. Safe on many instances at once
/// (migrations and seeding are idempotent and tolerate a concurrent first start).
pub async fn cold_start(settings: &Settings) -> Result<Gateway, String> {
    let store = SeaOrmStore::connect(&settings.database_url)
        .await
        .map_err(|e| {
            format!(
                "cannot open database {}: {e}",
                redact(&settings.database_url)
            )
        })?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let ports = Ports {
        // In the database: Lambda runs as many execution environments as there are concurrent
        // requests, and each counting on its own would multiply every agent's rate limit.
        rate_limiter: Arc::new(SqlRateLimiter::new(store.clone())),
        stores: Stores::from_one(Arc::new(store)),
        clock: Arc::new(SystemClock),
        ids: Arc::new(SystemIds),
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let allowed_hosts: Vec<String> = env("MOLTS_WEBHOOK_ALLOW_HOSTS")
        .map(|v| v.split(',').map(|h| h.trim().to_owned()).collect())
        .unwrap_or_default();
    let config = GatewayConfig {
        default_instance: settings.default_instance.clone(),
        public_url: env("MOLTS_PUBLIC_URL"),
        webhooks: molts_core::gateway::WebhookSettings {
            allowed_hosts: allowed_hosts.clone(),
            ..Default::default()
        },
        ..GatewayConfig::default()
    };
    let http = molts_reqwest::ReqwestHttpClient::new()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    // As in the standalone binary: webhook URLs come from agents, and tenants' own base URLs
    // and providers' output URLs from outside the operator's configuration, so they get
    // clients that refuse internal addresses (the allow-list aside).
    let egress_proxy = env("MOLTS_EGRESS_PROXY")
        .map(|text| molts_reqwest::EgressProxy::parse(&text).map_err(|e| e.message().to_owned()))
        .transpose()?;
    molts_reqwest::log_egress_route(egress_proxy.as_ref());
    let webhook_http = molts_reqwest::ReqwestHttpClient::for_webhooks(
        allowed_hosts.clone(),
        egress_proxy.as_ref(),
    )
    .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
    let public_http =
        molts_reqwest::ReqwestHttpClient::public_only(allowed_hosts, egress_proxy.as_ref())
            .map_err(|e| format!("cannot build the public-only HTTP client: {e}"))?;
    let mut gateway = Gateway::new(ports, config)
        .with_providers(providers(settings)?)
        .with_http(Arc::new(http))
        .with_webhook_http(Arc::new(webhook_http))
        .with_public_only_http(Arc::new(public_http));
    if let Some(secret) = env("HEYGEN_WEBHOOK_SECRET") {
        gateway = gateway.with_heygen_webhook_secret(&secret);
    }
    if let Some(text) = &settings.secret_key {
        let secret_box = molts_core::sealed::SecretBox::from_text(text)
            .map_err(|e| format!("MOLTS_SECRET_KEY: {}", e.message()))?;
        gateway = gateway.with_secret_box(secret_box);
    }
    gateway = gateway.with_blobs(crate::artifacts::open(settings)?);
    let report = gateway
        .bootstrap(Some(&settings.admin_token))
        .await
        .map_err(|e| format!("bootstrap failed: {e}"))?;
    if report.seeded > 0 {
        tracing::info!(
            rows = report.seeded,
            "seeded tiers, models and the default instance"
        );
    }
    if report.admin_token_revoked {
        // Not fatal: other operator keys may exist. But the configured token will not work.
        tracing::warn!(
            "MOLTS_ADMIN_TOKEN was revoked by an admin and stays revoked; choose a new one"
        );
    }
    tracing::info!(database = %redact(&settings.database_url), "molts is ready for events");
    Ok(gateway)
}

/// The provider registry, as in the standalone binary: every HTTP provider over reqwest, keys and
/// base URLs from the environment under their usual names (`OPENAI_API_KEY`, ...), plus the
/// offline demo provider unless `MOLTS_DEMO_PROVIDERS=false`.
fn providers(settings: &Settings) -> Result<ProviderRegistry, String> {
    let registry = native_providers(&|name| std::env::var(name).ok())
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    Ok(if settings.demo_providers {
        registry.with_adapter(Provider::Demo, Arc::new(DemoProvider))
    } else {
        registry
    })
}
