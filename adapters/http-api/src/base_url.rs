//! Absolute URLs without `MOLTS_PUBLIC_URL`: the gateway makes the URLs it hands out (a job's
//! or an artifact's `url`) relative when no public URL is configured, and the predecessor's
//! clients `fetch(video.url)` as is. The address the caller reached molts at — its `Host`, and
//! the scheme a proxy reports in `Forwarded` or `X-Forwarded-Proto` (`http` otherwise) — makes
//! them absolute. With `MOLTS_PUBLIC_URL` set, URLs are already absolute and stay as they are.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri, header};

/// Longest host (with its port) taken from a request; DNS names are at most 253 characters.
const MAX_HOST_LEN: usize = 260;

/// `scheme://host[:port]` of the request, when it names a usable host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestBase(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestBase {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(base_of(&parts.headers, &parts.uri)))
    }
}

impl RequestBase {
    /// `url` made absolute when it is a path (`/v1/…`); anything else as it is.
    pub(crate) fn absolute(&self, url: String) -> String {
        match &self.0 {
            Some(base) if url.starts_with('/') && !url.starts_with("//") => format!("{base}{url}"),
            _ => url,
        }
    }

    /// [`RequestBase::absolute`] of an optional URL.
    pub(crate) fn absolute_opt(&self, url: Option<String>) -> Option<String> {
        url.map(|u| self.absolute(u))
    }
}

/// The request's base URL: its `Host` (or the URI's authority, as HTTP/2 sends it) with the
/// scheme a proxy forwarded, or `None` when the host is missing or not a plain host name.
fn base_of(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .filter(|h| is_host(h))?;
    let scheme = forwarded_proto(headers)
        .or_else(|| uri.scheme_str().and_then(scheme_name))
        .unwrap_or("http");
    Some(format!("{scheme}://{host}"))
}

/// A host name or address with an optional port: letters, digits, `-`, `.`, `:` and the
/// brackets of an IPv6 literal, nothing that could end the authority (`/`, `@`, `?`, `#`), and
/// an authority `http` itself accepts (brackets matched, a numeric port).
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']'))
        && host.parse::<Authority>().is_ok_and(|a| a.host() != "")
}

fn scheme_name(scheme: &str) -> Option<&'static str> {
    if scheme.eq_ignore_ascii_case("https") {
        Some("https")
    } else if scheme.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

/// The scheme the client used, from the nearest proxy's `Forwarded: proto=` (RFC 7239) or
/// `X-Forwarded-Proto`; only `http` and `https` are taken.
fn forwarded_proto(headers: &HeaderMap) -> Option<&'static str> {
    let first = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    let from_forwarded = first(header::FORWARDED).and_then(|element| {
        element.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("proto")
                .then(|| scheme_name(value.trim().trim_matches('"')))
                .flatten()
        })
    });
    from_forwarded.or_else(|| {
        first(header::HeaderName::from_static("x-forwarded-proto")).and_then(scheme_name)
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn base(pairs: &[(&'static str, &'static str)]) -> Option<String> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        base_of(&headers, &Uri::from_static("/v1/jobs/job_1"))
    }

    #[test]
    fn the_host_and_the_forwarded_scheme_make_the_base() {
        assert_eq!(
            base(&[("host", "molts.test")]).as_deref(),
            Some("http://molts.test")
        );
        assert_eq!(
            base(&[("host", "molts.test:8080"), ("x-forwarded-proto", "HTTPS")]).as_deref(),
            Some("https://molts.test:8080")
        );
        assert_eq!(
            base(&[
                ("host", "[::1]:3000"),
                (
                    "forwarded",
                    "for=1.2.3.4;proto=https, for=5.6.7.8;proto=http"
                ),
                ("x-forwarded-proto", "http"),
            ])
            .as_deref(),
            Some("https://[::1]:3000")
        );
        assert_eq!(
            base(&[("host", "molts.test"), ("x-forwarded-proto", "gopher")]).as_deref(),
            Some("http://molts.test")
        );
        for bad in [
            "",
            "evil.test/path",
            "user@molts.test",
            "molts.test?x",
            "a b",
        ] {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(bad) {
                headers.insert(header::HOST, v);
            }
            assert_eq!(base_of(&headers, &Uri::from_static("/")), None, "{bad:?}");
        }
        let absolute = RequestBase(Some("https://molts.test".into()));
        assert_eq!(
            absolute.absolute("/v1/artifacts/a/content".into()),
            "https://molts.test/v1/artifacts/a/content"
        );
        assert_eq!(
            absolute.absolute("https://cdn.test/x".into()),
            "https://cdn.test/x"
        );
        assert_eq!(absolute.absolute("//cdn.test/x".into()), "//cdn.test/x");
        assert_eq!(RequestBase(None).absolute("/v1/x".into()), "/v1/x");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_headers_give_no_base_or_a_plain_http_origin(
            host in proptest::option::of(prop_oneof!["[ -~]{0,40}", "[a-z0-9.:\\[\\]-]{0,12}"]),
            forwarded in proptest::option::of("[ -~]{0,40}"),
            x_proto in proptest::option::of("[ -~]{0,12}"),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in [("host", host), ("forwarded", forwarded), ("x-forwarded-proto", x_proto)] {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    headers.insert(name, v);
                }
            }
            if let Some(base) = base_of(&headers, &Uri::from_static("/")) {
                let host = base
                    .strip_prefix("https://")
                    .or_else(|| base.strip_prefix("http://"));
                prop_assert!(host.is_some_and(is_host), "{}", base);
                let url = format!("{base}/v1/jobs/x");
                prop_assert!(url.parse::<Uri>().is_ok(), "{}", url);
            }
        }
    }
}
