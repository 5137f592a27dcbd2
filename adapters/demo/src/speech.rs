//! Demo speech: a real 16-bit mono WAV (written by `hound`) whose length follows the text —
//! one soft tone per word — so the quota can charge seconds measured from real audio.

use molts_core::ErrorCode;
use std::io::Cursor;

use bytes::Bytes;
use molts_core::providers::{SpeechRequest, SpeechResponse, Voice};
use molts_core::{Error, Result};

/// Samples per second of the demo audio.
pub const SAMPLE_RATE: u32 = 16_000;
/// The demo voices: id, name and base pitch in Hz.
pub const VOICES: [(&str, &str, f32); 3] = [
    ("demo-alloy", "Alloy (demo)", 220.0),
    ("demo-echo", "Echo (demo)", 165.0),
    ("demo-nova", "Nova (demo)", 294.0),
];

const SECONDS_PER_CHAR: f32 = 0.06;
const MIN_SECONDS: f32 = 0.5;

pub(crate) fn voices() -> Vec<Voice> {
    VOICES
        .iter()
        .map(|(id, name, _)| Voice {
            id: (*id).to_owned(),
            name: (*name).to_owned(),
            provider: "demo".to_owned(),
            preview_url: None,
        })
        .collect()
}

pub(crate) fn synthesise(request: &SpeechRequest) -> Result<SpeechResponse> {
    if let Some(format) = &request.format {
        if format != "wav" {
            return Err(
                Error::invalid("response_format", "the demo speech model makes wav only")
                    .with_code(ErrorCode::UnsupportedFormat),
            );
        }
    }
    let pitch = match request.voice.as_deref() {
        None | Some("alloy") => VOICES[0].2,
        Some(v) => VOICES
            .iter()
            .find(|(id, _, _)| *id == v || id.trim_start_matches("demo-") == v)
            .map(|(_, _, p)| *p)
            .ok_or_else(|| {
                Error::invalid(
                    "voice",
                    format!("unknown demo voice '{v}'; try demo-alloy, demo-echo or demo-nova"),
                )
            })?,
    };
    let speed = request.speed.unwrap_or(1.0);
    if !(0.25..=4.0).contains(&speed) {
        return Err(Error::invalid("speed", "speed must be between 0.25 and 4"));
    }
    let seconds = (request.text.chars().count() as f32 * SECONDS_PER_CHAR / speed).max(MIN_SECONDS);
    let total = (seconds * SAMPLE_RATE as f32) as usize;
    let words: Vec<&str> = request.text.split_whitespace().collect();
    let per_word = total / words.len().max(1);

    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec)
            .map_err(|e| Error::internal("demo WAV failed").with_source(e))?;
        for i in 0..total {
            let word = words.get(i / per_word.max(1)).copied().unwrap_or("");
            // Each word gets its own pitch and a short fade, so the audio sounds like syllables.
            let offset = word.bytes().map(u32::from).sum::<u32>() % 120;
            let freq = pitch + offset as f32;
            let pos = (i % per_word.max(1)) as f32 / per_word.max(1) as f32;
            let envelope = (pos * std::f32::consts::PI).sin();
            let t = i as f32 / SAMPLE_RATE as f32;
            let sample = (t * freq * 2.0 * std::f32::consts::PI).sin() * envelope * 0.3;
            writer
                .write_sample((sample * f32::from(i16::MAX)) as i16)
                .map_err(|e| Error::internal("demo WAV failed").with_source(e))?;
        }
        writer
            .finalize()
            .map_err(|e| Error::internal("demo WAV failed").with_source(e))?;
    }
    Ok(SpeechResponse {
        audio: Bytes::from(cursor.into_inner()),
        content_type: "audio/wav".to_owned(),
        duration_seconds: total as f64 / f64::from(SAMPLE_RATE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_valid_wav_whose_length_follows_the_text() -> Result<()> {
        let text = "Hello from the lighthouse, this is a demo of molts speech.";
        let r = synthesise(&SpeechRequest {
            text: text.into(),
            ..Default::default()
        })?;
        let reader = hound::WavReader::new(Cursor::new(r.audio.to_vec()))
            .map_err(|e| Error::internal("bad wav").with_source(e))?;
        let measured = f64::from(reader.duration()) / f64::from(reader.spec().sample_rate);
        assert!((measured - r.duration_seconds).abs() < 1e-9);
        assert!((r.duration_seconds - text.chars().count() as f64 * 0.06).abs() < 0.01);
        let faster = synthesise(&SpeechRequest {
            text: text.into(),
            speed: Some(2.0),
            ..Default::default()
        })?;
        assert!(faster.duration_seconds < r.duration_seconds);
        Ok(())
    }

    #[test]
    fn unknown_voices_and_formats_are_refused() {
        assert!(
            synthesise(&SpeechRequest {
                text: "x".into(),
                voice: Some("nobody".into()),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            synthesise(&SpeechRequest {
                text: "x".into(),
                format: Some("mp3".into()),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            synthesise(&SpeechRequest {
                text: "x".into(),
                voice: Some("echo".into()),
                ..Default::default()
            })
            .is_ok()
        );
    }
}
