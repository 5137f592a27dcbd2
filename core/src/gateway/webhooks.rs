//! Outbound webhooks: agents' endpoints, the outbox of `job.ready` / `job.failed` events and
//! their delivery, signed per the Standard Webhooks convention (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `"{id}.{timestamp}.{body}"` with the agent's `whsec_` secret). At least once: a delivery is
//! retried on a schedule until the endpoint answers 2xx; receivers deduplicate on `webhook-id`.
//!
//! Target URLs are refused when they point at loopback, private, link-local (cloud metadata)
//! or otherwise internal addresses, unless the operator's allow-list names the host (the policy
//! is `crate::net`). The check here sees the URL, at registration and again before each attempt;
//! a name that *resolves* to internal addresses is refused by the webhook client's resolver
//! (`Gateway::with_webhook_http`; the native runtimes' `ReqwestHttpClient::for_webhooks`), with
//! the same `webhook_url_refused` code, and such a delivery fails at once like a refused URL.

use crate::ErrorCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;

use crate::domain::{DeliveryStatus, Job, JobStatus, WebhookDelivery, WebhookEndpoint};
use crate::error::{Error, ErrorKind, Result};
use crate::net::host_is_refused;
use crate::ports::{HttpClientExt, RequestOptions};

use super::jobs::chrono_of;
use super::{AgentPrincipal, Gateway};

/// Delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Hosts (names or IP literals, exact) that may be targeted even though they are internal.
    pub allowed_hosts: Vec<String>,
    /// Waits between attempts; a delivery fails after one attempt more than this has entries.
    pub retry_schedule: Vec<Duration>,
    /// How long one attempt may take, all of it (connecting, the answer's head and its whole
    /// body): a receiver that answers a byte at a time is cut here and retried later.
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            allowed_hosts: Vec::new(),
            retry_schedule: vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                minutes(2),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(180),
                minutes(360),
            ],
            timeout: Duration::from_secs(10),
        }
    }
}

/// Longest webhook URL.
const MAX_URL_LEN: usize = 2048;

/// An agent's endpoint as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpointView {
    /// Where events go (besides per-request URLs).
    pub url: Option<String>,
    /// The signing secret.
    pub secret: String,
}

/// The Standard Webhooks signature header value for one message.
pub fn sign_webhook(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| Error::internal("a webhook secret is not valid base64"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| Error::internal("a webhook secret could not key HMAC"))?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}
impl Gateway {
    /// Checks a webhook target: an absolute http(s) URL to a host that is not internal, unless
    /// allow-listed. Answers the URL as given.
    pub(super) fn check_webhook_url(&self, raw: &str) -> Result<String> {
        let refuse = |why: &str| {
            Error::invalid("webhook_url", format!("webhook_url {why}"))
                .with_code(ErrorCode::WebhookUrlRefused)
        };
        if raw.len() > MAX_URL_LEN {
            return Err(refuse("is too long"));
        }
        let url = url::Url::parse(raw).map_err(|_| refuse("is not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse("must use http or https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("must not carry credentials"));
        }
        let host = url.host().ok_or_else(|| refuse("has no host"))?;
        if host_is_refused(&host, &self.inner.config.webhooks.allowed_hosts) {
            return Err(refuse(
                "points at a loopback, private, link-local or internal address",
            ));
        }
        Ok(raw.to_owned())
    }

    fn new_webhook_secret(&self) -> Result<String> {
        let mut bytes = [0u8; 32];
        self.inner.ports.ids.fill_secret(&mut bytes)?;
        Ok(format!("whsec_{}", STANDARD.encode(bytes)))
    }

    /// The agent's endpoint, made (with a secret and no URL) if it has none, so per-request
    /// webhook URLs can be signed.
    pub(super) async fn ensure_webhook_secret(&self, agent_id: &str) -> Result<WebhookEndpoint> {
        let store = &self.inner.ports.stores.webhooks;
        if let Some(endpoint) = store.get_endpoint(agent_id).await? {
            return Ok(endpoint);
        }
        let now = self.now();
        let endpoint = WebhookEndpoint {
            agent_id: agent_id.to_owned(),
            url: None,
            secret: self.new_webhook_secret()?,
            created_at: now,
            updated_at: now,
        };
        store.put_endpoint(&endpoint).await?;
        Ok(endpoint)
    }

    /// The caller's webhook endpoint (made with a fresh secret if it had none).
    pub async fn webhook_endpoint(
        &self,
        principal: &AgentPrincipal,
    ) -> Result<WebhookEndpointView> {
        let endpoint = self.ensure_webhook_secret(&principal.agent.id).await?;
        Ok(WebhookEndpointView {
            url: endpoint.url,
            secret: endpoint.secret,
        })
    }

    /// Sets (or clears, with `None`) the caller's webhook URL; `rotate` makes a new secret.
    pub async fn set_webhook_endpoint(
        &self,
        principal: &AgentPrincipal,
        url: Option<String>,
        rotate: bool,
    ) -> Result<WebhookEndpointView> {
        let url = url.map(|u| self.check_webhook_url(&u)).transpose()?;
        let current = self.ensure_webhook_secret(&principal.agent.id).await?;
        let endpoint = WebhookEndpoint {
            url,
            secret: if rotate {
                self.new_webhook_secret()?
            } else {
                current.secret
            },
            updated_at: self.now(),
            ..current
        };
        self.inner
            .ports
            .stores
            .webhooks
            .put_endpoint(&endpoint)
            .await?;
        Ok(WebhookEndpointView {
            url: endpoint.url,
            secret: endpoint.secret,
        })
    }

    /// The caller's deliveries, newest first, optionally for one of its jobs.
    pub async fn webhook_deliveries(
        &self,
        principal: &AgentPrincipal,
        job_id: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<WebhookDelivery>> {
        if let Some(id) = job_id {
            self.own_job(principal, id).await?;
        }
        let limit = limit
            .unwrap_or(50)
            .clamp(1, self.inner.config.max_page_size);
        self.inner
            .ports
            .stores
            .webhooks
            .list_deliveries(&principal.agent.id, job_id, limit)
            .await
    }

    /// Queues the event for a job about to finish (`job` is its final form), to the request's
    /// URL and the agent's endpoint. Ids derive from the job, so queuing again is a no-op.
    pub(super) async fn queue_job_events(&self, job: &Job) -> Result<()> {
        let event_type = match job.status {
            JobStatus::Ready => "job.ready",
            JobStatus::Failed => "job.failed",
            _ => return Ok(()),
        };
        let endpoint = self
            .inner
            .ports
            .stores
            .webhooks
            .get_endpoint(&job.agent_id)
            .await?;
        let mut targets: Vec<String> = job.webhook_url.iter().cloned().collect();
        if let Some(url) = endpoint.as_ref().and_then(|e| e.url.clone())
            && !targets.contains(&url)
        {
            targets.push(url);
        }
        if targets.is_empty() {
            return Ok(());
        }
        let agent_name = self
            .inner
            .ports
            .stores
            .agents
            .get_agent(&job.agent_id)
            .await?
            .map(|a| a.name)
            .unwrap_or_default();
        let now = self.now();
        let payload = json!({
            "type": event_type,
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.job_view(job, &agent_name),
        })
        .to_string();
        let suffix = job.id.trim_start_matches("job_");
        let short = if job.status == JobStatus::Ready {
            "r"
        } else {
            "f"
        };
        for (n, url) in targets.into_iter().enumerate() {
            let delivery = WebhookDelivery {
                id: format!("msg_{suffix}{short}{n}"),
                agent_id: job.agent_id.clone(),
                job_id: job.id.clone(),
                event_type: event_type.to_owned(),
                url,
                payload: payload.clone(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: now,
                last_status: None,
                last_error: None,
                created_at: now,
                delivered_at: None,
            };
            match self
                .inner
                .ports
                .stores
                .webhooks
                .insert_delivery(&delivery)
                .await
            {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One attempt at one delivery; `false` if another worker had it or it was not yet time.
    pub(super) async fn deliver(&self, delivery: WebhookDelivery) -> Result<bool> {
        let store = &self.inner.ports.stores.webhooks;
        let now = self.now();
        let claimed = WebhookDelivery {
            attempts: delivery.attempts + 1,
            next_attempt_at: now + chrono_of(self.inner.config.webhooks.timeout) * 3,
            ..delivery.clone()
        };
        if !store.update_delivery(&claimed, delivery.attempts).await? {
            return Ok(false);
        }
        // The event was queued just before its job's final swap: make sure the swap happened.
        let job = self
            .inner
            .ports
            .stores
            .jobs
            .get_job(&delivery.job_id)
            .await?;
        let expected = if delivery.event_type == "job.ready" {
            JobStatus::Ready
        } else {
            JobStatus::Failed
        };
        match job.map(|j| j.status) {
            Some(status) if status == expected => {}
            Some(status) if !status.is_final() => {
                // Not finished yet (or the finishing worker died): look again shortly,
                // without counting this as an attempt.
                let back = WebhookDelivery {
                    next_attempt_at: now + chrono::Duration::seconds(5),
                    ..delivery.clone()
                };
                store.update_delivery(&back, claimed.attempts).await?;
                return Ok(false);
            }
            other => {
                let superseded = WebhookDelivery {
                    status: DeliveryStatus::Failed,
                    last_error: Some(format!(
                        "not sent: the job ended {}",
                        other.map_or("deleted", |s| s.as_str())
                    )),
                    ..claimed.clone()
                };
                store.update_delivery(&superseded, claimed.attempts).await?;
                return Ok(false);
            }
        }
        let outcome = self.send_delivery(&delivery).await;
        let schedule = &self.inner.config.webhooks.retry_schedule;
        let next = match outcome {
            Ok(status) if (200..300).contains(&status) => WebhookDelivery {
                status: DeliveryStatus::Delivered,
                last_status: Some(status),
                last_error: None,
                delivered_at: Some(self.now()),
                ..claimed.clone()
            },
            failed => {
                let (last_status, last_error, refused) = match failed {
                    Ok(status) => (
                        Some(status),
                        format!("endpoint answered HTTP {status}"),
                        false,
                    ),
                    // A refused target (by URL or by what its name resolves to) or a URL that
                    // cannot be sent will not get better by waiting.
                    Err(e) => (
                        None,
                        e.message().to_owned(),
                        matches!(
                            e.code(),
                            Some(ErrorCode::WebhookUrlRefused | ErrorCode::WebhookAddressRefused)
                        ),
                    ),
                };
                let wait = schedule.get(claimed.attempts as usize - 1).copied();
                WebhookDelivery {
                    status: if wait.is_some() && !refused {
                        DeliveryStatus::Pending
                    } else {
                        DeliveryStatus::Failed
                    },
                    next_attempt_at: self.now() + chrono_of(wait.unwrap_or_default()),
                    last_status,
                    last_error: Some(last_error),
                    ..claimed.clone()
                }
            }
        };
        tracing::info!(delivery = %next.id, job = %next.job_id, attempt = next.attempts, status = next.status.as_str(), "webhook attempt");
        store.update_delivery(&next, claimed.attempts).await?;
        Ok(true)
    }

    /// Signs and POSTs one delivery; answers the endpoint's status.
    async fn send_delivery(&self, delivery: &WebhookDelivery) -> Result<u16> {
        // The allow-list may have changed since the event was queued.
        self.check_webhook_url(&delivery.url)?;
        let endpoint = self.ensure_webhook_secret(&delivery.agent_id).await?;
        let timestamp = self.now().timestamp();
        let signature = sign_webhook(&endpoint.secret, &delivery.id, timestamp, &delivery.payload)?;
        let request = http::Request::post(&delivery.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "molts-webhooks/1")
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(bytes::Bytes::from(delivery.payload.clone()))
            .map_err(|_| {
                Error::invalid("webhook_url", "webhook_url is not a valid URL")
                    .with_code(ErrorCode::WebhookUrlRefused)
            })?;
        // The client's timeout bounds each wait; the deadline bounds the whole attempt.
        let timeout = self.inner.config.webhooks.timeout;
        let sending =
            self.webhook_http()?
                .send_collect(request, RequestOptions { timeout }, 64 * 1024);
        let response = self
            .within(timeout, "the webhook endpoint", sending)
            .await?;
        Ok(response.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = sign_webhook(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.ok().as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn the_guard_refuses_internal_hosts_unless_allowed() {
        use crate::{GatewayConfig, Ports};

        let gateway = |allowed: &[&str]| {
            let ports = Ports::in_memory();
            let config = GatewayConfig {
                webhooks: WebhookSettings {
                    allowed_hosts: allowed.iter().map(|h| (*h).to_owned()).collect(),
                    ..WebhookSettings::default()
                },
                ..GatewayConfig::default()
            };
            Gateway::new(ports, config)
        };
        let strict = gateway(&[]);
        for url in [
            "http://127.0.0.1/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://2130706433/hook",
            "http://100.64.0.1/hook",
            "http://localhost:8080/hook",
            "http://metadata.google.internal/",
            "http://printer.local/",
        ] {
            let refused = strict.check_webhook_url(url).err();
            assert_eq!(
                refused.as_ref().and_then(|e| e.code()),
                Some(ErrorCode::WebhookUrlRefused),
                "{url}"
            );
        }
        for url in [
            "https://hooks.example.com/x",
            "http://8.8.8.8/x",
            "http://[2606:4700::1111]/",
        ] {
            assert!(strict.check_webhook_url(url).is_ok(), "{url}");
        }
        let lenient = gateway(&["127.0.0.1", "localhost"]);
        assert!(lenient.check_webhook_url("http://127.0.0.1:9/hook").is_ok());
        assert!(lenient.check_webhook_url("http://LOCALHOST/hook").is_ok());
        assert!(lenient.check_webhook_url("http://10.0.0.1/hook").is_err());
    }
}
