//! Running the real `bootstrap` binary in the real `lambda_runtime` loop, in-process: a small
//! Lambda Runtime API (the three endpoints a runtime calls: `next`, `response`, `error`) hands it
//! events and collects what it answers, byte for byte as Lambda would receive them.
//!
//! The Runtime API is AWS's documented contract between Lambda and a custom runtime; serving it
//! here keeps `cargo test` free of outside tools, while `scripts/lambda-conformance.sh` runs the
//! same binary under `cargo lambda watch`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// The operator token the function is started with.
pub(crate) const ADMIN_TOKEN: &str = "lambda-events-operator-token-0123456789";

/// What the function reported for one invocation.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `POST /runtime/invocation/{id}/response`: the JSON Lambda hands back to the caller.
    Response(Value),
    /// `POST /runtime/invocation/{id}/error`: the invocation failed with this error object.
    Error(Value),
}

type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

#[derive(Clone)]
struct ApiState {
    events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>>,
    waiting: Waiting,
}

/// A Lambda Runtime API on a loopback port, and the function process polling it.
pub(crate) struct Function {
    child: Child,
    events: mpsc::UnboundedSender<(String, String)>,
    waiting: Waiting,
    stderr: Arc<Mutex<Vec<String>>>,
    next_id: u32,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.server.abort();
    }
}

/// The environment Lambda gives every function (`lambda_runtime` requires these).
pub(crate) fn lambda_env(cmd: &mut Command, runtime_api: SocketAddr) {
    cmd.env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "molts")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/molts")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2025/03/10/[$LATEST]0123456789abcdef",
        )
        .env("AWS_REGION", "us-east-1");
}

/// A `bootstrap` command with no `MOLTS_*` inherited from the test's environment.
pub(crate) fn bootstrap() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    for (name, _) in std::env::vars() {
        if name.starts_with("MOLTS_") || name.starts_with("AWS_LAMBDA_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

async fn next(State(state): State<ApiState>) -> impl IntoResponse {
    let Some((id, body)) = state.events.lock().await.recv().await else {
        // The test is over: keep the runtime waiting, as Lambda does between invocations.
        return std::future::pending().await;
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 60_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:molts".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-67cee8b4-3c4d5e6f7a8b9c0d1e2f3a4b;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
    );
    set("content-type", "application/json".to_owned());
    (headers, body)
}

fn finish(state: &ApiState, id: &str, body: &Bytes, ok: bool) -> StatusCode {
    let value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let sender = state.waiting.lock().ok().and_then(|mut w| w.remove(id));
    match sender {
        Some(sender) => {
            let _ = sender.send(if ok {
                Outcome::Response(value)
            } else {
                Outcome::Error(value)
            });
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn respond(State(state): State<ApiState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&state, &id, &body, true)
}

async fn fail(State(state): State<ApiState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&state, &id, &body, false)
}

impl Function {
    /// Starts the Runtime API and `bootstrap` over a fresh SQLite database in `dir`.
    pub(crate) async fn start(dir: &std::path::Path) -> Result<Self, String> {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join("molts.db").to_string_lossy()
        );
        Self::start_with(&[
            ("MOLTS_DATABASE_URL", url.as_str()),
            ("MOLTS_ADMIN_TOKEN", ADMIN_TOKEN),
        ])
        .await
    }

    /// Starts the Runtime API and `bootstrap` with these `MOLTS_*` variables.
    pub(crate) async fn start_with(env: &[(&str, &str)]) -> Result<Self, String> {
        let (events, receiver) = mpsc::unbounded_channel();
        let waiting: Waiting = Arc::default();
        let state = ApiState {
            events: Arc::new(tokio::sync::Mutex::new(receiver)),
            waiting: waiting.clone(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let mut cmd = bootstrap();
        lambda_env(&mut cmd, addr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start bootstrap: {e}"))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(pipe) = child.stderr.take() {
            let lines = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut lines) = lines.lock() {
                        lines.push(line);
                    }
                }
            });
        }
        Ok(Self {
            child,
            events,
            waiting,
            stderr,
            next_id: 0,
            server,
        })
    }

    /// What the function wrote to stderr so far.
    pub(crate) fn logs(&self) -> String {
        self.stderr.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits (up to 5 s) until the function has logged `needle`: its stderr is read on another
    /// thread, so a line written just before a response may not be in [`Function::logs`] yet.
    pub(crate) async fn wait_for_log(&self, needle: &str) -> bool {
        for _ in 0..100 {
            if self.logs().contains(needle) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    /// Invokes the function with `event` and waits for its outcome.
    pub(crate) async fn invoke(&mut self, event: &str) -> Result<Outcome, String> {
        self.next_id += 1;
        let id = format!("8476a536-e9f4-11e8-9739-2dfe598c{:04}", self.next_id);
        let (sender, receiver) = oneshot::channel();
        self.waiting
            .lock()
            .map_err(|e| e.to_string())?
            .insert(id.clone(), sender);
        self.events
            .send((id, event.to_owned()))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(60), receiver).await {
            Ok(Ok(outcome)) => Ok(outcome),
            _ => Err(format!(
                "no answer from the function within 60 s; its stderr:\n{}",
                self.logs()
            )),
        }
    }

    /// Invokes and expects a response (not an invocation error).
    pub(crate) async fn respond(&mut self, event: &str) -> Result<Value, String> {
        match self.invoke(event).await? {
            Outcome::Response(value) => Ok(value),
            Outcome::Error(error) => Err(format!("invocation failed: {error}")),
        }
    }
}

/// A committed fixture, with `{{API_KEY}}` replaced.
pub(crate) fn fixture(name: &str, api_key: &str) -> Result<String, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text.replace("{{API_KEY}}", api_key))
}

/// The response body of an HTTP event's answer, as JSON.
pub(crate) fn body_json(response: &Value) -> Result<Value, String> {
    let body = response
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no text body in {response}"))?;
    if response.get("isBase64Encoded") == Some(&Value::Bool(true)) {
        return Err(format!("a JSON body came back base64-encoded: {response}"));
    }
    serde_json::from_str(body).map_err(|e| format!("body is not JSON ({e}): {body}"))
}

/// Waits for `child` to exit, up to `timeout`.
pub(crate) fn wait_exit(
    child: &mut Child,
    timeout: Duration,
) -> Result<std::process::ExitStatus, String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return Err("bootstrap did not exit in time".to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
