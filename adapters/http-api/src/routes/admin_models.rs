//! Admin routes for model configs, with the seed config service's `?type=` and `?status=`
//! filters (plus `?provider=` and `?enabled=`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use molts_core::ErrorCode;
use molts_core::domain::{Modality, ModelConfig, ModelFilter, ModelStatus, Provider};
use molts_core::gateway::ModelPatch;
use molts_core::{Error, ErrorKind};
use serde::Deserialize;

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery};
use crate::views::List;

#[derive(Deserialize)]
pub(super) struct ModelQuery {
    #[serde(rename = "type")]
    modality: Option<String>,
    status: Option<String>,
    provider: Option<String>,
    enabled: Option<bool>,
    alias: Option<String>,
}

fn bad(param: &'static str, allowed: &str) -> Error {
    Error::new(
        ErrorKind::Invalid,
        format!("{param} must be one of: {allowed}"),
    )
    .with_code(ErrorCode::InvalidValue)
    .with_param(param)
}

impl ModelQuery {
    fn filter(self) -> Result<ModelFilter, Error> {
        let modality = self
            .modality
            .map(|m| {
                Modality::parse(&m)
                    .ok_or_else(|| bad("type", "text, image, speech, video, stock, render"))
            })
            .transpose()?;
        let status = self
            .status
            .map(|s| {
                ModelStatus::parse(&s).ok_or_else(|| bad("status", "active, beta, deprecated"))
            })
            .transpose()?;
        let provider = self
            .provider
            .map(|p| {
                Provider::parse(&p).ok_or_else(|| bad("provider", "a provider name such as openai"))
            })
            .transpose()?;
        Ok(ModelFilter {
            modality,
            status,
            provider,
            enabled_only: self.enabled == Some(true),
            alias: self.alias,
        })
    }
}

pub(super) async fn list(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<ModelQuery>,
) -> ApiResult<Json<List<ModelConfig>>> {
    let disabled_only = q.enabled == Some(false);
    let mut models = state
        .gateway
        .admin_list_models(&admin, &q.filter()?)
        .await?;
    if disabled_only {
        models.retain(|m| !m.enabled);
    }
    Ok(Json(List::of(models)))
}

pub(super) async fn get(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ModelConfig>> {
    Ok(Json(state.gateway.admin_get_model(&admin, &id).await?))
}

pub(super) async fn create(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiJson(model): ApiJson<ModelConfig>,
) -> ApiResult<(StatusCode, Json<ModelConfig>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.gateway.admin_create_model(&admin, model).await?),
    ))
}

pub(super) async fn replace(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(model): ApiJson<ModelConfig>,
) -> ApiResult<Json<ModelConfig>> {
    Ok(Json(
        state
            .gateway
            .admin_replace_model(&admin, &id, model)
            .await?,
    ))
}

pub(super) async fn update(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<ModelPatch>,
) -> ApiResult<Json<ModelConfig>> {
    Ok(Json(
        state.gateway.admin_patch_model(&admin, &id, patch).await?,
    ))
}

pub(super) async fn remove(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.gateway.admin_delete_model(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
