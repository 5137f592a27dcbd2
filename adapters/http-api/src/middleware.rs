//! Agent authentication and per-agent rate limiting, as one middleware so that every agent route
//! gets both and every response (allowed or refused) carries the `x-ratelimit-*` headers.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use molts_core::gateway::RequestNotes;
use molts_core::ports::RateDecision;

use crate::ApiState;
use crate::error::ApiError;
use crate::extract::required_bearer;
use crate::request_record::Caller;

/// Authenticates the bearer key, counts the request against the tier's rate, and hands the
/// [`molts_core::gateway::AgentPrincipal`] to the handler as a request extension.
pub(crate) async fn agent_auth(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let token = match required_bearer(&parts) {
        Ok(t) => t,
        Err(e) => return ApiError(e).into_response(),
    };
    let mut principal = match state.gateway.authenticate_agent(&token).await {
        Ok(p) => p,
        Err(e) => return ApiError(e).into_response(),
    };
    // The request log's notes and caller, when the request is being recorded.
    if let Some(notes) = parts.extensions.get::<RequestNotes>() {
        principal.notes = notes.clone();
    }
    if let Some(caller) = parts.extensions.get::<Caller>() {
        caller.agent(&principal, &token);
    }
    let decision = match state.gateway.check_rate(&principal).await {
        Ok(decision) => decision,
        Err((error, decision)) => {
            let error = if error.retry_after().is_none() {
                error.with_retry_after(crate::LIMITER_DOWN_RETRY)
            } else {
                error
            };
            let mut response = ApiError(error).into_response();
            if let Some(d) = decision {
                rate_headers(&mut response, d);
            }
            return response;
        }
    };
    parts.extensions.insert(principal);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(d) = decision {
        rate_headers(&mut response, d);
    }
    response
}

fn rate_headers(response: &mut Response, d: RateDecision) {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    let reset = d.reset_after.as_secs() + u64::from(d.reset_after.subsec_nanos() > 0);
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
}
