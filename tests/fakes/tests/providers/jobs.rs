//! Shared checks for the job-shaped providers (HeyGen, Tavus, Veo, Shotstack): submitting,
//! polling a job to its end, and the error classes of a status poll.

use molts_core::ErrorCode;
use std::time::Duration;

use molts_core::ErrorKind;
use molts_core::Result;
use molts_core::domain::ModelConfig;
use molts_core::providers::{
    Call, Credentials, JobProgress, PersonaRequest, RenderRequest, SubmittedJob, VideoRequest,
};

use crate::common::{Env, Op, env, expect, persona_request, render_request, video_request};

impl Env {
    fn credentials(&self, model: &ModelConfig) -> Credentials {
        self.registry.credentials(model.provider).clone()
    }

    /// Submits a video through the registry's adapter.
    pub(crate) async fn submit_video(
        &self,
        model: &ModelConfig,
        request: &VideoRequest,
    ) -> Result<SubmittedJob> {
        let credentials = self.credentials(model);
        let call = Call {
            model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        self.registry
            .adapter(model.provider)?
            .submit_video(call, request)
            .await
    }

    /// Submits a render through the registry's adapter.
    pub(crate) async fn submit_render(
        &self,
        model: &ModelConfig,
        request: &RenderRequest,
    ) -> Result<SubmittedJob> {
        let credentials = self.credentials(model);
        let call = Call {
            model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        self.registry
            .adapter(model.provider)?
            .submit_render(call, request)
            .await
    }

    /// Submits a persona through the registry's adapter.
    pub(crate) async fn submit_persona(
        &self,
        model: &ModelConfig,
        request: &PersonaRequest,
    ) -> Result<SubmittedJob> {
        let credentials = self.credentials(model);
        let call = Call {
            model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        self.registry
            .adapter(model.provider)?
            .submit_persona(call, request)
            .await
    }

    /// One status poll of a job `op` made (`persona_progress` for personas, `job_progress`
    /// otherwise), with `key` instead of the configured key when given.
    pub(crate) async fn poll_with(
        &self,
        model: &ModelConfig,
        op: Op,
        id: &str,
        key: Option<Option<String>>,
    ) -> Result<JobProgress> {
        let mut credentials = self.credentials(model);
        if let Some(key) = key {
            credentials.api_key = key;
        }
        let call = Call {
            model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let adapter = self.registry.adapter(model.provider)?;
        match op {
            Op::Persona => adapter.persona_progress(call, id).await,
            _ => adapter.job_progress(call, id).await,
        }
    }

    /// One status poll, with `key` instead of the configured key when given.
    pub(crate) async fn progress_with(
        &self,
        model: &ModelConfig,
        id: &str,
        key: Option<Option<String>>,
    ) -> Result<JobProgress> {
        self.poll_with(model, Op::Video, id, key).await
    }

    /// One status poll.
    pub(crate) async fn progress(&self, model: &ModelConfig, id: &str) -> Result<JobProgress> {
        self.progress_with(model, id, None).await
    }

    /// One persona status poll.
    pub(crate) async fn persona_progress(
        &self,
        model: &ModelConfig,
        id: &str,
    ) -> Result<JobProgress> {
        self.poll_with(model, Op::Persona, id, None).await
    }

    /// Polls until the job is ready or failed; every answer, in order.
    pub(crate) async fn poll_to_end(&self, model: &ModelConfig, id: &str) -> Vec<JobProgress> {
        self.poll_to_end_as(model, Op::Video, id).await
    }

    /// Polls a job `op` made until it is ready or failed; every answer, in order.
    pub(crate) async fn poll_to_end_as(
        &self,
        model: &ModelConfig,
        op: Op,
        id: &str,
    ) -> Vec<JobProgress> {
        let mut seen = Vec::new();
        for _ in 0..10 {
            let progress = self
                .poll_with(model, op, id, None)
                .await
                .expect("a poll succeeds");
            let done = matches!(
                progress,
                JobProgress::Ready { .. } | JobProgress::Failed { .. }
            );
            seen.push(progress);
            if done {
                return seen;
            }
        }
        panic!("the job never finished: {seen:?}");
    }

    /// Submits the canned request for `op`.
    pub(crate) async fn submit(&self, model: &ModelConfig, op: Op) -> SubmittedJob {
        match op {
            Op::Render => self.submit_render(model, &render_request()).await,
            Op::Persona => self.submit_persona(model, &persona_request()).await,
            _ => {
                self.submit_video(model, &video_request("Hello from the fakes."))
                    .await
            }
        }
        .expect("the job is accepted")
    }
}

/// The ready output of `seen`'s last answer: `(url, duration, content type)`.
pub(crate) fn ready(seen: &[JobProgress]) -> (String, Option<f64>, Option<String>) {
    match seen.last() {
        Some(JobProgress::Ready {
            url,
            duration,
            content_type,
        }) => (url.clone(), *duration, content_type.clone()),
        other => panic!("ready expected, got {other:?}"),
    }
}

/// Fetches a finished job's URL from the fake: its content type and length.
pub(crate) async fn fetch(url: &str) -> (String, usize) {
    use futures::StreamExt;
    use molts_core::ports::{HttpClient, RequestOptions};
    let client = molts_reqwest::ReqwestHttpClient::new().expect("a client");
    let request = http::Request::get(url)
        .body(bytes::Bytes::new())
        .expect("a request");
    let response = client
        .send(
            request,
            RequestOptions {
                timeout: Duration::from_secs(5),
            },
        )
        .await
        .expect("the output is served");
    assert_eq!(response.status(), 200, "{url}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut body = response.into_body();
    let mut len = 0;
    while let Some(chunk) = body.next().await {
        len += chunk.unwrap().len();
    }
    (content_type, len)
}

/// The error classes of a status poll (a persona's for [`Op::Persona`]): 429 with Retry-After,
/// 500, a wrong key (not leaked), a malformed body, an id the provider never gave out, and an
/// id not fit for a URL; after them the job still finishes.
pub(crate) async fn progress_error_matrix(provider: &str, model: &ModelConfig, op: Op) {
    let env = env().await;
    let job = env.submit(model, op).await;
    let id = job.provider_job_id.as_str();

    env.fake
        .push_fault(provider, "status=429,retry-after=3", 1)
        .unwrap();
    let e = expect(
        env.poll_with(model, op, id, None).await.map(|_| ()),
        ErrorKind::RateLimited,
        ErrorCode::ProviderRateLimited,
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));

    env.fake.push_fault(provider, "status=500", 1).unwrap();
    expect(
        env.poll_with(model, op, id, None).await.map(|_| ()),
        ErrorKind::Unavailable,
        ErrorCode::ProviderUnavailable,
    );

    let wrong = "wrong-key-0123456789abcdef";
    let e = expect(
        env.poll_with(model, op, id, Some(Some(wrong.to_owned())))
            .await
            .map(|_| ()),
        ErrorKind::Unavailable,
        ErrorCode::ProviderAuthFailed,
    );
    assert!(!e.to_string().contains("0123456789"), "the key leaked: {e}");

    env.fake.push_fault(provider, "malformed", 1).unwrap();
    expect(
        env.poll_with(model, op, id, None).await.map(|_| ()),
        ErrorKind::Unavailable,
        ErrorCode::ProviderBadResponse,
    );

    let unknown = if provider == "gemini" {
        format!("models/{}/operations/000000000bad", model.provider_model)
    } else {
        "0000000000bad".to_owned()
    };
    expect(
        env.poll_with(model, op, &unknown, None).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );
    let e = expect(
        env.poll_with(model, op, "../../etc?x=1", None)
            .await
            .map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::InvalidValue,
    );
    assert_eq!(e.param(), Some("provider_job_id"));

    // None of the faulted polls counted: the job still takes its two polls, then is ready.
    let seen = env.poll_to_end_as(model, op, id).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    ready(&seen);
}
