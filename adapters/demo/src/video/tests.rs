//! The demo videos end to end through the provider port: real MP4s that a real parser reads
//! (`mp4`'s reader) holding H.264 that a real decoder (OpenH264's) turns back into the frames
//! drawn; same input, same bytes; any `DemoProvider` value finishes any demo job; and what the
//! demo did not make is refused.

use std::io::Cursor;

use futures::StreamExt;
use molts_core::domain::ModelConfig;
use molts_core::providers::{
    Call, Credentials, Fetch, JobProgress, ProviderAdapter, RenderRequest, VideoRequest,
};
use molts_core::{Error, ErrorKind, Result};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use serde_json::{Value, json};

use super::frames::{Canvas, draw_render, draw_video};
use super::spec::{JobSpec, VideoSpec};
use crate::DemoProvider;

fn model() -> Result<ModelConfig> {
    molts_core::seed::models()
        .into_iter()
        .find(|m| m.id == "demo-video")
        .ok_or_else(|| Error::internal("no demo-video model in the seed"))
}

fn call(model: &ModelConfig) -> Call<'_> {
    static NONE: Credentials = Credentials {
        api_key: None,
        base_url: None,
    };
    Call {
        model,
        credentials: &NONE,
        timeout: std::time::Duration::from_secs(5),
    }
}

fn video_request(script: &str, aspect: Option<&str>) -> VideoRequest {
    VideoRequest {
        script: script.to_owned(),
        aspect_ratio: aspect.map(str::to_owned),
        job_id: "job_1".to_owned(),
        ..Default::default()
    }
}

fn render_request(edit: Value) -> RenderRequest {
    RenderRequest {
        edit,
        callback_url: None,
        job_id: "job_2".to_owned(),
    }
}

/// Polls a job with one provider value and downloads it with a fresh one, as a restarted server
/// would: the file and what progress said about it.
async fn finish(id: &str) -> Result<(Vec<u8>, f64)> {
    let model = model()?;
    let JobProgress::Ready {
        url,
        duration,
        content_type,
    } = DemoProvider.job_progress(call(&model), id).await?
    else {
        return Err(Error::internal("a demo job is ready at once"));
    };
    assert_eq!(url, format!("demo://{id}.mp4"));
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
    // A separate value, as a restarted server would have: nothing is shared but the id.
    let restarted = DemoProvider;
    let download = restarted.download(call(&model), &url).await?;
    let Fetch::Fetched(download) = download else {
        return Err(Error::internal("the demo always downloads itself"));
    };
    assert_eq!(download.content_type.as_deref(), Some("video/mp4"));
    let chunks: Vec<_> = download.body.collect().await;
    let mut bytes = Vec::new();
    for chunk in chunks {
        bytes.extend_from_slice(&chunk?);
    }
    Ok((bytes, duration.unwrap_or_default()))
}

/// What a real MP4 parser and a real H.264 decoder find in a file.
struct Inspected {
    width: u16,
    height: u16,
    frames: u32,
    seconds: f64,
    keyframes: usize,
    /// Decoded luma planes, tightly packed.
    lumas: Vec<Vec<u8>>,
}

fn bad(what: &'static str) -> impl FnOnce(String) -> Error {
    move |e| Error::internal(format!("{what}: {e}"))
}

fn inspect(bytes: &[u8]) -> Result<Inspected> {
    let mp4 = mp4::Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64)
        .map_err(|e| bad("not an MP4")(e.to_string()))?;
    assert_eq!(mp4.major_brand().to_string(), "isom");
    assert_eq!(mp4.tracks().len(), 1, "one video track");
    let (&id, track) = mp4
        .tracks()
        .iter()
        .next()
        .ok_or_else(|| Error::internal("no track"))?;
    assert_eq!(
        track.box_type().map(|b| b.to_string()).ok().as_deref(),
        Some("avc1")
    );
    assert!(matches!(track.media_type(), Ok(mp4::MediaType::H264)));
    assert!(matches!(track.track_type(), Ok(mp4::TrackType::Video)));
    let (sps, pps) = (
        track
            .sequence_parameter_set()
            .map_err(|e| bad("no SPS")(e.to_string()))?
            .to_vec(),
        track
            .picture_parameter_set()
            .map_err(|e| bad("no PPS")(e.to_string()))?
            .to_vec(),
    );
    let (width, height, frames) = (track.width(), track.height(), track.sample_count());
    let seconds = track.duration().as_secs_f64();
    assert!(
        (mp4.duration().as_secs_f64() - seconds).abs() < 0.01,
        "movie and track agree"
    );

    // Back to Annex B for the decoder: parameter sets first, then each sample's NAL units.
    let start = [0u8, 0, 0, 1];
    let mut decoder = Decoder::new().map_err(|e| bad("decoder")(e.to_string()))?;
    let mut annex_b = [&start[..], &sps, &start, &pps].concat();
    let mut mp4 = mp4;
    let mut lumas = Vec::new();
    let mut keyframes = 0;
    for n in 1..=frames {
        let sample = mp4
            .read_sample(id, n)
            .map_err(|e| bad("sample")(e.to_string()))?
            .ok_or_else(|| Error::internal("a sample is missing"))?;
        keyframes += usize::from(sample.is_sync);
        let mut rest = &sample.bytes[..];
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*len) as usize;
            let nal = tail
                .get(..len)
                .ok_or_else(|| Error::internal("a NAL unit overruns its sample"))?;
            annex_b.extend_from_slice(&start);
            annex_b.extend_from_slice(nal);
            rest = &tail[len..];
        }
        let picture = decoder
            .decode(&annex_b)
            .map_err(|e| bad("undecodable frame")(e.to_string()))?
            .ok_or_else(|| Error::internal("a frame decoded to no picture"))?;
        let (w, h) = picture.dimensions();
        assert_eq!((w, h), (usize::from(width), usize::from(height)));
        let stride = picture.strides().0;
        lumas.push(
            picture
                .y()
                .chunks(stride)
                .take(h)
                .flat_map(|row| &row[..w])
                .copied()
                .collect(),
        );
        annex_b.clear();
    }
    Ok(Inspected {
        width,
        height,
        frames,
        seconds,
        keyframes,
        lumas,
    })
}

/// Mean absolute difference of two luma planes: lossy coding leaves a little.
fn difference(a: &[u8], b: &[u8]) -> f64 {
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.len().max(1) as f64
}

#[test]
fn avatar_videos_are_real_h264_mp4s_of_the_scripts_length() -> Result<()> {
    futures::executor::block_on(async {
        let model = model()?;
        // Ten words: four seconds at 12 fps.
        let script = "Hello from the lighthouse, this is a demo of molts.";
        let job = DemoProvider
            .submit_video(call(&model), &video_request(script, None))
            .await?;
        assert!(job.provider_job_id.starts_with("demo-video-"));
        let (bytes, duration) = finish(&job.provider_job_id).await?;
        assert_eq!(duration, 4.0);
        assert!(bytes.len() < 100_000, "{} bytes", bytes.len());

        let seen = inspect(&bytes)?;
        assert_eq!((seen.width, seen.height), (320, 180));
        assert_eq!(seen.frames, 48);
        assert!((seen.seconds - 4.0).abs() < 1e-6, "{}", seen.seconds);
        assert_eq!(seen.keyframes, 2, "a keyframe every two seconds");

        // The decoded pictures are the frames drawn, and they move.
        let JobSpec::Video(spec) = JobSpec::from_id(&job.provider_job_id)? else {
            return Err(Error::internal("a video id"));
        };
        for frame in [0, 20, 47] {
            let mut canvas = Canvas::new(320, 180);
            draw_video(&mut canvas, &spec, frame, 48);
            let d = difference(&seen.lumas[frame as usize], canvas.y());
            assert!(d < 3.0, "frame {frame} differs by {d}");
        }
        assert!(difference(&seen.lumas[0], &seen.lumas[6]) > 1.0, "it moves");
        Ok(())
    })
}

#[test]
fn aspect_ratios_and_lengths_follow_the_request() -> Result<()> {
    futures::executor::block_on(async {
        let model = model()?;
        for (aspect, script, size, frames) in [
            ("9:16", "short", (180, 320), 12),
            ("1:1", &"word ".repeat(100)[..], (240, 240), 120),
        ] {
            let job = DemoProvider
                .submit_video(call(&model), &video_request(script, Some(aspect)))
                .await?;
            let (bytes, duration) = finish(&job.provider_job_id).await?;
            let seen = inspect(&bytes)?;
            assert_eq!((seen.width, seen.height), size, "{aspect}");
            assert_eq!(seen.frames, frames, "{aspect}");
            assert_eq!(duration, f64::from(frames) / 12.0);
        }
        let e = DemoProvider
            .submit_video(call(&model), &video_request("x", Some("21:9")))
            .await
            .err();
        assert_eq!(e.as_ref().and_then(Error::param), Some("aspect_ratio"));
        Ok(())
    })
}

#[test]
fn same_input_same_bytes_and_any_provider_value_finishes_the_job() -> Result<()> {
    futures::executor::block_on(async {
        let model = model()?;
        let request = video_request("the same words twice", Some("16:9"));
        let first = DemoProvider.submit_video(call(&model), &request).await?;
        let again = DemoProvider.submit_video(call(&model), &request).await?;
        assert_eq!(first, again, "the id is the job");
        let (a, _) = finish(&first.provider_job_id).await?;
        let (b, _) = finish(&again.provider_job_id).await?;
        assert_eq!(a, b, "same bytes");
        let other = DemoProvider
            .submit_video(
                call(&model),
                &video_request("other words twice", Some("16:9")),
            )
            .await?;
        assert_ne!(other, first);
        let (c, _) = finish(&other.provider_job_id).await?;
        assert_ne!(a, c, "the look follows the script");
        Ok(())
    })
}

fn edit(tracks: Value) -> Value {
    json!({
        "timeline": {"background": "#203040", "tracks": tracks},
        "output": {"format": "mp4", "resolution": "sd"}
    })
}

#[test]
fn renders_draw_the_timeline() -> Result<()> {
    futures::executor::block_on(async {
        let model = model()?;
        let edit = edit(json!([
            {"clips": [
                {"asset": {"type": "title", "text": "Hello"}, "start": 0, "length": 2},
                {"asset": {"type": "image", "src": "https://x/b.png"}, "start": 2, "length": 2.5}
            ]},
            {"clips": [{"asset": {"type": "video", "src": "https://x/a.mp4"}, "start": 1, "length": 3}]}
        ]));
        let job = DemoProvider
            .submit_render(call(&model), &render_request(edit.clone()))
            .await?;
        assert!(job.provider_job_id.starts_with("demo-render-"));
        let (bytes, duration) = finish(&job.provider_job_id).await?;
        assert_eq!(duration, 4.5);
        let seen = inspect(&bytes)?;
        assert_eq!((seen.width, seen.height, seen.frames), (320, 180, 54));

        let JobSpec::Render(spec) = JobSpec::from_id(&job.provider_job_id)? else {
            return Err(Error::internal("a render id"));
        };
        let mut before = Vec::new();
        for frame in [0, 18, 53] {
            let mut canvas = Canvas::new(320, 180);
            draw_render(&mut canvas, &spec, frame, 54);
            let d = difference(&seen.lumas[frame as usize], canvas.y());
            assert!(d < 3.0, "frame {frame} differs by {d}");
            before.push(canvas.y().to_vec());
        }
        assert!(
            difference(&before[0], &before[1]) > 5.0,
            "the second track's clip appears"
        );

        let again = DemoProvider
            .submit_render(call(&model), &render_request(edit))
            .await?;
        assert_eq!(finish(&again.provider_job_id).await?.0, bytes, "same bytes");

        let mut tall = json!({"timeline": {"tracks": [{"clips": [
            {"asset": {"type": "video", "src": "x"}, "start": 0, "length": 60}]}]},
            "output": {"format": "mp4", "aspectRatio": "9:16"}});
        let job = DemoProvider
            .submit_render(call(&model), &render_request(tall.clone()))
            .await?;
        let (bytes, duration) = finish(&job.provider_job_id).await?;
        let seen = inspect(&bytes)?;
        assert_eq!((seen.width, seen.height, seen.frames), (180, 320, 120));
        assert_eq!(duration, 10.0, "a long timeline plays faster");

        tall["output"]["format"] = json!("gif");
        let e = DemoProvider
            .submit_render(call(&model), &render_request(tall))
            .await
            .err();
        assert_eq!(
            e.as_ref().and_then(Error::code),
            Some(molts_core::ErrorCode::UnsupportedFormat)
        );
        Ok(())
    })
}

#[test]
fn what_the_demo_did_not_make_is_refused() -> Result<()> {
    futures::executor::block_on(async {
        let model = model()?;
        let e = DemoProvider
            .submit_render(
                call(&model),
                &render_request(edit(json!([{"clips": [
                    {"asset": {"type": "video", "src": "x"}, "start": 0, "length": 30},
                    {"asset": {"type": "video", "src": "x"}, "start": 30, "length": 31}
                ]}]))),
            )
            .await
            .err()
            .ok_or_else(|| Error::internal("a 61 s timeline was accepted"))?;
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert_eq!(e.param(), Some("edit"));
        assert!(
            e.message().contains("clips[1] ends last"),
            "{}",
            e.message()
        );

        let real = JobSpec::Video(VideoSpec {
            aspect: super::spec::Aspect::Landscape,
            words: 3,
            seed: 7,
        })
        .id();
        for id in [
            "2abd5c11-0f3d-4c6d-ba20-235fc9b8e8b7",
            "demo-video-AAAA",
            "../../etc?x=1",
            &real[..real.len() - 1],
        ] {
            let e = DemoProvider
                .job_progress(call(&model), id)
                .await
                .err()
                .ok_or_else(|| Error::internal("a foreign id was accepted"))?;
            assert_eq!(e.kind(), ErrorKind::Invalid, "{id}");
            assert_eq!(e.param(), Some("provider_job_id"), "{id}");
        }
        for url in [
            "https://example.com/video.mp4".to_owned(),
            real.clone(),
            format!("demo://{}.mp4", &real[..real.len() - 1]),
        ] {
            let e = DemoProvider
                .download(call(&model), &url)
                .await
                .err()
                .ok_or_else(|| Error::internal("a foreign url was accepted"))?;
            assert_eq!(e.param(), Some("url"), "{url}");
        }
        Ok(())
    })
}
