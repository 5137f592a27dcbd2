//! Shared setup: a fake server, the registry `http_registry` builds from its env, calls with a
//! chosen key and timeout, canned requests per operation, and the error matrix every provider
//! must pass.

use molts_core::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use molts_core::domain::{ModelConfig, Provider};
use molts_core::providers::{
    Call, ChatMessage, Credentials, ImageRequest, PersonaRequest, ProviderRegistry, RenderRequest,
    Role, SpeechRequest, StockKind, StockRequest, TextChunk, TextRequest, TextResponse,
    VideoRequest, http_registry,
};
use molts_core::{Error, ErrorKind, Result};
use molts_fakes::FakeServer;
use molts_reqwest::ReqwestHttpClient;

/// A fake server and a registry pointed at it.
pub(crate) struct Env {
    pub(crate) fake: FakeServer,
    pub(crate) registry: ProviderRegistry,
}

pub(crate) async fn env() -> Env {
    let fake = FakeServer::start().await.expect("the fake starts");
    let vars = fake.env();
    let http = Arc::new(ReqwestHttpClient::new().expect("a client"));
    let registry = http_registry(http, &|k| vars.get(k).cloned());
    Env { fake, registry }
}

/// A seeded model config by id.
pub(crate) fn seeded(id: &str) -> ModelConfig {
    molts_core::seed::models()
        .into_iter()
        .find(|m| m.id == id)
        .expect("a seeded model")
}

/// A config for `provider` serving `provider_model`, for models the seed does not hold.
pub(crate) fn custom(base: &str, provider: Provider, provider_model: &str) -> ModelConfig {
    ModelConfig {
        id: format!("test-{provider_model}"),
        provider,
        provider_model: provider_model.to_owned(),
        ..seeded(base)
    }
}

/// How the call is made: with the configured key or another, and a timeout.
#[derive(Clone)]
pub(crate) struct How {
    pub(crate) key: Option<Option<String>>,
    pub(crate) timeout: Duration,
}

impl Default for How {
    fn default() -> Self {
        Self {
            key: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The canned work each operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Text,
    Stream,
    Images,
    Speech,
    Voices,
    Stock,
    /// Submits [`video_request`].
    Video,
    /// Submits [`render_request`].
    Render,
    /// Submits [`persona_request`] (polled with `persona_progress`).
    Persona,
}

/// A canned avatar / text-to-video request (naming a replica, which Tavus requires).
pub(crate) fn video_request(script: &str) -> VideoRequest {
    VideoRequest {
        script: script.into(),
        avatar_id: Some("r79e1c033f".into()),
        aspect_ratio: Some("16:9".into()),
        callback_url: Some("https://molts.example/v1/jobs/job-1/callback/secret".into()),
        job_id: "job-1".into(),
        ..VideoRequest::default()
    }
}

/// A canned persona request carrying both a photo (what HeyGen makes a talking photo from) and
/// a training video (what Tavus trains a replica from).
pub(crate) fn persona_request() -> PersonaRequest {
    PersonaRequest {
        name: Some("Ada".into()),
        image: Some((
            molts_fakes::media::png([0x20, 0x40, 0x60]).into(),
            "image/png".into(),
        )),
        video_url: Some("https://example.com/ada/train.mp4".into()),
        consent_video_url: Some("https://example.com/ada/consent.mp4".into()),
        callback_url: Some("https://molts.example/v1/jobs/job-3/callback/secret".into()),
        job_id: "job-3".into(),
    }
}

/// A canned two-clip render, 8 seconds long.
pub(crate) fn render_request() -> RenderRequest {
    RenderRequest {
        edit: serde_json::json!({
            "timeline": {"background": "#000000", "tracks": [{"clips": [
                {"asset": {"type": "video", "src": "https://example.com/a.mp4", "trim": 2},
                 "start": 0, "length": 5},
                {"asset": {"type": "title", "text": "The end"}, "start": 5, "length": 3},
            ]}]},
            "output": {"format": "mp4", "resolution": "sd"},
        }),
        callback_url: Some("https://molts.example/v1/jobs/job-2/callback/secret".into()),
        job_id: "job-2".into(),
    }
}

pub(crate) fn chat(user: &str) -> TextRequest {
    TextRequest {
        messages: vec![
            ChatMessage {
                role: Role::System,
                content: "be brief".into(),
            },
            ChatMessage {
                role: Role::User,
                content: user.into(),
            },
        ],
        ..TextRequest::default()
    }
}

/// Collects a stream into its text and its final chunk, or the first error.
pub(crate) async fn collect(
    mut stream: molts_core::providers::TextStream,
) -> Result<(String, TextChunk)> {
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        match chunk? {
            TextChunk::Delta(d) => text.push_str(&d),
            finish @ TextChunk::Finish { .. } => {
                assert!(stream.next().await.is_none(), "nothing follows Finish");
                return Ok((text, finish));
            }
        }
    }
    Err(Error::internal("the stream ended without Finish"))
}

impl Env {
    /// Runs `op` against `model` as `how` says, discarding the output.
    pub(crate) async fn run(&self, model: &ModelConfig, op: Op, how: How) -> Result<()> {
        let mut credentials: Credentials = self.registry.credentials(model.provider).clone();
        if let Some(key) = how.key {
            credentials.api_key = key;
        }
        let call = Call {
            model,
            credentials: &credentials,
            timeout: how.timeout,
        };
        let adapter = self.registry.adapter(model.provider)?;
        match op {
            Op::Text => adapter.text(call, &chat("hello there")).await.map(|_| ()),
            Op::Stream => {
                let stream = adapter
                    .text_stream(call, &chat("one two three four"))
                    .await?;
                collect(stream).await.map(|_| ())
            }
            Op::Images => {
                let request = ImageRequest {
                    prompt: "a red fox".into(),
                    n: 1,
                    ..ImageRequest::default()
                };
                adapter.images(call, &request).await.map(|_| ())
            }
            Op::Speech => {
                let request = SpeechRequest {
                    text: "Hello from the fakes.".into(),
                    ..SpeechRequest::default()
                };
                adapter.speech(call, &request).await.map(|_| ())
            }
            Op::Voices => adapter.voices(call).await.map(|_| ()),
            Op::Stock => {
                let request = StockRequest {
                    query: "forest".into(),
                    kind: StockKind::Photos,
                    page: 1,
                    per_page: 5,
                    orientation: None,
                };
                adapter.stock(call, &request).await.map(|_| ())
            }
            Op::Video => adapter
                .submit_video(call, &video_request("Hello from the fakes."))
                .await
                .map(|_| ()),
            Op::Render => adapter
                .submit_render(call, &render_request())
                .await
                .map(|_| ()),
            Op::Persona => adapter
                .submit_persona(call, &persona_request())
                .await
                .map(|_| ()),
        }
    }

    /// Text through the registry's adapter with the configured credentials.
    pub(crate) async fn text(
        &self,
        model: &ModelConfig,
        request: &TextRequest,
    ) -> Result<TextResponse> {
        let credentials = self.registry.credentials(model.provider).clone();
        let call = Call {
            model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        self.registry
            .adapter(model.provider)?
            .text(call, request)
            .await
    }
}

/// POSTs `body` as JSON straight to the fake (no adapter) with `headers`: the status and the
/// JSON answer (`null` when it is not JSON).
pub(crate) async fn post_json(
    url: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use molts_core::ports::{HttpClientExt, RequestOptions};
    let mut request = http::Request::post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(bytes::Bytes::from(body.to_string()))
        .expect("a request");
    let options = RequestOptions {
        timeout: Duration::from_secs(5),
    };
    let response = ReqwestHttpClient::new()
        .expect("a client")
        .send_collect(request, options, 1 << 20)
        .await
        .expect("the fake answers");
    let json = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
    (response.status().as_u16(), json)
}

#[track_caller]
pub(crate) fn expect(result: Result<()>, kind: ErrorKind, code: ErrorCode) -> Error {
    let error = result.expect_err("the call should fail");
    assert_eq!(error.kind(), kind, "{error}");
    assert_eq!(error.code(), Some(code), "{error}");
    error
}

/// Every error class for one provider and operation: 429 with Retry-After, 500, a slow head,
/// a wrong key (whose text must not come back), a missing key, and a malformed body.
pub(crate) async fn error_matrix(provider: &str, model: &ModelConfig, op: Op) {
    let env = env().await;
    env.fake
        .push_fault(provider, "status=429,retry-after=2", 1)
        .unwrap();
    let e = expect(
        env.run(model, op, How::default()).await,
        ErrorKind::RateLimited,
        ErrorCode::ProviderRateLimited,
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));

    env.fake.push_fault(provider, "status=500", 1).unwrap();
    expect(
        env.run(model, op, How::default()).await,
        ErrorKind::Unavailable,
        ErrorCode::ProviderUnavailable,
    );

    env.fake.push_fault(provider, "delay-ms=1500", 1).unwrap();
    let slow = How {
        timeout: Duration::from_millis(300),
        ..How::default()
    };
    expect(
        env.run(model, op, slow).await,
        ErrorKind::Unavailable,
        ErrorCode::UpstreamTimeout,
    );

    let wrong = "wrong-key-0123456789abcdef";
    let bad = How {
        key: Some(Some(wrong.to_owned())),
        ..How::default()
    };
    let e = expect(
        env.run(model, op, bad).await,
        ErrorKind::Unavailable,
        ErrorCode::ProviderAuthFailed,
    );
    assert!(!e.to_string().contains("0123456789"), "the key leaked: {e}");

    let none = How {
        key: Some(None),
        ..How::default()
    };
    let e = expect(
        env.run(model, op, none).await,
        ErrorKind::Unavailable,
        ErrorCode::ProviderNotConfigured,
    );
    assert!(e.message().contains("_API_KEY"), "{e}");

    env.fake.push_fault(provider, "malformed", 1).unwrap();
    expect(
        env.run(model, op, How::default()).await,
        ErrorKind::Unavailable,
        ErrorCode::ProviderBadResponse,
    );

    env.fake.push_fault(provider, "status=400", 1).unwrap();
    expect(
        env.run(model, op, How::default()).await,
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );

    // After the faults, the same call succeeds.
    env.run(model, op, How::default())
        .await
        .expect("the call succeeds once faults are spent");
}
