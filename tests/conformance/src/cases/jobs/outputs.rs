//! A demo video and a demo render: submitted (202), polled until ready, their MP4 stored as an
//! artifact and charged once; and the seed's `/videos/...` paths answering the same jobs.

use serde_json::json;

use crate::CaseResult;
use crate::cases::generation::used;
use crate::client::{Ctx, ensure};

use super::support::{check_output, job_agent, poll_until, render_body, video_body};

/// A demo video: 202 processing, then ready with a stored MP4 that is served whole and by
/// range; one video charged; another agent gets 404 for the video and its artifact.
pub(crate) async fn video(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let stranger = job_agent(ctx).await?;
    let script = "Hello from the conformance suite.";
    let r = ctx
        .post("/v1/videos/generate", Some(&agent.key), &video_body(script))
        .await?
        .expect(202)?;
    let id = r.str_at("/video_id")?.to_owned();
    ensure!(
        id.starts_with("job_"),
        "video_id should be a job id: {}",
        r.quote()
    );
    r.expect_at("/status", &json!("processing"))?;
    r.expect_at("/script", &json!(script))?;
    r.expect_at("/model", &json!("demo-video"))?;
    r.expect_at("/agent/id", &json!(agent.id))?;
    ensure!(
        r.body["url"].is_null(),
        "a new video has no url yet: {}",
        r.quote()
    );

    let path = format!("/v1/videos/{id}");
    let done = poll_until(ctx, &agent.key, &path, |b| b["status"] != "processing").await?;
    done.expect_at("/status", &json!("ready"))?;
    done.expect_at("/job_status", &json!("ready"))?;
    ensure!(
        done.body["duration"].as_f64().is_some_and(|d| d > 0.0),
        "a ready video has a duration: {}",
        done.quote()
    );
    let artifact = done.str_at("/artifact_id")?.to_owned();
    let url = done.str_at("/url")?.to_owned();

    let job = ctx
        .get(&format!("/v1/jobs/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    job.expect_at("/kind", &json!("video"))?;
    job.expect_at("/status", &json!("ready"))?;
    job.expect_at("/artifact_id", &json!(artifact))?;

    check_output(ctx, &agent, &stranger, &id, &artifact, &url).await?;
    ctx.get(&path, Some(&stranger.key))
        .await?
        .expect_error(404, Some("not_found"))?;
    let charged = used(ctx, &agent.key, "video").await?;
    ensure!(
        charged == 1,
        "one ready video should charge 1 video, got {charged}"
    );
    Ok(())
}

/// The seed's paths: `POST /videos/generate` and `GET /videos/{id}` answer the same jobs, in
/// the seed's shape, as the `/v1` paths do.
pub(crate) async fn video_seed_paths(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let r = ctx
        .post(
            "/videos/generate",
            Some(&agent.key),
            &video_body("Seed path video."),
        )
        .await?
        .expect(202)?;
    let id = r.str_at("/video_id")?.to_owned();
    for key in [
        "video_id",
        "status",
        "script",
        "url",
        "duration",
        "created_at",
        "agent",
    ] {
        ensure!(
            r.body.get(key).is_some(),
            "POST /videos/generate: the seed's field {key} is missing: {}",
            r.quote()
        );
    }
    let seed = ctx
        .get(&format!("/videos/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    seed.expect_at("/video_id", &json!(id))?;
    seed.expect_at("/script", &json!("Seed path video."))?;
    ensure!(
        ["processing", "ready"].contains(&seed.str_at("/status")?),
        "GET /videos/{{id}}: status should be processing or ready: {}",
        seed.quote()
    );
    let v1 = ctx
        .get(&format!("/v1/videos/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    v1.expect_at("/video_id", &json!(id))?;
    ctx.get("/videos/job_doesnotexist", Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    ctx.get(&format!("/videos/{id}"), None)
        .await?
        .expect_error(401, None)?;
    Ok(())
}

/// A demo render: 202 with the job, ready with an MP4 artifact; one render charged; a render
/// is not a video (`GET /v1/videos/{render id}` is 404).
pub(crate) async fn render(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let stranger = job_agent(ctx).await?;
    let r = ctx
        .post("/v1/renders", Some(&agent.key), &render_body("conformance"))
        .await?
        .expect(202)?;
    let id = r.str_at("/id")?.to_owned();
    r.expect_at("/kind", &json!("render"))?;
    r.expect_at("/model", &json!("demo-render"))?;
    ensure!(
        ["queued", "processing"].contains(&r.str_at("/status")?),
        "a new render is queued or processing: {}",
        r.quote()
    );
    let path = format!("/v1/renders/{id}");
    let done = poll_until(ctx, &agent.key, &path, |b| {
        !matches!(b["status"].as_str(), Some("queued" | "processing"))
    })
    .await?;
    done.expect_at("/status", &json!("ready"))?;
    let artifact = done.str_at("/artifact_id")?.to_owned();
    let url = done.str_at("/url")?.to_owned();
    check_output(ctx, &agent, &stranger, &id, &artifact, &url).await?;
    ctx.get(&format!("/v1/videos/{id}"), Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    ctx.get(&path, Some(&stranger.key))
        .await?
        .expect_error(404, None)?;
    let charged = used(ctx, &agent.key, "render").await?;
    ensure!(
        charged == 1,
        "one ready render should charge 1 render, got {charged}"
    );
    let videos = used(ctx, &agent.key, "video").await?;
    ensure!(videos == 0, "a render charged {videos} video");
    Ok(())
}
