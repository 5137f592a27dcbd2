//! molts-reqwest: the native `HttpClient` port over reqwest, and a `Sleeper` over tokio's timer.
//!
//! Provider adapters live in `molts-core` as pure mapping over `HttpClient`; this crate is the
//! only place the native runtimes touch a real HTTP client. Bodies stream (SSE, large audio), the
//! per-request timeout covers the response head and then each pause between body chunks (a long
//! stream that keeps sending is never cut off), redirects
//! are never followed (a provider answering 3xx is a misconfiguration to surface, not to chase),
//! and errors never carry the URL's query or any header (keys travel there).

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use molts_core::Error;
use molts_core::Result;
use molts_core::ports::{HttpRequest, HttpResponse, RequestOptions};
use molts_core::providers::Sleeper;

/// `HttpClient` over a shared reqwest connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    /// A client with rustls, redirects off and no global timeout (each request sets its own).
    pub fn new() -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                Error::internal("could not build the HTTP client").with_source(e.without_url())
            })?;
        Ok(Self { client })
    }

    /// Wraps a client built elsewhere. It should not follow redirects, to keep the port's contract.
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

/// Maps a transport failure to `Unavailable`, keeping the cause (without its URL) for the logs.
fn transport_error(error: reqwest::Error) -> Error {
    let what = if error.is_timeout() {
        ("upstream_timeout", "the provider did not answer in time")
    } else if error.is_connect() {
        ("upstream_unreachable", "could not connect to the provider")
    } else if error.is_body() || error.is_decode() {
        (
            "upstream_broken_body",
            "the provider's response was cut off",
        )
    } else {
        ("upstream_unreachable", "the request to the provider failed")
    };
    Error::unavailable(what.1)
        .with_code(what.0)
        .with_source(error.without_url())
}

#[async_trait]
impl molts_core::HttpClient for ReqwestHttpClient {
    async fn send(&self, request: HttpRequest, options: RequestOptions) -> Result<HttpResponse> {
        let request = reqwest::Request::try_from(request).map_err(|e| {
            Error::internal("the outbound request could not be built").with_source(e.without_url())
        })?;
        // The timeout covers the head only: `execute` resolves once status and headers arrive.
        let response =
            match tokio::time::timeout(options.timeout, self.client.execute(request)).await {
                Ok(result) => result.map_err(transport_error)?,
                Err(_) => {
                    return Err(Error::unavailable(format!(
                        "the provider did not answer within {} ms",
                        options.timeout.as_millis()
                    ))
                    .with_code("upstream_timeout"));
                }
            };
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        let body = idle_limited(response.bytes_stream(), options.timeout);
        builder.body(body).map_err(|e| {
            Error::internal("the provider's response could not be represented").with_source(e)
        })
    }
}

/// The body as a `ByteStream` that fails with `Unavailable` (and ends) when no chunk arrives for
/// `idle`: a provider that stalls mid-stream must not hold a request, and its quota hold, forever.
/// Long streams that keep sending are never cut.
fn idle_limited(
    body: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
    idle: Duration,
) -> molts_core::ports::ByteStream {
    let body = Box::pin(body);
    futures::stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            Ok(Some(Err(e))) => Some((Err(transport_error(e)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(Error::unavailable(format!(
                    "the provider sent nothing for {} ms mid-response",
                    idle.as_millis()
                ))
                .with_code("upstream_timeout")),
                None,
            )),
        }
    })
    .boxed()
}

/// `Sleeper` over `tokio::time::sleep`, for retry backoff on native runtimes.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Every HTTP provider over reqwest with tokio's timer for retry backoff, keys and base URLs read
/// through `env` under their usual names: the provider wiring every native runtime shares.
pub fn native_providers(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<molts_core::providers::ProviderRegistry> {
    let http = ReqwestHttpClient::new()?;
    Ok(
        molts_core::providers::http_registry(std::sync::Arc::new(http), env)
            .with_sleeper(std::sync::Arc::new(TokioSleeper)),
    )
}
