//! Real media, deterministically: a small PNG coloured by the prompt, a WAV of silence, raw PCM,
//! and an MP3 of silent MPEG-1 Layer III frames (valid frames any decoder plays), each as long
//! as the text would take to say, so adapters can measure it exactly.

use std::io::Cursor;

/// Seconds of speech the fakes make for `text`: 80 ms a character, at least half a second.
pub fn speech_seconds(text: &str) -> f64 {
    (text.chars().count() as f64 * 0.08).max(0.5)
}

/// The MP3's exact length for `text`: whole 1152-sample frames at 44.1 kHz.
pub fn mp3_seconds(text: &str) -> f64 {
    mp3_frames(text) as f64 * 1152.0 / 44_100.0
}

fn mp3_frames(text: &str) -> usize {
    (speech_seconds(text) * 44_100.0 / 1152.0).round().max(1.0) as usize
}

/// A silent MP3 for `text`: 128 kb/s, 44.1 kHz, mono, 417-byte frames.
pub fn mp3(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..mp3_frames(text) {
        let mut frame = [0u8; 417];
        frame[..4].copy_from_slice(&[0xff, 0xfb, 0x90, 0xc4]);
        out.extend_from_slice(&frame);
    }
    out
}

/// 16-bit mono silence at `rate` for `text`, without a header.
pub fn pcm(text: &str, rate: u32) -> Vec<u8> {
    let samples = (speech_seconds(text) * f64::from(rate)).round() as usize;
    vec![0u8; samples * 2]
}

/// A 16-bit mono WAV at `rate` for `text`.
pub fn wav(text: &str, rate: u32) -> Vec<u8> {
    let data = pcm(text, rate);
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// A colour from `prompt`, the same every time (FNV-1a).
pub fn colour(prompt: &str) -> [u8; 3] {
    let mut h: u32 = 0x811c_9dc5;
    for b in prompt.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let [a, b, c, _] = h.to_le_bytes();
    [a, b, c]
}

/// An 8×8 PNG filled with `rgb`.
pub fn png(rgb: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(Cursor::new(&mut out), 8, 8);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let pixels: Vec<u8> = std::iter::repeat_n(rgb, 64).flatten().collect();
        // Writing to memory cannot fail for a well-formed 8×8 image; an empty result would show.
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&pixels);
        }
    }
    out
}

/// `rrggbb` for a colour, as used in fake image URLs.
pub fn hex(rgb: [u8; 3]) -> String {
    format!("{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

/// The colour named by `rrggbb`.
pub fn parse_hex(s: &str) -> Option<[u8; 3]> {
    if s.len() != 6 {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(s.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}
