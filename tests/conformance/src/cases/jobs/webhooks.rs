//! The agent's webhook endpoint: its `whsec_` secret, the URLs it refuses and keeps, rotation,
//! and the delivery log.

use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Ctx, ensure};

use super::support::submit_video;

/// The agent's webhook endpoint: a `whsec_` secret made on first read, internal URLs refused,
/// a public URL kept, the secret rotated on request, and the delivery log (own jobs only).
pub(crate) async fn webhook_endpoint(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let (_, other) = ctx.new_agent().await?;
    let first = ctx
        .get("/v1/webhook", Some(&agent.key))
        .await?
        .expect(200)?;
    let secret = first.str_at("/secret")?.to_owned();
    ensure!(secret.starts_with("whsec_"), "secret: {}", first.quote());
    ctx.put(
        "/v1/webhook",
        Some(&agent.key),
        &json!({"url": "http://169.254.169.254/latest/meta-data"}),
    )
    .await?
    .expect_error(400, Some("webhook_url_refused"))?;
    let set = ctx
        .put(
            "/v1/webhook",
            Some(&agent.key),
            &json!({"url": "https://hooks.example.com/molts"}),
        )
        .await?
        .expect(200)?;
    set.expect_at("/url", &json!("https://hooks.example.com/molts"))?;
    set.expect_at("/secret", &json!(secret))?;
    let rotated = ctx
        .put(
            "/v1/webhook",
            Some(&agent.key),
            &json!({"url": null, "rotate_secret": true}),
        )
        .await?
        .expect(200)?;
    rotated.expect_at("/url", &Value::Null)?;
    ensure!(
        rotated.str_at("/secret")? != secret,
        "rotate_secret made no new secret: {}",
        rotated.quote()
    );
    let log = ctx
        .get("/v1/webhook/deliveries", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(log.body["data"].is_array(), "deliveries: {}", log.quote());
    let id = submit_video(ctx, &agent, "Whose deliveries?").await?;
    ctx.get(
        &format!("/v1/webhook/deliveries?job_id={id}"),
        Some(&other.key),
    )
    .await?
    .expect_error(404, None)?;
    Ok(())
}
