//! Stored files over HTTP: artifacts (job outputs and uploads) with streamed, range-aware
//! downloads and store-signed URLs, and agents' own named, versioned files.

use molts_core::ErrorCode;
use std::ops::Range;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::TryStreamExt;
use molts_core::Error;
use molts_core::domain::ArtifactKind;
use molts_core::gateway::{AgentPrincipal, ArtifactContent, ArtifactView, DeletedFile};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::base_url::RequestBase;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::List;

/// What a `Range` header asks for, against an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

/// Parses a single-range `bytes=` header (RFC 9110). Several ranges, or a header that is not
/// understood, are served as the whole object, which the RFC allows.
fn wanted(headers: &HeaderMap, size: u64) -> Wanted {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Wanted::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = match (start.is_empty(), end.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => end
            .parse::<u64>()
            .ok()
            .map(|n| (size.saturating_sub(n), size)),
        (false, true) => start.parse::<u64>().ok().map(|s| (s, size)),
        (false, false) => match (start.parse::<u64>(), end.parse::<u64>()) {
            (Ok(s), Ok(e)) if e >= s => Some((s, e.saturating_add(1).min(size))),
            _ => None,
        },
        (true, true) => None,
    };
    match parsed {
        None => Wanted::Whole,
        Some((s, e)) if s >= size || s >= e => Wanted::Unsatisfiable,
        Some((s, e)) => Wanted::Part(s..e),
    }
}

fn content_response(content: ArtifactContent, status: StatusCode) -> Response {
    let ArtifactContent { artifact, object } = content;
    let total = object.meta.size;
    let length = object
        .range
        .as_ref()
        .map_or(total, |r| r.end.saturating_sub(r.start));
    let body = Body::from_stream(object.body.map_err(std::io::Error::other));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, artifact.content_type.clone());
    set(header::CONTENT_LENGTH, length.to_string());
    set(header::ACCEPT_RANGES, "bytes".to_owned());
    set(header::ETAG, format!("\"{}\"", artifact.sha256));
    set(
        header::CONTENT_DISPOSITION,
        format!("inline; filename=\"{}\"", artifact.name),
    );
    if let Some(r) = &object.range {
        set(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{total}", r.start, r.end.saturating_sub(1)),
        );
    }
    response
}

/// `artifact` with its `url` absolute (see [`RequestBase`]).
fn located(base: &RequestBase, mut artifact: ArtifactView) -> ArtifactView {
    artifact.url = base.absolute(artifact.url);
    artifact
}

/// A page of artifacts with absolute URLs.
fn located_page(base: &RequestBase, rows: Vec<ArtifactView>, has_more: bool) -> List<ArtifactView> {
    List::page(
        rows.into_iter().map(|a| located(base, a)).collect(),
        has_more,
    )
}

async fn serve(
    state: &ApiState,
    principal: &AgentPrincipal,
    artifact: ArtifactView,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    match wanted(headers, artifact.size) {
        Wanted::Unsatisfiable => {
            let error = Error::invalid(
                "Range",
                format!("the range is outside the file's {} bytes", artifact.size),
            )
            .with_code(ErrorCode::RangeNotSatisfiable);
            let mut response = crate::error::ApiError(error).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", artifact.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            Ok(response)
        }
        Wanted::Whole => {
            let content = state
                .gateway
                .artifact_content(principal, &artifact.id, None)
                .await?;
            Ok(content_response(content, StatusCode::OK))
        }
        Wanted::Part(range) => {
            let content = state
                .gateway
                .artifact_content(principal, &artifact.id, Some(range))
                .await?;
            Ok(content_response(content, StatusCode::PARTIAL_CONTENT))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ArtifactsQuery {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

pub(super) async fn list(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiQuery(q): ApiQuery<ArtifactsQuery>,
) -> ApiResult<Json<List<ArtifactView>>> {
    let kind = q
        .kind
        .map(|k| {
            ArtifactKind::parse(&k)
                .ok_or_else(|| Error::invalid("kind", "kind must be output or upload"))
        })
        .transpose()?;
    let page = state
        .gateway
        .list_artifacts(&principal, kind, q.name, q.before, q.limit)
        .await?;
    Ok(Json(located_page(&base, page.data, page.has_more)))
}

pub(super) async fn get(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ArtifactView>> {
    Ok(Json(located(
        &base,
        state.gateway.artifact(&principal, &id).await?,
    )))
}

pub(super) async fn content(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let artifact = state.gateway.artifact(&principal, &id).await?;
    serve(&state, &principal, artifact, &headers).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UrlRequest {
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Serialize)]
pub(super) struct SignedUrl {
    /// The URL to fetch without credentials, or the authenticated content URL.
    url: String,
    /// Whether `url` works without the agent's key.
    signed: bool,
    /// Seconds it stays valid, when signed.
    expires_in: Option<u64>,
}

pub(super) async fn signed_url(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<UrlRequest>,
) -> ApiResult<Json<SignedUrl>> {
    let seconds = request.expires_in.unwrap_or(3600);
    let signed = state
        .gateway
        .artifact_signed_url(&principal, &id, Duration::from_secs(seconds))
        .await?;
    Ok(Json(match signed {
        Some(url) => SignedUrl {
            url,
            signed: true,
            expires_in: Some(seconds),
        },
        None => SignedUrl {
            url: base.absolute(state.gateway.artifact(&principal, &id).await?.url),
            signed: false,
            expires_in: None,
        },
    }))
}

pub(super) async fn upload(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<ArtifactView>)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let stream = body.into_data_stream().map_err(|_| {
        Error::invalid("body", "could not read the upload").with_code(ErrorCode::InvalidBody)
    });
    let stored = state
        .gateway
        .upload_file(&principal, &name, &content_type, Box::pin(stream))
        .await?;
    Ok((StatusCode::CREATED, Json(located(&base, stored))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VersionQuery {
    #[serde(default)]
    version: Option<u32>,
}

pub(super) async fn list_files(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiQuery(q): ApiQuery<ArtifactsQuery>,
) -> ApiResult<Json<List<ArtifactView>>> {
    if q.kind.is_some() {
        return Err(Error::invalid("kind", "files are always uploads; drop kind").into());
    }
    let page = state
        .gateway
        .list_artifacts(
            &principal,
            Some(ArtifactKind::Upload),
            q.name,
            q.before,
            q.limit,
        )
        .await?;
    Ok(Json(located_page(&base, page.data, page.has_more)))
}

pub(super) async fn file(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<Json<ArtifactView>> {
    Ok(Json(located(
        &base,
        state.gateway.file(&principal, &name, q.version).await?,
    )))
}

/// `DELETE /v1/files/{name}`: every version, or the one `?version=` names; their bytes are
/// given back to the agent's storage.
pub(super) async fn delete_file(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<Json<DeletedFile>> {
    Ok(Json(
        state
            .gateway
            .delete_file(&principal, &name, q.version)
            .await?,
    ))
}

pub(super) async fn file_content(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let artifact = state.gateway.file(&principal, &name, q.version).await?;
    serve(&state, &principal, artifact, &headers).await
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn range(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::RANGE,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
        h
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(wanted(&HeaderMap::new(), 100), Wanted::Whole);
        assert_eq!(wanted(&range("bytes=0-9"), 100), Wanted::Part(0..10));
        assert_eq!(wanted(&range("bytes=90-"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(&range("bytes=-10"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(&range("bytes=95-200"), 100), Wanted::Part(95..100));
        assert_eq!(wanted(&range("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(&range("bytes=0-1,5-6"), 100), Wanted::Whole);
        assert_eq!(wanted(&range("items=0-1"), 100), Wanted::Whole);
        assert_eq!(wanted(&range("bytes=9-3"), 100), Wanted::Whole);
        assert_eq!(wanted(&range("bytes=0-0"), 0), Wanted::Unsatisfiable);
    }

    /// `Range` values: well-formed single ranges of any numbers, and anything else.
    fn range_text() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            Just(String::new()),
            (0u64..300).prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just("18446744073709551616".to_owned()),
            "[ -~]{0,4}",
        ];
        prop_oneof![
            (number.clone(), number).prop_map(|(a, b)| format!("bytes={a}-{b}")),
            "[ -~]{0,24}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_range_header_asks_for_a_part_inside_the_file(
            value in range_text(),
            size in prop_oneof![0u64..300, any::<u64>()],
        ) {
            let Ok(v) = HeaderValue::from_str(&value) else { return Ok(()) };
            let mut headers = HeaderMap::new();
            headers.insert(header::RANGE, v);
            if let Wanted::Part(r) = wanted(&headers, size) {
                prop_assert!(r.start < r.end && r.end <= size, "{:?} of {}", r, size);
                // The store's own check agrees, so a part never turns into a 416 later.
                prop_assert_eq!(molts_core::ports::served_range(&r, size).ok(), Some(r));
            }
        }
    }
}
