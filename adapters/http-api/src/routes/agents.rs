//! Agent-facing routes: registration, profile, own keys, usage and the model list.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::{Extension, Json};
use molts_core::domain::NewAgent;
use molts_core::gateway::{AgentPrincipal, NewKeyRequest, UsageReport};

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, bearer};
use crate::views::{IssuedKeyView, KeyView, List, MeView, ModelView, RegisteredView};

/// `POST /v1/agents/register` (and the seed's `/agents/register`). An admin key in the
/// Authorization header registers as that admin, whatever the instance's mode.
pub(super) async fn register(
    State(state): State<ApiState>,
    parts: Parts,
    ApiJson(request): ApiJson<NewAgent>,
) -> ApiResult<(StatusCode, Json<RegisteredView>)> {
    let admin = match bearer(&parts)? {
        Some(token) => Some(state.gateway.authenticate_admin(&token).await?),
        None => None,
    };
    let registered = state
        .gateway
        .register_agent(request, admin.as_ref())
        .await?;
    Ok((StatusCode::CREATED, Json(registered.into())))
}

pub(super) async fn me(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
) -> ApiResult<Json<MeView>> {
    Ok(Json(state.gateway.me(&principal).await?.into()))
}

pub(super) async fn usage(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
) -> ApiResult<Json<UsageReport>> {
    Ok(Json(state.gateway.usage(&principal).await?))
}

pub(super) async fn list_keys(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
) -> ApiResult<Json<List<KeyView>>> {
    let keys = state.gateway.list_own_keys(&principal).await?;
    Ok(Json(List::of(
        keys.into_iter()
            .map(|k| KeyView::new(k, &principal.key_id))
            .collect(),
    )))
}

pub(super) async fn create_key(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiJson(request): ApiJson<NewKeyRequest>,
) -> ApiResult<(StatusCode, Json<IssuedKeyView>)> {
    let issued = state.gateway.create_own_key(&principal, request).await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

pub(super) async fn revoke_key(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.gateway.revoke_own_key(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/models/{id}`: one model the caller may use (OpenAI's `models.retrieve`).
pub(super) async fn model(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ModelView>> {
    match state
        .gateway
        .resolve_model(&principal.instance, &id, None)
        .await
    {
        Ok(model) => Ok(Json(model.into())),
        // An alias is listed like a model, so it can be retrieved like one.
        Err(e) => {
            let models = state.gateway.list_models_for(&principal, None).await?;
            match models
                .iter()
                .find(|m| m.alias.as_deref() == Some(id.as_str()))
            {
                Some(member) => Ok(Json(ModelView::alias(id.clone(), member))),
                None => Err(e.into()),
            }
        }
    }
}

/// `GET /v1/models`: OpenAI's list shape, only what the caller's instance may use.
pub(super) async fn models(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
) -> ApiResult<Json<List<ModelView>>> {
    let models = state.gateway.list_models_for(&principal, None).await?;
    // Aliases are listed like models, so OpenAI clients can pick them.
    let mut aliases: Vec<ModelView> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for m in &models {
        if let Some(alias) = &m.alias {
            if seen.insert(alias.clone()) {
                aliases.push(ModelView::alias(alias.clone(), m));
            }
        }
    }
    let mut data: Vec<ModelView> = models.into_iter().map(ModelView::from).collect();
    data.extend(aliases);
    Ok(Json(List::of(data)))
}
