//! The Ideogram fake: v3 at `POST /v1/ideogram-v3/generate` — the documented
//! `multipart/form-data` form (its fields read as strings, see `crate::form`) or JSON, which the
//! real API also takes — and the legacy JSON `{"image_request": …}` at `POST /generate`. A
//! prompt containing `unsafe` comes back withheld (`is_image_safe: false`, empty URL), as the
//! real API does for flagged images.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::respond;
use crate::{Ctx, media};

const P: &str = "ideogram";
const LEGACY_MODELS: [&str; 6] = ["V_1", "V_1_TURBO", "V_2", "V_2_TURBO", "V_2A", "V_2A_TURBO"];

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/v1/ideogram-v3/generate") => Some(generate(ctx, &ctx.body, None)),
        ("POST", "/generate") => {
            let request = &ctx.body["image_request"];
            if !request.is_object() {
                return Some(respond::invalid(P, "image_request is required"));
            }
            let model = request["model"].as_str().unwrap_or("V_2");
            if !LEGACY_MODELS.contains(&model) {
                return Some(respond::invalid(P, &format!("unknown model '{model}'")));
            }
            if let Some(a) = request["aspect_ratio"].as_str()
                && !a.starts_with("ASPECT_")
            {
                return Some(respond::invalid(
                    P,
                    "aspect_ratio must look like ASPECT_16_9",
                ));
            }
            Some(generate(ctx, request, Some(model)))
        }
        _ => None,
    }
}

fn generate(ctx: &Ctx, request: &Value, legacy_model: Option<&str>) -> Response {
    let Some(prompt) = request["prompt"].as_str().filter(|p| !p.is_empty()) else {
        return respond::invalid(P, "prompt is required");
    };
    if legacy_model.is_none()
        && let Some(a) = request["aspect_ratio"].as_str()
        && !a.contains('x')
    {
        return respond::invalid(P, "aspect_ratio must look like 16x9");
    }
    // A form field is a string ("2"), a JSON one a number.
    let n = match &request["num_images"] {
        Value::Null => 1,
        Value::String(s) => match s.trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => return respond::invalid(P, "num_images must be a whole number"),
        },
        v => match v.as_u64() {
            Some(n) => n,
            None => return respond::invalid(P, "num_images must be a whole number"),
        },
    }
    .clamp(1, 8);
    let safe = !prompt.contains("unsafe");
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let rgb = media::colour(&format!("{prompt}#{i}"));
            let url = if safe {
                format!("{}/_fake/images/{}.png", ctx.origin, media::hex(rgb))
            } else {
                String::new()
            };
            json!({"url": url, "prompt": prompt, "resolution": "1024x1024", "is_image_safe": safe,
                   "seed": i, "style_type": request["style_type"].as_str().unwrap_or("GENERAL")})
        })
        .collect();
    axum::Json(json!({"created": "2025-04-18T03:45:09.909989+00:00", "data": data})).into_response()
}
