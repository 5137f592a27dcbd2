//! Server-sent events as a plain streamed body, so streaming works the same on every runtime
//! (axum's `Sse` keep-alive needs tokio's timer, which Workers lack).

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};

/// One SSE frame: an optional event name and a data line.
pub(crate) fn frame(event: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(name) = event {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    // `data` is single-line JSON; a newline inside would need one `data:` per line.
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// A `text/event-stream` response from a stream of ready frames.
pub(crate) fn response(frames: impl Stream<Item = Bytes> + Send + 'static) -> Response {
    let body = Body::from_stream(frames.map(Ok::<_, std::convert::Infallible>));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells reverse proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_the_sse_format() {
        assert_eq!(frame(None, "{\"a\":1}"), Bytes::from("data: {\"a\":1}\n\n"));
        assert_eq!(
            frame(Some("done"), "{}"),
            Bytes::from("event: done\ndata: {}\n\n")
        );
    }
}
