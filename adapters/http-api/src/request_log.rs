//! The request log every runtime adds around the router: one span per request with its method
//! and path, and one line at info when it is answered (status, latency). Headers are never
//! recorded (bearer keys), nor the query string, and a provider callback's secret token is
//! replaced by `***`, because whoever reads the log could otherwise call the job's callback.

use std::borrow::Cow;

use axum::http::Request;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

/// Where provider callbacks land: `/v1/callbacks/{job_id}/{token}` (and the signed `heygen`).
const CALLBACKS: &str = "/v1/callbacks/";

/// The request log layer: `router(state).layer(request_log())`.
pub fn request_log() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// Makes each request's span: `request{method=GET path=/v1/jobs/job_1 version=HTTP/1.1}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %logged_path(request.uri().path()),
            version = ?request.version(),
        )
    }
}

/// `path` as it may be logged: a callback's token (everything after the job id) becomes `***`.
pub fn logged_path(path: &str) -> Cow<'_, str> {
    let Some(at) = path.find(CALLBACKS) else {
        return Cow::Borrowed(path);
    };
    let start = at + CALLBACKS.len();
    let rest = &path[start..];
    match rest.split_once('/') {
        // `/v1/callbacks/heygen` and `/v1/callbacks/{job_id}` carry no secret.
        None => Cow::Borrowed(path),
        Some((job_id, _secret)) => Cow::Owned(format!("{}{job_id}/***", &path[..start])),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn callback_tokens_are_replaced() {
        assert_eq!(
            logged_path("/v1/callbacks/job_1/0123abcd"),
            "/v1/callbacks/job_1/***"
        );
        assert_eq!(
            logged_path("/v1/callbacks/job_1/0123abcd/extra"),
            "/v1/callbacks/job_1/***"
        );
        assert_eq!(logged_path("/v1/callbacks/heygen"), "/v1/callbacks/heygen");
        assert_eq!(logged_path("/v1/jobs/job_1"), "/v1/jobs/job_1");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_token_survives(prefix in "(/[a-z0-9]{1,4}){0,2}", job in "[^/]{0,12}", token in "[a-f0-9]{8,64}", tail in "(/[^/]{0,6}){0,2}") {
            let path = format!("{prefix}/v1/callbacks/{job}/{token}{tail}");
            let logged = logged_path(&path);
            prop_assert!(!logged.contains(&token) || job.contains(&token) || prefix.contains(&token), "{}", logged);
            prop_assert!(logged.ends_with("/***"));
        }
    }
}
