//! `GET /metrics` on the standalone binary: the Prometheus text of what the shared router
//! records through the `metrics` facade (molts-http-api's `metrics.rs`), held by the
//! Prometheus recorder installed here at start. Readable with an operator admin key or
//! `MOLTS_METRICS_TOKEN`; anyone else gets the one error format's 401 or 403.

use std::fmt;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use molts_core::{Error, ErrorCode, Gateway};
use molts_http_api::ApiError;

/// Histogram buckets, in seconds: from a cached model lookup to a long provider call.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// The shortest token accepted: a guessable one would expose the metrics.
const MIN_TOKEN_CHARS: usize = 24;

/// `MOLTS_METRICS_TOKEN`, checked to be long enough; never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MetricsToken(String);

impl MetricsToken {
    pub(crate) fn new(token: String) -> Result<Self, String> {
        if token.trim().chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "MOLTS_METRICS_TOKEN must be at least {MIN_TOKEN_CHARS} characters"
            ));
        }
        Ok(Self(token.trim().to_owned()))
    }

    /// Compares without stopping at the first difference.
    fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsToken(***)")
    }
}

/// Installs the process's Prometheus recorder; `None` (logged) when one is already installed.
pub(crate) fn install() -> Option<PrometheusHandle> {
    let built = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .and_then(PrometheusBuilder::install_recorder);
    match built {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "metrics are not recorded");
            None
        }
    }
}

/// Drains the recorder's histogram samples into their buckets every few seconds, as the
/// exporter asks of whoever installs it without its own listener: between scrapes they would
/// otherwise pile up.
pub(crate) async fn upkeep(handle: PrometheusHandle) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        handle.run_upkeep();
    }
}

#[derive(Clone)]
struct MetricsState {
    handle: PrometheusHandle,
    gateway: Gateway,
    token: Option<MetricsToken>,
}

/// The `/metrics` route, to merge into the served router.
pub(crate) fn routes(
    handle: PrometheusHandle,
    gateway: Gateway,
    token: Option<MetricsToken>,
) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(MetricsState {
            handle,
            gateway,
            token,
        })
}

async fn render(State(state): State<MetricsState>, headers: HeaderMap) -> Response {
    if let Err(e) = allowed(&state, &headers).await {
        return ApiError(e).into_response();
    }
    let mut response = state.handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn allowed(state: &MetricsState, headers: &HeaderMap) -> Result<(), Error> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            Error::unauthorized(
                "send 'Authorization: Bearer <operator key or MOLTS_METRICS_TOKEN>'",
            )
            .with_code(ErrorCode::MissingApiKey)
        })?;
    if state.token.as_ref().is_some_and(|t| t.matches(presented)) {
        return Ok(());
    }
    let admin = state.gateway.authenticate_admin(presented).await?;
    admin.require_operator()
}
