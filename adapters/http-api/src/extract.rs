//! Extractors that turn every malformed input into the one error format: JSON bodies (syntax,
//! types, unknown fields, size, content type), query strings, path parameters, and bearer
//! credentials.

use axum::extract::path::ErrorKind as PathErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use molts_core::ErrorCode;
use molts_core::gateway::AdminPrincipal;
use molts_core::{Error, ErrorKind};
use serde::de::DeserializeOwned;

use crate::ApiState;
use crate::error::ApiError;

/// A JSON body parsed strictly. An empty body reads as `{}`, so endpoints whose fields are all
/// optional accept a bare POST.
pub(crate) struct ApiJson<T>(pub(crate) T);

fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses JSON bytes, naming the offending field in errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let bytes = match first {
        None => b"{}".as_slice(),
        Some(b'{') => bytes,
        // serde reads a struct from an array too; a request body is always an object here.
        Some(_) => {
            return Err(
                Error::new(ErrorKind::Invalid, "request body must be a JSON object")
                    .with_code(ErrorCode::InvalidJson),
            );
        }
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        classify(path, e.into_inner())
    })?;
    de.end().map_err(|e| classify(String::new(), e))?;
    Ok(value)
}

fn classify(path: String, inner: serde_json::Error) -> Error {
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => Error::new(
            ErrorKind::Invalid,
            format!("request body is not valid JSON: {inner}"),
        )
        .with_code(ErrorCode::InvalidJson),
        _ => {
            let message = inner.to_string();
            // serde names an unknown field only in its message: `unknown field `x``.
            let unknown = message
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_owned);
            // serde_path_to_error's path already ends at the unknown field itself.
            let (code, param) = match unknown {
                Some(field) if path == "." || path.is_empty() => (ErrorCode::UnknownField, field),
                Some(_) => (ErrorCode::UnknownField, path),
                None => (ErrorCode::InvalidValue, path),
            };
            let mut err = Error::new(ErrorKind::Invalid, message).with_code(code);
            if param != "." && !param.is_empty() {
                err = err.with_param(param);
            }
            err
        }
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(
                    ErrorKind::Invalid,
                    "request body is larger than this server accepts",
                )
                .with_code(ErrorCode::BodyTooLarge)
            } else {
                Error::new(ErrorKind::Invalid, "could not read the request body")
                    .with_code(ErrorCode::InvalidBody)
            }
        })?;
        if !bytes.is_empty() && !content_type.as_deref().is_some_and(is_json) {
            return Err(Error::new(
                ErrorKind::Invalid,
                "send the body as JSON with content-type: application/json",
            )
            .with_code(ErrorCode::UnsupportedMediaType)
            .into());
        }
        Ok(Self(parse_json(&bytes)?))
    }
}

/// A query string parsed into `T`, with errors in the one format.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_like(query).map(Self).map_err(ApiError)
    }
}

fn serde_urlencoded_like<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    axum::extract::Query::<T>::try_from_uri(&format!("/?{query}").parse().map_err(|_| {
        Error::new(ErrorKind::Invalid, "malformed query string").with_code(ErrorCode::InvalidQuery)
    })?)
    .map(|q| q.0)
    .map_err(|e| Error::new(ErrorKind::Invalid, e.body_text()).with_code(ErrorCode::InvalidQuery))
}

/// Path parameters parsed into `T`; one that is not UTF-8 (`/v1/jobs/%ff%fe`) or not of the
/// expected type is a 400 `invalid_path` in the one error format, not axum's plain text.
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError(path_error(&rejection))),
        }
    }
}

fn path_error(rejection: &PathRejection) -> Error {
    if rejection.status().is_server_error() {
        // A handler asking for parameters its route does not have: molts' bug, not the caller's.
        return Error::internal(format!("route parameters: {}", rejection.body_text()));
    }
    let key = match rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            PathErrorKind::InvalidUtf8InPathParam { key }
            | PathErrorKind::ParseErrorAtKey { key, .. } => Some(key.clone()),
            _ => None,
        },
        _ => None,
    };
    let error =
        Error::new(ErrorKind::Invalid, rejection.body_text()).with_code(ErrorCode::InvalidPath);
    match key {
        Some(key) => error.with_param(key),
        None => error,
    }
}

/// The bearer token of a request, if it has an `Authorization: Bearer …` header.
pub(crate) fn bearer(parts: &Parts) -> Result<Option<String>, Error> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Error::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = text.trim().split_once(' ').unwrap_or((text, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Error::unauthorized("use 'Authorization: Bearer <key>'"));
    }
    Ok(Some(token.to_owned()))
}

/// A required bearer token.
pub(crate) fn required_bearer(parts: &Parts) -> Result<String, Error> {
    bearer(parts)?.ok_or_else(|| {
        Error::unauthorized("missing API key; send 'Authorization: Bearer <key>'")
            .with_code(ErrorCode::MissingApiKey)
    })
}

/// An authenticated admin.
pub(crate) struct Admin(pub(crate) AdminPrincipal);

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let token = required_bearer(parts)?;
        let admin = state.gateway.authenticate_admin(&token).await?;
        if let Some(caller) = parts.extensions.get::<crate::request_record::Caller>() {
            caller.admin(&admin, &token);
        }
        Ok(Self(admin))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        #[serde(default)]
        count: Option<u32>,
    }

    #[test]
    fn json_errors_name_what_is_wrong() {
        let syntax = parse_json::<Sample>(b"{\"name\":").err();
        assert_eq!(
            syntax.as_ref().and_then(|e| e.code()),
            Some(ErrorCode::InvalidJson)
        );
        let unknown = parse_json::<Sample>(br#"{"name":"a","nmae":"b"}"#).err();
        assert_eq!(
            unknown.as_ref().and_then(|e| e.code()),
            Some(ErrorCode::UnknownField)
        );
        assert_eq!(unknown.as_ref().and_then(|e| e.param()), Some("nmae"));
        let wrong_type = parse_json::<Sample>(br#"{"name":"a","count":"many"}"#).err();
        assert_eq!(
            wrong_type.as_ref().and_then(|e| e.code()),
            Some(ErrorCode::InvalidValue)
        );
        assert_eq!(wrong_type.as_ref().and_then(|e| e.param()), Some("count"));
        let missing = parse_json::<Sample>(b"").err();
        assert!(missing.is_some_and(|e| e.message().contains("missing field `name`")));
        let trailing = parse_json::<Sample>(br#"{"name":"a"} x"#).err();
        assert_eq!(
            trailing.as_ref().and_then(|e| e.code()),
            Some(ErrorCode::InvalidJson)
        );
        assert!(parse_json::<Sample>(br#"{"name":"a","count":3}"#).is_ok());
        let array = parse_json::<Sample>(br#"["a", 3]"#).err();
        assert_eq!(
            array.as_ref().and_then(|e| e.code()),
            Some(ErrorCode::InvalidJson)
        );
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
    }

    /// Bytes shaped like JSON bodies often enough to reach deep into the parser.
    fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"\"name\":".to_vec()),
            Just(b"\"count\":".to_vec()),
            Just(b"\"x\":".to_vec()),
            Just(b"1e999".to_vec()),
            Just(b"-1".to_vec()),
            Just(b",".to_vec()),
            "\"[ -~]{0,6}\"".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..6),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_body_parses_or_is_a_400(bytes in body_bytes()) {
            if let Err(e) = parse_json::<Sample>(&bytes) {
                prop_assert_eq!(e.kind(), ErrorKind::Invalid);
                prop_assert!(e.code().is_some());
            }
            if let Err(e) = parse_json::<serde_json::Value>(&bytes) {
                prop_assert_eq!(e.kind(), ErrorKind::Invalid);
            }
        }

        #[test]
        fn deep_nesting_is_refused_not_a_stack_overflow(depth in prop_oneof![100usize..200, 1000usize..100_000]) {
            let body = format!("{{\"x\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
            let parsed = parse_json::<serde_json::Value>(body.as_bytes());
            prop_assert!(parsed.is_ok() || parsed.err().is_some_and(|e| e.kind() == ErrorKind::Invalid));
        }

        #[test]
        fn any_authorization_header_is_a_token_or_a_401(value in "[ -~\t]{0,40}", scheme in prop_oneof![Just("Bearer "), Just("bearer  "), Just("")]) {
            let Ok(v) = HeaderValue::from_str(&format!("{scheme}{value}")) else { return Ok(()) };
            let (mut parts, ()) = axum::http::Request::new(()).into_parts();
            parts.headers.insert(header::AUTHORIZATION, v);
            match bearer(&parts) {
                Ok(Some(token)) => prop_assert!(!token.is_empty() && token.trim() == token),
                Ok(None) => prop_assert!(false, "a header that is there is never None"),
                Err(e) => prop_assert_eq!(e.kind(), ErrorKind::Unauthorized),
            }
        }

        #[test]
        fn any_query_string_parses_or_is_a_400(query in "[ -~]{0,40}") {
            #[derive(Debug, Deserialize)]
            #[allow(dead_code)]
            struct Page {
                before: Option<String>,
                limit: Option<u32>,
            }
            if let Err(e) = serde_urlencoded_like::<Page>(&query) {
                prop_assert_eq!(e.code(), Some(ErrorCode::InvalidQuery));
            }
        }

        #[test]
        fn only_application_types_count_as_json(text in "[ -~]{0,40}|application/[a-z+-]{0,12}json.{0,8}") {
            if is_json(&text) {
                prop_assert!(text.trim_start().to_ascii_lowercase().starts_with("application/"));
            }
        }
    }
}
