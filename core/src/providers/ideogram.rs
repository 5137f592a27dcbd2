//! Ideogram: the config's provider model picks the API — `V_3…` the v3 endpoint, sent as the
//! `multipart/form-data` form it documents; every older model (`V_1`, `V_2`, `V_2_TURBO`,
//! `V_2A`…) the legacy endpoint, as JSON `{"image_request": …}`. Both answer with temporary
//! URLs; images withheld as unsafe come back without one and are dropped.

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::form::Form;
use super::types::{GeneratedImage, ImageData, ImageRequest};
use super::wire::{self, MAX_JSON_BYTES};

/// Ideogram's API root.
pub const IDEOGRAM_BASE_URL: &str = "https://api.ideogram.ai";

/// The adapter for [`Provider::Ideogram`](crate::domain::Provider::Ideogram).
#[derive(Clone)]
pub struct IdeogramAdapter {
    http: Arc<dyn HttpClient>,
}

impl IdeogramAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }
}

/// Whether the provider model is served by the v3 endpoint.
fn is_v3(provider_model: &str) -> bool {
    let m = provider_model.to_ascii_uppercase();
    m.starts_with("V_3") || m.starts_with("V3") || m.contains("IDEOGRAM-V3")
}

/// `16:9` (or `16x9`) as v3 spells it (`16x9`) or as the legacy API does (`ASPECT_16_9`).
fn aspect(ratio: &str, legacy: bool) -> Option<String> {
    let (w, h) = ratio.split_once([':', 'x'])?;
    let (w, h) = (w.trim(), h.trim());
    if w.is_empty() || h.is_empty() || !(w.chars().chain(h.chars()).all(|c| c.is_ascii_digit())) {
        return None;
    }
    Some(if legacy {
        format!("ASPECT_{w}_{h}")
    } else {
        format!("{w}x{h}")
    })
}

/// `1024x1024` as the legacy API's `RESOLUTION_1024_1024`.
fn legacy_resolution(size: &str) -> Option<String> {
    let (w, h) = size.split_once('x')?;
    Some(format!("RESOLUTION_{w}_{h}"))
}

#[derive(Deserialize)]
struct Generated {
    #[serde(default)]
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    is_image_safe: Option<bool>,
}

/// What a generate request carries: v3 takes a form, the legacy endpoint JSON.
#[derive(Debug)]
enum Payload {
    Form(Form),
    Json(Value),
}

fn body(call: &Call<'_>, request: &ImageRequest) -> (String, Payload) {
    let model = call.model.provider_model.as_str();
    let base = call.base_url(IDEOGRAM_BASE_URL);
    let style = request.style.as_deref().map(str::to_ascii_uppercase);
    if is_v3(model) {
        // Documented as multipart/form-data (JSON is accepted too, but undocumented).
        let mut form = Form::new();
        form.text("prompt", request.prompt.as_str())
            .text("num_images", request.n.to_string());
        if let Some(a) = request
            .aspect_ratio
            .as_deref()
            .and_then(|a| aspect(a, false))
        {
            form.text("aspect_ratio", a);
        } else if let Some(size) = &request.size {
            form.text("resolution", size.as_str());
        }
        if let Some(s) = style {
            form.text("style_type", s);
        }
        if let Some(n) = &request.negative_prompt {
            form.text("negative_prompt", n.as_str());
        }
        (
            format!("{base}/v1/ideogram-v3/generate"),
            Payload::Form(form),
        )
    } else {
        let mut inner = json!({
            "prompt": request.prompt,
            "model": model,
            "num_images": request.n,
            "magic_prompt_option": "AUTO",
        });
        if let Some(a) = request
            .aspect_ratio
            .as_deref()
            .and_then(|a| aspect(a, true))
        {
            inner["aspect_ratio"] = json!(a);
        } else if let Some(r) = request.size.as_deref().and_then(legacy_resolution) {
            inner["resolution"] = json!(r);
        }
        if let Some(s) = style {
            inner["style_type"] = json!(s);
        }
        if let Some(n) = &request.negative_prompt {
            inner["negative_prompt"] = json!(n);
        }
        (
            format!("{base}/generate"),
            Payload::Json(json!({"image_request": inner})),
        )
    }
}

#[async_trait]
impl ProviderAdapter for IdeogramAdapter {
    async fn images(&self, call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let (url, body) = body(&call, request);
        let key = wire::secret_header(call.api_key("IDEOGRAM_API_KEY")?)?;
        let headers = vec![(HeaderName::from_static("api-key"), key)];
        let req = match &body {
            Payload::Form(form) => wire::form_request(Method::POST, &url, headers, form)?,
            Payload::Json(json) => wire::request(Method::POST, &url, headers, Some(json))?,
        };
        let generated: Generated =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let total = generated.data.len();
        let images: Vec<GeneratedImage> = generated
            .data
            .into_iter()
            .filter(|i| i.is_image_safe != Some(false))
            .filter_map(|i| {
                let url = i.url.filter(|u| !u.is_empty())?;
                Some(GeneratedImage {
                    data: ImageData::Url(url),
                    revised_prompt: i.prompt,
                })
            })
            .collect();
        if images.is_empty() && total > 0 {
            // Every image was withheld: the prompt's fault, not an outage to retry elsewhere.
            return Err(Error::new(
                ErrorKind::Invalid,
                "provider 'ideogram' withheld every image as unsafe",
            )
            .with_code(ErrorCode::ProviderRejected));
        }
        Ok(images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_ratios_are_spelled_per_api() {
        assert_eq!(aspect("16:9", true).as_deref(), Some("ASPECT_16_9"));
        assert_eq!(aspect("9x16", false).as_deref(), Some("9x16"));
        assert_eq!(aspect("wide", false), None);
        assert!(is_v3("V_3") && !is_v3("V_2") && !is_v3("V_2_TURBO"));
    }

    #[test]
    fn v3_sends_a_form_and_the_legacy_api_json() {
        let credentials = crate::providers::Credentials::default();
        let model = |provider_model: &str| crate::domain::ModelConfig {
            provider_model: provider_model.to_owned(),
            ..crate::seed::models()
                .into_iter()
                .find(|m| m.id == "ideogram-v2")
                .unwrap_or_else(|| unreachable!("the seed has ideogram-v2"))
        };
        let request = ImageRequest {
            prompt: "a \"neon\" sign".into(),
            n: 2,
            aspect_ratio: Some("16:9".into()),
            style: Some("design".into()),
            negative_prompt: Some("blur".into()),
            ..ImageRequest::default()
        };
        let v3 = model("V_3");
        let call = Call {
            model: &v3,
            credentials: &credentials,
            timeout: std::time::Duration::from_secs(1),
        };
        let (url, payload) = body(&call, &request);
        assert!(url.ends_with("/v1/ideogram-v3/generate"), "{url}");
        let Payload::Form(form) = payload else {
            unreachable!("v3 takes a form")
        };
        let fields: Vec<(&str, &str)> = form
            .fields()
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("prompt", "a \"neon\" sign"),
                ("num_images", "2"),
                ("aspect_ratio", "16x9"),
                ("style_type", "DESIGN"),
                ("negative_prompt", "blur"),
            ]
        );
        let v2 = model("V_2");
        let call = Call { model: &v2, ..call };
        let (url, payload) = body(&call, &request);
        assert!(url.ends_with("/generate") && !url.contains("v3"), "{url}");
        let Payload::Json(json) = payload else {
            unreachable!("the legacy endpoint takes JSON")
        };
        assert_eq!(json["image_request"]["aspect_ratio"], json!("ASPECT_16_9"));
    }
}
