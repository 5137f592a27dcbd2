//! Frames to an MP4 file without C++: the pure-Rust `less-avc` encoder (feature `video-pure`,
//! what the wasm32 Cloudflare Worker builds) writes every frame as an IDR picture of lossless
//! PCM macroblocks. That is plain H.264 every player decodes, drawn from the same canvas, only
//! bigger than OpenH264's (about 85 kB a frame at 320×180). `mux.rs` wraps it as OpenH264's
//! output is wrapped.

use less_avc::LessEncoder;
use less_avc::ycbcr_image::{DataPlane, Planes, YCbCrImage};
use molts_core::{Error, Result};

use super::frames::Canvas;
use super::mux::{Sample, mux};

fn failed(what: &'static str) -> impl FnOnce(less_avc::Error) -> Error {
    move |e| Error::internal(what).with_source(std::io::Error::other(format!("{e:?}")))
}

/// `plane` (rows of `width` bytes) copied into rows of `stride` bytes, `rows` of them: less-avc
/// reads whole macroblocks, so both sides are padded to 16 luma (8 chroma) samples.
fn padded(plane: &[u8], width: usize, stride: usize, rows: usize) -> Vec<u8> {
    let mut out = vec![0u8; stride * rows];
    for (src, dst) in plane.chunks(width).zip(out.chunks_mut(stride)) {
        dst[..src.len()].copy_from_slice(src);
    }
    out
}

fn plane(data: &[u8], stride: usize) -> DataPlane<'_> {
    DataPlane {
        data,
        stride,
        bit_depth: less_avc::BitDepth::Depth8,
    }
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// Draws `frames` frames with `draw` and returns the MP4 file.
pub(crate) fn encode_mp4(
    width: u32,
    height: u32,
    frames: u32,
    mut draw: impl FnMut(&mut Canvas, u32),
) -> Result<Vec<u8>> {
    let mut canvas = Canvas::new(width, height);
    let mut encoder: Option<LessEncoder> = None;
    let mut parameter_sets: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut samples = Vec::with_capacity(frames as usize);
    for frame in 0..frames {
        draw(&mut canvas, frame);
        let (w, h, [y, u, v]) = canvas.planes();
        let (luma_stride, luma_rows) = (round_up(w, 16), round_up(h, 16));
        let (chroma_stride, chroma_rows) = (luma_stride / 2, luma_rows / 2);
        let y = padded(y, w, luma_stride, luma_rows);
        let u = padded(u, w / 2, chroma_stride, chroma_rows);
        let v = padded(v, w / 2, chroma_stride, chroma_rows);
        let image = YCbCrImage {
            planes: Planes::YCbCr((
                plane(&y, luma_stride),
                plane(&u, chroma_stride),
                plane(&v, chroma_stride),
            )),
            width,
            height,
        };
        let picture = match encoder.as_mut() {
            Some(encoder) => encoder
                .encode(&image)
                .map_err(failed("demo video encoding failed"))?,
            None => {
                let (initial, started) = LessEncoder::new(&image)
                    .map_err(failed("demo video encoder failed to start"))?;
                parameter_sets = Some((initial.sps.to_nal_unit(), initial.pps.to_nal_unit()));
                encoder = Some(started);
                initial.frame
            }
        };
        let nal = picture.to_nal_unit();
        let len = u32::try_from(nal.len())
            .map_err(|_| Error::internal("a demo video NAL unit is too large"))?;
        let mut bytes = Vec::with_capacity(nal.len() + 4);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&nal);
        // Every PCM picture is an IDR picture: each one is a sync sample.
        samples.push(Sample {
            bytes,
            keyframe: true,
        });
    }
    let Some((sps, pps)) = parameter_sets else {
        return Err(Error::internal("a demo video needs at least one frame"));
    };
    mux(width, height, sps, pps, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_are_padded_to_whole_macroblocks() {
        let plane = [1u8, 2, 3, 4, 5, 6];
        let out = padded(&plane, 3, 4, 3);
        assert_eq!(out, [1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0]);
        assert_eq!(round_up(180, 16), 192);
        assert_eq!(round_up(320, 16), 320);
    }

    #[test]
    fn makes_an_mp4_with_one_sync_sample_per_frame() -> Result<()> {
        let file = encode_mp4(320, 180, 3, |_, _| {})?;
        assert_eq!(&file[4..8], b"ftyp");
        let reader = mp4::Mp4Reader::read_header(std::io::Cursor::new(&file), file.len() as u64)
            .map_err(|e| Error::internal("unreadable").with_source(e))?;
        let track = reader
            .tracks()
            .values()
            .next()
            .ok_or_else(|| Error::internal("no track"))?;
        assert_eq!(track.sample_count(), 3);
        assert_eq!((track.width(), track.height()), (320, 180));
        Ok(())
    }
}
