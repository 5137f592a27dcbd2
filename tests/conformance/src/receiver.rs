//! A webhook receiver the suite runs itself, on loopback: it records every POST and answers
//! 204, and checks a Standard Webhooks signature (`webhook-signature: v1,<base64 HMAC-SHA256>`
//! over `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the agent's `whsec_` secret)
//! with its own HMAC, not molts' signer. The server under test must be allowed to reach
//! `127.0.0.1` (`MOLTS_WEBHOOK_ALLOW_HOSTS=127.0.0.1`), which the conformance scripts set.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// Its path (each case listens on a path of its own).
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> Result<&str, String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("the delivery has no {name} header"))
    }

    /// Checks the Standard Webhooks signature against `secret` (`whsec_<base64 key>`).
    pub(crate) fn verify(&self, secret: &str) -> Result<(), String> {
        let id = self.header("webhook-id")?;
        let timestamp = self.header("webhook-timestamp")?;
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("webhook-timestamp is not seconds: {timestamp:?}"))?;
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
            .map_err(|_| format!("the endpoint's secret is not whsec_<base64>: {secret:?}"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key)
            .map_err(|_| "the secret cannot key HMAC".to_owned())?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        // The header may carry several space-separated signatures (during a secret rotation).
        let signatures = self.header("webhook-signature")?;
        if signatures.split(' ').any(|s| s == expected) {
            Ok(())
        } else {
            Err(format!(
                "webhook-signature {signatures:?} does not match {expected:?} computed over \
                 \"{id}.{timestamp}.<body>\" with the endpoint's secret"
            ))
        }
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// A running receiver; stops when dropped.
pub(crate) struct Receiver {
    url: String,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    if let Ok(mut log) = log.lock() {
        log.push(Received {
            path: uri.path().to_owned(),
            headers,
            body,
        });
    }
    StatusCode::NO_CONTENT
}

impl Receiver {
    /// Listens on `127.0.0.1` at a free port.
    pub(crate) async fn start() -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("the webhook receiver cannot listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let log = Log::default();
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(log.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url: format!("http://{addr}"),
            log,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// What arrived at `path` so far.
    pub(crate) fn received(&self, path: &str) -> Vec<Received> {
        self.log
            .lock()
            .map(|log| log.iter().filter(|r| r.path == path).cloned().collect())
            .unwrap_or_default()
    }
}
