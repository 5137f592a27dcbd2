//! Jobs after submission: listing with pages and a status and kind filter, cancel (refunded, then
//! `job_finished`), and idempotency keys (a retry is the same job, charged once).

use reqwest::Method;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::cases::generation::used;
use crate::client::{Body, Ctx, ensure};

use super::support::{job_agent, submit_video, video_body};

/// `GET /v1/jobs`: newest first, pages of `limit` with `has_more` and `before`, filters by
/// status and kind; bad filters are 400.
pub(crate) async fn list(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(submit_video(ctx, &agent, &format!("Listed video {n}.")).await?);
    }
    let canceled = ids[1].clone();
    let cancel = ctx
        .post(
            &format!("/v1/jobs/{canceled}/cancel"),
            Some(&agent.key),
            &json!({}),
        )
        .await?;
    // The cancel may lose to the job finishing first (409); the filter must agree either way.
    let was_canceled = cancel.status == 200;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let first = ctx
        .get("/v1/jobs?limit=2", Some(&agent.key))
        .await?
        .expect(200)?;
    let page1 = first.list_ids()?;
    first.expect_at("/has_more", &json!(true))?;
    ensure!(
        page1 == newest_first[..2],
        "GET /v1/jobs?limit=2: expected {:?} (newest first), got {page1:?}",
        &newest_first[..2]
    );
    let second = ctx
        .get(
            &format!("/v1/jobs?limit=2&before={}", page1[1]),
            Some(&agent.key),
        )
        .await?
        .expect(200)?;
    let page2 = second.list_ids()?;
    second.expect_at("/has_more", &json!(false))?;
    ensure!(
        page2 == newest_first[2..],
        "the second page should hold {:?}, got {page2:?}",
        &newest_first[2..]
    );
    let all = ctx.get("/v1/jobs", Some(&agent.key)).await?.expect(200)?;
    ensure!(
        all.list_ids()? == newest_first,
        "GET /v1/jobs: expected {newest_first:?}, got {}",
        all.quote()
    );
    for item in all.array_at("/data")? {
        ensure!(
            item["kind"] == "video" && item["agent"]["id"] == agent.id.as_str(),
            "GET /v1/jobs: unexpected item {item}"
        );
    }

    // Jobs move on meanwhile, so each filter is checked against what it answers.
    for status in ["canceled", "ready", "processing", "failed"] {
        let r = ctx
            .get(&format!("/v1/jobs?status={status}"), Some(&agent.key))
            .await?
            .expect(200)?;
        for item in r.array_at("/data")? {
            ensure!(
                item["status"] == status && ids.iter().any(|id| item["id"] == id.as_str()),
                "GET /v1/jobs?status={status}: unexpected item {item}"
            );
        }
        if status == "canceled" {
            let found = r.list_ids()?;
            let expected = if was_canceled {
                vec![canceled.clone()]
            } else {
                Vec::new()
            };
            ensure!(
                found == expected,
                "GET /v1/jobs?status=canceled: expected {expected:?}, got {found:?}"
            );
        }
    }
    let renders = ctx
        .get("/v1/jobs?kind=render", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        renders.list_ids()?.is_empty(),
        "GET /v1/jobs?kind=render: expected none, got {}",
        renders.quote()
    );
    for bad in [
        "/v1/jobs?status=done",
        "/v1/jobs?kind=song",
        "/v1/jobs?colour=red",
    ] {
        ctx.get(bad, Some(&agent.key))
            .await?
            .expect_error(400, None)?;
    }
    let stranger = job_agent(ctx).await?;
    let theirs = ctx
        .get("/v1/jobs", Some(&stranger.key))
        .await?
        .expect(200)?;
    ensure!(
        theirs.list_ids()?.is_empty(),
        "another agent's GET /v1/jobs shows jobs: {}",
        theirs.quote()
    );
    Ok(())
}

/// Cancel: 200 `canceled` and refunded, then 409 `job_finished`; the video reads as failed
/// (the seed knew no canceled state) with `job_status: canceled`.
pub(crate) async fn cancel(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    // A demo job can finish as soon as the scheduled work sees it; if it wins, try another.
    let mut canceled = None;
    for n in 0..3 {
        let id = submit_video(ctx, &agent, &format!("Cancel me {n}.")).await?;
        let r = ctx
            .post(
                &format!("/v1/jobs/{id}/cancel"),
                Some(&agent.key),
                &json!({}),
            )
            .await?;
        if r.status == 200 {
            r.expect_at("/status", &json!("canceled"))?;
            r.expect_at("/id", &json!(id))?;
            ensure!(
                r.body["finished_at"].is_string(),
                "a canceled job has finished_at: {}",
                r.quote()
            );
            canceled = Some(id);
            break;
        }
        r.expect_error(409, Some("job_finished"))?;
    }
    let id = canceled.ok_or("three demo jobs all finished before they could be canceled")?;
    let again = ctx
        .post(
            &format!("/v1/jobs/{id}/cancel"),
            Some(&agent.key),
            &json!({}),
        )
        .await?
        .expect_error(409, Some("job_finished"))?;
    again.expect_at("/error/type", &json!("invalid_request_error"))?;
    let video = ctx
        .get(&format!("/v1/videos/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    video.expect_at("/status", &json!("failed"))?;
    video.expect_at("/job_status", &json!("canceled"))?;
    let ready = ctx
        .get("/v1/jobs?status=ready", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?
        .len() as u64;
    let charged = used(ctx, &agent.key, "video").await?;
    ensure!(
        charged == ready,
        "a canceled job is refunded: {charged} videos charged for {ready} ready"
    );
    let stranger = job_agent(ctx).await?;
    ctx.post(
        &format!("/v1/jobs/{id}/cancel"),
        Some(&stranger.key),
        &json!({}),
    )
    .await?
    .expect_error(404, None)?;
    ctx.post(
        "/v1/jobs/job_doesnotexist/cancel",
        Some(&agent.key),
        &json!({}),
    )
    .await?
    .expect_error(404, None)?;
    Ok(())
}

/// `Idempotency-Key`: a retry answers the same job with `idempotent-replayed: true` and
/// charges once; the same key with another body is 409.
pub(crate) async fn idempotency(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let key = ctx.unique("idem");
    let submit = |body: Value| {
        let key = key.clone();
        let auth = format!("Bearer {}", agent.key);
        async move {
            ctx.send_with(
                Method::POST,
                "/v1/videos/generate",
                Some(auth),
                Body::Json(&body),
                &[("idempotency-key", key.as_str())],
            )
            .await
        }
    };
    let first = submit(video_body("Exactly once.")).await?.expect(202)?;
    let id = first.str_at("/video_id")?.to_owned();
    ensure!(
        first.header("idempotent-replayed").is_none(),
        "a first submission is not a replay: {:?}",
        first.header("idempotent-replayed")
    );
    let again = submit(video_body("Exactly once.")).await?.expect(202)?;
    again.expect_at("/video_id", &json!(id))?;
    ensure!(
        again.header("idempotent-replayed") == Some("true"),
        "a replay answers idempotent-replayed: true, got {:?}",
        again.header("idempotent-replayed")
    );
    let charged = used(ctx, &agent.key, "video").await?;
    ensure!(
        charged == 1,
        "two submissions with one key charged {charged} videos"
    );
    let jobs = ctx
        .get("/v1/jobs", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(jobs == [id.clone()], "one key, one job: got {jobs:?}");

    let other = submit(video_body("Something else.")).await?;
    other.expect_error(409, Some("idempotency_key_reused"))?;

    // Renders take keys too, and a key is the agent's own.
    let stranger = job_agent(ctx).await?;
    let theirs = ctx
        .send_with(
            Method::POST,
            "/v1/videos/generate",
            Some(format!("Bearer {}", stranger.key)),
            Body::Json(&video_body("Exactly once.")),
            &[("idempotency-key", key.as_str())],
        )
        .await?
        .expect(202)?;
    ensure!(
        theirs.str_at("/video_id")? != id,
        "another agent's same key made the same job"
    );
    Ok(())
}
