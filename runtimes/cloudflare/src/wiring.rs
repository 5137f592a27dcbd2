//! An isolate's start: settings from the environment, the adapters over the bindings, the core
//! `Gateway` and its bootstrap. Done once per isolate, on its first event, and kept for the
//! isolate's life (Workers reuse an isolate for many requests).
//!
//! Bindings (names in wrangler.toml): `DB` (D1), `BLOBS` (R2), `RATE_LIMITER` (the Durable Object
//! namespace).

use std::sync::Arc;

use molts_core::gateway::{Background, Runtime};
use molts_core::{Gateway, Ports, SystemClock, SystemIds};
use molts_d1::D1Store;
use molts_demo::DemoProvider;
use molts_durable_limiter::DurableRateLimiter;
use molts_r2::R2BlobStore;
use worker::Env;

use crate::config::Settings;

/// A setting or secret by name (`[vars]` and `wrangler secret put` both land in the env).
pub(crate) fn lookup(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|s| s.to_string()))
        .ok()
}

/// Builds and bootstraps the gateway over the Worker's bindings.
pub(crate) async fn gateway(env: &Env) -> Result<(Gateway, Settings), String> {
    let settings = Settings::from_lookup(|name| lookup(env, name))?;
    let db = env
        .d1("DB")
        .map_err(|e| format!("the D1 binding `DB` is missing from wrangler.toml: {e}"))?;
    let bucket = env
        .bucket("BLOBS")
        .map_err(|e| format!("the R2 binding `BLOBS` is missing from wrangler.toml: {e}"))?;
    let limiter = env.durable_object("RATE_LIMITER").map_err(|e| {
        format!("the Durable Object binding `RATE_LIMITER` is missing from wrangler.toml: {e}")
    })?;
    let runtime = Runtime {
        ports: Ports {
            stores: D1Store::new(db).into_stores(),
            // chrono reads `Date.now()` on wasm32, so the system clock is the Worker's clock.
            clock: Arc::new(SystemClock),
            ids: Arc::new(SystemIds),
            rate_limiter: Arc::new(DurableRateLimiter::new(limiter)),
        },
        // Workers' fetch resolves and connects itself: webhooks and what tenants or providers
        // chose get the URL-text checks only (see molts-fetch and docs/deploy/cloudflare.md).
        outbound: molts_fetch::worker_outbound(&settings.shared.gateway.webhooks.allowed_hosts),
        blobs: Arc::new(R2BlobStore::new(bucket)),
        providers: molts_fetch::worker_providers(&|name| lookup(env, name)),
        demo: Arc::new(DemoProvider),
        // The gateway lives for the isolate, longer than any one request's `waitUntil`.
        background: Background::BeforeAnswering,
    };
    let gateway = Gateway::wire(runtime, &settings.shared).map_err(|e| e.message().to_owned())?;
    let report = gateway
        .bootstrap(Some(&settings.admin_token))
        .await
        .map_err(|e| format!("bootstrap failed: {e}"))?;
    if report.admin_token_revoked {
        worker::console_warn!(
            "MOLTS_ADMIN_TOKEN was revoked by an admin and stays revoked; choose a new one"
        );
    }
    Ok((gateway, settings))
}
