//! Provider callbacks: unauthenticated by agent keys, verified instead by the job's secret
//! token in the URL (Shotstack, Tavus, HeyGen's per-video callback) or HeyGen's HMAC signature.
//! A verified callback answers 204 whatever the job's state; anything else 401.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::ApiPath;

pub(super) async fn job(
    State(state): State<ApiState>,
    ApiPath((job_id, token)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    // The body is not trusted: the job's provider is asked where it stands.
    state.gateway.job_callback(&job_id, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn heygen(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let signature = headers
        .get("signature")
        .or_else(|| headers.get("x-heygen-signature"))
        .and_then(|v| v.to_str().ok());
    state.gateway.heygen_callback(signature, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
