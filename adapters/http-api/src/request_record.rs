//! Recording every API request in the request log (`molts_core::gateway` `request_log.rs`):
//! a route layer that knows the matched route template, counts the bytes in and out, hands core
//! recording notes through the caller's principal, and queues one record when the answer is
//! finished — at once for a whole answer, at its end for a stream.
//!
//! Who called is filled in by whoever authenticates (the agent middleware, the admin
//! extractor) through the [`Caller`] shared in the request's extensions. Nothing secret is
//! recorded: a key's id and its lookup prefix, the route's template (a callback's token never),
//! and no body.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures::{Stream, StreamExt};
use molts_core::domain::{self, RequestRecord};
use molts_core::gateway::{AdminPrincipal, AgentPrincipal, RequestNotes};
use molts_core::secret::LOOKUP_PREFIX_LEN;
use molts_core::{ErrorCode, Gateway, Timestamp};

use crate::ApiState;

/// Who made the request, as far as it is known; shared through the request's extensions.
#[derive(Clone, Default)]
pub(crate) struct Caller(Arc<Mutex<Identity>>);

#[derive(Clone)]
struct Identity {
    caller: domain::Caller,
    instance_id: Option<String>,
    agent_id: Option<String>,
    key_id: Option<String>,
    key_prefix: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            caller: domain::Caller::Anonymous,
            instance_id: None,
            agent_id: None,
            key_id: None,
            key_prefix: None,
        }
    }
}

/// The lookup prefix of a presented key: never more than the part molts stores in the clear.
fn prefix_of(token: &str) -> String {
    token.chars().take(LOOKUP_PREFIX_LEN).collect()
}

impl Caller {
    fn set(&self, identity: Identity) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = identity;
    }

    fn read(&self) -> Identity {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// An agent authenticated with `token`.
    pub(crate) fn agent(&self, principal: &AgentPrincipal, token: &str) {
        self.set(Identity {
            caller: domain::Caller::Agent,
            instance_id: Some(principal.agent.instance_id.clone()),
            agent_id: Some(principal.agent.id.clone()),
            key_id: Some(principal.key_id.clone()),
            key_prefix: Some(prefix_of(token)),
        });
    }

    /// An admin authenticated with `token`.
    pub(crate) fn admin(&self, admin: &AdminPrincipal, token: &str) {
        self.set(Identity {
            caller: domain::Caller::Admin,
            instance_id: admin.scope.instance_id().map(str::to_owned),
            agent_id: None,
            key_id: Some(admin.key_id.clone()),
            key_prefix: Some(prefix_of(token)),
        });
    }
}

/// What the layer knows before the answer.
struct Pending {
    gateway: Gateway,
    id: String,
    request_id: String,
    at: Timestamp,
    method: String,
    route: String,
    caller: Caller,
    notes: RequestNotes,
    bytes_in: Arc<AtomicU64>,
}

impl Pending {
    fn record(
        self,
        status: u16,
        error_code: Option<ErrorCode>,
        streamed: bool,
        bytes_out: u64,
    ) -> RequestRecord {
        let who = self.caller.read();
        let noted = self.notes.read();
        let latency_ms =
            u64::try_from((self.gateway.now() - self.at).num_milliseconds()).unwrap_or(0);
        RequestRecord {
            id: self.id,
            request_id: self.request_id,
            at: self.at,
            instance_id: who.instance_id,
            caller: who.caller,
            agent_id: who.agent_id,
            key_id: who.key_id,
            key_prefix: who.key_prefix,
            method: self.method,
            route: self.route,
            model: noted.model,
            provider: noted.attempts.last().map(|a| a.provider),
            attempts: noted.attempts,
            status,
            error_code,
            latency_ms,
            unit: noted.unit,
            units_held: noted.held,
            units_charged: noted.charged.unwrap_or(0),
            streamed,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out,
            job_id: noted.job_id,
            prompt: noted.prompt,
        }
    }
}

/// The route layer: `routes.route_layer(from_fn_with_state(state, record_request))`.
pub(crate) async fn record_request(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let gateway = state.gateway.clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    // Built whether or not the log is on: the metrics come from the same record.
    let Some(route) = route else {
        return next.run(request).await;
    };
    if route.ends_with("/health") || route == "/health/ready" {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let caller = Caller::default();
    let notes = RequestNotes::recording();
    parts.extensions.insert(caller.clone());
    parts.extensions.insert(notes.clone());
    let bytes_in = Arc::new(AtomicU64::new(0));
    let counted = bytes_in.clone();
    let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            counted.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        chunk
    }));
    let pending = Pending {
        id: gateway.new_id("req"),
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        at: gateway.now(),
        method: parts.method.as_str().to_owned(),
        route,
        caller,
        notes,
        bytes_in,
        gateway: gateway.clone(),
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status().as_u16();
    let error_code = response.extensions().get::<ErrorCode>().copied();
    let streamed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let (parts, body) = response.into_parts();
    match body.size_hint().exact() {
        // A whole answer: recorded now (and, where nothing may run after the answer, written).
        Some(size) if !streamed => {
            finished(&gateway, pending.record(status, error_code, false, size));
            gateway.finish_request_log().await;
            Response::from_parts(parts, body)
        }
        // A stream: recorded when its last byte is sent, or when the client goes away.
        _ => {
            let counted = Counted {
                inner: body.into_data_stream(),
                bytes: 0,
                finish: Some((pending, status, error_code, streamed)),
            };
            Response::from_parts(parts, Body::from_stream(counted))
        }
    }
}

/// A finished request: counted in the metrics, queued for the log.
fn finished(gateway: &Gateway, record: RequestRecord) {
    crate::metrics::observe(&record);
    gateway.log_request(record);
}

/// A response body that counts its bytes and queues the record when it ends or is dropped.
struct Counted<S> {
    inner: S,
    bytes: u64,
    finish: Option<(Pending, u16, Option<ErrorCode>, bool)>,
}

impl<S> Counted<S> {
    fn finish(&mut self) {
        if let Some((pending, status, error_code, streamed)) = self.finish.take() {
            let gateway = pending.gateway.clone();
            finished(
                &gateway,
                pending.record(status, error_code, streamed, self.bytes),
            );
        }
    }
}

impl<S, E> Stream for Counted<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(bytes))) => self.bytes += bytes.len() as u64,
            Poll::Ready(None) => self.finish(),
            _ => {}
        }
        polled
    }
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        self.finish();
    }
}
