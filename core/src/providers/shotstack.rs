//! Shotstack: timeline renders. `POST /render` sends the caller's edit JSON as given (with
//! molts' callback) and answers the render `id`; `GET /render/{id}` reports
//! queued|fetching|rendering|saving|done|failed, the output `url` (valid 24 hours) and its
//! `duration`. Rate limits come from the API gateway as 429 with `x-amzn-ErrorType`.

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::types::{JobProgress, RenderRequest, SubmittedJob};
use super::wire::{self, MAX_JSON_BYTES};

/// Shotstack's production API root (`…/edit/stage` is the sandbox).
pub const SHOTSTACK_BASE_URL: &str = "https://api.shotstack.io/edit/v1";

/// The adapter for [`Provider::Shotstack`](crate::domain::Provider::Shotstack).
#[derive(Clone)]
pub struct ShotstackAdapter {
    http: Arc<dyn HttpClient>,
}

impl ShotstackAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }

    fn headers(call: &Call<'_>) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let key = wire::secret_header(call.api_key("SHOTSTACK_API_KEY")?)?;
        Ok(vec![(HeaderName::from_static("x-api-key"), key)])
    }
}

/// The render body: the edit as given, with molts' callback when there is one.
fn render_body(request: &RenderRequest) -> Result<Value> {
    let Value::Object(edit) = &request.edit else {
        return Err(Error::invalid(
            "edit",
            "a render needs an edit object with a timeline and an output",
        ));
    };
    if !edit.get("timeline").is_some_and(Value::is_object) {
        return Err(Error::invalid("edit", "the edit needs a timeline object"));
    }
    if !edit.get("output").is_some_and(Value::is_object) {
        return Err(Error::invalid("edit", "the edit needs an output object"));
    }
    let mut body = Value::Object(edit.clone());
    if let Some(callback) = &request.callback_url {
        body["callback"] = json!(callback);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    response: Option<T>,
}

#[derive(Deserialize)]
struct Queued {
    id: String,
}

#[derive(Deserialize)]
struct Render {
    status: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    error: Option<Value>,
}

impl<T> Envelope<T> {
    /// The payload, or the provider's refusal when it said `success: false` with a 2xx.
    fn into_response(self, call: &Call<'_>) -> Result<T> {
        if self.success == Some(false) {
            let message = self.message.unwrap_or_else(|| "no message".to_owned());
            return Err(Error::unavailable(format!(
                "provider 'shotstack' failed: {}",
                wire::redact(&message, call.credentials.api_key.as_deref())
            ))
            .with_code(ErrorCode::ProviderUnavailable));
        }
        self.response
            .ok_or_else(|| wire::bad_response(call, "no response object"))
    }
}

fn progress(call: &Call<'_>, render: Render) -> Result<JobProgress> {
    Ok(match render.status.as_str() {
        "queued" => JobProgress::Queued,
        "fetching" | "rendering" | "saving" => JobProgress::Processing,
        "done" => {
            let url = render
                .url
                .filter(|u| !u.is_empty())
                .ok_or_else(|| wire::bad_response(call, "a finished render has no url"))?;
            JobProgress::Ready {
                content_type: Some(wire::media_type_from_url(&url).to_owned()),
                duration: render.duration.filter(|d| d.is_finite() && *d > 0.0),
                url,
            }
        }
        "failed" => {
            let message = match render.error {
                Some(Value::String(s)) if !s.is_empty() => s,
                Some(Value::Object(o)) => o
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the render failed")
                    .to_owned(),
                _ => "the render failed".to_owned(),
            };
            JobProgress::Failed {
                message: wire::redact(&message, call.credentials.api_key.as_deref()),
            }
        }
        other => {
            return Err(wire::bad_response(
                call,
                &format!(
                    "unknown render status '{}'",
                    other.chars().take(40).collect::<String>()
                ),
            ));
        }
    })
}

#[async_trait]
impl ProviderAdapter for ShotstackAdapter {
    async fn submit_render(&self, call: Call<'_>, request: &RenderRequest) -> Result<SubmittedJob> {
        let body = render_body(request)?;
        let url = format!("{}/render", call.base_url(SHOTSTACK_BASE_URL));
        let req = wire::request(Method::POST, &url, Self::headers(&call)?, Some(&body))?;
        let envelope: Envelope<Queued> =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let queued = envelope.into_response(&call)?;
        let id = wire::job_path(&call, &queued.id, false)
            .map_err(|_| wire::bad_response(&call, "the render id is not usable"))?;
        Ok(SubmittedJob {
            provider_job_id: id.to_owned(),
        })
    }

    async fn job_progress(&self, call: Call<'_>, provider_job_id: &str) -> Result<JobProgress> {
        let id = wire::job_path(&call, provider_job_id, false)?;
        let url = format!("{}/render/{id}", call.base_url(SHOTSTACK_BASE_URL));
        let req = wire::request(Method::GET, &url, Self::headers(&call)?, None)?;
        let envelope: Envelope<Render> =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        progress(&call, envelope.into_response(&call)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_is_sent_as_given_with_the_callback() {
        let request = RenderRequest {
            edit: json!({"timeline": {"tracks": []}, "output": {"format": "mp4"}, "x": 1}),
            callback_url: Some("https://molts.example/cb/1".into()),
            job_id: "job-1".into(),
        };
        let body = render_body(&request).unwrap_or_default();
        assert_eq!(body["x"], json!(1));
        assert_eq!(body["callback"], json!("https://molts.example/cb/1"));
        let bad = RenderRequest {
            edit: json!({"output": {}}),
            ..request
        };
        assert!(render_body(&bad).is_err());
    }

    #[test]
    fn output_types_follow_the_url() {
        assert_eq!(
            wire::media_type_from_url("https://x/a.gif?sig=1"),
            "image/gif"
        );
        assert_eq!(wire::media_type_from_url("https://x/a"), "video/mp4");
    }
}
