//! The cold start: logging, the sea-orm store with its migrations, the provider registry, the
//! artifacts store, the core `Gateway` (built by `Gateway::wire`, which requires every port)
//! and its bootstrap. This is the standalone binary's wiring minus what Lambda has no use for
//! (flags, a config file, a token banner, background tasks); the adapters chosen are the same.

use std::sync::Arc;

use molts_core::gateway::{Background, Outbound, Runtime};
use molts_core::{Gateway, Ports, Stores, SystemClock, SystemIds};
use molts_demo::DemoProvider;
use molts_reqwest::{EgressProxy, ReqwestHttpClient, native_providers};
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
    let runtime = Runtime {
        ports,
        outbound: outbound(settings)?,
        blobs: crate::artifacts::open(settings)?,
        providers: native_providers(&|name| std::env::var(name).ok())
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?,
        demo: Arc::new(DemoProvider),
        // Lambda may freeze the process as soon as it has answered: settle before answering.
        background: Background::BeforeAnswering,
    };
    let gateway = Gateway::wire(runtime, &settings.shared).map_err(|e| e.message().to_owned())?;
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

/// The outbound clients, as in the standalone binary: webhook URLs come from agents, and
/// tenants' own base URLs and providers' output URLs from outside the operator's configuration,
/// so they get clients that refuse internal addresses (the allow-list aside), through the
/// egress proxy when one is named.
fn outbound(settings: &Settings) -> Result<Outbound, String> {
    let allowed = &settings.shared.gateway.webhooks.allowed_hosts;
    let egress_proxy = settings
        .egress_proxy
        .as_deref()
        .map(|text| EgressProxy::parse(text).map_err(|e| e.message().to_owned()))
        .transpose()?;
    molts_reqwest::log_egress_route(egress_proxy.as_ref());
    Ok(Outbound {
        operator: Arc::new(
            ReqwestHttpClient::new().map_err(|e| format!("cannot build the HTTP client: {e}"))?,
        ),
        webhooks: Arc::new(
            ReqwestHttpClient::for_webhooks(allowed.clone(), egress_proxy.as_ref())
                .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?,
        ),
        public_only: Arc::new(
            ReqwestHttpClient::public_only(allowed.clone(), egress_proxy.as_ref())
                .map_err(|e| format!("cannot build the public-only HTTP client: {e}"))?,
        ),
    })
}
