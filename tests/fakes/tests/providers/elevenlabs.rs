//! ElevenLabs through the real adapter: the default voice and `output_format`, durations
//! measured from MP3 and WAV, voices, an unknown voice, a cut audio body, and every error class.

use molts_core::ErrorCode;
use std::time::Duration;

use molts_core::ErrorKind;
use molts_core::domain::Provider;
use molts_core::providers::{Call, DEFAULT_ELEVENLABS_VOICE, SpeechRequest};
use molts_fakes::media;
use serde_json::json;

use crate::common::{Op, env, error_matrix, expect, seeded};

#[tokio::test]
async fn speech_uses_the_default_voice_and_measures_the_audio() {
    let env = env().await;
    let model = seeded("eleven-multilingual-v2");
    let credentials = env.registry.credentials(Provider::Elevenlabs).clone();
    let adapter = env.registry.adapter(Provider::Elevenlabs).unwrap();
    let text = "Hello from the fakes, twice as long as before.";
    for (format, seconds, content_type) in [
        (None, media::mp3_seconds(text), "audio/mpeg"),
        (Some("wav"), media::speech_seconds(text), "audio/wav"),
    ] {
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let request = SpeechRequest {
            text: text.into(),
            format: format.map(str::to_owned),
            speed: Some(1.1),
            ..SpeechRequest::default()
        };
        let out = adapter.speech(call, &request).await.unwrap();
        assert!((out.duration_seconds - seconds).abs() < 1e-6, "{format:?}");
        assert_eq!(out.content_type, content_type);
    }
    let sent = env.fake.requests("elevenlabs");
    assert_eq!(
        sent[0].path,
        format!("/v1/text-to-speech/{DEFAULT_ELEVENLABS_VOICE}")
    );
    assert_eq!(
        sent[0].query.as_deref(),
        Some("output_format=mp3_44100_128")
    );
    assert_eq!(sent[0].body["model_id"], json!("eleven_multilingual_v2"));
    assert_eq!(sent[1].query.as_deref(), Some("output_format=wav_44100"));
}

#[tokio::test]
async fn voices_unknown_voices_and_cut_audio() {
    let env = env().await;
    let model = seeded("eleven-multilingual-v2");
    let credentials = env.registry.credentials(Provider::Elevenlabs).clone();
    let adapter = env.registry.adapter(Provider::Elevenlabs).unwrap();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let voices = adapter.voices(call).await.unwrap();
    assert_eq!(voices[0].id, DEFAULT_ELEVENLABS_VOICE);
    assert_eq!(voices[0].name, "Rachel");
    assert_eq!(voices[0].provider, "elevenlabs");

    let unknown = SpeechRequest {
        text: "hi".into(),
        voice: Some("nobody".into()),
        ..SpeechRequest::default()
    };
    let e = expect(
        adapter.speech(call, &unknown).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );
    assert!(e.message().contains("was not found"), "{e}");

    env.fake
        .push_fault("elevenlabs", "cut-stream-after=1", 1)
        .unwrap();
    let long = SpeechRequest {
        text: "x".repeat(1000),
        ..SpeechRequest::default()
    };
    expect(
        adapter.speech(call, &long).await.map(|_| ()),
        ErrorKind::Unavailable,
        ErrorCode::UpstreamBrokenBody,
    );
}

#[tokio::test]
async fn speech_error_matrix() {
    error_matrix("elevenlabs", &seeded("eleven-multilingual-v2"), Op::Speech).await;
}

#[tokio::test]
async fn voices_error_matrix() {
    error_matrix("elevenlabs", &seeded("eleven-multilingual-v2"), Op::Voices).await;
}
