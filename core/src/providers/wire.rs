//! What every HTTP provider adapter shares: building requests with secret headers and JSON or
//! `multipart/form-data` bodies (the form encoded by `form`), sending them with the call's
//! timeout, mapping provider error statuses to molts errors (keeping the provider's message,
//! never its secrets), and decoding JSON bodies.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::ports::{HttpClient, HttpRequest, HttpResponse, RequestOptions};

use super::adapter::Call;
use super::form::Form;

/// Largest JSON body read for text and search calls.
pub(crate) const MAX_JSON_BYTES: usize = 16 << 20;
/// Largest body read for media (base64 images, audio).
pub(crate) const MAX_MEDIA_BYTES: usize = 96 << 20;
/// Largest error body read: only its message is wanted.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// Longest provider message passed on.
const MAX_MESSAGE_CHARS: usize = 500;

/// A header whose value is secret: marked sensitive so `Debug` and logs never show it.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        // The key itself must not appear in the message.
        Error::unavailable("the configured API key is not a valid HTTP header value")
            .with_code("provider_not_configured")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A request with `headers` and a JSON body (or none for `GET`).
pub(crate) fn request(
    method: Method,
    url: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<&Value>,
) -> Result<HttpRequest> {
    let body = match body {
        Some(json) => Some((
            "application/json".to_owned(),
            Bytes::from(serde_json::to_vec(json).map_err(|e| {
                Error::internal("could not encode a provider request").with_source(e)
            })?),
        )),
        None => None,
    };
    build(method, url, headers, body)
}

/// A request with `headers` and a `multipart/form-data` body of text fields, for endpoints
/// documented as taking forms; sent and mapped like any other (see [`send_json`]).
pub(crate) fn form_request(
    method: Method,
    url: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
    form: &Form,
) -> Result<HttpRequest> {
    let encoded = form.encode();
    build(
        method,
        url,
        headers,
        Some((encoded.content_type, encoded.body)),
    )
}

/// A request with `headers` and a body of the given content type (or none).
fn build(
    method: Method,
    url: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<(String, Bytes)>,
) -> Result<HttpRequest> {
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let body = match body {
        Some((content_type, bytes)) => {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
            bytes
        }
        None => Bytes::new(),
    };
    builder.body(body).map_err(|_| {
        // The URL may carry a configured base URL; say which setting to check, not its value.
        Error::unavailable("the provider URL is not valid (check the provider's base URL setting)")
            .with_code("provider_not_configured")
    })
}

fn options(call: &Call<'_>) -> RequestOptions {
    RequestOptions {
        timeout: call.timeout,
    }
}

/// Sends `request`; a non-2xx status becomes the matching molts error.
pub(crate) async fn send(
    http: &dyn HttpClient,
    call: &Call<'_>,
    request: HttpRequest,
) -> Result<HttpResponse> {
    let response = http.send(request, options(call)).await?;
    if response.status().is_success() {
        return Ok(response);
    }
    let (parts, mut body) = response.into_parts();
    let mut buf = Vec::new();
    // A broken error body still tells the status; read what arrives, up to the cap.
    while let Some(Ok(chunk)) = body.next().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= MAX_ERROR_BYTES {
            break;
        }
    }
    Err(status_error(call, parts.status, &parts.headers, &buf))
}

/// Sends `request` and reads the whole (successful) body, up to `max_bytes`.
pub(crate) async fn send_bytes(
    http: &dyn HttpClient,
    call: &Call<'_>,
    request: HttpRequest,
    max_bytes: usize,
) -> Result<http::Response<Bytes>> {
    let (parts, mut body) = send(http, call, request).await?.into_parts();
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > max_bytes {
            return Err(bad_response(call, "the response is too large"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(http::Response::from_parts(parts, buf.freeze()))
}

/// Sends `request` and decodes its JSON body as `T`.
pub(crate) async fn send_json<T: DeserializeOwned>(
    http: &dyn HttpClient,
    call: &Call<'_>,
    request: HttpRequest,
    max_bytes: usize,
) -> Result<T> {
    let response = send_bytes(http, call, request, max_bytes).await?;
    decode(call, response.body())
}

/// Decodes a provider's JSON; anything else is the provider's fault.
pub(crate) fn decode<T: DeserializeOwned>(call: &Call<'_>, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| bad_response(call, "the response is not the expected JSON").with_source(e))
}

/// The provider answered something molts cannot read.
pub(crate) fn bad_response(call: &Call<'_>, what: &str) -> Error {
    Error::unavailable(format!(
        "provider '{}' sent a malformed response: {what}",
        call.model.provider.as_str()
    ))
    .with_code("provider_bad_response")
}

/// The provider's own error message from any of the shapes providers use.
pub(crate) fn provider_message(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let error = &json["error"];
    text(&error["message"])
        .or_else(|| text(error))
        .or_else(|| text(&json["detail"]["message"]))
        .or_else(|| text(&json["detail"][0]["msg"]))
        .or_else(|| text(&json["detail"]))
        // Shotstack's validation errors: `{"response":{"error":{"details":[{"message"}]}}}`.
        .or_else(|| text(&json["response"]["error"]["details"][0]["message"]))
        .or_else(|| text(&json["response"]["error"]))
        .or_else(|| text(&json["message"]))
}

/// A provider's job id checked before it goes into a URL path: letters, digits, `-`, `_`, `.`
/// (and `/` between such segments when `slashes`), never `..` or an empty segment.
pub(crate) fn job_path<'a>(call: &Call<'_>, id: &'a str, slashes: bool) -> Result<&'a str> {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let ok = if slashes {
        id.split('/').all(segment_ok)
    } else {
        segment_ok(id)
    };
    if ok && id.len() <= 512 {
        Ok(id)
    } else {
        Err(Error::invalid(
            "provider_job_id",
            format!(
                "'{}' is not a job id provider '{}' gave out",
                id.chars().take(80).collect::<String>(),
                call.model.provider.as_str()
            ),
        ))
    }
}

/// The MIME type of a finished job's output, from its URL's extension (video/mp4 when unknown).
pub(crate) fn media_type_from_url(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("gif") => "image/gif",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("bmp") => "image/bmp",
        Some("mp3") => "audio/mpeg",
        Some("webm") => "video/webm",
        Some("mov") => "video/quicktime",
        _ => "video/mp4",
    }
}

/// Removes what could be a secret from a provider's message: the configured key itself, and any
/// word sharing its first eight characters or shaped like a key (`sk-…`), then caps the length.
pub(crate) fn redact(message: &str, secret: Option<&str>) -> String {
    let mut out = match secret {
        Some(s) if !s.is_empty() => message.replace(s, "***"),
        _ => message.to_owned(),
    };
    let prefix: Option<String> = secret
        .filter(|s| s.chars().count() >= 8)
        .map(|s| s.chars().take(8).collect());
    out = out
        .split(' ')
        .map(|word| {
            let keyish = word.starts_with("sk-") || word.starts_with("sk_");
            let shares = prefix.as_deref().is_some_and(|p| word.contains(p));
            if keyish || shares { "***" } else { word }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    out
}

/// How long the provider asks to wait: Anthropic's `retry-after-ms`, else `Retry-After` seconds.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

fn is_bad_key(body: &[u8]) -> bool {
    // Gemini answers a wrong key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
    let text = String::from_utf8_lossy(body);
    text.contains("API_KEY_INVALID") || text.contains("API key not valid")
}

/// The molts error for a provider's error status.
pub(crate) fn status_error(
    call: &Call<'_>,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let provider = call.model.provider.as_str();
    let message = provider_message(body)
        .map(|m| redact(&m, call.credentials.api_key.as_deref()))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let code = status.as_u16();
    match code {
        401 | 403 => auth_failed(provider, &message),
        400 if is_bad_key(body) => auth_failed(provider, &message),
        400 | 404 | 413 | 422 => Error::new(
            ErrorKind::Invalid,
            format!("provider '{provider}' rejected the request: {message}"),
        )
        .with_code("provider_rejected"),
        429 => {
            let error = Error::new(
                ErrorKind::RateLimited,
                format!("provider '{provider}' is rate limiting: {message}"),
            )
            .with_code("provider_rate_limited");
            match retry_after(headers) {
                Some(after) => error.with_retry_after(after),
                None => error,
            }
        }
        _ => Error::unavailable(format!(
            "provider '{provider}' failed (HTTP {code}): {message}"
        ))
        .with_code("provider_unavailable"),
    }
}

fn auth_failed(provider: &str, message: &str) -> Error {
    // The operator's key is wrong or lacks access: not the caller's fault, and a fallback with
    // another provider may still serve the request.
    Error::unavailable(format!(
        "provider '{provider}' refused the configured credentials: {message}"
    ))
    .with_code("provider_auth_failed")
}

/// The MIME type of encoded image bytes, from their magic number (PNG when unknown).
pub(crate) fn image_content_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else {
        "image/png"
    }
}

/// The MIME type of a successful audio response: the provider's when it is audio (or bytes),
/// `fallback` when it gave none, and a malformed response when it answered JSON or text instead.
pub(crate) fn audio_content_type(
    call: &Call<'_>,
    headers: &HeaderMap,
    fallback: &str,
) -> Result<String> {
    match headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => Ok(fallback.to_owned()),
        Some(t) if t.starts_with("audio/") => Ok(t.to_owned()),
        Some(t) if t.starts_with("application/octet-stream") => Ok(fallback.to_owned()),
        Some(_) => Err(bad_response(
            call,
            "expected audio, got another content type",
        )),
    }
}

/// Decodes base64 image data a provider sent inline.
pub(crate) fn decode_base64(call: &Call<'_>, data: &str) -> Result<Bytes> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map(Bytes::from)
        .map_err(|e| bad_response(call, "the image data is not valid base64").with_source(e))
}

/// The usage to settle with when a provider reports none: the gateway's own estimate.
pub(crate) fn estimated_usage(
    prompt: &[super::types::ChatMessage],
    completion: &str,
) -> super::types::TokenUsage {
    use crate::gateway::estimate_tokens;
    super::types::TokenUsage {
        prompt_tokens: prompt.iter().map(|m| estimate_tokens(&m.content) + 4).sum(),
        completion_tokens: estimate_tokens(completion),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_the_key_and_key_shaped_words() {
        let key = "sk-proj-abcdefghijklmnop";
        let m = redact(&format!("Incorrect API key provided: {key}."), Some(key));
        assert!(!m.contains("abcdefgh"), "{m}");
        let m = redact("Incorrect API key provided: sk-ab****mnop.", Some(key));
        assert!(!m.contains("sk-ab"), "{m}");
        assert_eq!(redact("model not found", Some(key)), "model not found");
    }

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    }
}
