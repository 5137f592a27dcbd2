//! The HTTP side of the suite: [`Ctx`] sends requests to the target and [`Resp`] checks what
//! came back. Every response is checked for an `x-request-id` here, so every case checks it.
//! Failures name the request, the expectation, and the status and body that came back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Method};
use serde_json::Value;

use crate::Target;

/// Fails the case with a formatted message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        let holds: bool = $cond;
        if !holds {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

/// How long one request may take before the case fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most characters of a body quoted in a failure.
const QUOTE_LIMIT: usize = 1500;

/// What a case runs with: the client, the target, and a source of unique names.
#[derive(Debug)]
pub struct Ctx {
    client: Client,
    base_url: String,
    admin_token: String,
    run_id: String,
    seq: AtomicU64,
}

/// A request body.
pub(crate) enum Body<'a> {
    /// No body.
    Empty,
    /// JSON with `content-type: application/json`.
    Json(&'a Value),
    /// Raw bytes with the given content type, if any.
    Raw(Option<&'a str>, Vec<u8>),
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Resp {
    /// `METHOD /path`, for messages.
    pub(crate) what: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
    /// The raw body (audio, images).
    pub(crate) bytes: Vec<u8>,
    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) body: Value,
}

impl Ctx {
    /// A context for `target`, with a run id that keeps this run's names apart from others'.
    pub fn new(target: &Target) -> Result<Self, String> {
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mixed = nanos ^ (u128::from(std::process::id()) << 64);
        Ok(Self {
            client,
            base_url: target.base_url.trim_end_matches('/').to_owned(),
            admin_token: target.admin_token.clone(),
            run_id: base36(mixed % 36u128.pow(8)),
            seq: AtomicU64::new(0),
        })
    }

    /// The operator's admin token.
    pub(crate) fn admin(&self) -> &str {
        &self.admin_token
    }

    /// A name no other case or run uses: `c<run>-<stem>-<n>`, a valid slug.
    pub(crate) fn unique(&self, stem: &str) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("c{}-{stem}-{n}", self.run_id)
    }

    /// Sends a request; `auth` becomes `Authorization: Bearer …`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Body<'_>,
    ) -> Result<Resp, String> {
        self.send_with(method, path, auth.map(|t| format!("Bearer {t}")), body, &[])
            .await
    }

    /// Sends a request with a raw `Authorization` value and extra headers.
    pub(crate) async fn send_with(
        &self,
        method: Method,
        path: &str,
        authorization: Option<String>,
        body: Body<'_>,
        extra: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let what = format!("{method} {path}");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(v) => request.json(v),
            Body::Raw(content_type, bytes) => {
                let r = match content_type {
                    Some(ct) => request.header(CONTENT_TYPE, ct),
                    None => request,
                };
                r.body(bytes)
            }
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("{what}: request failed: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{what}: reading the body failed: {e}"))?
            .to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let resp = Resp {
            what,
            status,
            headers,
            text,
            bytes,
            body,
        };
        ensure!(
            resp.header("x-request-id").is_some_and(|v| !v.is_empty()),
            "{}: no x-request-id header on a {} response",
            resp.what,
            resp.status
        );
        Ok(resp)
    }

    pub(crate) async fn get(&self, path: &str, auth: Option<&str>) -> Result<Resp, String> {
        self.send(Method::GET, path, auth, Body::Empty).await
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        auth: Option<&str>,
        json: &Value,
    ) -> Result<Resp, String> {
        self.send(Method::POST, path, auth, Body::Json(json)).await
    }

    pub(crate) async fn put(
        &self,
        path: &str,
        auth: Option<&str>,
        json: &Value,
    ) -> Result<Resp, String> {
        self.send(Method::PUT, path, auth, Body::Json(json)).await
    }

    pub(crate) async fn patch(
        &self,
        path: &str,
        auth: Option<&str>,
        json: &Value,
    ) -> Result<Resp, String> {
        self.send(Method::PATCH, path, auth, Body::Json(json)).await
    }

    pub(crate) async fn delete(&self, path: &str, auth: Option<&str>) -> Result<Resp, String> {
        self.send(Method::DELETE, path, auth, Body::Empty).await
    }
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

impl Resp {
    /// The status and body, quoted for a failure message.
    pub(crate) fn quote(&self) -> String {
        let mut body: String = self.text.chars().take(QUOTE_LIMIT).collect();
        if body.len() < self.text.len() {
            body.push('…');
        }
        format!("{} {}", self.status, body)
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Passes the response on when its status is `status`.
    pub(crate) fn expect(self, status: u16) -> Result<Self, String> {
        ensure!(
            self.status == status,
            "{}: expected {status}, got {}",
            self.what,
            self.quote()
        );
        Ok(self)
    }

    /// Passes the response on when it is an error of `status` in the one error format, with
    /// `code` when given.
    pub(crate) fn expect_error(self, status: u16, code: Option<&str>) -> Result<Self, String> {
        let r = self.expect(status)?;
        r.check_error_shape()?;
        if let Some(code) = code {
            ensure!(
                r.body["error"]["code"] == code,
                "{}: expected error code {code:?}, got {}",
                r.what,
                r.quote()
            );
        }
        Ok(r)
    }

    /// Checks `{"error":{"message","type","code","param"}}` with exactly those keys.
    pub(crate) fn check_error_shape(&self) -> Result<(), String> {
        let top = self.body.as_object();
        ensure!(
            top.is_some_and(|o| o.len() == 1 && o.contains_key("error")),
            "{}: error body must be exactly {{\"error\":{{…}}}}, got {}",
            self.what,
            self.quote()
        );
        let inner = self.body["error"].as_object();
        let keys_ok = inner.is_some_and(|o| {
            o.len() == 4
                && ["message", "type", "code", "param"]
                    .iter()
                    .all(|k| o.contains_key(*k))
        });
        ensure!(
            keys_ok,
            "{}: error must have exactly message, type, code, param; got {}",
            self.what,
            self.quote()
        );
        let e = &self.body["error"];
        ensure!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()) && e["type"].is_string(),
            "{}: error.message and error.type must be non-empty strings; got {}",
            self.what,
            self.quote()
        );
        ensure!(
            (e["code"].is_string() || e["code"].is_null())
                && (e["param"].is_string() || e["param"].is_null()),
            "{}: error.code and error.param must be strings or null; got {}",
            self.what,
            self.quote()
        );
        let content_type = self.header("content-type").unwrap_or("");
        ensure!(
            content_type.starts_with("application/json"),
            "{}: error content-type must be application/json, got {content_type:?}",
            self.what
        );
        Ok(())
    }

    /// A string at a JSON pointer (`/error/code`).
    pub(crate) fn str_at(&self, pointer: &str) -> Result<&str, String> {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!(
                    "{}: expected a string at {pointer}, got {}",
                    self.what,
                    self.quote()
                )
            })
    }

    /// An array at a JSON pointer.
    pub(crate) fn array_at(&self, pointer: &str) -> Result<&Vec<Value>, String> {
        self.body
            .pointer(pointer)
            .and_then(Value::as_array)
            .ok_or_else(|| {
                format!(
                    "{}: expected an array at {pointer}, got {}",
                    self.what,
                    self.quote()
                )
            })
    }

    /// Fails unless the value at `pointer` equals `expected`.
    pub(crate) fn expect_at(&self, pointer: &str, expected: &Value) -> Result<(), String> {
        let got = self.body.pointer(pointer).unwrap_or(&Value::Null);
        ensure!(
            got == expected,
            "{}: expected {pointer} = {expected}, got {got}; body {}",
            self.what,
            self.quote()
        );
        Ok(())
    }

    /// The ids (`id` fields) of an OpenAI-style list's `data`.
    pub(crate) fn list_ids(&self) -> Result<Vec<String>, String> {
        self.expect_at("/object", &Value::from("list"))?;
        Ok(self
            .array_at("/data")?
            .iter()
            .filter_map(|item| item["id"].as_str().map(str::to_owned))
            .collect())
    }
}
