//! Measuring generated speech, because audio seconds are what a tier is charged in: WAV exactly
//! from its header, raw PCM from its sample format, MP3 by walking its frame headers (no decoder
//! needed: every frame says its sample count and rate), and an estimate from the text otherwise.

/// Seconds of audio in `bytes` given its format (`mp3`, `wav`, `pcm` for 24 kHz 16-bit mono, or a
/// MIME type), or `None` when the format cannot be measured.
pub fn measure_duration(bytes: &[u8], format: &str) -> Option<f64> {
    let format = format.to_ascii_lowercase();
    if bytes.starts_with(b"RIFF") {
        return wav_duration(bytes);
    }
    if format.contains("pcm") {
        // OpenAI's `pcm` is 24 kHz, 16-bit, mono.
        return Some(bytes.len() as f64 / 48_000.0);
    }
    if format.contains("mp3") || format.contains("mpeg") || bytes.starts_with(b"ID3") {
        return mp3_duration(bytes);
    }
    None
}

/// About fifteen characters a second of ordinary speech, at least a tenth of a second.
pub fn estimate_speech_seconds(text: &str) -> f64 {
    (text.chars().count() as f64 / 15.0).max(0.1)
}

/// The MIME type for an audio format name (`mp3`, `wav`, `opus`, ...).
pub fn content_type(format: &str) -> &'static str {
    match format.split('_').next().unwrap_or(format) {
        "wav" => "audio/wav",
        "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "pcm" => "audio/pcm",
        "ulaw" | "alaw" => "audio/basic",
        _ => "audio/mpeg",
    }
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A RIFF/WAVE file's length: the `data` chunk's size over the `fmt ` chunk's byte rate.
pub fn wav_duration(bytes: &[u8]) -> Option<f64> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12;
    let mut byte_rate = None;
    while at + 8 <= bytes.len() {
        let id = bytes.get(at..at + 4)?;
        let size = u32_le(bytes, at + 4)? as usize;
        let body = at + 8;
        if id == b"fmt " {
            byte_rate = Some(u32_le(bytes, body + 8)?);
            u16_le(bytes, body)?;
        } else if id == b"data" {
            let rate = byte_rate.filter(|r| *r > 0)?;
            // Streamed WAVs may carry a placeholder size; trust the bytes actually present.
            let present = bytes.len().saturating_sub(body);
            let size = if size == 0 || size == u32::MAX as usize || size > present {
                present
            } else {
                size
            };
            return Some(size as f64 / f64::from(rate));
        }
        // Checked: on 32-bit targets (wasm32) a chunk size near 4 GiB would wrap `at` around.
        at = body.checked_add(size)?.checked_add(size & 1)?;
    }
    None
}

/// Sum of every MPEG audio frame's samples over its rate, after skipping an ID3v2 tag.
pub fn mp3_duration(bytes: &[u8]) -> Option<f64> {
    let mut at = 0;
    if bytes.starts_with(b"ID3") && bytes.len() >= 10 {
        // The tag size is four 7-bit bytes ("syncsafe"), after the 10-byte header.
        let size = bytes[6..10]
            .iter()
            .fold(0usize, |acc, b| (acc << 7) | usize::from(b & 0x7f));
        at = 10 + size;
    }
    let mut seconds = 0.0;
    let mut frames = 0u32;
    while at + 4 <= bytes.len() {
        match frame(&bytes[at..at + 4]) {
            Some((len, samples, rate)) => {
                seconds += f64::from(samples) / f64::from(rate);
                frames += 1;
                at += len;
            }
            // Junk between frames (or a trailing tag): resync on the next byte.
            None => at += 1,
        }
    }
    (frames > 0).then_some(seconds)
}

/// One frame header: (frame length in bytes, samples, sample rate).
fn frame(h: &[u8]) -> Option<(usize, u32, u32)> {
    if h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    let version = (h[1] >> 3) & 0b11; // 3 = MPEG1, 2 = MPEG2, 0 = MPEG2.5
    let layer = (h[1] >> 1) & 0b11; // 1 = III, 2 = II, 3 = I
    let bitrate_index = usize::from(h[2] >> 4);
    let rate_index = usize::from((h[2] >> 2) & 0b11);
    let padding = u32::from((h[2] >> 1) & 1);
    if version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    let mpeg1 = version == 3;
    const RATES: [u32; 3] = [44_100, 48_000, 32_000];
    let rate = RATES[rate_index]
        >> match version {
            3 => 0,
            2 => 1,
            _ => 2,
        };
    const V1_L1: [u32; 15] = [
        0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ];
    const V1_L2: [u32; 15] = [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ];
    const V1_L3: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const V2_L1: [u32; 15] = [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ];
    const V2_L23: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let kbps = match (mpeg1, layer) {
        (true, 3) => V1_L1[bitrate_index],
        (true, 2) => V1_L2[bitrate_index],
        (true, _) => V1_L3[bitrate_index],
        (false, 3) => V2_L1[bitrate_index],
        (false, _) => V2_L23[bitrate_index],
    } * 1000;
    let (samples, len) = match layer {
        3 => (384, (12 * kbps / rate + padding) * 4),
        2 => (1152, 144 * kbps / rate + padding),
        _ if mpeg1 => (1152, 144 * kbps / rate + padding),
        _ => (576, 72 * kbps / rate + padding),
    };
    (len >= 4).then_some((len as usize, samples, rate))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn wav(seconds: f64) -> Vec<u8> {
        let rate = 16_000u32;
        let data = (f64::from(rate) * seconds) as u32 * 2;
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(36 + data).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * 2).to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data.to_le_bytes());
        v.resize(v.len() + data as usize, 0);
        v
    }

    #[test]
    fn wav_duration_is_exact() {
        assert_eq!(measure_duration(&wav(1.5), "wav"), Some(1.5));
        assert_eq!(measure_duration(b"RIFFnope", "wav"), None);
    }

    #[test]
    fn mp3_duration_counts_frames_after_an_id3_tag() {
        // 100 silent MPEG1 Layer III frames, 128 kb/s at 44.1 kHz: 417 bytes, 1152 samples each.
        let mut v = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        for _ in 0..100 {
            let mut f = vec![0u8; 417];
            f[..4].copy_from_slice(&[0xff, 0xfb, 0x90, 0xc4]);
            v.extend_from_slice(&f);
        }
        let d = measure_duration(&v, "audio/mpeg").unwrap_or_default();
        assert!((d - 100.0 * 1152.0 / 44_100.0).abs() < 1e-9, "{d}");
        assert_eq!(measure_duration(b"not audio", "mp3"), None);
    }

    #[test]
    fn pcm_and_estimates() {
        assert_eq!(measure_duration(&[0u8; 48_000], "pcm"), Some(1.0));
        assert_eq!(estimate_speech_seconds("x".repeat(30).as_str()), 2.0);
    }

    /// Bytes a provider might send as audio: anything, or a real header followed by anything.
    fn audio_bytes() -> impl Strategy<Value = Vec<u8>> {
        let tail = proptest::collection::vec(any::<u8>(), 0..512);
        prop_oneof![
            tail.clone(),
            tail.clone()
                .prop_map(|t| [wav(0.01)[..44].to_vec(), t].concat()),
            (tail.clone(), any::<[u8; 8]>()).prop_map(|(t, h)| [
                b"RIFF\0\0\0\0WAVE".to_vec(),
                h.to_vec(),
                t
            ]
            .concat()),
            tail.clone()
                .prop_map(|t| [b"ID3\x04\0\0\0\0\0\x05".to_vec(), t].concat()),
            tail.prop_map(|t| [vec![0xff, 0xfb, 0x90, 0xc4], t].concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_audio_measures_as_nothing_or_a_finite_length(
            bytes in audio_bytes(),
            format in prop_oneof![Just("mp3"), Just("wav"), Just("pcm"), Just("opus"), Just("audio/mpeg")],
        ) {
            if let Some(seconds) = measure_duration(&bytes, format) {
                prop_assert!(seconds.is_finite() && seconds >= 0.0, "{}", seconds);
            }
            let _ = wav_duration(&bytes);
            let _ = mp3_duration(&bytes);
        }
    }
}
