//! What every HTTP provider adapter shares: building requests with secret headers and JSON or
//! `multipart/form-data` bodies (the form encoded by `form`), sending them with the call's
//! timeout, mapping provider error statuses to molts errors (keeping the provider's message,
//! never its secrets), and decoding JSON bodies.

use crate::ErrorCode;
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
/// Longest wait a provider may ask for; a longer `Retry-After` is read as this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// A header whose value is secret: marked sensitive so `Debug` and logs never show it.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        // The key itself must not appear in the message.
        Error::unavailable("the configured API key is not a valid HTTP header value")
            .with_code(ErrorCode::ProviderNotConfigured)
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
            .with_code(ErrorCode::ProviderNotConfigured)
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
    .with_code(ErrorCode::ProviderBadResponse)
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

/// How long the provider asks to wait: Anthropic's `retry-after-ms`, else `Retry-After` seconds,
/// at most [`MAX_RETRY_AFTER`] (a provider, or a tenant's own `base_url`, may send anything:
/// `1e20` once reached `Duration::from_secs_f64` and panicked). Negative, NaN and infinite
/// values, and `Retry-After` as an HTTP-date (no clock here; none of the providers sends one),
/// read as no hint at all.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let seconds = number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))?;
    Duration::try_from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())).ok()
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
        .with_code(ErrorCode::ProviderRejected),
        429 => {
            let error = Error::new(
                ErrorKind::RateLimited,
                format!("provider '{provider}' is rate limiting: {message}"),
            )
            .with_code(ErrorCode::ProviderRateLimited);
            match retry_after(headers) {
                Some(after) => error.with_retry_after(after),
                None => error,
            }
        }
        _ => Error::unavailable(format!(
            "provider '{provider}' failed (HTTP {code}): {message}"
        ))
        .with_code(ErrorCode::ProviderUnavailable),
    }
}

fn auth_failed(provider: &str, message: &str) -> Error {
    // The operator's key is wrong or lacks access: not the caller's fault, and a fallback with
    // another provider may still serve the request.
    Error::unavailable(format!(
        "provider '{provider}' refused the configured credentials: {message}"
    ))
    .with_code(ErrorCode::ProviderAuthFailed)
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
    use proptest::prelude::*;

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

    #[test]
    fn a_huge_retry_after_is_clamped_not_a_panic() {
        for (name, value) in [("retry-after", "1e20"), ("retry-after-ms", "1e30")] {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER), "{name}: {value}");
        }
    }

    /// Header values a provider might send for a number: floats of every size, number-shaped
    /// text, HTTP-dates and anything else a header can carry.
    fn header_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|f| f.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            "[-+0-9eE.naifNIF ]{0,24}",
            Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
            "[ -~]{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn retry_after_is_total_and_at_most_the_maximum(
            seconds in proptest::option::of(header_text()),
            millis in proptest::option::of(header_text()),
        ) {
            let mut h = HeaderMap::new();
            for (name, value) in [("retry-after", seconds), ("retry-after-ms", millis)] {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    h.insert(name, v);
                }
            }
            if let Some(after) = retry_after(&h) {
                prop_assert!(after <= MAX_RETRY_AFTER);
            }
        }

        #[test]
        fn provider_messages_are_total(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = provider_message(&body);
            let _ = is_bad_key(&body);
            let _ = image_content_type(&body);
        }

        #[test]
        fn provider_messages_of_any_json_shape_are_total(
            message in any::<String>(),
            shape in 0usize..6,
        ) {
            let json = match shape {
                0 => serde_json::json!({"error": {"message": message}}),
                1 => serde_json::json!({"error": message}),
                2 => serde_json::json!({"detail": [{"msg": message}]}),
                3 => serde_json::json!({"response": {"error": {"details": [{"message": message}]}}}),
                4 => serde_json::json!({"message": message}),
                _ => serde_json::json!([message]),
            };
            let body = serde_json::to_vec(&json).unwrap_or_default();
            let found = provider_message(&body);
            prop_assert!(shape == 5 || found.as_deref() == Some(message.as_str()));
        }

        #[test]
        fn redaction_is_bounded_and_hides_the_key(
            message in any::<String>(),
            key in proptest::option::of("[ -~]{0,40}"),
        ) {
            let out = redact(&message, key.as_deref());
            prop_assert!(out.chars().count() <= MAX_MESSAGE_CHARS + 1);
            if let Some(k) = key.as_deref().filter(|k| k.chars().count() >= 8 && !k.contains(' ')) {
                prop_assert!(!out.contains(k), "{out}");
            }
        }

        #[test]
        fn job_ids_that_pass_are_safe_path_segments(text in any::<String>(), slashes in any::<bool>()) {
            let _ = media_type_from_url(&text);
            let model = any_model();
            let credentials = super::super::Credentials::default();
            let call = Call { model: &model, credentials: &credentials, timeout: Duration::ZERO };
            if let Ok(id) = job_path(&call, &text, slashes) {
                prop_assert!(id.len() <= 512);
                prop_assert!(slashes || !id.contains('/'));
                prop_assert!(id.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
                prop_assert!(!id.contains(['?', '#', '%', '\\']));
            }
        }

        #[test]
        fn any_error_answer_becomes_a_bounded_molts_error(
            status in 400u16..600,
            body in proptest::collection::vec(any::<u8>(), 0..256),
            after in proptest::option::of(header_text()),
            data in "[ -~]{0,64}",
        ) {
            let model = any_model();
            let credentials = super::super::Credentials::default();
            let call = Call { model: &model, credentials: &credentials, timeout: Duration::ZERO };
            let mut headers = HeaderMap::new();
            if let Some(v) = after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert("retry-after", v);
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let error = status_error(&call, status, &headers, &body);
            prop_assert!(error.retry_after().is_none_or(|a| a <= MAX_RETRY_AFTER));
            prop_assert!(error.message().chars().count() < MAX_MESSAGE_CHARS + 200);
            let _ = decode_base64(&call, &data);
            let _ = audio_content_type(&call, &headers, "audio/mpeg");
        }
    }

    fn any_model() -> crate::domain::ModelConfig {
        crate::seed::models()
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!("the seed has models"))
    }
}
