//! ElevenLabs: text-to-speech for a voice (the request's, or a default premade one) with the
//! config's provider model as `model_id`, its length measured from the audio, and the voice list.

use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, Method};
use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::audio::{content_type, estimate_speech_seconds, measure_duration};
use super::types::{SpeechRequest, SpeechResponse, Voice};
use super::wire::{self, MAX_JSON_BYTES, MAX_MEDIA_BYTES};

/// ElevenLabs' API root (without `/v1`).
pub const ELEVENLABS_BASE_URL: &str = "https://api.elevenlabs.io";
/// "Rachel", a premade voice every account has.
pub const DEFAULT_ELEVENLABS_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

/// The adapter for [`Provider::Elevenlabs`](crate::domain::Provider::Elevenlabs).
#[derive(Clone)]
pub struct ElevenLabsAdapter {
    http: Arc<dyn HttpClient>,
}

impl ElevenLabsAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }

    fn key(call: &Call<'_>) -> Result<(HeaderName, http::HeaderValue)> {
        Ok((
            HeaderName::from_static("xi-api-key"),
            wire::secret_header(call.api_key("ELEVENLABS_API_KEY")?)?,
        ))
    }
}

/// A molts format name as ElevenLabs' `output_format`; its own spellings pass through.
fn output_format(format: Option<&str>) -> Result<&str> {
    Ok(match format.unwrap_or("mp3") {
        "mp3" => "mp3_44100_128",
        "wav" => "wav_44100",
        "pcm" => "pcm_24000",
        "opus" => "opus_48000_128",
        other if other.contains('_') => other,
        other => {
            return Err(Error::invalid(
                "response_format",
                format!("format '{other}' is not offered by elevenlabs (mp3, wav, pcm, opus)"),
            ));
        }
    })
}

/// Voice ids are alphanumeric; anything else must not reach the URL path.
fn voice_id(voice: Option<&str>) -> Result<&str> {
    let id = voice.unwrap_or(DEFAULT_ELEVENLABS_VOICE);
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::invalid(
            "voice",
            "voice must be an ElevenLabs voice id",
        ));
    }
    Ok(id)
}

#[derive(Deserialize)]
struct VoiceList {
    voices: Vec<VoiceItem>,
}

#[derive(Deserialize)]
struct VoiceItem {
    voice_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    preview_url: Option<String>,
}

#[async_trait]
impl ProviderAdapter for ElevenLabsAdapter {
    async fn speech(&self, call: Call<'_>, request: &SpeechRequest) -> Result<SpeechResponse> {
        let format = output_format(request.format.as_deref())?;
        let voice = voice_id(request.voice.as_deref())?;
        let mut body = json!({"text": request.text, "model_id": call.model.provider_model});
        if let Some(speed) = request.speed {
            body["voice_settings"] = json!({"speed": speed});
        }
        let url = format!(
            "{}/v1/text-to-speech/{voice}?output_format={format}",
            call.base_url(ELEVENLABS_BASE_URL)
        );
        let req = wire::request(Method::POST, &url, vec![Self::key(&call)?], Some(&body))?;
        let response = wire::send_bytes(self.http.as_ref(), &call, req, MAX_MEDIA_BYTES).await?;
        let content_type =
            wire::audio_content_type(&call, response.headers(), content_type(format))?;
        let audio = response.into_body();
        // `pcm_24000` is 16-bit mono at 24 kHz, which `measure_duration` assumes for "pcm".
        let measurable = if format.starts_with("pcm") && format != "pcm_24000" {
            None
        } else {
            measure_duration(&audio, format)
        };
        Ok(SpeechResponse {
            duration_seconds: measurable.unwrap_or_else(|| estimate_speech_seconds(&request.text)),
            audio,
            content_type,
        })
    }

    async fn voices(&self, call: Call<'_>) -> Result<Vec<Voice>> {
        let url = format!("{}/v1/voices", call.base_url(ELEVENLABS_BASE_URL));
        let req = wire::request(Method::GET, &url, vec![Self::key(&call)?], None)?;
        let list: VoiceList =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        Ok(list
            .voices
            .into_iter()
            .map(|v| Voice {
                name: v.name.unwrap_or_else(|| v.voice_id.clone()),
                id: v.voice_id,
                provider: call.model.provider.as_str().to_owned(),
                preview_url: v.preview_url,
            })
            .collect())
    }
}
