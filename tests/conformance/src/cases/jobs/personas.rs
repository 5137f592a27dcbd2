//! Personas: started at registration from a photo, ready, listed, metered as one `persona`
//! (not a video), and used by later videos; refused without a source, never failing the registration itself.

use serde_json::{Value, json};

use crate::CaseResult;
use crate::cases::generation::used;
use crate::client::{Ctx, ensure};
use crate::fixtures::Agent;

use super::support::poll_until;

/// Personas: registration can start one (a photo as base64, with the demo provider), it becomes
/// ready, is listed, is one `persona` unit (not a video), and later videos use it; a persona without a source is a 400;
/// registration still succeeds (and returns the key) when the persona cannot be started.
pub(crate) async fn personas(ctx: &Ctx) -> CaseResult {
    use base64::Engine;
    let instance = ctx.new_instance("inst", Value::Null).await?;
    let photo = base64::engine::general_purpose::STANDARD.encode(b"a tiny persona photo");
    let body = json!({
        "name": ctx.unique("agent"),
        "email": ctx.email(),
        "instance": instance,
        "persona": {"model": "demo-video", "image_base64": photo, "image_content_type": "image/png"},
    });
    let r = ctx
        .post("/v1/agents/register", None, &body)
        .await?
        .expect(201)?;
    let agent = Agent::from_registered(&r)?;
    r.expect_at("/persona/kind", &json!("persona"))?;
    let id = r.str_at("/persona/id")?.to_owned();
    let ready = poll_until(ctx, &agent.key, &format!("/v1/jobs/{id}"), |b| {
        b["status"] != "queued" && b["status"] != "processing"
    })
    .await?;
    ready.expect_at("/status", &json!("ready"))?;
    let listed = ctx
        .get("/v1/personas", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        listed.body["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|p| p["id"] == json!(id))),
        "GET /v1/personas does not list {id}: {}",
        listed.quote()
    );
    let videos = used(ctx, &agent.key, "video").await?;
    ensure!(
        videos == 0,
        "a persona is not a video, but {videos} videos are counted"
    );
    let personas = used(ctx, &agent.key, "persona").await?;
    ensure!(
        personas == 1,
        "a persona is one persona unit, but {personas} are counted"
    );
    // The uploaded photo is kept as the agent's file.
    ctx.get("/v1/files/persona-photo", Some(&agent.key))
        .await?
        .expect(200)?;

    ctx.post(
        "/v1/personas",
        Some(&agent.key),
        &json!({"model": "demo-video"}),
    )
    .await?
    .expect_error(400, None)?;
    ctx.post(
        "/v1/personas",
        Some(&agent.key),
        &json!({"video_url": "ftp://example.com/me.mp4"}),
    )
    .await?
    .expect_error(400, None)?;

    // A persona that cannot start does not cost the registration its key.
    let body = json!({
        "name": ctx.unique("agent"),
        "email": ctx.email(),
        "instance": instance,
        "persona": {"model": "demo-video"},
    });
    let r = ctx
        .post("/v1/agents/register", None, &body)
        .await?
        .expect(201)?;
    Agent::from_registered(&r)?;
    ensure!(
        r.body["persona"]["error"]["message"].is_string(),
        "registration with an unusable persona reports why: {}",
        r.quote()
    );
    Ok(())
}
