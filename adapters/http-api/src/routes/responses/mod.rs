//! `POST /v1/responses`: OpenAI's Responses API for text, which OpenAI's Agents SDK and the
//! Vercel AI SDK's default `openai(...)` provider call. It is chat by another shape: the body
//! becomes the same core `TextRequest` `/v1/chat/completions` sends, through the same
//! `generate_text`/`stream_text` (quota hold, routing with fallbacks, settle or refund), so
//! every text provider serves it and every refusal is the one error format. molts keeps no
//! responses: `previous_response_id` is refused and `store` changes nothing.

mod request;
mod stream;
mod view;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use molts_core::domain::Modality;
use molts_core::gateway::AgentPrincipal;

use super::generate::model_id;
use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::sse;
use request::CreateResponse;
use stream::Events;
use view::{Message, ResponseView, item_status};

/// `POST /v1/responses`: one Response object, or its events as SSE with `stream: true`.
pub(super) async fn create(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiJson(body): ApiJson<CreateResponse>,
) -> ApiResult<Response> {
    let parsed = body.parse()?;
    let model = model_id(&state, &principal, parsed.model, Modality::Text).await?;
    let gateway = &state.gateway;
    let id = gateway.new_id("resp");
    let item_id = gateway.new_id("msg");
    let created_at = gateway.now().timestamp();
    if !parsed.stream {
        let generated = gateway
            .generate_text(&principal, &model, parsed.request)
            .await?;
        let out = generated.output;
        let mut response = ResponseView::begun(id, created_at, generated.model.id, parsed.echo);
        let message = Message::with_text(item_id, out.text, item_status(out.finish_reason));
        let now = gateway.now().timestamp();
        response.finish(message, out.finish_reason, Some(out.usage), now);
        return Ok(Json(response).into_response());
    }
    // Refusals (quota, model, provider down before the first byte) are still plain errors here.
    let generated = gateway
        .stream_text(&principal, &model, parsed.request)
        .await?;
    let response = ResponseView::begun(id, created_at, generated.model.id, parsed.echo);
    let events = Events::new(response, item_id);
    Ok(sse::response(
        events.over(generated.output, gateway.clone()),
    ))
}
