//! Makes a 5 s demo avatar video and a 5 s demo render through the provider port, writes them
//! next to each other and prints their sizes and how long each took to draw and encode: the
//! figures quoted in the crate's docs and docs/BENCHMARKS.md.
//!
//! `cargo run --release -p molts-demo --example demo_video [-- OUT_DIR]` (default: the system
//! temporary directory). Open the files in any player, or check them with `ffprobe`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use molts_core::providers::{
    Call, Credentials, Fetch, JobProgress, ProviderAdapter, RenderRequest, VideoRequest,
};
use molts_core::{Error, Result};
use molts_demo::DemoProvider;
use serde_json::json;

fn main() -> Result<()> {
    futures::executor::block_on(run())
}

async fn run() -> Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    let model = molts_core::seed::models()
        .into_iter()
        .find(|m| m.id == "demo-video")
        .ok_or_else(|| Error::internal("no demo-video model"))?;
    let credentials = Credentials::default();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(60),
    };
    let demo = DemoProvider;

    // Thirteen words at 2.5 a second: 62 frames, 5.2 s.
    let video = demo
        .submit_video(
            call,
            &VideoRequest {
                script:
                    "Welcome to molts, the gateway through which agents make media of every kind."
                        .into(),
                job_id: "example".into(),
                ..Default::default()
            },
        )
        .await?;
    let render = demo
        .submit_render(
            call,
            &RenderRequest {
                edit: json!({
                    "timeline": {"background": "#101820", "tracks": [
                        {"clips": [
                            {"asset": {"type": "title", "text": "molts"}, "start": 0, "length": 2},
                            {"asset": {"type": "image", "src": "https://example.com/a.png"}, "start": 2, "length": 3}
                        ]},
                        {"clips": [{"asset": {"type": "video", "src": "https://example.com/b.mp4"}, "start": 0.5, "length": 4.5}]}
                    ]},
                    "output": {"format": "mp4", "resolution": "sd"}
                }),
                callback_url: None,
                job_id: "example".into(),
            },
        )
        .await?;

    for (name, job) in [("avatar", video), ("render", render)] {
        let JobProgress::Ready { url, duration, .. } =
            demo.job_progress(call, &job.provider_job_id).await?
        else {
            return Err(Error::internal("demo jobs are ready at once"));
        };
        let started = Instant::now();
        let Fetch::Fetched(download) = demo.download(call, &url).await? else {
            return Err(Error::internal("the demo serves its own files"));
        };
        let mut bytes = Vec::new();
        let mut body = download.body;
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        let took = started.elapsed();
        let path = out.join(format!("molts-demo-{name}.mp4"));
        std::fs::write(&path, &bytes)
            .map_err(|e| Error::internal("could not write the file").with_source(e))?;
        println!(
            "{name}: {:.2} s of video, {} bytes, drawn and encoded in {} ms -> {}",
            duration.unwrap_or_default(),
            bytes.len(),
            took.as_millis(),
            path.display()
        );
        println!(
            "  job id ({} chars): {}",
            job.provider_job_id.len(),
            job.provider_job_id
        );
    }
    Ok(())
}
