//! Veo, Gemini's video models, as long-running operations: `POST
//! v1beta/models/{model}:predictLongRunning` with one instance (the prompt) and the parameters
//! answers an operation `name`; `GET v1beta/{name}` reports `done` and then either
//! `response.generateVideoResponse.generatedSamples[0].video.uri` or `error {code, message}`.
//! The [`GeminiAdapter`](super::GeminiAdapter) serves these for Veo configs.

use http::{HeaderName, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::ports::{HttpClient, RequestOptions};

use super::adapter::{Call, Download, Fetch};
use super::gemini::GEMINI_BASE_URL;
use super::types::{JobProgress, SubmittedJob, VideoRequest};
use super::wire::{self, MAX_JSON_BYTES};

/// Seconds of video asked for: 8 is offered by every Veo model.
pub const VEO_DURATION_SECONDS: u32 = 8;

fn request(
    call: &Call<'_>,
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> Result<http::Request<bytes::Bytes>> {
    let key = wire::secret_header(call.api_key("GEMINI_API_KEY")?)?;
    wire::request(
        method,
        url,
        vec![(HeaderName::from_static("x-goog-api-key"), key)],
        body,
    )
}

/// The `predictLongRunning` body for `request`.
fn predict_body(request: &VideoRequest) -> Result<Value> {
    let script = request.script.trim();
    if script.is_empty() {
        return Err(Error::invalid("script", "Veo needs a prompt to show"));
    }
    let prompt = match request.context.as_deref().map(str::trim) {
        Some(context) if !context.is_empty() => format!("{script}\n\n{context}"),
        _ => script.to_owned(),
    };
    let aspect = match request.aspect_ratio.as_deref().map(str::trim) {
        None | Some("" | "16:9") => "16:9",
        Some("9:16") => "9:16",
        Some(_) => {
            return Err(Error::invalid(
                "aspect_ratio",
                "Veo videos are 16:9 or 9:16",
            ));
        }
    };
    Ok(json!({
        "instances": [{"prompt": prompt}],
        "parameters": {
            "aspectRatio": aspect,
            "durationSeconds": VEO_DURATION_SECONDS,
            "sampleCount": 1,
        },
    }))
}

#[derive(Deserialize)]
struct Operation {
    name: Option<String>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    response: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

/// Starts a Veo operation.
pub(super) async fn submit(
    http: &dyn HttpClient,
    call: &Call<'_>,
    video: &VideoRequest,
) -> Result<SubmittedJob> {
    let body = predict_body(video)?;
    let url = format!(
        "{}/v1beta/models/{}:predictLongRunning",
        call.base_url(GEMINI_BASE_URL),
        call.model.provider_model
    );
    let req = request(call, Method::POST, &url, Some(&body))?;
    let operation: Operation = wire::send_json(http, call, req, MAX_JSON_BYTES).await?;
    let name = operation
        .name
        .ok_or_else(|| wire::bad_response(call, "the operation has no name"))?;
    let name = wire::job_path(call, &name, true)
        .map_err(|_| wire::bad_response(call, "the operation name is not usable"))?;
    Ok(SubmittedJob {
        provider_job_id: name.to_owned(),
    })
}

/// Where a Veo operation stands.
pub(super) async fn progress(
    http: &dyn HttpClient,
    call: &Call<'_>,
    name: &str,
) -> Result<JobProgress> {
    let name = wire::job_path(call, name, true)?;
    let url = format!("{}/v1beta/{name}", call.base_url(GEMINI_BASE_URL));
    let req = request(call, Method::GET, &url, None)?;
    let operation: Operation = wire::send_json(http, call, req, MAX_JSON_BYTES).await?;
    operation_progress(call, operation)
}

/// Fetches a finished video. Veo's file URIs need the key, so it is sent — but only to the
/// configured Gemini host; the redirect Veo answers with (to pre-signed storage) is handed back
/// as a plain GET without the key, for the gateway to judge where it points.
pub(super) async fn download(http: &dyn HttpClient, call: &Call<'_>, uri: &str) -> Result<Fetch> {
    let base = call.base_url(GEMINI_BASE_URL);
    if !uri.starts_with(&format!("{base}/")) {
        // Not Gemini's own URL (already pre-signed elsewhere): a plain GET will do.
        return Ok(Fetch::Get(uri.to_owned()));
    }
    let options = RequestOptions {
        timeout: call.timeout,
    };
    let response = http
        .send(request(call, Method::GET, uri, None)?, options)
        .await?;
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| wire::bad_response(call, "a redirect without a Location"))?;
        return Ok(Fetch::Get(location.to_owned()));
    }
    if !response.status().is_success() {
        return Err(Error::unavailable(format!(
            "downloading the Veo video answered HTTP {}",
            response.status().as_u16()
        )));
    }
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(Fetch::Fetched(Download {
        content_type,
        body: response.into_body(),
    }))
}

fn operation_progress(call: &Call<'_>, operation: Operation) -> Result<JobProgress> {
    let redact = |m: &str| wire::redact(m, call.credentials.api_key.as_deref());
    if let Some(error) = operation.error.filter(|e| !e.is_null()) {
        let message = error["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or("the video failed");
        return Ok(JobProgress::Failed {
            message: redact(message),
        });
    }
    if !operation.done {
        // Veo reports no finer progress than "not done".
        return Ok(JobProgress::Processing);
    }
    let generated = operation
        .response
        .as_ref()
        .map(|r| &r["generateVideoResponse"])
        .ok_or_else(|| wire::bad_response(call, "a done operation has no response"))?;
    let video = &generated["generatedSamples"][0]["video"];
    match video["uri"].as_str().filter(|u| !u.is_empty()) {
        Some(uri) => Ok(JobProgress::Ready {
            url: uri.to_owned(),
            // Veo makes exactly the length asked for; it does not report it back.
            duration: Some(f64::from(VEO_DURATION_SECONDS)),
            content_type: Some(
                video["encoding"]
                    .as_str()
                    .or(video["mimeType"].as_str())
                    .unwrap_or("video/mp4")
                    .to_owned(),
            ),
        }),
        None => {
            // Veo drops samples its safety filters catch and says why.
            let reason = generated["raiMediaFilteredReasons"][0]
                .as_str()
                .unwrap_or("Veo returned no video");
            Ok(JobProgress::Failed {
                message: redact(reason),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::StreamExt;

    use super::*;
    use crate::ports::{HttpRequest, HttpResponse};

    /// Answers every request with a redirect to storage, recording the URLs asked for.
    struct Redirecting(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl HttpClient for Redirecting {
        async fn send(&self, request: HttpRequest, _: RequestOptions) -> Result<HttpResponse> {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(request.uri().to_string());
            }
            http::Response::builder()
                .status(302)
                .header("location", "http://169.254.169.254/latest/video.mp4")
                .body(futures::stream::empty().boxed())
                .map_err(|_| Error::internal("a response"))
        }
    }

    /// Veo's redirect is handed back as a plain GET for the gateway to judge (`outbound.rs`),
    /// never followed with the adapter's own client; a URL off the Gemini host is not sent to.
    #[test]
    fn redirects_and_foreign_urls_are_handed_back_not_fetched() {
        let model = crate::seed::models()
            .into_iter()
            .find(|m| m.id == "veo-3.1")
            .unwrap_or_else(|| unreachable!("the seed has veo-3.1"));
        let credentials = crate::providers::Credentials {
            api_key: Some("gm-key".into()),
            base_url: Some("http://127.0.0.1:9/gemini".into()),
        };
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: std::time::Duration::from_secs(1),
        };
        let http = Redirecting(Mutex::new(Vec::new()));
        let own = "http://127.0.0.1:9/gemini/v1beta/files/abc:download";
        let fetched = futures::executor::block_on(download(&http, &call, own));
        assert!(
            matches!(&fetched, Ok(Fetch::Get(u)) if u == "http://169.254.169.254/latest/video.mp4"),
            "{fetched:?}"
        );
        let foreign = "https://storage.example.com/video.mp4";
        let fetched = futures::executor::block_on(download(&http, &call, foreign));
        assert!(
            matches!(&fetched, Ok(Fetch::Get(u)) if u == foreign),
            "{fetched:?}"
        );
        let seen = http.0.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen, [own], "only the Gemini host is sent to");
    }

    #[test]
    fn the_prompt_carries_the_context_and_ratios_are_checked() {
        let request = VideoRequest {
            script: "a cat surfing".into(),
            context: Some("golden hour".into()),
            aspect_ratio: Some("9:16".into()),
            job_id: "job-1".into(),
            ..VideoRequest::default()
        };
        let body = predict_body(&request).unwrap_or_default();
        assert_eq!(
            body["instances"][0]["prompt"],
            json!("a cat surfing\n\ngolden hour")
        );
        assert_eq!(body["parameters"]["aspectRatio"], json!("9:16"));
        assert_eq!(body["parameters"]["sampleCount"], json!(1));
        let square = VideoRequest {
            aspect_ratio: Some("1:1".into()),
            ..request
        };
        assert!(predict_body(&square).is_err());
    }
}
