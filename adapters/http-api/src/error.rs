//! The one error format of the HTTP API, shaped like OpenAI's so its clients read it:
//! `{"error":{"message","type","code","param"}}`. This file is the only place where an
//! [`ErrorKind`] becomes a status code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use molts_core::{Error, ErrorKind};
use serde::Serialize;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    code: Option<&'a str>,
    param: Option<&'a str>,
}

/// Status and OpenAI error `type` for a kind.
pub fn status_and_type(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid_request_error"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "invalid_request_error"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "invalid_request_error"),
        ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "authentication_error"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "permission_error"),
        ErrorKind::QuotaExceeded => (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota"),
        ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "api_error"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "api_error"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let (status, kind) = status_and_type(e.kind());
        // Refusals of the body itself have their own statuses; core has no kind for them.
        let status = match e.code() {
            Some("body_too_large") => StatusCode::PAYLOAD_TOO_LARGE,
            Some("unsupported_media_type") => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("range_not_satisfiable") => StatusCode::RANGE_NOT_SATISFIABLE,
            _ => status,
        };
        // Internal details stay in the log; the client gets a generic message.
        let message = match e.kind() {
            ErrorKind::Internal => {
                tracing::error!(error = %e, "internal error");
                "internal error; the request id in x-request-id helps the operator find it"
            }
            ErrorKind::Unavailable => {
                tracing::warn!(error = %e, "dependency unavailable");
                e.message()
            }
            _ => e.message(),
        };
        let body = Body {
            error: Inner {
                message,
                kind,
                code: e.code(),
                param: e.param(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(after) = e.retry_after() {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        // OpenAI's SDKs retry 429s unless told not to; an exhausted quota will not recover by
        // retrying, and neither will a bad request.
        if !matches!(
            e.kind(),
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Internal
        ) {
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        response
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_a_client_or_server_status() {
        let kinds = [
            ErrorKind::Invalid,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::Unauthorized,
            ErrorKind::Forbidden,
            ErrorKind::QuotaExceeded,
            ErrorKind::RateLimited,
        ];
        for kind in kinds {
            assert!(status_and_type(kind).0.is_client_error(), "{kind:?}");
        }
        assert!(status_and_type(ErrorKind::Internal).0.is_server_error());
        assert!(status_and_type(ErrorKind::Unavailable).0.is_server_error());
    }

    #[test]
    fn body_refusals_have_their_own_statuses() {
        let status = |code: &'static str| {
            ApiError(Error::new(ErrorKind::Invalid, "refused").with_code(code))
                .into_response()
                .status()
        };
        assert_eq!(status("body_too_large"), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            status("unsupported_media_type"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(status("invalid_json"), StatusCode::BAD_REQUEST);
    }
}
