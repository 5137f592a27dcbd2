//! Admin routes for agents: list (paged, filtered), get with usage, create, change tier,
//! suspend, activate, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use molts_core::domain::{Agent, AgentPatch, AgentStatus, NewAgent};
use molts_core::gateway::{AgentDetail, AgentListRequest};
use serde::Deserialize;

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery};
use crate::views::{List, RegisteredView};

#[derive(Deserialize)]
pub(super) struct AgentListQuery {
    instance_id: Option<String>,
    project_id: Option<String>,
    tier: Option<String>,
    status: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

pub(super) async fn list(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<AgentListQuery>,
) -> ApiResult<Json<List<Agent>>> {
    let request = AgentListRequest {
        instance_id: q.instance_id,
        project_id: q.project_id,
        tier_id: q.tier,
        status: q.status,
        after: q.after,
        limit: q.limit,
    };
    let page = state.gateway.admin_list_agents(&admin, request).await?;
    Ok(Json(List::page(page.data, page.has_more)))
}

pub(super) async fn get(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AgentDetail>> {
    Ok(Json(state.gateway.admin_get_agent(&admin, &id).await?))
}

pub(super) async fn create(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiJson(request): ApiJson<NewAgent>,
) -> ApiResult<(StatusCode, Json<RegisteredView>)> {
    let registered = state.gateway.admin_create_agent(&admin, request).await?;
    Ok((StatusCode::CREATED, Json(registered.into())))
}

pub(super) async fn update(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<AgentPatch>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(
        state.gateway.admin_update_agent(&admin, &id, patch).await?,
    ))
}

async fn set_status(
    state: &ApiState,
    admin: &molts_core::gateway::AdminPrincipal,
    id: &str,
    status: AgentStatus,
) -> ApiResult<Json<Agent>> {
    let patch = AgentPatch {
        status: Some(status),
        ..AgentPatch::default()
    };
    Ok(Json(
        state.gateway.admin_update_agent(admin, id, patch).await?,
    ))
}

pub(super) async fn suspend(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Agent>> {
    set_status(&state, &admin, &id, AgentStatus::Suspended).await
}

pub(super) async fn activate(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Agent>> {
    set_status(&state, &admin, &id, AgentStatus::Active).await
}

pub(super) async fn remove(
    State(state): State<ApiState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.gateway.admin_delete_agent(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
