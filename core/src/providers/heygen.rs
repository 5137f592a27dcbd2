//! HeyGen: avatar videos. `POST /v2/video/generate` with one scene (the avatar, the script as
//! its voice's text, a plain background), the dimension from the aspect ratio and molts' job id
//! as `callback_id`; `GET /v1/video_status.get?video_id=` reports
//! pending|waiting|processing|completed|failed with the `video_url` (valid 7 days) and
//! `duration`. Errors come as `{"data":null,"error":{"code","message"}}`.

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::types::{JobProgress, PersonaRequest, SubmittedJob, VideoRequest};
use super::wire::{self, MAX_JSON_BYTES};

/// HeyGen's API root.
pub const HEYGEN_BASE_URL: &str = "https://api.heygen.com";
/// The avatar used when a request names none: HeyGen's documented example avatar.
pub const DEFAULT_HEYGEN_AVATAR: &str = "Angela-inTshirt-20220820";
/// The voice used when a request names none: HeyGen's documented example voice.
pub const DEFAULT_HEYGEN_VOICE: &str = "1bd001e7e50f421d891986aad5158bc8";
/// The scene background when the request gives no colour.
const DEFAULT_BACKGROUND: &str = "#FFFFFF";

/// The adapter for [`Provider::Heygen`](crate::domain::Provider::Heygen).
#[derive(Clone)]
pub struct HeygenAdapter {
    http: Arc<dyn HttpClient>,
}

impl HeygenAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }

    fn headers(call: &Call<'_>) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let key = wire::secret_header(call.api_key("HEYGEN_API_KEY")?)?;
        Ok(vec![(HeaderName::from_static("x-api-key"), key)])
    }
}

/// `{width, height}` for an aspect ratio (720p on the short side); landscape by default.
pub(crate) fn dimension(aspect_ratio: Option<&str>) -> Result<(u32, u32)> {
    match aspect_ratio.map(str::trim) {
        None | Some("" | "16:9") => Ok((1280, 720)),
        Some("9:16") => Ok((720, 1280)),
        Some("1:1") => Ok((720, 720)),
        Some("4:3") => Ok((960, 720)),
        Some("3:4") => Ok((720, 960)),
        Some(_) => Err(Error::invalid(
            "aspect_ratio",
            "HeyGen videos are 16:9, 9:16, 1:1, 4:3 or 3:4",
        )),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The generate body for `request`.
fn generate_body(request: &VideoRequest) -> Result<Value> {
    if request.script.trim().is_empty() {
        return Err(Error::invalid("script", "HeyGen needs a script to speak"));
    }
    let avatar = non_empty(request.avatar_id.as_deref()).unwrap_or(DEFAULT_HEYGEN_AVATAR);
    let voice = non_empty(request.voice_id.as_deref()).unwrap_or(DEFAULT_HEYGEN_VOICE);
    let (width, height) = dimension(request.aspect_ratio.as_deref())?;
    // A persona molts made is a talking photo; anything else is a stock or custom avatar.
    let character = match avatar.strip_prefix(TALKING_PHOTO_PREFIX) {
        Some(photo) => json!({"type": "talking_photo", "talking_photo_id": photo}),
        None => json!({"type": "avatar", "avatar_id": avatar, "avatar_style": "normal"}),
    };
    let mut body = json!({
        "video_inputs": [{
            "character": character,
            "voice": {"type": "text", "input_text": request.script, "voice_id": voice},
            "background": {"type": "color", "value": DEFAULT_BACKGROUND},
        }],
        "dimension": {"width": width, "height": height},
        "callback_id": request.job_id,
    });
    if let Some(url) = &request.callback_url {
        body["callback_url"] = json!(url);
    }
    Ok(body)
}

/// How a talking-photo persona's id is written, so videos know which character type it is.
pub const TALKING_PHOTO_PREFIX: &str = "talking_photo:";
/// HeyGen's upload host (the API host answers uploads only there).
pub const HEYGEN_UPLOAD_URL: &str = "https://upload.heygen.com";

#[derive(Deserialize)]
struct TalkingPhoto {
    talking_photo_id: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    // Missing and `null` both read as `None`.
    data: Option<T>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Generated {
    video_id: String,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    #[serde(default)]
    video_url: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    error: Option<Value>,
}

impl<T> Envelope<T> {
    /// The data, or HeyGen's refusal when a 2xx carried an error instead.
    fn into_data(self, call: &Call<'_>) -> Result<T> {
        if let Some(data) = self.data {
            return Ok(data);
        }
        match self.error.as_ref().filter(|e| !e.is_null()) {
            Some(error) => Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "provider 'heygen' rejected the request: {}",
                    error_text(call, error)
                ),
            )
            .with_code(ErrorCode::ProviderRejected)),
            None => Err(wire::bad_response(call, "no data")),
        }
    }
}

/// HeyGen's `error` (`{code, message, detail}` or a string), secrets removed.
fn error_text(call: &Call<'_>, error: &Value) -> String {
    let text = match error {
        Value::String(s) => s.clone(),
        other => {
            let message = other["message"].as_str().filter(|m| !m.is_empty());
            let detail = other["detail"].as_str().filter(|d| !d.is_empty());
            match (message, detail) {
                (Some(m), Some(d)) if m != d => format!("{m} ({d})"),
                (Some(m), _) => m.to_owned(),
                (None, Some(d)) => d.to_owned(),
                (None, None) => other["code"]
                    .as_str()
                    .unwrap_or("the video failed")
                    .to_owned(),
            }
        }
    };
    wire::redact(&text, call.credentials.api_key.as_deref())
}

fn progress(call: &Call<'_>, status: Status) -> Result<JobProgress> {
    Ok(match status.status.as_str() {
        "pending" | "waiting" => JobProgress::Queued,
        "processing" => JobProgress::Processing,
        "completed" => {
            let url = status
                .video_url
                .filter(|u| !u.is_empty())
                .ok_or_else(|| wire::bad_response(call, "a completed video has no video_url"))?;
            JobProgress::Ready {
                url,
                duration: status.duration.filter(|d| d.is_finite() && *d > 0.0),
                content_type: Some("video/mp4".to_owned()),
            }
        }
        "failed" => JobProgress::Failed {
            message: status
                .error
                .as_ref()
                .filter(|e| !e.is_null())
                .map(|e| error_text(call, e))
                .unwrap_or_else(|| "the video failed".to_owned()),
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

#[async_trait]
impl ProviderAdapter for HeygenAdapter {
    async fn submit_video(&self, call: Call<'_>, request: &VideoRequest) -> Result<SubmittedJob> {
        let body = generate_body(request)?;
        let url = format!("{}/v2/video/generate", call.base_url(HEYGEN_BASE_URL));
        let req = wire::request(Method::POST, &url, Self::headers(&call)?, Some(&body))?;
        let envelope: Envelope<Generated> =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let generated = envelope.into_data(&call)?;
        let id = wire::job_path(&call, &generated.video_id, false)
            .map_err(|_| wire::bad_response(&call, "the video id is not usable"))?;
        Ok(SubmittedJob {
            provider_job_id: id.to_owned(),
        })
    }

    /// A persona is a talking photo: `POST upload.heygen.com/v1/talking_photo` with the image
    /// bytes answers its id at once (with a base URL override, the upload goes there too).
    async fn submit_persona(
        &self,
        call: Call<'_>,
        request: &PersonaRequest,
    ) -> Result<SubmittedJob> {
        let Some((bytes, content_type)) = &request.image else {
            return Err(Error::invalid(
                "image_file",
                "a HeyGen persona is made from a photo: upload one and name it in image_file",
            ));
        };
        let url = format!("{}/v1/talking_photo", call.base_url(HEYGEN_UPLOAD_URL));
        let mut headers = Self::headers(&call)?;
        headers.push((
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_str(content_type).map_err(|_| {
                Error::invalid("image_file", "the photo's content type is not usable")
            })?,
        ));
        let mut req = wire::request(Method::POST, &url, headers, None)?;
        *req.body_mut() = bytes.clone();
        let envelope: Envelope<TalkingPhoto> =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let photo = envelope.into_data(&call)?;
        let id = wire::job_path(&call, &photo.talking_photo_id, false)
            .map_err(|_| wire::bad_response(&call, "the talking photo id is not usable"))?;
        Ok(SubmittedJob {
            provider_job_id: format!("{TALKING_PHOTO_PREFIX}{id}"),
        })
    }

    async fn persona_progress(&self, call: Call<'_>, persona_id: &str) -> Result<JobProgress> {
        // Talking photos are usable as soon as the upload answers.
        if persona_id.starts_with(TALKING_PHOTO_PREFIX) {
            Ok(JobProgress::Ready {
                url: String::new(),
                duration: None,
                content_type: None,
            })
        } else {
            Err(wire::bad_response(&call, "not a persona molts made"))
        }
    }

    async fn job_progress(&self, call: Call<'_>, provider_job_id: &str) -> Result<JobProgress> {
        let id = wire::job_path(&call, provider_job_id, false)?;
        let url = format!(
            "{}/v1/video_status.get?video_id={id}",
            call.base_url(HEYGEN_BASE_URL)
        );
        let req = wire::request(Method::GET, &url, Self::headers(&call)?, None)?;
        let envelope: Envelope<Status> =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        progress(&call, envelope.into_data(&call)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_talking_photo_persona_is_its_own_character_type() {
        let request = VideoRequest {
            script: "Hello".into(),
            avatar_id: Some(format!("{TALKING_PHOTO_PREFIX}tp-123")),
            job_id: "job-1".into(),
            ..VideoRequest::default()
        };
        let body = generate_body(&request).unwrap_or_default();
        let character = &body["video_inputs"][0]["character"];
        assert_eq!(character["type"], "talking_photo");
        assert_eq!(character["talking_photo_id"], "tp-123");
    }

    #[test]
    fn defaults_fill_the_scene_and_the_ratio_sets_the_dimension() {
        let request = VideoRequest {
            script: "Hello".into(),
            aspect_ratio: Some("9:16".into()),
            job_id: "job-1".into(),
            ..VideoRequest::default()
        };
        let body = generate_body(&request).unwrap_or_default();
        let scene = &body["video_inputs"][0];
        assert_eq!(
            scene["character"]["avatar_id"],
            json!(DEFAULT_HEYGEN_AVATAR)
        );
        assert_eq!(scene["voice"]["voice_id"], json!(DEFAULT_HEYGEN_VOICE));
        assert_eq!(body["dimension"], json!({"width": 720, "height": 1280}));
        assert_eq!(body["callback_id"], json!("job-1"));
        assert!(body.get("callback_url").is_none());
        assert!(dimension(Some("21:9")).is_err());
    }
}
