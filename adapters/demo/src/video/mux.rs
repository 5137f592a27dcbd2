//! The ISO BMFF (MP4) container around an H.264 stream, shared by both encoders: one `avc1`
//! track of length-prefixed NAL units, the SPS and PPS in its `avcC` box, at the demo's frame
//! rate, written by the pure-Rust `mp4` crate.

use std::io::Cursor;
use std::str::FromStr;

use bytes::Bytes;
use molts_core::{Error, Result};
use mp4::{
    AvcConfig, FourCC, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer, TrackConfig, TrackType,
};

use super::spec::FPS;

/// Track time units per second: a whole number of units per frame.
const TIMESCALE: u32 = FPS * 1000;

/// One encoded frame, ready for the container: length-prefixed NAL units.
pub(super) struct Sample {
    pub(super) bytes: Vec<u8>,
    pub(super) keyframe: bool,
}

fn mux_failed(e: mp4::Error) -> Error {
    Error::internal("demo video muxing failed").with_source(e)
}

/// The MP4 file of `samples`, with the stream's parameter sets.
pub(super) fn mux(
    width: u32,
    height: u32,
    sps: Vec<u8>,
    pps: Vec<u8>,
    samples: Vec<Sample>,
) -> Result<Vec<u8>> {
    let brand = |b: &str| FourCC::from_str(b).map_err(mux_failed);
    let config = Mp4Config {
        major_brand: brand("isom")?,
        minor_version: 512,
        compatible_brands: vec![
            brand("isom")?,
            brand("iso2")?,
            brand("avc1")?,
            brand("mp41")?,
        ],
        // The movie's clock is the track's: the writer converts each sample's duration to the
        // movie timescale separately, truncating, so any other scale drifts (83 ms a frame, not
        // 83.3) and the movie would come out shorter than its track.
        timescale: TIMESCALE,
    };
    let mut writer =
        Mp4Writer::write_start(Cursor::new(Vec::new()), &config).map_err(mux_failed)?;
    writer
        .add_track(&TrackConfig {
            track_type: TrackType::Video,
            timescale: TIMESCALE,
            language: "und".to_owned(),
            media_conf: MediaConfig::AvcConfig(AvcConfig {
                width: width as u16,
                height: height as u16,
                seq_param_set: sps,
                pic_param_set: pps,
            }),
        })
        .map_err(mux_failed)?;
    let per_frame = TIMESCALE / FPS;
    for (i, sample) in samples.into_iter().enumerate() {
        writer
            .write_sample(
                1,
                &Mp4Sample {
                    start_time: i as u64 * u64::from(per_frame),
                    duration: per_frame,
                    rendering_offset: 0,
                    is_sync: sample.keyframe,
                    bytes: Bytes::from(sample.bytes),
                },
            )
            .map_err(mux_failed)?;
    }
    writer.write_end().map_err(mux_failed)?;
    Ok(writer.into_writer().into_inner())
}
