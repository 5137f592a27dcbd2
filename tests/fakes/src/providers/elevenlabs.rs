//! The ElevenLabs fake: `POST /v1/text-to-speech/{voice_id}?output_format=…` answering real MP3,
//! WAV or PCM, FastAPI-style 422s for a missing `text`, 404 for an unknown voice, and
//! `GET /v1/voices`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::respond;
use crate::{Ctx, media};

const VOICES: [(&str, &str); 2] = [
    ("21m00Tcm4TlvDq8ikWAM", "Rachel"),
    ("pNInz6obpgDQGcFmaJgB", "Adam"),
];

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    if ctx.method == "GET" && ctx.path == "/v1/voices" {
        let voices: Vec<_> = VOICES
            .iter()
            .map(|(id, name)| {
                json!({"voice_id": id, "name": name, "category": "premade",
                "labels": {"accent": "american"},
                "preview_url": format!("https://storage.example/voices/{id}.mp3")})
            })
            .collect();
        return Some(axum::Json(json!({"voices": voices})).into_response());
    }
    let voice = ctx.path.strip_prefix("/v1/text-to-speech/")?;
    (ctx.method == "POST").then(|| speech(ctx, voice))
}

fn speech(ctx: &Ctx, voice: &str) -> Response {
    let Some(text) = ctx.body["text"].as_str() else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]})),
        )
            .into_response();
    };
    if !VOICES.iter().any(|(id, _)| *id == voice) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"detail": {"status": "voice_not_found",
                "message": format!("A voice with the voice_id {voice} was not found.")}})),
        )
            .into_response();
    }
    let format = ctx
        .query
        .get("output_format")
        .map(String::as_str)
        .unwrap_or("mp3_44100_128");
    let rate = |f: &str| f.split('_').nth(1).and_then(|r| r.parse::<u32>().ok());
    match format.split('_').next() {
        Some("mp3") => respond::audio(media::mp3(text), "audio/mpeg", &ctx.fault),
        Some("wav") => respond::audio(
            media::wav(text, rate(format).unwrap_or(44_100)),
            "audio/wav",
            &ctx.fault,
        ),
        Some("pcm") => respond::audio(
            media::pcm(text, rate(format).unwrap_or(24_000)),
            "audio/pcm",
            &ctx.fault,
        ),
        _ => respond::invalid(
            "elevenlabs",
            &format!("output_format '{format}' is not supported"),
        ),
    }
}
