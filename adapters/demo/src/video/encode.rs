//! Frames to an MP4 file: Cisco's OpenH264 (the `openh264` crate, built from its bundled source)
//! encodes H.264 Constrained Baseline, which every browser and player decodes, and the `mp4`
//! crate writes the ISO BMFF container around it. The only glue here is the standard repackaging
//! between the two: the encoder speaks Annex B (start codes, parameter sets in-band), an `avc1`
//! track wants length-prefixed NAL units with the SPS and PPS in its `avcC` box (`mux.rs`).

use molts_core::{Error, Result};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    SpsPpsStrategy, UsageType, VuiConfig,
};

use super::frames::Canvas;
use super::mux::{Sample, mux};
use super::spec::FPS;

const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;

fn failed(what: &'static str) -> impl FnOnce(openh264::Error) -> Error {
    move |e| Error::internal(what).with_source(e)
}

/// Draws `frames` frames with `draw` and returns the MP4 file.
pub(crate) fn encode_mp4(
    width: u32,
    height: u32,
    frames: u32,
    mut draw: impl FnMut(&mut Canvas, u32),
) -> Result<Vec<u8>> {
    let config = EncoderConfig::new()
        // Every frame is kept, so the file has exactly the frames (and length) promised.
        .skip_frames(false)
        .max_frame_rate(FrameRate::from_hz(FPS as f32))
        .bitrate(BitRate::from_bps(250_000))
        .rate_control_mode(RateControlMode::Off)
        .usage_type(UsageType::CameraVideoRealTime)
        // Parameter sets never change, so the ones in `avcC` serve every keyframe.
        .sps_pps_strategy(SpsPpsStrategy::ConstantId)
        // A keyframe every two seconds keeps seeking cheap in a player.
        .intra_frame_period(IntraFramePeriod::from_num_frames(2 * FPS))
        // One thread: same bytes every time, and no extra threads inside a server.
        .num_threads(1)
        .vui(VuiConfig::bt601());
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(failed("demo video encoder failed to start"))?;

    let mut canvas = Canvas::new(width, height);
    let mut sps: Option<Vec<u8>> = None;
    let mut pps: Option<Vec<u8>> = None;
    let mut samples = Vec::with_capacity(frames as usize);
    for frame in 0..frames {
        draw(&mut canvas, frame);
        let timestamp = openh264::Timestamp::from_millis(u64::from(frame) * 1000 / u64::from(FPS));
        let stream = encoder
            .encode_at(&canvas, timestamp)
            .map_err(failed("demo video encoding failed"))?;
        let keyframe = match stream.frame_type() {
            FrameType::IDR => true,
            FrameType::I | FrameType::P => false,
            other => {
                return Err(Error::internal(format!(
                    "the demo video encoder gave a {other:?} frame"
                )));
            }
        };
        let mut bytes = Vec::new();
        for layer in (0..stream.num_layers()).filter_map(|l| stream.layer(l)) {
            for nal in (0..layer.nal_count()).filter_map(|n| layer.nal_unit(n)) {
                let nal = strip_start_code(nal);
                match nal.first().map(|b| b & 0x1f) {
                    None => {}
                    Some(NAL_SPS) => keep_parameter_set(&mut sps, nal)?,
                    Some(NAL_PPS) => keep_parameter_set(&mut pps, nal)?,
                    Some(_) => {
                        let len = u32::try_from(nal.len())
                            .map_err(|_| Error::internal("a demo video NAL unit is too large"))?;
                        bytes.extend_from_slice(&len.to_be_bytes());
                        bytes.extend_from_slice(nal);
                    }
                }
            }
        }
        samples.push(Sample { bytes, keyframe });
    }
    let (Some(sps), Some(pps)) = (sps, pps) else {
        return Err(Error::internal(
            "the demo video encoder gave no parameter sets",
        ));
    };
    mux(width, height, sps, pps, samples)
}

/// Annex B NAL units start with `00 00 01` or `00 00 00 01`; the container wants them bare.
fn strip_start_code(nal: &[u8]) -> &[u8] {
    let zeros = nal.iter().take_while(|&&b| b == 0).count();
    match nal.get(zeros) {
        Some(1) if zeros >= 2 => &nal[zeros + 1..],
        _ => nal,
    }
}

/// Keeps the first SPS or PPS; a later one must match, since `avcC` holds only one.
fn keep_parameter_set(slot: &mut Option<Vec<u8>>, nal: &[u8]) -> Result<()> {
    match slot {
        None => *slot = Some(nal.to_vec()),
        Some(kept) if kept == nal => {}
        Some(_) => {
            return Err(Error::internal(
                "the demo video encoder changed its parameter sets",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes_are_removed() {
        assert_eq!(strip_start_code(&[0, 0, 0, 1, 0x67, 1]), [0x67, 1]);
        assert_eq!(strip_start_code(&[0, 0, 1, 0x68]), [0x68]);
        assert_eq!(strip_start_code(&[0x65, 0, 0, 1]), [0x65, 0, 0, 1]);
        assert_eq!(strip_start_code(&[0, 1, 0x65]), [0, 1, 0x65]);
    }

    #[test]
    fn parameter_sets_may_repeat_but_not_change() {
        let mut slot = None;
        assert!(keep_parameter_set(&mut slot, &[0x67, 1]).is_ok());
        assert!(keep_parameter_set(&mut slot, &[0x67, 1]).is_ok());
        assert!(keep_parameter_set(&mut slot, &[0x67, 2]).is_err());
    }
}
