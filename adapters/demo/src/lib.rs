//! molts-demo: the offline `demo` provider. With no keys and no network, a fresh `molts serve`
//! answers every modality with real output: deterministic text (streamed word by word), a real
//! PNG drawn from the prompt, real WAV speech whose length follows the text, stock search over a
//! small bundled catalogue, and (with the default `video` feature) avatar videos and timeline
//! renders as real H.264 MP4 files through the jobs port. Outputs are deterministic in their
//! input, so tests and conformance runs can assert on them.
//!
//! The `video` feature builds Cisco's OpenH264 from source (C++, with the system `cc`/`c++`; no
//! nasm or network needed) and the pure-Rust `mp4` muxer. Without it the crate builds for
//! wasm32 and the video and render models refuse with `unsupported_by_provider`, unless the
//! `video-pure` feature is on: the same videos through a pure-Rust encoder (`less-avc`, lossless
//! PCM frames, bigger files), which is what the Cloudflare Worker uses. What it costs
//! (2 cores; `examples/demo_video.rs` prints the file figures): about +55 s on a clean release
//! build (+13 s debug), most of it OpenH264's C++; a 5.2 s avatar video at 320×180 and 12 fps is
//! 33 kB and takes 25–60 ms to draw and encode in release, a 5 s render 6 kB and under 25 ms.

mod image;
mod speech;
mod stock;
mod text;
#[cfg(any(feature = "video", feature = "video-pure"))]
mod video;

use async_trait::async_trait;
use molts_core::Result;
use molts_core::providers::{
    Call, Cancel, Fetch, GeneratedImage, ImageRequest, JobProgress, PersonaRequest,
    ProviderAdapter, RenderRequest, SpeechRequest, SpeechResponse, StockRequest, StockResponse,
    SubmittedJob, TextRequest, TextResponse, TextStream, VideoRequest, Voice,
};

pub use speech::{SAMPLE_RATE, VOICES};

/// The demo provider. Register it as `Provider::Demo`.
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoProvider;

#[async_trait]
impl ProviderAdapter for DemoProvider {
    async fn text(&self, _call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        Ok(text::complete(request))
    }

    async fn text_stream(&self, _call: Call<'_>, request: &TextRequest) -> Result<TextStream> {
        Ok(text::stream(request))
    }

    async fn images(&self, _call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        image::generate(request)
    }

    async fn speech(&self, _call: Call<'_>, request: &SpeechRequest) -> Result<SpeechResponse> {
        speech::synthesise(request)
    }

    async fn voices(&self, _call: Call<'_>) -> Result<Vec<Voice>> {
        Ok(speech::voices())
    }

    async fn stock(&self, _call: Call<'_>, request: &StockRequest) -> Result<StockResponse> {
        Ok(stock::search(request))
    }

    async fn submit_video(&self, _call: Call<'_>, request: &VideoRequest) -> Result<SubmittedJob> {
        #[cfg(any(feature = "video", feature = "video-pure"))]
        return video::submit_video(request);
        #[cfg(not(any(feature = "video", feature = "video-pure")))]
        return Err(without_video(request));
    }

    async fn submit_render(
        &self,
        _call: Call<'_>,
        request: &RenderRequest,
    ) -> Result<SubmittedJob> {
        #[cfg(any(feature = "video", feature = "video-pure"))]
        return video::submit_render(request);
        #[cfg(not(any(feature = "video", feature = "video-pure")))]
        return Err(without_video(request));
    }

    async fn job_progress(&self, _call: Call<'_>, provider_job_id: &str) -> Result<JobProgress> {
        #[cfg(any(feature = "video", feature = "video-pure"))]
        return video::progress(provider_job_id);
        #[cfg(not(any(feature = "video", feature = "video-pure")))]
        return Err(without_video(provider_job_id));
    }

    /// A demo persona is an id derived from what it was made from, ready at once.
    async fn submit_persona(
        &self,
        _call: Call<'_>,
        request: &PersonaRequest,
    ) -> Result<SubmittedJob> {
        let source = match (&request.image, &request.video_url) {
            (Some((bytes, _)), _) => format!("image:{}", hex_of(bytes)),
            (None, Some(url)) => format!("video:{url}"),
            (None, None) => {
                return Err(molts_core::Error::invalid(
                    "image_file",
                    "a demo persona needs a photo or a video_url",
                ));
            }
        };
        Ok(SubmittedJob {
            provider_job_id: format!("{PERSONA_PREFIX}{:016x}", seed_of(&source)),
        })
    }

    async fn persona_progress(&self, _call: Call<'_>, persona_id: &str) -> Result<JobProgress> {
        let valid = persona_id
            .strip_prefix(PERSONA_PREFIX)
            .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid {
            return Err(molts_core::Error::invalid(
                "provider_job_id",
                "not a persona the demo provider made",
            ));
        }
        Ok(JobProgress::Ready {
            url: String::new(),
            duration: None,
            content_type: None,
        })
    }

    /// Always confirmed: a demo job is drawn only when its output is downloaded and bills
    /// nothing, so stopping it costs nothing either.
    async fn cancel_job(&self, _call: Call<'_>, _provider_job_id: &str) -> Result<Cancel> {
        Ok(Cancel::Confirmed)
    }

    /// Always `Fetched`: a `demo://` URL is made here, never fetched over the network.
    async fn download(&self, _call: Call<'_>, url: &str) -> Result<Fetch> {
        #[cfg(any(feature = "video", feature = "video-pure"))]
        return video::download(url).map(Fetch::Fetched);
        #[cfg(not(any(feature = "video", feature = "video-pure")))]
        return Err(without_video(url));
    }
}

/// The refusal of a build without the `video` feature (the wasm32 one): the same code as any
/// provider that does not offer a modality, with a message that says how to get it.
#[cfg(not(any(feature = "video", feature = "video-pure")))]
fn without_video<T: ?Sized>(_request: &T) -> molts_core::Error {
    molts_core::Error::invalid(
        "model",
        "the demo provider in this build makes no videos or renders (built without its `video` feature)",
    )
    .with_code(molts_core::ErrorCode::UnsupportedByProvider)
}

/// How demo persona ids start.
pub const PERSONA_PREFIX: &str = "demo-persona-";

/// Lowercase hex SHA-256 of some bytes.
fn hex_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stable 64-bit digest of some text, so outputs follow their inputs.
pub(crate) fn seed_of(text: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// The seeded `demo-video` config and empty credentials, for calling the adapter in tests.
#[cfg(test)]
fn demo_video_call() -> Result<(
    molts_core::domain::ModelConfig,
    molts_core::providers::Credentials,
)> {
    let model = molts_core::seed::models()
        .into_iter()
        .find(|m| m.id == "demo-video")
        .ok_or_else(|| molts_core::Error::internal("no demo-video model"))?;
    Ok((model, molts_core::providers::Credentials::default()))
}

#[cfg(test)]
mod personas {
    use super::*;

    #[test]
    fn a_persona_is_ready_at_once_and_follows_its_source() -> Result<()> {
        let (model, credentials) = demo_video_call()?;
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: std::time::Duration::from_secs(1),
        };
        let photo = PersonaRequest {
            image: Some((bytes::Bytes::from_static(b"photo"), "image/jpeg".into())),
            ..Default::default()
        };
        futures::executor::block_on(async {
            let a = DemoProvider.submit_persona(call, &photo).await?;
            let b = DemoProvider.submit_persona(call, &photo).await?;
            assert_eq!(a, b, "deterministic");
            assert!(a.provider_job_id.starts_with(PERSONA_PREFIX));
            let ready = DemoProvider
                .persona_progress(call, &a.provider_job_id)
                .await?;
            assert!(matches!(ready, JobProgress::Ready { .. }));
            assert!(
                DemoProvider
                    .persona_progress(call, "demo-persona-zz")
                    .await
                    .is_err()
            );
            let none = DemoProvider
                .submit_persona(call, &PersonaRequest::default())
                .await;
            assert!(none.is_err());
            Ok(())
        })
    }
}

#[cfg(all(test, not(any(feature = "video", feature = "video-pure"))))]
mod without_video {
    use super::*;

    #[test]
    fn videos_and_renders_are_refused_clearly() -> Result<()> {
        let (model, credentials) = demo_video_call()?;
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: std::time::Duration::from_secs(1),
        };
        let request = VideoRequest {
            script: "hello".into(),
            ..Default::default()
        };
        let errors = futures::executor::block_on(async {
            [
                DemoProvider.submit_video(call, &request).await.err(),
                DemoProvider.job_progress(call, "demo-video-x").await.err(),
                DemoProvider.download(call, "demo://x.mp4").await.err(),
            ]
        });
        for e in errors {
            let e = e.ok_or_else(|| molts_core::Error::internal("accepted without video"))?;
            assert_eq!(e.code(), Some(molts_core::ErrorCode::UnsupportedByProvider));
            assert!(e.message().contains("`video` feature"));
        }
        Ok(())
    }
}
