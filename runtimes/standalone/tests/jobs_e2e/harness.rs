//! What the end-to-end job tests share: the `molts` binary under test (started on a chosen port,
//! killed with SIGKILL), a small HTTP client for its API, a bounded `wait_for`, the webhook
//! receiver that checks every Standard Webhooks signature, and the set-up of models, a tier and
//! an agent through the API.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use molts_fakes::FakeServer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{ADMIN_TOKEN, molts};

// ---------------------------------------------------------------------------------------------
// The server under test.

/// A running `molts serve`, killed (SIGKILL) when dropped.
pub(crate) struct Molts {
    child: Child,
    pub(crate) base: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Molts {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Molts {
    /// The last lines molts logged, for failure messages.
    pub(crate) fn tail(&self) -> String {
        let logs = self.logs.lock().unwrap();
        let from = logs.len().saturating_sub(40);
        logs[from..].join("\n")
    }

    /// SIGKILL, as a crash or an OOM kill would: no graceful shutdown.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (molts must come back on the same one: providers keep its callback
/// URLs).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts `molts serve` on `port` against `database_url` with `env`.
pub(crate) async fn start_molts(database_url: &str, port: u16, env: &[(String, String)]) -> Molts {
    let mut cmd = molts();
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--database-url",
        database_url,
    ])
    .env("MOLTS_ADMIN_TOKEN", ADMIN_TOKEN)
    .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn,tower_http=warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("molts starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("molts listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let base = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap();
    let mut molts = Molts {
        child,
        base: String::new(),
        logs,
    };
    match base {
        Ok(base) => {
            molts.base = base;
            molts
        }
        Err(_) => panic!("molts did not start listening; its log:\n{}", molts.tail()),
    }
}

/// The environment every test starts molts with: the fake providers' keys and base URLs, the
/// webhook receiver allowed, and short job pacing.
pub(crate) fn base_env(fake: &FakeServer, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = fake.env().into_iter().collect();
    for (k, v) in [
        ("MOLTS_WEBHOOK_ALLOW_HOSTS", "127.0.0.1"),
        ("MOLTS_SCHEDULE_SECONDS", "1"),
        ("MOLTS_JOB_FIRST_CHECK_SECONDS", "1"),
        ("MOLTS_JOB_MAX_CHECK_SECONDS", "2"),
        ("MOLTS_JOB_LEASE_SECONDS", "3"),
        ("MOLTS_WEBHOOK_TIMEOUT_SECONDS", "2"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        env.retain(|(name, _)| name != k);
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/// An answer, read whole.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) bytes: Vec<u8>,
    pub(crate) json: Value,
}

impl Answer {
    pub(crate) fn quote(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        format!(
            "{} {}",
            self.status,
            text.chars().take(800).collect::<String>()
        )
    }
}

#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) client: reqwest::Client,
    base: String,
}

impl Api {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, String> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{method} {path}: reading the body: {e}"))?
            .to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            bytes,
            json,
        })
    }

    pub(crate) async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let answer = self
            .send(method.clone(), path, key, body, &[])
            .await
            .unwrap();
        assert_eq!(
            answer.status,
            status,
            "{method} {path}: expected {status}, got {}",
            answer.quote()
        );
        answer.json
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> Value {
        self.expect(reqwest::Method::GET, path, Some(key), None, 200)
            .await
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: &Value, status: u16) {
        self.expect(method, path, Some(ADMIN_TOKEN), Some(body), status)
            .await;
    }

    /// Every job of the agent holding `key` (up to 200), by id.
    pub(crate) async fn jobs(&self, key: &str) -> Result<BTreeMap<String, Value>, String> {
        let answer = self
            .send(
                reqwest::Method::GET,
                "/v1/jobs?limit=200",
                Some(key),
                None,
                &[],
            )
            .await?;
        if answer.status != 200 {
            return Err(format!("GET /v1/jobs: {}", answer.quote()));
        }
        Ok(answer.json["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|j| (j["id"].as_str().unwrap_or_default().to_owned(), j))
            .collect())
    }

    /// This month's use of `unit`.
    pub(crate) async fn used(&self, key: &str, unit: &str) -> u64 {
        let usage = self.get("/v1/usage", key).await;
        usage["units"]
            .as_array()
            .and_then(|units| units.iter().find(|u| u["unit"] == unit))
            .and_then(|u| u["month"]["used"].as_u64())
            .unwrap_or_else(|| panic!("no month usage of {unit} in {usage}"))
    }
}

/// Polls `check` every 250 ms until it answers `Some`, for at most `within`; panics naming
/// `what` and the last state otherwise.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let started = Instant::now();
    let mut last = String::from("nothing yet");
    loop {
        match check().await {
            Ok(Some(value)) => return value,
            Ok(None) => {}
            Err(state) => last = state,
        }
        assert!(
            started.elapsed() < within,
            "gave up after {} s waiting for {what}; last: {last}",
            within.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver.

/// One delivery the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) path: String,
    pub(crate) webhook_id: String,
    pub(crate) signed: bool,
    pub(crate) event: Value,
}

#[derive(Default)]
pub(crate) struct Inbox {
    /// The agent's signing secret, once known.
    pub(crate) secret: Option<String>,
    pub(crate) deliveries: Vec<Delivery>,
}

pub(crate) type SharedInbox = Arc<Mutex<Inbox>>;

async fn receive(
    State(inbox): State<SharedInbox>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut inbox = inbox.lock().unwrap();
    let signed = match (&inbox.secret, timestamp.parse::<i64>()) {
        (Some(secret), Ok(ts)) => {
            let expected = molts_core::gateway::sign_webhook(secret, &id, ts, &text).unwrap();
            signatures.split(' ').any(|s| s == expected)
        }
        _ => false,
    };
    inbox.deliveries.push(Delivery {
        path: uri.path().to_owned(),
        webhook_id: id,
        signed,
        event: serde_json::from_str(&text).unwrap_or(Value::Null),
    });
    if signed {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// Starts the receiver on loopback: answers its base URL and its inbox.
pub(crate) async fn webhook_receiver() -> (String, SharedInbox) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let inbox = SharedInbox::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(inbox.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, inbox)
}

// ---------------------------------------------------------------------------------------------
// Set-up through the API.

/// Creates the fake-backed model configs, a roomy tier and an agent on it; answers the key.
pub(crate) async fn set_up(api: &Api) -> String {
    use reqwest::Method;
    for (id, provider, modality, provider_model) in [
        ("e2e-heygen", "heygen", "video", "avatar-video"),
        ("e2e-shotstack", "shotstack", "render", "v1"),
    ] {
        api.admin(
            Method::POST,
            "/v1/admin/models",
            &json!({"id": id, "provider": provider, "modality": modality,
                    "provider_model": provider_model, "display_name": id}),
            201,
        )
        .await;
    }
    api.admin(
        Method::POST,
        "/v1/admin/tiers",
        &json!({"id": "e2e", "name": "E2E",
                "limits": {"video": {"month": 1000}, "render": {"month": 1000}}}),
        201,
    )
    .await;
    let agent = api
        .expect(
            Method::POST,
            "/v1/agents/register",
            None,
            Some(&json!({"name": "e2e", "email": "e2e@example.com"})),
            201,
        )
        .await;
    let id = agent["agent_id"].as_str().unwrap();
    api.admin(
        Method::PATCH,
        &format!("/v1/admin/agents/{id}"),
        &json!({"tier": "e2e"}),
        200,
    )
    .await;
    agent["api_key"].as_str().unwrap().to_owned()
}

pub(crate) fn video(script: &str, webhook_url: Option<&str>) -> Value {
    let mut body = json!({"model": "e2e-heygen", "script": script});
    if let Some(url) = webhook_url {
        body["webhook_url"] = json!(url);
    }
    body
}

pub(crate) fn render(title: &str, webhook_url: Option<&str>) -> Value {
    let mut body = json!({
        "model": "e2e-shotstack",
        "timeline": {"tracks": [{"clips": [
            {"asset": {"type": "title", "text": title}, "start": 0, "length": 2}
        ]}]},
        "output": {"format": "mp4", "resolution": "sd"},
    });
    if let Some(url) = webhook_url {
        body["webhook_url"] = json!(url);
    }
    body
}
