//! The one error format of the HTTP API, shaped like OpenAI's so its clients read it:
//! `{"error":{"message","type","code","param"}}`. [`status_and_type`] is the only place where an
//! [`ErrorKind`] (or, for the few a kind does not say, an [`ErrorCode`]) becomes a status code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use molts_core::{Error, ErrorCode, ErrorKind, Retry};
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

/// Status and OpenAI error `type` for an error of `kind` with `code`.
pub fn status_and_type(kind: ErrorKind, code: Option<ErrorCode>) -> (StatusCode, &'static str) {
    // Refusals of the request itself have their own statuses; core has no kind for them.
    let own = match code {
        Some(ErrorCode::MethodNotAllowed) => Some(StatusCode::METHOD_NOT_ALLOWED),
        Some(ErrorCode::BodyTooLarge) => Some(StatusCode::PAYLOAD_TOO_LARGE),
        Some(ErrorCode::UnsupportedMediaType) => Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        Some(ErrorCode::RangeNotSatisfiable) => Some(StatusCode::RANGE_NOT_SATISFIABLE),
        _ => None,
    };
    let (status, kind) = match kind {
        ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid_request_error"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "invalid_request_error"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "invalid_request_error"),
        ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "authentication_error"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "permission_error"),
        ErrorKind::QuotaExceeded => (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota"),
        ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "api_error"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "api_error"),
    };
    (own.unwrap_or(status), kind)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let (status, kind) = status_and_type(e.kind(), e.code());
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
                code: e.code().map(ErrorCode::as_str),
                param: e.param(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        // For the request log, which sees only the response.
        if let Some(code) = e.code() {
            response.extensions_mut().insert(code);
        }
        let headers = response.headers_mut();
        if let Some(after) = e.retry_after() {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        // OpenAI's SDKs retry 429s unless told not to; an exhausted quota will not recover by
        // retrying, and neither will a bad request.
        if e.retry() == Retry::Never {
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
            assert!(status_and_type(kind, None).0.is_client_error(), "{kind:?}");
        }
        assert!(
            status_and_type(ErrorKind::Internal, None)
                .0
                .is_server_error()
        );
        assert!(
            status_and_type(ErrorKind::Unavailable, None)
                .0
                .is_server_error()
        );
    }

    #[test]
    fn body_refusals_have_their_own_statuses() {
        let status = |code: ErrorCode| {
            ApiError(Error::coded(code, "refused"))
                .into_response()
                .status()
        };
        assert_eq!(
            status(ErrorCode::BodyTooLarge),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(ErrorCode::UnsupportedMediaType),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            status(ErrorCode::MethodNotAllowed),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(status(ErrorCode::InvalidJson), StatusCode::BAD_REQUEST);
    }

    /// `docs/API.md`'s error table as (status, type, code) rows.
    fn documented_codes() -> std::collections::BTreeSet<(u16, String, String)> {
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md"));
        let errors = doc
            .split("\n## Errors\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        let mut rows = std::collections::BTreeSet::new();
        for line in errors.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // "| 400 | `type` | when | `code`, `code` |" splits into 6 cells, empty at both ends.
            let [_, status, kind, _, codes, _] = cells[..] else {
                continue;
            };
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let kind = kind.trim_matches('`').to_owned();
            for code in codes.split(',') {
                let code = code.trim().trim_matches('`').to_owned();
                assert!(
                    rows.insert((status, kind.clone(), code.clone())),
                    "{code} twice at {status}"
                );
            }
        }
        assert!(
            !rows.is_empty(),
            "docs/API.md has an Errors section with a table"
        );
        rows
    }

    #[test]
    fn the_error_table_in_the_api_docs_is_every_code_with_its_status() {
        let documented = documented_codes();
        let actual: std::collections::BTreeSet<_> = ErrorCode::ALL
            .iter()
            .map(|&code| {
                let (status, kind) = status_and_type(code.kind(), Some(code));
                (status.as_u16(), kind.to_owned(), code.as_str().to_owned())
            })
            .collect();
        let missing: Vec<_> = actual.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&actual).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/API.md's error table lacks {missing:?} and lists {extra:?}, which ErrorCode does not have"
        );
    }

    #[test]
    fn clients_are_told_not_to_retry_exactly_the_never_class() {
        for &code in ErrorCode::ALL {
            let response = ApiError(Error::coded(code, "x")).into_response();
            let no_retry = response.headers().get("x-should-retry").is_some();
            assert_eq!(no_retry, code.retry() == Retry::Never, "{code:?}");
        }
    }
}
