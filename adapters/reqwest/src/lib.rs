//! molts-reqwest: the native `HttpClient` port over reqwest, and a `Sleeper` over tokio's timer.
//!
//! Provider adapters live in `molts-core` as pure mapping over `HttpClient`; this crate is the
//! only place the native runtimes touch a real HTTP client. Bodies stream (SSE, large audio), the
//! per-request timeout covers the response head and then each pause between body chunks (a long
//! stream that keeps sending is never cut off; a whole attempt's deadline is the gateway's, which
//! drops the future or body, and dropping closes the connection), redirects
//! are never followed (a provider answering 3xx is a misconfiguration to surface, not to chase),
//! and errors never carry the URL's query or any header (keys travel there).
//!
//! Three clients, never one shared: [`ReqwestHttpClient::new`] for provider calls to the hosts
//! the operator configured (often a local model server on loopback) and outputs on them;
//! [`ReqwestHttpClient::for_webhooks`] for webhook deliveries, whose URLs come from agents; and
//! [`ReqwestHttpClient::public_only`] for provider calls to a tenant's own base URL and for the
//! output URLs providers answer with. The last two are public-only: they resolve names through
//! [`PublicOnlyResolver`] (`resolve.rs`), so a name resolving only to internal addresses is
//! refused unless allow-listed, refuse an internal IP literal (which never reaches a resolver)
//! or internal name the same way, and ignore the general proxy variables (through a proxy, the
//! proxy would resolve the name and the filter would not apply). An operator may instead name an
//! [`EgressProxy`] for them (`egress.rs`): then they send everything through it, keep the checks
//! on the URL's text, and leave resolving and refusing internal addresses to that proxy.

mod egress;
mod resolve;

use molts_core::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use molts_core::Error;
use molts_core::Result;
use molts_core::net::host_is_refused;
use molts_core::ports::{HttpRequest, HttpResponse, RequestOptions};
use molts_core::providers::Sleeper;

pub use egress::{EgressProxy, log_egress_route};
pub use resolve::{Lookup, PublicOnlyResolver, SystemLookup};

/// `HttpClient` over a shared reqwest connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
    /// Who answers, as error messages name it.
    peer: &'static str,
    /// For a public-only client: the hosts reached although internal, and how a refusal reads.
    public_only: Option<PublicOnly>,
}

#[derive(Debug, Clone)]
struct PublicOnly {
    allowed_hosts: Arc<[String]>,
    refusal: fn() -> Error,
}

/// A webhook target on an internal address.
fn webhook_refusal() -> Error {
    Error::forbidden(
        "webhook_url's host resolves only to loopback, private, link-local or other internal addresses",
    )
    .with_code(ErrorCode::WebhookAddressRefused)
}

/// A provider destination (a tenant's base URL, an output URL) on an internal address: the
/// gateway reads the code and says whose URL it was.
fn provider_refusal() -> Error {
    Error::forbidden(
        "the provider's host resolves only to loopback, private, link-local or other internal addresses",
    )
    .with_code(ErrorCode::AddressRefused)
}

impl ReqwestHttpClient {
    /// A client with rustls, redirects off and no global timeout (each request sets its own).
    pub fn new() -> Result<Self> {
        Ok(Self::from_client(build(base_builder())?))
    }

    /// The webhook delivery client: as [`ReqwestHttpClient::new`], but public-only (names
    /// resolve through [`PublicOnlyResolver`] over the system resolver), so a host that is or
    /// resolves only to loopback, private, link-local or other internal addresses is refused
    /// (`webhook_url_refused`) unless `allowed_hosts` (`MOLTS_WEBHOOK_ALLOW_HOSTS`) names it.
    /// The general proxy variables are not used; with an `egress_proxy`, everything goes through
    /// that instead, and only the URL's text is judged here.
    pub fn for_webhooks(
        allowed_hosts: Vec<String>,
        egress_proxy: Option<&EgressProxy>,
    ) -> Result<Self> {
        Self::filtered(
            allowed_hosts,
            Route::new(egress_proxy),
            "the webhook endpoint",
            webhook_refusal,
        )
    }

    /// [`ReqwestHttpClient::for_webhooks`] over another name lookup (tests map names to
    /// addresses without DNS).
    pub fn for_webhooks_with(allowed_hosts: Vec<String>, lookup: Arc<dyn Lookup>) -> Result<Self> {
        Self::filtered(
            allowed_hosts,
            Route::Direct(lookup),
            "the webhook endpoint",
            webhook_refusal,
        )
    }

    /// The client for provider destinations the operator did not choose — a tenant's own base
    /// URL, the output URLs providers answer with (`Gateway::with_public_only_http`): public-only
    /// like [`ReqwestHttpClient::for_webhooks`], with the same allow-list and egress proxy, a
    /// refusal answered as `Forbidden` with the code `molts_core::ErrorCode::AddressRefused`.
    pub fn public_only(
        allowed_hosts: Vec<String>,
        egress_proxy: Option<&EgressProxy>,
    ) -> Result<Self> {
        Self::filtered(
            allowed_hosts,
            Route::new(egress_proxy),
            "the provider",
            provider_refusal,
        )
    }

    /// [`ReqwestHttpClient::public_only`] over another name lookup (tests map names to addresses
    /// without DNS).
    pub fn public_only_with(allowed_hosts: Vec<String>, lookup: Arc<dyn Lookup>) -> Result<Self> {
        Self::filtered(
            allowed_hosts,
            Route::Direct(lookup),
            "the provider",
            provider_refusal,
        )
    }

    fn filtered(
        allowed_hosts: Vec<String>,
        route: Route,
        peer: &'static str,
        refusal: fn() -> Error,
    ) -> Result<Self> {
        let builder = match route {
            Route::Direct(lookup) => {
                let resolver = PublicOnlyResolver::new(lookup, allowed_hosts.clone());
                base_builder().no_proxy().dns_resolver(Arc::new(resolver))
            }
            // Only the proxy's own name is looked up (the system resolver, unfiltered: the
            // operator chose it, and egress proxies usually sit on internal addresses); the
            // destination's name travels to the proxy, which resolves and judges it.
            Route::Proxy(proxy) => base_builder().proxy(proxy.to_reqwest()?),
        };
        let client = build(builder)?;
        Ok(Self {
            client,
            peer,
            public_only: Some(PublicOnly {
                allowed_hosts: allowed_hosts.into(),
                refusal,
            }),
        })
    }

    /// Wraps a client built elsewhere. It should not follow redirects, to keep the port's contract.
    pub fn from_client(client: reqwest::Client) -> Self {
        Self {
            client,
            peer: "the provider",
            public_only: None,
        }
    }
}

/// How a public-only client reaches a destination.
enum Route {
    /// Straight there, its name resolved through this lookup and filtered.
    Direct(Arc<dyn Lookup>),
    /// Through the operator's egress proxy, which resolves the name.
    Proxy(EgressProxy),
}

impl Route {
    /// Through `egress_proxy` if there is one, else directly over the system resolver.
    fn new(egress_proxy: Option<&EgressProxy>) -> Self {
        match egress_proxy {
            Some(proxy) => Self::Proxy(proxy.clone()),
            None => Self::Direct(Arc::new(SystemLookup)),
        }
    }
}

/// Redirects off (a 3xx is a misconfiguration to surface, and a webhook redirect could point
/// anywhere), a bounded connect, no global timeout.
fn base_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
}

fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client> {
    builder.build().map_err(|e| {
        Error::internal("could not build the HTTP client").with_source(e.without_url())
    })
}

/// Maps a transport failure to `Unavailable` (a public-only client's refusal to its own
/// error), keeping the cause (without its URL) for the logs.
fn transport_error(error: reqwest::Error, peer: &str, public_only: Option<&PublicOnly>) -> Error {
    if let Some(filter) = public_only
        && resolve::is_refusal(&error)
    {
        return (filter.refusal)();
    }
    let (code, message) = if error.is_timeout() {
        (
            ErrorCode::UpstreamTimeout,
            format!("{peer} did not answer in time"),
        )
    } else if error.is_connect() {
        (
            ErrorCode::UpstreamUnreachable,
            format!("could not connect to {peer}"),
        )
    } else if error.is_body() || error.is_decode() {
        (
            ErrorCode::UpstreamBrokenBody,
            format!("{peer}'s response was cut off"),
        )
    } else {
        (
            ErrorCode::UpstreamUnreachable,
            format!("the request to {peer} failed"),
        )
    };
    Error::unavailable(message)
        .with_code(code)
        .with_source(error.without_url())
}

#[async_trait]
impl molts_core::HttpClient for ReqwestHttpClient {
    async fn send(&self, request: HttpRequest, options: RequestOptions) -> Result<HttpResponse> {
        let request = reqwest::Request::try_from(request).map_err(|e| {
            Error::internal("the outbound request could not be built").with_source(e.without_url())
        })?;
        // An IP literal never reaches the resolver, and an internal name is refused by its text
        // as the gateway's URL guards do: judged here, so the client keeps its promise alone.
        if let Some(filter) = &self.public_only {
            let refused = request
                .url()
                .host()
                .is_none_or(|host| host_is_refused(&host, &filter.allowed_hosts));
            if refused {
                return Err((filter.refusal)());
            }
        }
        // The timeout covers the head only: `execute` resolves once status and headers arrive.
        let response =
            match tokio::time::timeout(options.timeout, self.client.execute(request)).await {
                Ok(result) => {
                    result.map_err(|e| transport_error(e, self.peer, self.public_only.as_ref()))?
                }
                Err(_) => {
                    return Err(Error::unavailable(format!(
                        "{} did not answer within {} ms",
                        self.peer,
                        options.timeout.as_millis()
                    ))
                    .with_code(ErrorCode::UpstreamTimeout));
                }
            };
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        let body = idle_limited(response.bytes_stream(), options.timeout, self.peer);
        builder.body(body).map_err(|e| {
            Error::internal(format!("{}'s response could not be represented", self.peer))
                .with_source(e)
        })
    }
}

/// The body as a `ByteStream` that fails with `Unavailable` (and ends) when no chunk arrives for
/// `idle`: a provider that stalls mid-stream must not hold a request, and its quota hold, forever.
/// Long streams that keep sending are never cut.
fn idle_limited(
    body: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
    idle: Duration,
    peer: &'static str,
) -> molts_core::ports::ByteStream {
    let body = Box::pin(body);
    futures::stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            Ok(Some(Err(e))) => Some((Err(transport_error(e, peer, None)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(Error::unavailable(format!(
                    "{peer} sent nothing for {} ms mid-response",
                    idle.as_millis()
                ))
                .with_code(ErrorCode::UpstreamTimeout)),
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
