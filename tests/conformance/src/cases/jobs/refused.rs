//! What the job API refuses: bad submissions (400s in the one error format, storing and charging
//! nothing) and provider callbacks without the job's secret (401s that change nothing).

use reqwest::Method;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::cases::generation::used;
use crate::client::{Body, Ctx, ensure};

use super::support::{job_agent, submit_video, video_body};

/// Bad submissions are 400s in the one error format and store and charge nothing.
pub(crate) async fn bad_input(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let cases: [(&str, Value, &str, Option<&str>); 8] = [
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "   "}),
            "invalid_value",
            Some("script"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video"}),
            "invalid_value",
            None,
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "aspect_ratio": "2:1"}),
            "invalid_value",
            Some("aspect_ratio"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "scirpt": "typo"}),
            "unknown_field",
            Some("scirpt"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "webhook_url": "http://169.254.169.254/latest/meta-data"}),
            "webhook_url_refused",
            Some("webhook_url"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "webhook_url": "not a url"}),
            "webhook_url_refused",
            Some("webhook_url"),
        ),
        (
            "/v1/renders",
            json!({"model": "demo-render", "timeline": {"tracks": []}}),
            "invalid_value",
            Some("timeline"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-image", "script": "Hi"}),
            "",
            None,
        ),
    ];
    for (path, body, code, param) in cases {
        let r = ctx.post(path, Some(&agent.key), &body).await?;
        let r = if code.is_empty() {
            // A model of another kind: refused, whatever the code.
            ensure!(
                r.status == 400 || r.status == 404,
                "POST {path} {body}: expected 400 or 404, got {}",
                r.quote()
            );
            r.check_error_shape()?;
            continue;
        } else {
            r.expect_error(400, Some(code))?
        };
        if let Some(p) = param {
            r.expect_at("/error/param", &json!(p))?;
        }
    }
    let r = ctx
        .send_with(
            Method::POST,
            "/v1/videos/generate",
            Some(format!("Bearer {}", agent.key)),
            Body::Json(&video_body("Hi")),
            &[("idempotency-key", "")],
        )
        .await?;
    r.expect_error(400, None)?;
    let jobs = ctx
        .get("/v1/jobs", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(jobs.is_empty(), "refused submissions stored jobs: {jobs:?}");
    for unit in ["video", "render"] {
        let charged = used(ctx, &agent.key, unit).await?;
        ensure!(charged == 0, "refused submissions charged {charged} {unit}");
    }
    ctx.post("/v1/videos/generate", None, &video_body("Hi"))
        .await?
        .expect_error(401, None)?;
    Ok(())
}

/// Provider callbacks need the job's secret: a wrong token, an unknown job or an unsigned
/// HeyGen event are 401 in the error format and change nothing.
pub(crate) async fn callbacks_refused(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let id = submit_video(ctx, &agent, "Nobody may call back for me.").await?;
    let before = ctx
        .get(&format!("/v1/jobs/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    let wrong = "0".repeat(64);
    for path in [
        format!("/v1/callbacks/{id}/{wrong}"),
        format!("/v1/callbacks/{id}/short"),
        format!("/v1/callbacks/job_doesnotexist/{wrong}"),
    ] {
        let r = ctx
            .post(&path, None, &json!({"status": "done"}))
            .await?
            .expect_error(401, None)?;
        r.expect_at("/error/type", &json!("authentication_error"))?;
    }
    let event = json!({"event_type": "avatar_video.success", "event_data": {
        "video_id": "v1", "url": "https://example.com/v.mp4", "callback_id": id,
    }});
    ctx.post("/v1/callbacks/heygen", None, &event)
        .await?
        .expect_error(401, None)?;
    ctx.send_with(
        Method::POST,
        "/v1/callbacks/heygen",
        None,
        Body::Json(&event),
        &[("signature", &"ab".repeat(32))],
    )
    .await?
    .expect_error(401, None)?;
    let after = ctx
        .get(&format!("/v1/jobs/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    // The job may have moved on by itself meanwhile; a refused callback must not have failed it.
    ensure!(
        after.body["status"] == before.body["status"] || after.body["status"] == "ready",
        "refused callbacks changed the job: {} then {}",
        before.quote(),
        after.quote()
    );
    Ok(())
}
