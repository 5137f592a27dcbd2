//! The `HttpClient` port: outbound HTTP as `http` types, so provider adapters in core run the same
//! over reqwest (native) and the Workers fetch API. Response bodies stream, for SSE and large files.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};

/// A streamed body.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;
/// An outbound request.
pub type HttpRequest = http::Request<Bytes>;
/// An inbound response with a streamed body.
pub type HttpResponse = http::Response<ByteStream>;

/// Per-request options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOptions {
    /// Give up (with `Unavailable`) if the response head, or the next piece of a streamed body,
    /// has not arrived within this long. This bounds each wait, not the whole exchange: a peer
    /// sending a byte at a time never trips it. Overall deadlines are the caller's (the gateway
    /// races an attempt against its timer and drops it, `gateway/deadline.rs`).
    pub timeout: Duration,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

/// Sends HTTP requests.
///
/// # Contract
/// Any status code is a successful `send` (the caller maps statuses); connection failures and
/// timeouts are `Unavailable`. Redirects are not followed. Dropping the `send` future or the
/// response body before it ends abandons the request: the connection is closed or the fetch
/// aborted, so a caller's deadline frees what the request held.
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends one request.
    async fn send(&self, request: HttpRequest, options: RequestOptions) -> Result<HttpResponse>;
}

/// Conveniences over [`HttpClient`], implemented for every client so wrappers cannot forget one.
#[async_trait]
pub trait HttpClientExt: HttpClient {
    /// Sends and reads the whole body, refusing bodies larger than `max_bytes`.
    async fn send_collect(
        &self,
        request: HttpRequest,
        options: RequestOptions,
        max_bytes: usize,
    ) -> Result<http::Response<Bytes>> {
        let (parts, mut body) = self.send(request, options).await?.into_parts();
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > max_bytes {
                return Err(Error::unavailable(format!(
                    "upstream response larger than {max_bytes} bytes"
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(http::Response::from_parts(parts, Bytes::from(buf)))
    }
}

impl<T: HttpClient + ?Sized> HttpClientExt for T {}
