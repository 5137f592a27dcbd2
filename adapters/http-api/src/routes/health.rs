//! `GET /health`: the seed's `{"status":"ok"}`, after a real read of the store.

use axum::Json;
use axum::extract::State;
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
