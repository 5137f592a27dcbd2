//! Tavus: replica videos. `POST /v2/videos` with the replica and the script answers a
//! `video_id`; `GET /v2/videos/{id}` reports queued|generating|ready|deleted|error with the
//! `download_url` (the MP4) beside the `hosted_url` (a web page). There is no default replica:
//! a request must name one.

use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::types::{JobProgress, PersonaRequest, SubmittedJob, VideoRequest};
use super::wire::{self, MAX_JSON_BYTES};

/// Tavus' API root.
pub const TAVUS_BASE_URL: &str = "https://tavusapi.com";

/// The adapter for [`Provider::Tavus`](crate::domain::Provider::Tavus).
#[derive(Clone)]
pub struct TavusAdapter {
    http: Arc<dyn HttpClient>,
}

impl TavusAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }

    fn headers(call: &Call<'_>) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let key = wire::secret_header(call.api_key("TAVUS_API_KEY")?)?;
        Ok(vec![(HeaderName::from_static("x-api-key"), key)])
    }
}

fn create_body(request: &VideoRequest) -> Result<serde_json::Value> {
    let replica = request
        .avatar_id
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                "avatar_id",
                "Tavus needs a replica_id: pass the replica as avatar_id",
            )
        })?;
    if request.script.trim().is_empty() {
        return Err(Error::invalid("script", "Tavus needs a script to speak"));
    }
    let mut body = json!({
        "replica_id": replica,
        "script": request.script,
        "video_name": format!("molts {}", request.job_id),
    });
    if let Some(url) = &request.callback_url {
        body["callback_url"] = json!(url);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct Created {
    video_id: String,
}

#[derive(Deserialize)]
struct Video {
    status: String,
    #[serde(default)]
    download_url: Option<String>,
    #[serde(default)]
    stream_url: Option<String>,
    #[serde(default)]
    hosted_url: Option<String>,
    #[serde(default)]
    status_details: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

fn progress(call: &Call<'_>, video: Video) -> Result<JobProgress> {
    let redact = |m: &str| wire::redact(m, call.credentials.api_key.as_deref());
    Ok(match video.status.as_str() {
        "queued" => JobProgress::Queued,
        "generating" => JobProgress::Processing,
        "ready" => {
            let usable = |u: &Option<String>| u.as_deref().is_some_and(|u| !u.is_empty());
            let (url, content_type) = if usable(&video.download_url) {
                (video.download_url, Some("video/mp4".to_owned()))
            } else if usable(&video.stream_url) {
                (video.stream_url, None)
            } else {
                (video.hosted_url.filter(|u| !u.is_empty()), None)
            };
            let url =
                url.ok_or_else(|| wire::bad_response(call, "a ready video has no download_url"))?;
            JobProgress::Ready {
                url,
                duration: None,
                content_type,
            }
        }
        "deleted" => JobProgress::Failed {
            message: "the video was deleted at Tavus".to_owned(),
        },
        "error" => JobProgress::Failed {
            message: video
                .status_details
                .or(video.error)
                .filter(|m| !m.is_empty())
                .map(|m| redact(&m))
                .unwrap_or_else(|| "Tavus could not make the video".to_owned()),
        },
        other => {
            return Err(wire::bad_response(
                call,
                &format!(
                    "unknown video status '{}'",
                    other.chars().take(40).collect::<String>()
                ),
            ));
        }
    })
}

/// The replica-training body: the training video (and consent video) Tavus fetches itself.
fn replica_body(request: &PersonaRequest) -> Result<serde_json::Value> {
    let video = request
        .video_url
        .as_deref()
        .map(str::trim)
        .filter(|v| v.starts_with("https://") || v.starts_with("http://"))
        .ok_or_else(|| {
            Error::invalid(
                "video_url",
                "a Tavus replica is trained from a video: give its http(s) URL in video_url",
            )
        })?;
    let mut body = json!({
        "train_video_url": video,
        "replica_name": request.name.clone().unwrap_or_else(|| format!("molts {}", request.job_id)),
    });
    if let Some(consent) = &request.consent_video_url {
        body["consent_video_url"] = json!(consent);
    }
    if let Some(url) = &request.callback_url {
        body["callback_url"] = json!(url);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct Replica {
    replica_id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

#[async_trait]
impl ProviderAdapter for TavusAdapter {
    async fn submit_persona(
        &self,
        call: Call<'_>,
        request: &PersonaRequest,
    ) -> Result<SubmittedJob> {
        let body = replica_body(request)?;
        let url = format!("{}/v2/replicas", call.base_url(TAVUS_BASE_URL));
        let req = wire::request(Method::POST, &url, Self::headers(&call)?, Some(&body))?;
        let created: Replica =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let id = wire::job_path(&call, &created.replica_id, false)
            .map_err(|_| wire::bad_response(&call, "the replica id is not usable"))?;
        Ok(SubmittedJob {
            provider_job_id: id.to_owned(),
        })
    }

    /// `GET /v2/replicas/{id}`: `started`/`training` until `completed` (or `ready`), or `error`.
    async fn persona_progress(&self, call: Call<'_>, persona_id: &str) -> Result<JobProgress> {
        let id = wire::job_path(&call, persona_id, false)?;
        let url = format!("{}/v2/replicas/{id}", call.base_url(TAVUS_BASE_URL));
        let req = wire::request(Method::GET, &url, Self::headers(&call)?, None)?;
        let replica: Replica =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        Ok(match replica.status.as_deref().unwrap_or("started") {
            "completed" | "ready" => JobProgress::Ready {
                url: String::new(),
                duration: None,
                content_type: None,
            },
            "error" | "failed" => JobProgress::Failed {
                message: wire::redact(
                    replica
                        .error_message
                        .as_deref()
                        .filter(|m| !m.trim().is_empty())
                        .unwrap_or("the replica could not be trained"),
                    call.credentials.api_key.as_deref(),
                ),
            },
            _ => JobProgress::Processing,
        })
    }

    async fn submit_video(&self, call: Call<'_>, request: &VideoRequest) -> Result<SubmittedJob> {
        let body = create_body(request)?;
        let url = format!("{}/v2/videos", call.base_url(TAVUS_BASE_URL));
        let req = wire::request(Method::POST, &url, Self::headers(&call)?, Some(&body))?;
        let created: Created =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let id = wire::job_path(&call, &created.video_id, false)
            .map_err(|_| wire::bad_response(&call, "the video id is not usable"))?;
        Ok(SubmittedJob {
            provider_job_id: id.to_owned(),
        })
    }

    async fn job_progress(&self, call: Call<'_>, provider_job_id: &str) -> Result<JobProgress> {
        let id = wire::job_path(&call, provider_job_id, false)?;
        let url = format!("{}/v2/videos/{id}", call.base_url(TAVUS_BASE_URL));
        let req = wire::request(Method::GET, &url, Self::headers(&call)?, None)?;
        let video: Video = wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        progress(&call, video)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_trained_from_a_video_url() {
        let request = PersonaRequest {
            video_url: Some("https://example.com/me.mp4".into()),
            consent_video_url: Some("https://example.com/ok.mp4".into()),
            job_id: "job-1".into(),
            ..PersonaRequest::default()
        };
        let body = replica_body(&request).unwrap_or_default();
        assert_eq!(body["train_video_url"], "https://example.com/me.mp4");
        assert_eq!(body["consent_video_url"], "https://example.com/ok.mp4");
        assert_eq!(body["replica_name"], "molts job-1");
        let missing = replica_body(&PersonaRequest::default());
        assert_eq!(
            missing
                .err()
                .and_then(|e| e.param().map(str::to_owned))
                .as_deref(),
            Some("video_url")
        );
    }

    #[test]
    fn a_replica_is_required() {
        let mut request = VideoRequest {
            script: "Hi".into(),
            job_id: "job-1".into(),
            ..VideoRequest::default()
        };
        let error = create_body(&request).err();
        assert_eq!(error.as_ref().and_then(|e| e.param()), Some("avatar_id"));
        request.avatar_id = Some("r79e1c033f".into());
        let body = create_body(&request).unwrap_or_default();
        assert_eq!(body["replica_id"], json!("r79e1c033f"));
        assert!(body.get("callback_url").is_none());
    }
}
