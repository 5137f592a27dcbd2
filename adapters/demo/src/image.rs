//! Demo images: a real PNG (encoded by the `png` crate) whose colours and pattern follow the
//! prompt, at the requested size.

use bytes::Bytes;
use molts_core::providers::{GeneratedImage, ImageData, ImageRequest};
use molts_core::{Error, Result};

use crate::seed_of;

const DEFAULT_SIDE: u32 = 512;
const MAX_SIDE: u32 = 1024;
const MIN_SIDE: u32 = 16;

/// Reads `WIDTHxHEIGHT` (or `W:H` as an aspect ratio on the default width).
fn dimensions(request: &ImageRequest) -> Result<(u32, u32)> {
    if let Some(size) = &request.size {
        let parsed = size.split_once('x').and_then(|(w, h)| {
            Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?))
        });
        return match parsed {
            Some((w, h))
                if (MIN_SIDE..=MAX_SIDE).contains(&w) && (MIN_SIDE..=MAX_SIDE).contains(&h) =>
            {
                Ok((w, h))
            }
            _ => Err(Error::invalid(
                "size",
                format!(
                    "size must be WIDTHxHEIGHT with sides from {MIN_SIDE} to {MAX_SIDE}, like 512x512"
                ),
            )),
        };
    }
    if let Some(ratio) = &request.aspect_ratio {
        let parsed = ratio.split_once([':', 'x']).and_then(|(w, h)| {
            Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?))
        });
        return match parsed {
            Some((w, h)) if w > 0 && h > 0 && w <= 32 && h <= 32 => {
                let height = (DEFAULT_SIDE * h / w).clamp(MIN_SIDE, MAX_SIDE);
                Ok((DEFAULT_SIDE, height))
            }
            _ => Err(Error::invalid(
                "aspect_ratio",
                "aspect_ratio must look like 16:9",
            )),
        };
    }
    Ok((DEFAULT_SIDE, DEFAULT_SIDE))
}

fn draw(width: u32, height: u32, seed: u64) -> Result<Vec<u8>> {
    let [r0, g0, b0, r1, g1, b1, stripes, _] = seed.to_le_bytes();
    let bands = u32::from(stripes % 7) + 3;
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            // A diagonal blend between two colours taken from the prompt, with soft bands.
            let t = (x * 255 / width.max(1) + y * 255 / height.max(1)) / 2;
            let band = ((x + y) * bands / (width + height).max(1)) % 2;
            let mix = |a: u8, b: u8| -> u8 {
                let v = (u32::from(a) * (255 - t) + u32::from(b) * t) / 255;
                if band == 0 {
                    v as u8
                } else {
                    (v * 3 / 4) as u8
                }
            };
            pixels.extend_from_slice(&[mix(r0, r1), mix(g0, g1), mix(b0, b1)]);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| Error::internal("demo PNG header failed").with_source(e))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| Error::internal("demo PNG encoding failed").with_source(e))?;
    }
    Ok(out)
}

pub(crate) fn generate(request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
    let (width, height) = dimensions(request)?;
    (0..request.n.max(1))
        .map(|i| {
            let png = draw(width, height, seed_of(&format!("{i}:{}", request.prompt)))?;
            Ok(GeneratedImage {
                data: ImageData::Bytes {
                    bytes: Bytes::from(png),
                    content_type: "image/png".to_owned(),
                },
                revised_prompt: Some(request.prompt.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (u32, u32) {
        let decoder = png::Decoder::new(bytes);
        decoder
            .read_info()
            .map_or((0, 0), |reader| (reader.info().width, reader.info().height))
    }

    #[test]
    fn makes_valid_pngs_of_the_asked_size() -> Result<()> {
        let request = ImageRequest {
            prompt: "a lighthouse".into(),
            n: 2,
            size: Some("64x32".into()),
            ..Default::default()
        };
        let images = generate(&request)?;
        assert_eq!(images.len(), 2);
        for image in &images {
            let ImageData::Bytes {
                bytes,
                content_type,
            } = &image.data
            else {
                return Err(Error::internal("expected bytes"));
            };
            assert_eq!(content_type, "image/png");
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
            assert_eq!(decode(bytes), (64, 32));
        }
        assert_ne!(images[0].data, images[1].data, "each image differs");
        assert_eq!(generate(&request)?, images, "deterministic in the prompt");
        Ok(())
    }

    #[test]
    fn sizes_and_ratios_are_checked() {
        let bad = ImageRequest {
            prompt: "x".into(),
            n: 1,
            size: Some("4096x4096".into()),
            ..Default::default()
        };
        assert!(generate(&bad).is_err());
        let ratio = ImageRequest {
            prompt: "x".into(),
            n: 1,
            aspect_ratio: Some("16:9".into()),
            ..Default::default()
        };
        assert_eq!(dimensions(&ratio).ok(), Some((512, 288)));
    }
}
