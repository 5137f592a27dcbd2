//! What a runtime sends out on its own: a signed webhook delivered to a receiver the suite runs
//! on loopback (its Standard Webhooks signature checked with the suite's own HMAC), and a
//! provider-hosted output downloaded from the fake providers the suite runs (HeyGen's shape: the
//! finished job answers a URL on the fake server, which molts fetches and stores). Both need the
//! runtime's outbound HTTP client; a runtime wired without one fails them.
//!
//! The server under test must reach the suite on `127.0.0.1`: webhooks to it need
//! `MOLTS_WEBHOOK_ALLOW_HOSTS=127.0.0.1`, and tenants' provider keys need `MOLTS_SECRET_KEY`.
//! Deliveries go out when the runtime's scheduled work runs (its timer, cron trigger or
//! EventBridge rule), so the conformance scripts run that every few seconds.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Body, Ctx, ensure};
use crate::receiver::Receiver;

use super::support::{poll_until, sha256_hex, submit_video};

/// The longest a delivery may take after its job is ready: a scheduled round or two.
const DELIVERED_WITHIN: Duration = Duration::from_secs(120);

/// Pause between looks at the receiver.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// A job's final status from a read of it.
fn finished(body: &Value) -> bool {
    !matches!(body["status"].as_str(), Some("queued" | "processing"))
}

/// A demo video's `job.ready` event reaches the agent's webhook URL on loopback, signed with the
/// agent's secret per Standard Webhooks, and the delivery log records it delivered.
pub(crate) async fn webhook_delivered(ctx: &Ctx) -> CaseResult {
    let receiver = Receiver::start().await?;
    let (_, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"video": {"month": 100}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    let path = format!("/hooks/{}", ctx.unique("hook"));
    let url = format!("{}{path}", receiver.url());
    let set = ctx
        .put("/v1/webhook", Some(&agent.key), &json!({"url": url}))
        .await?;
    ensure!(
        set.status == 200,
        "PUT /v1/webhook with {url}: the server must allow webhooks to 127.0.0.1 \
         (MOLTS_WEBHOOK_ALLOW_HOSTS=127.0.0.1) for this case; got {}",
        set.quote()
    );
    let secret = set.str_at("/secret")?.to_owned();

    let id = submit_video(ctx, &agent, "Deliver this event.").await?;
    let done = poll_until(ctx, &agent.key, &format!("/v1/jobs/{id}"), finished).await?;
    done.expect_at("/status", &json!("ready"))?;

    let started = Instant::now();
    let delivered = loop {
        if let Some(first) = receiver.received(&path).into_iter().next() {
            break first;
        }
        ensure!(
            started.elapsed() < DELIVERED_WITHIN,
            "no webhook reached {url} within {} s of job {id} being ready (does the runtime's \
             scheduled work run, and does it have an outbound HTTP client?); its deliveries: {}",
            DELIVERED_WITHIN.as_secs(),
            ctx.get(
                &format!("/v1/webhook/deliveries?job_id={id}"),
                Some(&agent.key)
            )
            .await?
            .quote()
        );
        tokio::time::sleep(LOOK_EVERY).await;
    };
    delivered.verify(&secret)?;
    let event: Value = serde_json::from_slice(&delivered.body)
        .map_err(|e| format!("the delivery's body is not JSON ({e})"))?;
    ensure!(
        event["type"] == "job.ready" && event["data"]["id"] == id.as_str(),
        "expected a job.ready event for {id}, got {event}"
    );
    ensure!(
        delivered
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/json")),
        "the delivery's content-type: {:?}",
        delivered.headers.get("content-type")
    );
    // A receiver that answered 2xx is recorded as delivered, under the id it was sent with.
    let webhook_id = delivered
        .headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let started = Instant::now();
    loop {
        let log = ctx
            .get(
                &format!("/v1/webhook/deliveries?job_id={id}"),
                Some(&agent.key),
            )
            .await?
            .expect(200)?;
        let entry = log
            .array_at("/data")?
            .iter()
            .find(|d| d["id"] == webhook_id.as_str())
            .cloned();
        if entry.as_ref().is_some_and(|d| d["status"] == "delivered") {
            break;
        }
        ensure!(
            started.elapsed() < DELIVERED_WITHIN,
            "delivery {webhook_id} was received but is not logged as delivered: {}",
            log.quote()
        );
        tokio::time::sleep(LOOK_EVERY).await;
    }
    Ok(())
}

/// A HeyGen video through the fake providers the suite runs: the instance's key points HeyGen at
/// the fake (set by the operator, so its own origin may be fetched), the job ends `ready`, and
/// the output molts downloaded from the fake's URL is the artifact, byte for byte.
pub(crate) async fn provider_hosted_output(ctx: &Ctx) -> CaseResult {
    let fake = molts_fakes::FakeServer::start()
        .await
        .map_err(|e| format!("cannot start the fake providers: {e}"))?;
    let (instance, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"video": {"month": 100}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    let put = ctx
        .send(
            Method::PUT,
            &format!("/v1/admin/instances/{instance}/provider-keys/heygen"),
            Some(ctx.admin()),
            Body::Json(&json!({
                "api_key": molts_fakes::key("heygen"),
                "base_url": fake.base_url("heygen"),
            })),
        )
        .await?;
    ensure!(
        put.status == 200,
        "setting the instance's HeyGen key needs MOLTS_SECRET_KEY on the server; got {}",
        put.quote()
    );

    let submitted = ctx
        .post(
            "/v1/videos/generate",
            Some(&agent.key),
            &json!({"model": "heygen-avatar", "script": "Hosted by the provider."}),
        )
        .await?
        .expect(202)?;
    let id = submitted.str_at("/video_id")?.to_owned();
    let done = poll_until(ctx, &agent.key, &format!("/v1/jobs/{id}"), finished).await?;
    ensure!(
        done.body["status"] == "ready",
        "the HeyGen job should end ready with the fake's output stored: {}",
        done.quote()
    );
    ensure!(
        !fake.jobs().is_empty(),
        "the fake HeyGen never received the job"
    );
    let artifact = done.str_at("/artifact_id")?.to_owned();
    let record = ctx
        .get(&format!("/v1/artifacts/{artifact}"), Some(&agent.key))
        .await?
        .expect(200)?;
    record.expect_at("/job_id", &json!(id))?;
    record.expect_at("/content_type", &json!("video/mp4"))?;
    let content = ctx
        .get(
            &format!("/v1/artifacts/{artifact}/content"),
            Some(&agent.key),
        )
        .await?
        .expect(200)?;
    let served = molts_fakes::jobs::mp4_stub();
    ensure!(
        content.bytes == served,
        "the artifact is not the fake's output: {} bytes, the fake served {}",
        content.bytes.len(),
        served.len()
    );
    record.expect_at("/size", &json!(served.len()))?;
    record.expect_at("/sha256", &json!(sha256_hex(&served)))?;
    Ok(())
}
