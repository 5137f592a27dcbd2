//! Provider callbacks: when a job finishes, the fake calls back like the real provider does —
//! Shotstack POSTs its render callback to the edit's `callback` URL, Tavus POSTs the video to
//! its `callback_url`, and HeyGen POSTs an `avatar_video.success` / `avatar_video.fail` event to
//! the video's `callback_url` and to the account webhook endpoint (`POST /_fake/heygen/webhook`
//! or `--heygen-webhook-url`), signed with the endpoint's secret when one is set: hex
//! HMAC-SHA256 of the raw body in `Signature` (and `X-HeyGen-Signature`).
//!
//! Callbacks are sent from a spawned task, so the poll that finished the job answers at once,
//! and only to loopback addresses (`127.0.0.0/8`, `localhost`, `[::1]`): the fake never reaches
//! out to the network. Every callback, sent or not, is recorded (`GET /_fake/callbacks`) with
//! its exact body and headers, so a test can replay one.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::jobs::{Job, Stage};
use crate::{Shared, lock, providers};

/// How long the fake waits for a callback's receiver to answer.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// One callback the fake made (or refused to make).
#[derive(Debug, Clone, Serialize)]
pub struct SentCallback {
    /// Which provider called back.
    pub provider: String,
    /// The provider's job id.
    pub job_id: String,
    /// Where it went.
    pub url: String,
    /// The exact body sent.
    pub body: String,
    /// The headers sent besides `content-type` (HeyGen's signatures).
    pub headers: Vec<(String, String)>,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Why there was no answer (connection refused, timeout, not a loopback address).
    pub error: Option<String>,
}

/// HeyGen's account webhook endpoint: where every video event also goes, and the secret that
/// signs them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeygenWebhook {
    /// The signing secret; events are unsigned without one.
    #[serde(default)]
    pub secret: Option<String>,
    /// The endpoint's URL; without one events only go to each video's `callback_url`.
    #[serde(default)]
    pub url: Option<String>,
}

/// The hex HMAC-SHA256 of `body` under `secret`: HeyGen's `Signature` header.
pub fn heygen_signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `url` is plain http to a loopback host.
fn loopback(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    if parsed.scheme() != "http" {
        return false;
    }
    match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Header names and values.
type Headers = Vec<(String, String)>;

/// The calls `job`'s finish makes: `(url, body, extra headers)` for each target.
fn calls(shared: &Shared, job: &Job, stage: &Stage) -> Vec<(String, String, Headers)> {
    let Some(body) = providers::callback_body(job, stage, &shared.origin()) else {
        return Vec::new();
    };
    let body = body.to_string();
    let mut targets: Vec<String> = job.callback_url.iter().cloned().collect();
    let mut headers = Vec::new();
    if job.provider == "heygen" {
        let account = lock(&shared.heygen).clone();
        if let Some(url) = account.url
            && !targets.contains(&url)
        {
            targets.push(url);
        }
        if let Some(secret) = account.secret {
            let signature = heygen_signature(&secret, body.as_bytes());
            headers.push(("Signature".to_owned(), signature.clone()));
            headers.push(("X-HeyGen-Signature".to_owned(), signature));
        }
    }
    targets
        .into_iter()
        .map(|url| (url, body.clone(), headers.clone()))
        .collect()
}

/// Sends `job`'s finish callbacks from a spawned task; returns at once.
pub(crate) fn announce(shared: &Arc<Shared>, job: &Job, stage: &Stage) {
    for (url, body, headers) in calls(shared, job, stage) {
        let mut record = SentCallback {
            provider: job.provider.clone(),
            job_id: job.id.clone(),
            url: url.clone(),
            body: body.clone(),
            headers: headers.clone(),
            status: None,
            error: None,
        };
        if !loopback(&url) {
            record.error = Some("not sent: the fake calls back loopback addresses only".into());
            lock(&shared.callbacks).push(record);
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut request = shared
                .client()
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            for (name, value) in &headers {
                request = request.header(name.as_str(), value.as_str());
            }
            match request.send().await {
                Ok(response) => record.status = Some(response.status().as_u16()),
                Err(e) => record.error = Some(e.without_url().to_string()),
            }
            lock(&shared.callbacks).push(record);
        });
    }
}

/// The client callbacks go out through: no proxy (loopback only), a bounded wait.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(CALLBACK_TIMEOUT)
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            heygen_signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_loopback_is_called_back() {
        assert!(loopback("http://127.0.0.1:8787/v1/callbacks/x/y"));
        assert!(loopback("http://localhost/cb"));
        assert!(loopback("http://[::1]:9/cb"));
        assert!(!loopback("https://127.0.0.1/cb"));
        assert!(!loopback("http://molts.example/cb"));
        assert!(!loopback("http://10.0.0.1/cb"));
        assert!(!loopback("not a url"));
    }
}
