//! molts-http-api: the one axum [`Router`] every runtime serves (standalone, Lambda, Workers).
//!
//! [`router`] takes an [`ApiState`] holding the core [`Gateway`] (itself built from ports as
//! `Arc<dyn …>`), so a runtime only chooses adapters and never routes. Every response carries an
//! `x-request-id`; every error is `{"error":{"message","type","code","param"}}`.

mod base_url;
mod client;
mod error;
mod extract;
mod metrics;
mod middleware;
mod request_log;
mod request_record;
mod routes;
mod sse;
mod views;

use molts_core::ErrorCode;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use molts_core::{Error, ErrorKind, Gateway};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub use client::ClientAddress;
pub use error::{ApiError, ApiResult, status_and_type};
pub use extract::parse_json;
pub use request_log::{RequestSpan, logged_path, request_log};

/// Largest request body accepted by default (SOUL.md texts are at most 64 KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the router needs.
#[derive(Clone)]
pub struct ApiState {
    /// The core service.
    pub gateway: Gateway,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl ApiState {
    /// State with default limits.
    pub fn new(gateway: Gateway) -> Self {
        Self {
            gateway,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the molts router: the API, its error format, request ids and body limits.
pub fn router(state: ApiState) -> Router {
    let max_body = state.max_body_bytes;
    routes::routes(state)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn not_found() -> ApiError {
    ApiError(Error::new(ErrorKind::NotFound, "no such route").with_code(ErrorCode::RouteNotFound))
}

async fn method_not_allowed() -> ApiError {
    ApiError(Error::coded(
        ErrorCode::MethodNotAllowed,
        "this route does not accept that method",
    ))
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError(Error::internal("a handler panicked")).into_response()
}

/// How long clients are told to wait when the rate limiter itself cannot answer.
pub(crate) const LIMITER_DOWN_RETRY: Duration = Duration::from_secs(1);
