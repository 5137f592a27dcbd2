//! Reads a Shotstack edit (`{"timeline":{…},"output":{…}}`) into what the demo draws, refusing
//! what Shotstack would refuse (or the demo cannot make) with an `Invalid` that names the field,
//! so a caller who tries the demo first is not surprised when they switch to Shotstack.

use molts_core::ErrorCode;
use molts_core::{Error, Result};
use serde_json::{Map, Value};

use super::spec::{Aspect, ClipSpec, MAX_CLIPS, MAX_TIMELINE_MS, RenderSpec};
use crate::seed_of;

/// Shotstack's output resolutions; the demo draws every one at its own small size.
const RESOLUTIONS: [&str; 6] = ["preview", "mobile", "sd", "hd", "1080", "4k"];

fn invalid(message: String) -> Error {
    Error::invalid("edit", message)
}

fn object<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a Map<String, Value>> {
    value
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(format!("{path} must be an object")))
}

fn non_empty_array<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a Vec<Value>> {
    match value.and_then(Value::as_array) {
        Some(items) if !items.is_empty() => Ok(items),
        _ => Err(invalid(format!("{path} must be a non-empty array"))),
    }
}

/// Seconds as whole milliseconds, or `Invalid` naming the field. `positive` refuses zero.
fn seconds_ms(value: Option<&Value>, path: &str, positive: bool) -> Result<u32> {
    let seconds = value.and_then(Value::as_f64).filter(|s| s.is_finite());
    let bound = if positive {
        "greater than 0"
    } else {
        "0 or more"
    };
    match seconds {
        Some(s) if s >= 0.0 && !(positive && s == 0.0) => {
            // Anything beyond the longest timeline is refused by the caller; cap before rounding.
            Ok((s.min(f64::from(MAX_TIMELINE_MS)) * 1000.0).round() as u32)
        }
        _ => Err(invalid(format!(
            "{path} must be a number of seconds, {bound} (the demo renderer has no \"auto\" timing)"
        ))),
    }
}

/// `#rrggbb` or `#rgb`.
fn colour(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    let digit = |i: usize| u8::from_str_radix(hex.get(i..=i)?, 16).ok();
    match hex.len() {
        6 => {
            let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
            Some([byte(0)?, byte(2)?, byte(4)?])
        }
        3 => Some([digit(0)? * 17, digit(1)? * 17, digit(2)? * 17]),
        _ => None,
    }
}

/// A clip's colour: the timeline's digest picks a starting hue and each clip turns it by about
/// the golden angle, so clips that follow each other never look alike.
fn clip_colour(base_hue: u64, index: usize) -> [u8; 3] {
    hsv(((base_hue + index as u64 * 137) % 360) as u32, 200, 230)
}

/// Integer HSV to RGB: hue in degrees, saturation and value out of 255.
pub(crate) fn hsv(hue: u32, saturation: u32, value: u32) -> [u8; 3] {
    let hue = hue % 360;
    let chroma = value * saturation / 255;
    let x = chroma * (60 - (hue % 120).abs_diff(60)) / 60;
    let low = value - chroma;
    let (r, g, b) = match hue / 60 {
        0 => (chroma, x, 0),
        1 => (x, chroma, 0),
        2 => (0, chroma, x),
        3 => (0, x, chroma),
        4 => (x, 0, chroma),
        _ => (chroma, 0, x),
    };
    [(r + low) as u8, (g + low) as u8, (b + low) as u8]
}

/// Validates the edit and keeps what the demo draws.
pub(crate) fn parse(edit: &Value) -> Result<RenderSpec> {
    let edit = object(Some(edit), "edit")?;
    let output = object(edit.get("output"), "edit.output")?;
    match output.get("format").and_then(Value::as_str) {
        Some("mp4") => {}
        Some(other) => {
            return Err(invalid(format!(
                "edit.output.format '{}' is not offered by the demo renderer, which makes mp4 only",
                other.chars().take(20).collect::<String>()
            ))
            .with_code(ErrorCode::UnsupportedFormat));
        }
        None => return Err(invalid("edit.output.format must be \"mp4\"".to_owned())),
    }
    if let Some(resolution) = output.get("resolution") {
        if !resolution
            .as_str()
            .is_some_and(|r| RESOLUTIONS.contains(&r))
        {
            return Err(invalid(format!(
                "edit.output.resolution must be one of {}",
                RESOLUTIONS.join(", ")
            )));
        }
    }
    let aspect = match output.get("aspectRatio") {
        None => Aspect::Landscape,
        Some(ratio) => ratio.as_str().and_then(Aspect::parse).ok_or_else(|| {
            invalid("edit.output.aspectRatio must be 16:9, 9:16, 1:1, 4:5 or 4:3".to_owned())
        })?,
    };

    let timeline = object(edit.get("timeline"), "edit.timeline")?;
    let background = match timeline.get("background") {
        None => [0, 0, 0],
        Some(b) => b.as_str().and_then(colour).ok_or_else(|| {
            invalid("edit.timeline.background must be a colour like #000000".to_owned())
        })?,
    };
    let tracks = non_empty_array(timeline.get("tracks"), "edit.timeline.tracks")?;

    let base_hue = seed_of(&serde_json::to_string(tracks).unwrap_or_default()) % 360;
    let mut clips = Vec::new();
    let mut end_ms = 0;
    let mut ends_last = String::new();
    for (t, track) in tracks.iter().enumerate() {
        let track_path = format!("edit.timeline.tracks[{t}]");
        let track = object(Some(track), &track_path)?;
        let track_clips = non_empty_array(track.get("clips"), &format!("{track_path}.clips"))?;
        for (c, clip) in track_clips.iter().enumerate() {
            let path = format!("{track_path}.clips[{c}]");
            let clip = object(Some(clip), &path)?;
            let asset = object(clip.get("asset"), &format!("{path}.asset"))?;
            if asset
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(invalid(format!(
                    "{path}.asset.type must name the asset's kind (video, image, title, …)"
                )));
            }
            let start = seconds_ms(clip.get("start"), &format!("{path}.start"), false)?;
            let length = seconds_ms(clip.get("length"), &format!("{path}.length"), true)?;
            if start + length > end_ms {
                end_ms = start + length;
                ends_last = path;
            }
            // Rows past the clip cap are never drawn; the bound keeps the row in a byte.
            if clips.len() < MAX_CLIPS && end_ms <= MAX_TIMELINE_MS {
                clips.push(ClipSpec {
                    row: t.min(MAX_CLIPS - 1) as u8,
                    start_ms: start as u16,
                    length_ms: length as u16,
                    colour: clip_colour(base_hue, clips.len()),
                });
            }
        }
    }
    if end_ms > MAX_TIMELINE_MS {
        return Err(invalid(format!(
            "the timeline is {:.1} s long ({ends_last} ends last); the demo renders at most {} s",
            f64::from(end_ms) / 1000.0,
            MAX_TIMELINE_MS / 1000
        )));
    }
    // Rows are the tracks that have a drawn clip, in order, with no gaps.
    let mut used: Vec<u8> = clips.iter().map(|c| c.row).collect();
    used.sort_unstable();
    used.dedup();
    for clip in &mut clips {
        clip.row = used.iter().position(|r| *r == clip.row).unwrap_or(0) as u8;
    }
    Ok(RenderSpec {
        aspect,
        background,
        timeline_ms: end_ms as u16,
        clips,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn edit(tracks: Value) -> Value {
        json!({
            "timeline": {"background": "#102030", "tracks": tracks},
            "output": {"format": "mp4", "resolution": "sd"}
        })
    }

    #[test]
    fn reads_a_shotstack_edit() -> Result<()> {
        let spec = parse(&edit(json!([
            {"clips": [
                {"asset": {"type": "title", "text": "Hello"}, "start": 0, "length": 2},
                {"asset": {"type": "title", "text": "World"}, "start": 2, "length": 1.5}
            ]},
            {"clips": [{"asset": {"type": "video", "src": "https://x/a.mp4"}, "start": 0.5, "length": 4}]}
        ])))?;
        assert_eq!(spec.aspect, Aspect::Landscape);
        assert_eq!(spec.background, [0x10, 0x20, 0x30]);
        assert_eq!(spec.timeline_ms, 4500);
        assert_eq!(spec.clips.len(), 3);
        assert_eq!(
            spec.clips
                .iter()
                .map(|c| (c.row, c.start_ms, c.length_ms))
                .collect::<Vec<_>>(),
            [(0, 0, 2000), (0, 2000, 1500), (1, 500, 4000)]
        );
        assert_ne!(spec.clips[0].colour, spec.clips[1].colour);
        assert_eq!(spec.rows(), 2);
        let again = parse(&edit(
            json!([{"clips": [{"asset": {"type": "title", "text": "Hi"}, "start": 0, "length": 2}]}]),
        ))?;
        assert_ne!(
            again.clips[0].colour, spec.clips[0].colour,
            "colours follow the timeline"
        );
        Ok(())
    }

    #[test]
    fn bad_timelines_name_the_field() {
        let clip = |start: Value, length: Value| json!([{"clips": [{"asset": {"type": "image", "src": "x"}, "start": start, "length": length}]}]);
        let cases = [
            (json!([]), "edit.timeline.tracks must be"),
            (
                json!([{"clips": []}]),
                "edit.timeline.tracks[0].clips must be",
            ),
            (
                json!([{"clips": [{"start": 0, "length": 1}]}]),
                "clips[0].asset must be",
            ),
            (
                json!([{"clips": [{"asset": {}, "start": 0, "length": 1}]}]),
                "clips[0].asset.type",
            ),
            (clip(json!(-1), json!(1)), "clips[0].start must be"),
            (clip(json!("auto"), json!(1)), "clips[0].start must be"),
            (clip(json!(0), json!(0)), "clips[0].length must be"),
            (clip(json!(0), json!("end")), "clips[0].length must be"),
            (
                clip(json!(50), json!(11)),
                "61.0 s long (edit.timeline.tracks[0].clips[0] ends last)",
            ),
        ];
        for (tracks, expected) in cases {
            let e = parse(&edit(tracks.clone())).err();
            let message = e.as_ref().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{tracks}: {message}");
            assert_eq!(
                e.and_then(|e| e.param().map(str::to_owned)).as_deref(),
                Some("edit")
            );
        }
        let ok = clip(json!(0), json!(1));
        let mut gif = edit(ok.clone());
        gif["output"]["format"] = json!("gif");
        let mut ratio = edit(ok.clone());
        ratio["output"]["aspectRatio"] = json!("2:1");
        let mut background = edit(ok.clone());
        background["timeline"]["background"] = json!("black");
        for (bad, expected) in [
            (gif, "makes mp4 only"),
            (ratio, "aspectRatio"),
            (background, "background"),
            (json!({"timeline": {"tracks": ok}}), "edit.output must be"),
            (json!([]), "edit must be"),
        ] {
            let message = parse(&bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{bad}: {message}");
        }
    }

    #[test]
    fn colours_and_hues() {
        assert_eq!(colour("#ff8000"), Some([255, 128, 0]));
        assert_eq!(colour("#fff"), Some([255, 255, 255]));
        assert_eq!(colour("#ggg"), None);
        assert_eq!(colour("000000"), None);
        assert_eq!(hsv(0, 255, 255), [255, 0, 0]);
        assert_eq!(hsv(120, 255, 255), [0, 255, 0]);
        assert_eq!(hsv(240, 255, 255), [0, 0, 255]);
        assert_eq!(hsv(60, 0, 100), [100, 100, 100]);
    }
}
