//! Ideogram: the config's provider model picks the API — `V_3…` the v3 endpoint, every older
//! model (`V_1`, `V_2`, `V_2_TURBO`, `V_2A`…) the legacy `image_request` endpoint. Both answer
//! with temporary URLs; images withheld as unsafe come back without one and are dropped.

use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
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

fn body(call: &Call<'_>, request: &ImageRequest) -> (String, Value) {
    let model = call.model.provider_model.as_str();
    let base = call.base_url(IDEOGRAM_BASE_URL);
    let style = request.style.as_deref().map(str::to_ascii_uppercase);
    if is_v3(model) {
        let mut body = json!({"prompt": request.prompt, "num_images": request.n});
        if let Some(a) = request
            .aspect_ratio
            .as_deref()
            .and_then(|a| aspect(a, false))
        {
            body["aspect_ratio"] = json!(a);
        } else if let Some(size) = &request.size {
            body["resolution"] = json!(size);
        }
        if let Some(s) = style {
            body["style_type"] = json!(s);
        }
        if let Some(n) = &request.negative_prompt {
            body["negative_prompt"] = json!(n);
        }
        (format!("{base}/v1/ideogram-v3/generate"), body)
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
        (format!("{base}/generate"), json!({"image_request": inner}))
    }
}

#[async_trait]
impl ProviderAdapter for IdeogramAdapter {
    async fn images(&self, call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let (url, body) = body(&call, request);
        let key = wire::secret_header(call.api_key("IDEOGRAM_API_KEY")?)?;
        let req = wire::request(
            Method::POST,
            &url,
            vec![(HeaderName::from_static("api-key"), key)],
            Some(&body),
        )?;
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
            .with_code("provider_rejected"));
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
}
