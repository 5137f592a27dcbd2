//! molts-fetch: the `HttpClient` port over the Cloudflare Workers fetch API, and a `Sleeper` over
//! the Workers timer (`setTimeout`), for retry backoff. [`worker_outbound`] gives a Worker's
//! gateway its three clients: plain fetch for the operator's destinations, and fetch behind the
//! URL-text check (`checked.rs`) for webhooks and for what tenants and providers chose.
//!
//! The port's contract, kept as on the native client (molts-reqwest): any status is a successful
//! `send`; a failed fetch or a timeout is `Unavailable` without the URL (keys travel in queries);
//! redirects are never followed (`redirect: "manual"`); the body streams; the timeout covers the
//! response head and then each pause between body chunks. A timed-out fetch is aborted, so the
//! Workers runtime stops waiting for it too; so is one whose future or body is dropped before
//! it ends (the gateway's overall deadlines end an attempt that way, `gateway/deadline.rs`).
//!
//! Workers' JS values are not `Send`, but core's ports are `Send` (native runtimes need it). A
//! Worker runs on one thread, so the futures and streams here are made `Send` with
//! `worker::send` wrappers at this boundary; core's traits stay as they are.

mod checked;

use molts_core::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::{Either, select};
use molts_core::ports::{ByteStream, HttpRequest, HttpResponse, RequestOptions};
use molts_core::providers::Sleeper;
use molts_core::{Error, Result};
use worker::send::{SendFuture, SendWrapper};
use worker::{AbortController, Delay, Fetch, Headers, Method, RequestInit, RequestRedirect};

pub use checked::TextCheckedFetch;

/// `HttpClient` over the global `fetch`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchHttpClient;

impl FetchHttpClient {
    /// A client; it holds nothing (the Workers runtime pools connections itself).
    pub fn new() -> Self {
        Self
    }
}

fn unreachable_provider() -> Error {
    Error::unavailable("could not connect to the provider")
        .with_code(ErrorCode::UpstreamUnreachable)
}

fn timed_out(what: &str, timeout: Duration) -> Error {
    Error::unavailable(format!(
        "the provider {what} within {} ms",
        timeout.as_millis()
    ))
    .with_code(ErrorCode::UpstreamTimeout)
}

/// The request as a Workers `Request`: method, headers and body as given, redirects manual.
fn to_worker_request(request: HttpRequest) -> Result<worker::Request> {
    let built = || Error::internal("the outbound request could not be built");
    let (parts, body) = request.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        let value = value.to_str().map_err(|_| built())?;
        headers.append(name.as_str(), value).map_err(|_| built())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(parts.method.as_str().to_owned()))
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if !body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(body.as_ref()).into()));
    }
    worker::Request::new_with_init(&parts.uri.to_string(), &init).map_err(|_| built())
}

/// Aborts its fetch when dropped: when the caller stops waiting (a timeout here, a deadline in
/// the gateway), the Workers runtime stops fetching too. Aborting a fetch that has ended does
/// nothing.
struct AbortOnDrop(Option<AbortController>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = self.0.take() {
            controller.abort();
        }
    }
}

/// Sends without the `Send` bound; [`FetchHttpClient::send`] wraps it.
async fn send_local(request: HttpRequest, options: RequestOptions) -> Result<HttpResponse> {
    let request = to_worker_request(request)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    // Held until the body ends, or dropped with this future.
    let abort = AbortOnDrop(Some(controller));
    let fetch = Fetch::Request(request);
    let sent = Box::pin(fetch.send_with_signal(&signal));
    let mut response = match select(sent, Delay::from(options.timeout)).await {
        Either::Left((Ok(response), _)) => response,
        Either::Left((Err(_), _)) => return Err(unreachable_provider()),
        Either::Right(_) => return Err(timed_out("did not answer", options.timeout)),
    };
    let mut builder = http::Response::builder().status(response.status_code());
    for (name, value) in response.headers().entries() {
        builder = builder.header(name, value);
    }
    // A body-less response (204, HEAD) has no stream: an empty body then.
    let body = match response.stream() {
        Ok(stream) => idle_limited(stream, abort, options.timeout),
        Err(_) => futures::stream::empty().boxed(),
    };
    builder.body(body).map_err(|e| {
        Error::internal("the provider's response could not be represented").with_source(e)
    })
}

/// The body as a `Send` `ByteStream` that fails with `Unavailable` (and ends) when no chunk
/// arrives for `idle`: a provider stalling mid-stream must not hold a request, and its quota
/// hold, forever. Dropping it (or its end) aborts the fetch through `abort`.
fn idle_limited(stream: worker::ByteStream, abort: AbortOnDrop, idle: Duration) -> ByteStream {
    let state = Some(SendWrapper::new((stream, abort)));
    futures::stream::unfold(state, move |state| async move {
        let mut body = state?;
        let (stream, _abort) = &mut body.0;
        let next = SendFuture::new(async {
            match select(stream.next(), Delay::from(idle)).await {
                Either::Left((Some(Ok(chunk)), _)) => Some(Ok(Bytes::from(chunk))),
                Either::Left((Some(Err(_)), _)) => Some(Err(Error::unavailable(
                    "the provider's response was cut off",
                )
                .with_code(ErrorCode::UpstreamBrokenBody))),
                Either::Left((None, _)) => None,
                Either::Right(_) => Some(Err(timed_out("sent nothing mid-response", idle))),
            }
        })
        .await;
        match next {
            Some(Ok(chunk)) => Some((Ok(chunk), Some(body))),
            Some(Err(e)) => Some((Err(e), None)),
            None => None,
        }
    })
    .boxed()
}

#[async_trait]
impl molts_core::HttpClient for FetchHttpClient {
    async fn send(&self, request: HttpRequest, options: RequestOptions) -> Result<HttpResponse> {
        SendFuture::new(send_local(request, options)).await
    }
}

/// `Sleeper` over the Workers timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerSleeper;

#[async_trait]
impl Sleeper for WorkerSleeper {
    async fn sleep(&self, duration: Duration) {
        SendFuture::new(Delay::from(duration)).await;
    }
}

/// Every HTTP provider over fetch with the Workers timer for retry backoff, keys and base URLs
/// read through `env` under their usual names: the Workers counterpart of
/// `molts_reqwest::native_providers`.
pub fn worker_providers(
    env: &dyn Fn(&str) -> Option<String>,
) -> molts_core::providers::ProviderRegistry {
    molts_core::providers::http_registry(Arc::new(FetchHttpClient), env)
        .with_sleeper(Arc::new(WorkerSleeper))
}

/// The outbound clients of a Worker's gateway: [`FetchHttpClient`] for the operator's
/// destinations, and [`TextCheckedFetch`] for webhooks and for tenants' and providers' URLs,
/// with the operator's allow-list (`MOLTS_WEBHOOK_ALLOW_HOSTS`).
pub fn worker_outbound(allowed_hosts: &[String]) -> molts_core::gateway::Outbound {
    molts_core::gateway::Outbound {
        operator: Arc::new(FetchHttpClient),
        webhooks: Arc::new(TextCheckedFetch::for_webhooks(allowed_hosts.to_vec())),
        public_only: Arc::new(TextCheckedFetch::public_only(allowed_hosts.to_vec())),
    }
}
