//! molts-cloudflare: molts on Cloudflare Workers.
//!
//! One Worker serves `molts_http_api::router` (the same router the standalone binary serves; no
//! route is defined here) over D1 (molts-d1), a Durable Object rate limiter
//! (molts-durable-limiter), outbound fetch (molts-fetch) and the offline demo provider. A cron
//! trigger runs `Gateway::run_scheduled_work`. The Durable Object class `RateLimiterObject` is
//! exported from here so wrangler.toml can bind it.
//!
//! Build with `worker-build --release` (scripts/workers-conformance.sh shows the tool setup);
//! run with `wrangler dev`; deploy with `wrangler deploy` (docs/deploy/cloudflare.md).

pub mod config;
#[cfg(feature = "contract-tests")]
mod contract;
mod wiring;

use molts_core::ErrorCode;
use std::cell::RefCell;

use axum::Router;
use axum::response::IntoResponse;
use molts_core::{Error, ErrorKind, Gateway};
use molts_http_api::{ApiError, ApiState, router};
use tower::ServiceExt;
use worker::{Context, Env, HttpRequest, ScheduleContext, ScheduledEvent, event};

pub use molts_durable_limiter::RateLimiterObject;

/// What an isolate keeps between requests.
#[derive(Clone)]
struct App {
    gateway: Gateway,
    router: Router,
    max_body_bytes: usize,
}

thread_local! {
    // A Worker isolate is single-threaded; this is its one app, built on the first event.
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

/// The isolate's app, built (and the gateway bootstrapped) on first use. Two first requests
/// racing both bootstrap; that is safe (bootstrap is idempotent) and only happens once.
async fn app(env: &Env) -> Result<App, String> {
    if let Some(app) = APP.with(|a| a.borrow().clone()) {
        return Ok(app);
    }
    let (gateway, settings) = wiring::gateway(env).await?;
    let state = ApiState {
        max_body_bytes: settings.max_body_bytes,
        ..ApiState::new(gateway.clone())
    };
    let app = App {
        gateway,
        router: router(state),
        max_body_bytes: settings.max_body_bytes,
    };
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    Ok(app)
}

/// The answer while the Worker is misconfigured: the one error format, the cause in the logs.
fn not_configured(cause: &str) -> axum::response::Response {
    worker::console_error!("molts cannot start: {cause}");
    ApiError(
        Error::new(
            ErrorKind::Unavailable,
            "molts is not configured correctly; the Worker's logs say why",
        )
        .with_code(ErrorCode::NotConfigured),
    )
    .into_response()
}

#[event(fetch)]
async fn fetch(
    req: HttpRequest,
    env: Env,
    _ctx: Context,
) -> worker::Result<axum::response::Response> {
    #[cfg(feature = "contract-tests")]
    if req.uri().path().starts_with(contract::PREFIX) {
        return Ok(contract::handle(req, &env).await);
    }
    let app = match app(&env).await {
        Ok(app) => app,
        Err(cause) => return Ok(not_configured(&cause)),
    };
    let mut req = read_body(req, app.max_body_bytes).await;
    // Cloudflare sets CF-Connecting-IP itself (a client's own is replaced), so it is the client.
    if let Some(address) = req
        .headers()
        .get("cf-connecting-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
    {
        req.extensions_mut()
            .insert(molts_http_api::ClientAddress(address));
    }
    match app.router.oneshot(req).await {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

/// The request with its body read whole before routing: at most `max + 1` bytes kept (enough for
/// the router's limit to answer 413 in the one error format), the rest read and dropped.
///
/// Why: the router answers some requests (a 404, a 400 on a bad name) without reading their
/// body, and under `wrangler dev` a request body left unread breaks the dev proxy's connection
/// to the Worker, so the *next* non-GET request gets wrangler's own 503 ("restarted
/// mid-request"). Reading every body also bounds what one request holds: Cloudflare caps
/// request bodies (100 MB on the free plan) and the router buffers its inputs anyway.
async fn read_body(req: HttpRequest, max: usize) -> http::Request<axum::body::Body> {
    use futures::StreamExt;
    let (parts, body) = req.into_parts();
    let mut stream = axum::body::Body::new(body).into_data_stream();
    let mut kept: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        // A client that hung up mid-body: pass on what arrived; the router refuses it.
        let Ok(chunk) = chunk else { break };
        let room = (max + 1).saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    http::Request::from_parts(parts, axum::body::Body::from(kept))
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let app = match app(&env).await {
        Ok(app) => app,
        Err(cause) => {
            worker::console_error!("molts cannot start: {cause}");
            return;
        }
    };
    match app.gateway.run_scheduled_work().await {
        Ok(report) => worker::console_log!(
            "molts scheduled work ({}): {}",
            event.cron(),
            serde_json::to_string(&report).unwrap_or_default()
        ),
        // Thrown to the runtime would only retry the same cron; log it and wait for the next.
        Err(e) => worker::console_error!("molts scheduled work failed: {e}"),
    }
}
