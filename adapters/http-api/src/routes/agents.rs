//! Agent-facing routes: registration, profile, own keys, usage and the model list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::{Extension, Json};
use molts_core::ErrorCode;
use molts_core::domain::NewAgent;
use molts_core::gateway::{AgentPrincipal, NewKeyRequest, PersonaSubmission, UsageReport};

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, bearer};
use crate::views::{IssuedKeyView, KeyView, List, MeView, ModelView, RegisteredView};

/// `POST /v1/agents/register` (and the seed's `/agents/register`). An admin key in the
/// Authorization header registers as that admin, whatever the instance's mode; without one,
/// registrations are limited per client address (`client.rs`).
pub(super) async fn register(
    State(state): State<ApiState>,
    parts: Parts,
    ApiJson(mut body): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    // `persona` is molts' addition to the seed's registration body: parsed on its own so the
    // agent fields keep their strict, field-naming errors.
    let persona = match body.remove("persona") {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(
            serde_json::from_value::<PersonaSubmission>(value).map_err(|e| {
                molts_core::Error::invalid("persona", format!("persona: {e}"))
                    .with_code(ErrorCode::InvalidValue)
            })?,
        ),
    };
    let bytes = serde_json::to_vec(&body)
        .map_err(|_| molts_core::Error::invalid("body", "the body is not valid JSON"))?;
    let request: NewAgent = crate::extract::parse_json(&bytes)?;
    let admin = match bearer(&parts)? {
        Some(token) => Some(state.gateway.authenticate_admin(&token).await?),
        None => None,
    };
    let client = crate::client::client_address(&parts);
    let registered = state
        .gateway
        .register_agent_from(request, admin.as_ref(), client)
        .await?;
    let secret = registered.key.secret.clone();
    let mut view = serde_json::to_value(RegisteredView::from(registered))
        .map_err(|_| molts_core::Error::internal("could not encode the registration"))?;
    if let Some(persona) = persona {
        // The agent exists and its key is in this response: a persona that cannot be started
        // is reported beside it, never by failing the registration (the key would be lost).
        let outcome = async {
            let principal = state.gateway.authenticate_agent(&secret).await?;
            state
                .gateway
                .submit_persona(&principal, persona, None)
                .await
        }
        .await;
        view["persona"] = match outcome {
            Ok(submitted) => serde_json::to_value(submitted.job).unwrap_or_default(),
            Err(e) => {
                serde_json::json!({"error": {"message": e.message(), "code": e.code().map(|c| c.as_str()), "param": e.param()}})
            }
        };
    }
    Ok((StatusCode::CREATED, Json(view)))
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
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.gateway.revoke_own_key(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/models/{id}`: one model the caller may use (OpenAI's `models.retrieve`).
pub(super) async fn model(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiPath(id): ApiPath<String>,
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
