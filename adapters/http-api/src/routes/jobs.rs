//! Durable jobs over HTTP: videos (also at the seed's `/videos/...` paths, in the seed's shape),
//! renders, the generic `/v1/jobs` list / read / cancel, and the agent's webhook endpoint and
//! delivery log. Submissions answer `202 Accepted`; an `Idempotency-Key` header makes a retry
//! answer the same job (with `Idempotent-Replayed: true`) and charge once.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use molts_core::Error;
use molts_core::domain::{JobKind, JobStatus, WebhookDelivery};
use molts_core::gateway::{AgentPrincipal, JobView, RenderSubmission, Submitted, VideoSubmission};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ApiState;
use crate::base_url::RequestBase;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::List;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.to_owned())).map_err(|_| {
            Error::invalid("Idempotency-Key", "Idempotency-Key must be printable ASCII")
        }),
    }
}

fn accepted<T: Serialize>(submitted: &Submitted, body: T) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if submitted.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A video in the seed's shape (`video_id`, `status` processing|ready|failed, `script`, `url`,
/// `duration`, `created_at`, `agent`), plus molts' own fields.
#[derive(Serialize)]
pub(super) struct VideoView {
    video_id: String,
    status: &'static str,
    script: Value,
    url: Option<String>,
    duration: Option<f64>,
    created_at: chrono::DateTime<chrono::Utc>,
    agent: molts_core::gateway::JobAgent,
    job_status: JobStatus,
    model: String,
    artifact_id: Option<String>,
    error: Option<molts_core::domain::JobError>,
}

impl From<JobView> for VideoView {
    fn from(job: JobView) -> Self {
        Self {
            video_id: job.id,
            // The seed knew three states; queued is still "processing" to it, canceled "failed".
            status: match job.status {
                JobStatus::Queued | JobStatus::Processing => "processing",
                JobStatus::Ready => "ready",
                JobStatus::Failed | JobStatus::Canceled => "failed",
            },
            script: job.input.get("script").cloned().unwrap_or(Value::Null),
            url: job.url,
            duration: job.duration,
            created_at: job.created_at,
            agent: job.agent,
            job_status: job.status,
            model: job.model,
            artifact_id: job.artifact_id,
            error: job.error,
        }
    }
}

pub(super) async fn generate_video(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VideoSubmission>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let submitted = state
        .gateway
        .submit_video(&principal, request, key.as_deref())
        .await?;
    let body = VideoView::from(located(&base, submitted.job.clone()));
    Ok(accepted(&submitted, body))
}

/// `job` with its `url` absolute (see [`RequestBase`]).
fn located(base: &RequestBase, mut job: JobView) -> JobView {
    job.url = base.absolute_opt(job.url);
    job
}

/// A page of jobs with absolute URLs.
fn located_page(base: &RequestBase, jobs: Vec<JobView>, has_more: bool) -> List<JobView> {
    List::page(
        jobs.into_iter().map(|j| located(base, j)).collect(),
        has_more,
    )
}

async fn own_job_of_kind(
    state: &ApiState,
    principal: &AgentPrincipal,
    id: &str,
    kind: JobKind,
) -> ApiResult<JobView> {
    let job = state.gateway.job(principal, id).await?;
    if job.kind != kind {
        return Err(Error::not_found(kind.as_str(), id).into());
    }
    Ok(job)
}

pub(super) async fn get_video(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<VideoView>> {
    let job = own_job_of_kind(&state, &principal, &id, JobKind::Video).await?;
    Ok(Json(located(&base, job).into()))
}

pub(super) async fn create_render(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RenderSubmission>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let submitted = state
        .gateway
        .submit_render(&principal, request, key.as_deref())
        .await?;
    let body = located(&base, submitted.job.clone());
    Ok(accepted(&submitted, body))
}

pub(super) async fn create_persona(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    headers: HeaderMap,
    ApiJson(request): ApiJson<molts_core::gateway::PersonaSubmission>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let submitted = state
        .gateway
        .submit_persona(&principal, request, key.as_deref())
        .await?;
    let body = located(&base, submitted.job.clone());
    Ok(accepted(&submitted, body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub(super) async fn list_personas(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<JobView>>> {
    let page = state
        .gateway
        .list_jobs(&principal, Some(JobKind::Persona), None, q.before, q.limit)
        .await?;
    Ok(Json(located_page(&base, page.data, page.has_more)))
}

pub(super) async fn get_render(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobView>> {
    let job = own_job_of_kind(&state, &principal, &id, JobKind::Render).await?;
    Ok(Json(located(&base, job)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobsQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub(super) async fn list_jobs(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<Json<List<JobView>>> {
    let status = q
        .status
        .map(|s| {
            JobStatus::parse(&s).ok_or_else(|| {
                Error::invalid(
                    "status",
                    "status must be one of queued, processing, ready, failed, canceled",
                )
            })
        })
        .transpose()?;
    let kind = q
        .kind
        .map(|k| {
            JobKind::parse(&k).ok_or_else(|| Error::invalid("kind", "kind must be video or render"))
        })
        .transpose()?;
    let page = state
        .gateway
        .list_jobs(&principal, kind, status, q.before, q.limit)
        .await?;
    Ok(Json(located_page(&base, page.data, page.has_more)))
}

pub(super) async fn get_job(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobView>> {
    Ok(Json(located(
        &base,
        state.gateway.job(&principal, &id).await?,
    )))
}

pub(super) async fn cancel_job(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobView>> {
    Ok(Json(located(
        &base,
        state.gateway.cancel_job(&principal, &id).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveriesQuery {
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub(super) async fn list_deliveries(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<List<WebhookDelivery>>> {
    let rows = state
        .gateway
        .webhook_deliveries(&principal, q.job_id.as_deref(), q.limit)
        .await?;
    Ok(Json(List::of(rows)))
}

pub(super) async fn get_webhook(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
) -> ApiResult<Json<molts_core::gateway::WebhookEndpointView>> {
    Ok(Json(state.gateway.webhook_endpoint(&principal).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WebhookUpdate {
    /// The URL, or null to stop sending to an endpoint.
    url: Option<String>,
    /// Make a new signing secret.
    #[serde(default)]
    rotate_secret: bool,
}

pub(super) async fn put_webhook(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiJson(update): ApiJson<WebhookUpdate>,
) -> ApiResult<Json<molts_core::gateway::WebhookEndpointView>> {
    Ok(Json(
        state
            .gateway
            .set_webhook_endpoint(&principal, update.url, update.rotate_secret)
            .await?,
    ))
}
