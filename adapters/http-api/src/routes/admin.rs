//! Admin routes for instances, projects, tiers and admin keys. Scope checks live in core; these
//! handlers only translate HTTP.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use molts_core::domain::{AdminKey, Project, Tier};
use molts_core::gateway::{AdminKeyRequest, InstancePatch, NewInstance, NewProject};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery};
use crate::views::{InstanceView, List};

pub(super) async fn whoami(Admin(admin): Admin) -> Json<Value> {
    Json(json!({"key_id": admin.key_id, "scope": admin.scope, "read_only": admin.read_only}))
}

pub(super) async fn list_instances(
    State(state): State<ApiState>,
    Admin(admin): Admin,
) -> ApiResult<Json<List<InstanceView>>> {
    let list = state.gateway.admin_list_instances(&admin).await?;
    Ok(Json(List::of(
        list.into_iter().map(InstanceView::from).collect(),
    )))
}

pub(super) async fn create_instance(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiJson(request): ApiJson<NewInstance>,
) -> ApiResult<(StatusCode, Json<InstanceView>)> {
    let instance = state.gateway.admin_create_instance(&admin, request).await?;
    Ok((StatusCode::CREATED, Json(instance.into())))
}

pub(super) async fn get_instance(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(
        state.gateway.admin_get_instance(&admin, &id).await?.into(),
    ))
}

pub(super) async fn update_instance(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<InstancePatch>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(
        state
            .gateway
            .admin_update_instance(&admin, &id, patch)
            .await?
            .into(),
    ))
}

pub(super) async fn delete_instance(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.gateway.admin_delete_instance(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub(super) struct ProjectQuery {
    instance_id: Option<String>,
}

pub(super) async fn list_projects(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiQuery(query): ApiQuery<ProjectQuery>,
) -> ApiResult<Json<List<Project>>> {
    let instance_id = query
        .instance_id
        .or_else(|| admin.scope.instance_id().map(str::to_owned))
        .unwrap_or_else(|| state.gateway.config().default_instance.clone());
    Ok(Json(List::of(
        state
            .gateway
            .admin_list_projects(&admin, &instance_id)
            .await?,
    )))
}

pub(super) async fn create_project(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiJson(request): ApiJson<NewProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.gateway.admin_create_project(&admin, request).await?),
    ))
}

pub(super) async fn delete_project(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.gateway.admin_delete_project(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_tiers(
    State(state): State<ApiState>,
    Admin(admin): Admin,
) -> ApiResult<Json<List<Tier>>> {
    Ok(Json(List::of(
        state.gateway.admin_list_tiers(&admin).await?,
    )))
}

pub(super) async fn get_tier(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Tier>> {
    Ok(Json(state.gateway.admin_get_tier(&admin, &id).await?))
}

pub(super) async fn create_tier(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiJson(tier): ApiJson<Tier>,
) -> ApiResult<(StatusCode, Json<Tier>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.gateway.admin_create_tier(&admin, tier).await?),
    ))
}

pub(super) async fn replace_tier(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(tier): ApiJson<Tier>,
) -> ApiResult<Json<Tier>> {
    Ok(Json(
        state.gateway.admin_replace_tier(&admin, &id, tier).await?,
    ))
}

pub(super) async fn delete_tier(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.gateway.admin_delete_tier(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_keys(
    State(state): State<ApiState>,
    Admin(admin): Admin,
) -> ApiResult<Json<List<AdminKey>>> {
    Ok(Json(List::of(
        state.gateway.admin_list_admin_keys(&admin).await?,
    )))
}

/// A new admin key with its secret, shown this once.
#[derive(Serialize)]
pub(super) struct IssuedAdminKeyView {
    #[serde(flatten)]
    key: AdminKey,
    secret: String,
    warning: &'static str,
}

pub(super) async fn create_key(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiJson(request): ApiJson<AdminKeyRequest>,
) -> ApiResult<(StatusCode, Json<IssuedAdminKeyView>)> {
    let issued = state
        .gateway
        .admin_create_admin_key(&admin, request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedAdminKeyView {
            key: issued.key,
            secret: issued.secret,
            warning: "Store secret now: molts keeps only its hash and cannot show it again.",
        }),
    ))
}

pub(super) async fn revoke_key(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.gateway.admin_revoke_admin_key(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn provider_of(name: &str) -> Result<molts_core::domain::Provider, molts_core::Error> {
    molts_core::domain::Provider::parse(name)
        .ok_or_else(|| molts_core::Error::not_found("provider", name).with_param("provider"))
}

/// `GET /v1/admin/instances/{id}/provider-keys`: which providers have the tenant's own key
/// (a hint of its last characters, never the key).
pub(super) async fn list_provider_keys(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<List<molts_core::domain::InstanceProviderKey>>> {
    Ok(Json(List::of(
        state.gateway.admin_list_provider_keys(&admin, &id).await?,
    )))
}

/// `PUT /v1/admin/instances/{id}/provider-keys/{provider}`: `{api_key, base_url?}`, sealed at rest.
pub(super) async fn put_provider_key(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath((id, provider)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<molts_core::gateway::ProviderKeyRequest>,
) -> ApiResult<Json<molts_core::domain::InstanceProviderKey>> {
    let provider = provider_of(&provider)?;
    Ok(Json(
        state
            .gateway
            .admin_put_provider_key(&admin, &id, provider, request)
            .await?,
    ))
}

/// `DELETE /v1/admin/instances/{id}/provider-keys/{provider}`.
pub(super) async fn delete_provider_key(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath((id, provider)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let provider = provider_of(&provider)?;
    state
        .gateway
        .admin_delete_provider_key(&admin, &id, provider)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
