//! Demo avatar videos and timeline renders as jobs. Stateless: submitting packs the job into its
//! id ([`spec`]), progress answers `Ready` at once with a `demo://<id>.mp4` URL, and download
//! draws ([`frames`]) and encodes ([`encode`]) the file again from that URL, byte for byte the
//! same every time, so a restarted server (or another replica) finishes any job it is handed.

// OpenH264 when the `video` feature is on; otherwise (`video-pure`, wasm32) the pure-Rust
// PCM encoder. Both hand `mux.rs` the same kind of stream.
#[cfg(feature = "video")]
mod encode;
#[cfg(not(feature = "video"))]
#[path = "encode_pcm.rs"]
mod encode;
mod frames;
mod mux;
mod spec;
mod timeline;

use bytes::Bytes;
use futures::StreamExt;
use molts_core::providers::{Download, JobProgress, RenderRequest, SubmittedJob, VideoRequest};
use molts_core::{Error, Result};

use crate::seed_of;
use spec::{Aspect, JobSpec, VideoSpec};

const CONTENT_TYPE: &str = "video/mp4";

pub(crate) fn submit_video(request: &VideoRequest) -> Result<SubmittedJob> {
    let aspect = match request.aspect_ratio.as_deref() {
        None => Aspect::Landscape,
        Some(ratio) => Aspect::parse(ratio).ok_or_else(|| {
            Error::invalid(
                "aspect_ratio",
                "aspect_ratio must be 16:9, 9:16, 1:1, 4:5 or 4:3",
            )
        })?,
    };
    let words = request.script.split_whitespace().count();
    // The avatar is part of the look, so two avatars saying the same words differ.
    let avatar = request.avatar_id.as_deref().unwrap_or("demo");
    let spec = JobSpec::Video(VideoSpec {
        aspect,
        words: u16::try_from(words).unwrap_or(u16::MAX),
        seed: seed_of(&format!("{avatar}\n{}", request.script)),
    });
    Ok(SubmittedJob {
        provider_job_id: spec.id(),
    })
}

pub(crate) fn submit_render(request: &RenderRequest) -> Result<SubmittedJob> {
    let spec = JobSpec::Render(timeline::parse(&request.edit)?);
    Ok(SubmittedJob {
        provider_job_id: spec.id(),
    })
}

/// Demo jobs are done as soon as they are submitted: the file is made when it is downloaded.
pub(crate) fn progress(provider_job_id: &str) -> Result<JobProgress> {
    let spec = JobSpec::from_id(provider_job_id)?;
    Ok(JobProgress::Ready {
        url: spec.url(),
        duration: Some(spec.seconds()),
        content_type: Some(CONTENT_TYPE.to_owned()),
    })
}

/// The MP4 a `demo://` URL names.
pub(crate) fn download(url: &str) -> Result<Download> {
    let bytes = render(&JobSpec::from_url(url)?)?;
    Ok(Download {
        content_type: Some(CONTENT_TYPE.to_owned()),
        body: futures::stream::once(async move { Ok(Bytes::from(bytes)) }).boxed(),
    })
}

/// Draws and encodes a job's video.
fn render(spec: &JobSpec) -> Result<Vec<u8>> {
    let frames = spec.frames();
    match spec {
        JobSpec::Video(video) => {
            let (width, height) = video.aspect.dimensions();
            encode::encode_mp4(width, height, frames, |canvas, frame| {
                frames::draw_video(canvas, video, frame, frames);
            })
        }
        JobSpec::Render(render) => {
            let (width, height) = render.aspect.dimensions();
            encode::encode_mp4(width, height, frames, |canvas, frame| {
                frames::draw_render(canvas, render, frame, frames);
            })
        }
    }
}

// These decode with OpenH264; the PCM encoder has its own tests in `encode_pcm.rs`.
#[cfg(all(test, feature = "video"))]
mod tests;
