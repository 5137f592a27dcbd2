//! molts-fakes: one loopback HTTP server speaking each provider's wire format — OpenAI,
//! Anthropic, Gemini (Veo included), Ideogram, ElevenLabs, Pexels, HeyGen, Tavus and Shotstack —
//! so molts' real adapters can be tested over real HTTP with no network and no keys.
//!
//! Each provider lives under its own prefix (`/openai/v1`, `/anthropic`, `/gemini`, `/ideogram`,
//! `/elevenlabs`, `/pexels`, `/heygen`, `/tavus`, `/shotstack/edit/v1`), checks its own auth
//! header against the key [`key`]`(provider)`, validates requests with the provider's own
//! 400/422 body, and answers deterministically (echoed text with usage counted from the input,
//! real PNG, WAV and MP3 bytes). Video and render jobs (and Tavus replicas) finish after a few
//! status polls (see [`jobs`]) and call back like the real providers when they do (see
//! [`callbacks`]); HeyGen talking photos are made at once from the uploaded bytes. Faults are
//! injected per request (see [`faults`]). Control endpoints:
//! `POST/GET/DELETE /_fake/faults`, `GET /_fake/requests?provider=` (each with its content type,
//! a `multipart/form-data` body's text fields as a JSON object — a malformed form is the
//! provider's 400 — and a body that is not JSON as `body_base64`),
//! `GET /_fake/jobs` (every job), `POST /_fake/jobs` (`{"ready_after": N}`: the default polls),
//! `POST /_fake/jobs/{id}/finish` (finish a job now and call back; again sends the callback
//! again), `GET /_fake/callbacks` (every callback made), `GET/POST /_fake/heygen/webhook`
//! (`{"secret", "url"}`: HeyGen's account webhook endpoint and signing secret),
//! `GET /_fake/images/{rrggbb}.png` and `GET /_fake/videos/{id}.{mp4|mp3}` (the URLs image
//! endpoints and finished jobs hand out; 200 with an HTML error page for a job submitted with
//! the `html-output` fault).

pub mod callbacks;
pub mod faults;
mod form;
pub mod jobs;
pub mod media;
mod providers;
mod respond;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

pub use callbacks::{HeygenWebhook, SentCallback, heygen_signature};
pub use faults::Fault;
use faults::{FaultQueues, QueueRequest};

/// Every provider the fake speaks, by the prefix it lives under.
pub const PROVIDERS: [&str; 9] = [
    "openai",
    "anthropic",
    "gemini",
    "ideogram",
    "elevenlabs",
    "pexels",
    "heygen",
    "tavus",
    "shotstack",
];

/// The key the fake accepts for `provider`.
pub fn key(provider: &str) -> String {
    format!("fake-{provider}-key")
}

/// One request a provider endpoint received.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// Which provider.
    pub provider: String,
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path after the provider's prefix.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The body as JSON: a JSON body as sent, a `multipart/form-data` body as an object of its
    /// text fields (`{"prompt": "…", "num_images": "2"}`), `null` for none or anything else.
    pub body: serde_json::Value,
    /// The request's `Content-Type`, if it had one.
    pub content_type: Option<String>,
    /// The body as sent, base64-encoded, when it was not JSON (an uploaded photo, a form); see
    /// [`Recorded::raw_body`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl Recorded {
    /// The exact bytes of a body that was not JSON (empty for JSON bodies and no body).
    pub fn raw_body(&self) -> Vec<u8> {
        use base64::Engine as _;
        self.body_base64
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
pub(crate) struct Shared {
    faults: Mutex<FaultQueues>,
    requests: Mutex<Vec<Recorded>>,
    origin: Mutex<String>,
    jobs: Mutex<jobs::Jobs>,
    talking_photos: Mutex<Vec<String>>,
    callbacks: Mutex<Vec<SentCallback>>,
    heygen: Mutex<HeygenWebhook>,
    client: OnceLock<reqwest::Client>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not wedge the fake for the others.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn origin(&self) -> String {
        lock(&self.origin).clone()
    }

    pub(crate) fn jobs(&self) -> MutexGuard<'_, jobs::Jobs> {
        lock(&self.jobs)
    }

    /// The ids of the talking photos HeyGen's fake has accepted, oldest first.
    pub(crate) fn talking_photos(&self) -> MutexGuard<'_, Vec<String>> {
        lock(&self.talking_photos)
    }

    /// Counts one poll of `provider`'s job `id` (see [`jobs::Jobs::poll`]) and, on the poll
    /// that first finds it finished, sends its callbacks.
    pub(crate) fn poll_job(
        self: &Arc<Self>,
        provider: &str,
        id: &str,
    ) -> Option<(jobs::Stage, jobs::Job)> {
        let (stage, job, announce) = self.jobs().poll(provider, id)?;
        if announce {
            callbacks::announce(self, &job, &stage);
        }
        Some((stage, job))
    }

    /// Finishes job `id` now and sends its callbacks (again, if it had finished before).
    pub(crate) fn finish_job(self: &Arc<Self>, id: &str) -> Option<jobs::Job> {
        let (stage, job) = self.jobs().finish(id)?;
        callbacks::announce(self, &job, &stage);
        Some(job)
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(callbacks::client)
    }
}

/// A running fake server. Dropping it stops it.
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Starts on `127.0.0.1` at a free port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts on `listen` (`127.0.0.1:0` for any free port).
    pub async fn start_on(listen: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        *lock(&shared.origin) = format!("http://{addr}");
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("molts-fakes stopped: {e}");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL to configure for `provider` (what `*_BASE_URL` holds).
    pub fn base_url(&self, provider: &str) -> String {
        match provider {
            "openai" | "openai_compatible" => format!("{}/openai/v1", self.url()),
            "shotstack" => format!("{}/shotstack/edit/v1", self.url()),
            other => format!("{}/{other}", self.url()),
        }
    }

    /// Every provider's key and base URL under the names molts reads (`OPENAI_API_KEY`,
    /// `OPENAI_BASE_URL`, ...), the OpenAI-compatible ones pointing at the OpenAI fake.
    pub fn env(&self) -> HashMap<String, String> {
        let mut env = HashMap::new();
        for p in PROVIDERS {
            let upper = p.to_ascii_uppercase();
            env.insert(format!("{upper}_API_KEY"), key(p));
            env.insert(format!("{upper}_BASE_URL"), self.base_url(p));
        }
        env.insert("OPENAI_COMPATIBLE_API_KEY".into(), key("openai"));
        env.insert("OPENAI_COMPATIBLE_BASE_URL".into(), self.base_url("openai"));
        env
    }

    /// Queues `spec` (e.g. `status=503,retry-after=1`) for `provider`'s next `times` requests.
    pub fn push_fault(&self, provider: &str, spec: &str, times: usize) -> Result<(), String> {
        let fault = Fault::parse(spec)?;
        lock(&self.shared.faults).push(provider, fault, times);
        Ok(())
    }

    /// Sets how many status polls new jobs answer "not yet" before finishing (default 2); a
    /// submit request's `ready-after=N` fault overrides it for that job.
    pub fn set_job_polls(&self, polls: u32) {
        self.shared.jobs().default_polls = polls;
    }

    /// Every job submitted so far, oldest first.
    pub fn jobs(&self) -> Vec<jobs::Job> {
        self.shared.jobs().list()
    }

    /// Finishes job `id` (by its provider id) now and sends its callbacks, as
    /// `POST /_fake/jobs/{id}/finish` does; `None` for an unknown job.
    pub fn finish_job(&self, id: &str) -> Option<jobs::Job> {
        self.shared.finish_job(id)
    }

    /// Every callback made so far (or refused: not a loopback address), in the order they
    /// completed.
    pub fn callbacks(&self) -> Vec<SentCallback> {
        lock(&self.shared.callbacks).clone()
    }

    /// Sets HeyGen's account webhook endpoint: `secret` signs every HeyGen event, `url` also
    /// receives every one (besides each video's own `callback_url`).
    pub fn set_heygen_webhook(&self, secret: Option<&str>, url: Option<&str>) {
        *lock(&self.shared.heygen) = HeygenWebhook {
            secret: secret.map(str::to_owned),
            url: url.map(str::to_owned),
        };
    }

    /// Forgets every queued fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The requests `provider` received, oldest first.
    pub fn requests(&self, provider: &str) -> Vec<Recorded> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.provider == provider)
            .cloned()
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fake's router over `shared` state.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/_fake/faults",
            get(list_faults).post(queue_fault).delete(clear_faults),
        )
        .route("/_fake/requests", get(list_requests))
        .route("/_fake/images/{name}", get(image))
        .route("/_fake/jobs", get(list_jobs).post(configure_jobs))
        .route("/_fake/jobs/{id}/finish", post(finish_job))
        .route("/_fake/callbacks", get(list_callbacks))
        .route(
            "/_fake/heygen/webhook",
            get(heygen_webhook).post(set_heygen_webhook),
        )
        .route("/_fake/videos/{name}", get(video))
        .fallback(dispatch)
        .with_state(shared)
}

async fn queue_fault(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: QueueRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad fault request: {e}")).into_response();
        }
    };
    if !PROVIDERS.contains(&request.provider.as_str()) {
        return (StatusCode::BAD_REQUEST, "unknown provider").into_response();
    }
    match Fault::parse(&request.fault) {
        Ok(fault) => {
            lock(&s.faults).push(&request.provider, fault, request.times);
            (StatusCode::OK, axum::Json(lock(&s.faults).pending())).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn list_faults(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&s.faults).pending()).into_response()
}

async fn clear_faults(State(s): State<Arc<Shared>>) -> StatusCode {
    lock(&s.faults).clear();
    StatusCode::NO_CONTENT
}

async fn list_requests(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let all = lock(&s.requests);
    let rows: Vec<&Recorded> = all
        .iter()
        .filter(|r| q.get("provider").is_none_or(|p| *p == r.provider))
        .collect();
    axum::Json(rows).into_response()
}

async fn image(Path(name): Path<String>) -> Response {
    match name.strip_suffix(".png").and_then(media::parse_hex) {
        Some(rgb) => ([("content-type", "image/png")], media::png(rgb)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn list_jobs(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.jobs().list()).into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsConfig {
    ready_after: u32,
}

async fn configure_jobs(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<JobsConfig>(&body) {
        Ok(config) => {
            s.jobs().default_polls = config.ready_after;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("bad jobs config: {e}")).into_response(),
    }
}

async fn finish_job(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match s.finish_job(&id) {
        Some(job) => axum::Json(job).into_response(),
        None => (StatusCode::NOT_FOUND, "no such job").into_response(),
    }
}

async fn list_callbacks(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&s.callbacks).clone()).into_response()
}

async fn heygen_webhook(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&s.heygen).clone()).into_response()
}

async fn set_heygen_webhook(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<HeygenWebhook>(&body) {
        Ok(config) => {
            *lock(&s.heygen) = config;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("bad webhook config: {e}")).into_response(),
    }
}

async fn video(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    let Some((id, ext)) = name.rsplit_once('.') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(job) = s.jobs().output(id, ext).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if job.html_output {
        return (
            [("content-type", "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>",
        )
            .into_response();
    }
    match ext {
        "mp4" => ([("content-type", "video/mp4")], jobs::mp4_stub()).into_response(),
        "mp3" => {
            let text = job.echo["text"].as_str().unwrap_or("render");
            ([("content-type", "audio/mpeg")], media::mp3(text)).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What a provider handler gets.
pub(crate) struct Ctx {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: serde_json::Value,
    /// The body as sent (for endpoints that take bytes, not JSON).
    pub(crate) raw: Bytes,
    pub(crate) fault: Fault,
    pub(crate) origin: String,
    pub(crate) shared: Arc<Shared>,
}

async fn dispatch(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let full = uri.path();
    let (provider, path) = match full.trim_start_matches('/').split_once('/') {
        Some((p, rest)) => (p.to_owned(), format!("/{rest}")),
        None => (full.trim_start_matches('/').to_owned(), "/".to_owned()),
    };
    if !PROVIDERS.contains(&provider.as_str()) {
        return (StatusCode::NOT_FOUND, "no such fake provider").into_response();
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A form reads as a JSON object of its text fields, as a JSON body would; its bytes are
    // kept too, like any other body that is not JSON.
    let (json, as_sent, bad_form) = match content_type.as_deref().filter(|t| form::is_form(t)) {
        Some(t) => match form::fields(t, body.clone()).await {
            Ok(fields) => (fields, true, None),
            Err(e) => (serde_json::Value::Null, true, Some(e)),
        },
        None => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => (v, false, None),
            Err(_) => (serde_json::Value::Null, true, None),
        },
    };
    let body_base64 = (as_sent && !body.is_empty()).then(|| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&body)
    });
    lock(&s.requests).push(Recorded {
        provider: provider.clone(),
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_owned),
        body: json.clone(),
        content_type,
        body_base64,
    });
    if let Some(e) = bad_form {
        // As the real APIs answer a body they cannot read.
        return respond::invalid(
            &provider,
            &format!("malformed multipart/form-data body: {e}"),
        );
    }
    let header_spec = headers
        .get("x-fake-fault")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fault = match header_spec.or_else(|| faults::marker(&body)) {
        Some(spec) => match Fault::parse(&spec) {
            Ok(f) => f,
            Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
        },
        None => lock(&s.faults).pop(&provider).unwrap_or_default(),
    };
    if fault.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(status) = fault.status {
        let mut response = respond::error(&provider, status, "fault injected by molts-fakes");
        respond::retry_headers(&mut response, &fault);
        return response;
    }
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), respond::percent_decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let ctx = Ctx {
        method,
        path,
        query,
        headers,
        body: json,
        raw: body,
        fault,
        origin: s.origin(),
        shared: s.clone(),
    };
    if let Some(refused) = providers::check_auth(&provider, &ctx) {
        return refused;
    }
    if ctx.fault.malformed {
        return respond::malformed(&ctx);
    }
    providers::handle(&provider, &ctx).await
}
