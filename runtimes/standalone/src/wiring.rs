//! Wiring the native adapters into a core `Gateway` (`Gateway::wire`, which requires every
//! port): the sea-orm store, the artifacts store, the rate limiter, the system clock and ids,
//! the outbound clients and the providers. Also logging set-up.

use std::io::IsTerminal;
use std::sync::Arc;

use molts_core::gateway::{Background, Outbound, Runtime};
use molts_core::memory::MemoryRateLimiter;
use molts_core::ports::RateLimiter;
use molts_core::{Gateway, Ports, Stores, SystemClock, SystemIds};
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

/// A gateway over the configured database; answered calls settle per `background`.
pub(crate) async fn gateway(
    settings: &Settings,
    background: Background,
) -> Result<Gateway, String> {
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
    let runtime = Runtime {
        ports: Ports {
            stores: Stores::from_one(Arc::new(store)),
            clock: Arc::new(SystemClock),
            ids: Arc::new(SystemIds),
            rate_limiter,
        },
        outbound: outbound(settings)?,
        blobs,
        // Every HTTP provider over reqwest, keys and base URLs from the environment under their
        // usual names (`OPENAI_API_KEY`, ...).
        providers: native_providers(&|name| std::env::var(name).ok())
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?,
        demo: Arc::new(DemoProvider),
        background,
    };
    Gateway::wire(runtime, &settings.shared).map_err(|e| e.message().to_owned())
}

/// The outbound clients. Webhook URLs come from agents: their own client refuses names
/// resolving to internal addresses (the allow-list aside). So does the client for what the
/// operator did not configure: tenants' own base URLs, and output URLs off the operator's
/// configured origins.
fn outbound(settings: &Settings) -> Result<Outbound, String> {
    let allowed = &settings.shared.gateway.webhooks.allowed_hosts;
    let egress_proxy = settings.egress_proxy.as_ref();
    molts_reqwest::log_egress_route(egress_proxy);
    Ok(Outbound {
        operator: Arc::new(
            ReqwestHttpClient::new().map_err(|e| format!("cannot build the HTTP client: {e}"))?,
        ),
        webhooks: Arc::new(
            ReqwestHttpClient::for_webhooks(allowed.clone(), egress_proxy)
                .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?,
        ),
        public_only: Arc::new(
            ReqwestHttpClient::public_only(allowed.clone(), egress_proxy)
                .map_err(|e| format!("cannot build the public-only HTTP client: {e}"))?,
        ),
    })
}

/// A database URL with any password replaced, fit for logs.
pub(crate) fn redact(url: &str) -> String {
    molts_core::secret::redact_url(url)
}
