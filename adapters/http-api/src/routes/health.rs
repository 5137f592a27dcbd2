//! `GET /health`: the seed's `{"status":"ok"}`, after a real read of the store. `GET
//! /health/ready`: every dependency checked (store, blob store), 503 naming those down.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::ApiState;
use crate::error::ApiResult;

pub(super) async fn health(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    // One cheap read proves the store answers; a down database is a 503, not a lie.
    state.gateway.stores().tiers.get_tier("free").await?;
    Ok(Json(
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
    ))
}

pub(super) async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let readiness = state.gateway.readiness().await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let down = readiness.down();
    (
        status,
        Json(json!({
            "status": if down.is_empty() { "ready" } else { "unavailable" },
            "down": down,
            "checks": readiness,
        })),
    )
}
