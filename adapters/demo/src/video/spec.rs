//! What a demo video or render is, packed into its job id. The demo provider keeps no state:
//! molts stores the provider job id, and a restarted server (or another replica) must still be
//! able to finish the job, so the id carries everything needed to draw the frames again.
//!
//! An id is `demo-video-<payload>` or `demo-render-<payload>`, the payload being base64url
//! (no padding) of a small versioned binary record followed by the first 4 bytes of its SHA-256,
//! so a mistyped or truncated id is refused instead of drawing something else. Binary rather than
//! JSON keeps a 32-clip render under the 512 characters other providers' ids are held to.
//! Version 1 layouts (integers little-endian):
//!
//! - video: `1, aspect, words: u16, seed: u64`
//! - render: `1, aspect, background: [u8; 3], timeline_ms: u16, n: u8,` then `n` clips of
//!   `row: u8, start_ms: u16, length_ms: u16, colour: [u8; 3]`
//!
//! Frame counts are derived from these fields (see [`VideoSpec::frames`], [`RenderSpec::frames`]),
//! so a change to those formulas must bump the version.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use molts_core::{Error, Result};
use sha2::{Digest, Sha256};

/// Frames per second of every demo video.
pub(crate) const FPS: u32 = 12;
/// The shortest demo video, in frames (one second).
const MIN_FRAMES: u32 = FPS;
/// The longest demo video, in frames (ten seconds): small files, quick encodes.
pub(crate) const MAX_FRAMES: u32 = 10 * FPS;
/// The longest timeline a demo render accepts.
pub(crate) const MAX_TIMELINE_MS: u32 = 60_000;
/// Clips drawn in a render; later ones still count towards its length.
pub(crate) const MAX_CLIPS: usize = 32;

const VERSION: u8 = 1;
const VIDEO_PREFIX: &str = "demo-video-";
const RENDER_PREFIX: &str = "demo-render-";
const URL_SCHEME: &str = "demo://";
const URL_SUFFIX: &str = ".mp4";
const TAG_LEN: usize = 4;

/// The frame shapes the demo draws: small, so files stay small and encodes quick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aspect {
    Landscape,
    Portrait,
    Square,
    FourFive,
    FourThree,
}

impl Aspect {
    const ALL: [Self; 5] = [
        Self::Landscape,
        Self::Portrait,
        Self::Square,
        Self::FourFive,
        Self::FourThree,
    ];

    /// Reads `16:9`, `9:16`, `1:1`, `4:5` or `4:3`.
    pub(crate) fn parse(ratio: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.ratio() == ratio.trim())
    }

    pub(crate) fn ratio(self) -> &'static str {
        match self {
            Self::Landscape => "16:9",
            Self::Portrait => "9:16",
            Self::Square => "1:1",
            Self::FourFive => "4:5",
            Self::FourThree => "4:3",
        }
    }

    /// Width and height in pixels; both even, as 4:2:0 chroma needs.
    pub(crate) fn dimensions(self) -> (u32, u32) {
        match self {
            Self::Landscape => (320, 180),
            Self::Portrait => (180, 320),
            Self::Square => (240, 240),
            Self::FourFive => (240, 300),
            Self::FourThree => (240, 180),
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Landscape => 0,
            Self::Portrait => 1,
            Self::Square => 2,
            Self::FourFive => 3,
            Self::FourThree => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// An avatar video: its length follows the script's words, its look the script's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VideoSpec {
    pub(crate) aspect: Aspect,
    pub(crate) words: u16,
    pub(crate) seed: u64,
}

impl VideoSpec {
    /// About 2.5 spoken words a second, like the demo speech, from one to ten seconds.
    pub(crate) fn frames(&self) -> u32 {
        (u32::from(self.words) * FPS * 2 / 5).clamp(MIN_FRAMES, MAX_FRAMES)
    }
}

/// One clip of a render, as drawn: a band in its track's row while it plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClipSpec {
    pub(crate) row: u8,
    pub(crate) start_ms: u16,
    pub(crate) length_ms: u16,
    pub(crate) colour: [u8; 3],
}

/// A timeline render: background, length and the clips to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderSpec {
    pub(crate) aspect: Aspect,
    pub(crate) background: [u8; 3],
    pub(crate) timeline_ms: u16,
    pub(crate) clips: Vec<ClipSpec>,
}

impl RenderSpec {
    /// The timeline's length at 12 fps, at most ten seconds: a longer timeline is played faster
    /// so every clip still shows.
    pub(crate) fn frames(&self) -> u32 {
        let ms = u32::from(self.timeline_ms).min(MAX_FRAMES * 1000 / FPS);
        ((ms * FPS + 500) / 1000).clamp(1, MAX_FRAMES)
    }

    /// Rows to split the frame into: one per track that has a drawn clip.
    pub(crate) fn rows(&self) -> u32 {
        self.clips
            .iter()
            .map(|c| u32::from(c.row) + 1)
            .max()
            .unwrap_or(1)
    }
}

/// A demo job: what its id says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobSpec {
    Video(VideoSpec),
    Render(RenderSpec),
}

impl JobSpec {
    /// The provider job id carrying this job.
    pub(crate) fn id(&self) -> String {
        let (prefix, mut payload) = match self {
            Self::Video(v) => {
                let mut p = vec![VERSION, v.aspect.code()];
                p.extend_from_slice(&v.words.to_le_bytes());
                p.extend_from_slice(&v.seed.to_le_bytes());
                (VIDEO_PREFIX, p)
            }
            Self::Render(r) => {
                let mut p = vec![VERSION, r.aspect.code()];
                p.extend_from_slice(&r.background);
                p.extend_from_slice(&r.timeline_ms.to_le_bytes());
                let clips = &r.clips[..r.clips.len().min(MAX_CLIPS)];
                p.push(clips.len() as u8);
                for c in clips {
                    p.push(c.row);
                    p.extend_from_slice(&c.start_ms.to_le_bytes());
                    p.extend_from_slice(&c.length_ms.to_le_bytes());
                    p.extend_from_slice(&c.colour);
                }
                (RENDER_PREFIX, p)
            }
        };
        let tag = tag(prefix, &payload);
        payload.extend_from_slice(&tag);
        format!("{prefix}{}", URL_SAFE_NO_PAD.encode(payload))
    }

    /// Reads an id this provider gave out, or `Invalid` naming `provider_job_id`.
    pub(crate) fn from_id(id: &str) -> Result<Self> {
        Self::decode(id).ok_or_else(|| {
            Error::invalid(
                "provider_job_id",
                format!(
                    "'{}' is not a job id the demo provider gave out",
                    id.chars().take(80).collect::<String>()
                ),
            )
        })
    }

    /// Where the finished video is: `demo://<id>.mp4`, which only [`JobSpec::from_url`] reads.
    pub(crate) fn url(&self) -> String {
        format!("{URL_SCHEME}{}{URL_SUFFIX}", self.id())
    }

    /// Reads a URL [`JobSpec::url`] made, or `Invalid` naming `url`.
    pub(crate) fn from_url(url: &str) -> Result<Self> {
        url.strip_prefix(URL_SCHEME)
            .and_then(|rest| rest.strip_suffix(URL_SUFFIX))
            .and_then(Self::decode)
            .ok_or_else(|| {
                Error::invalid(
                    "url",
                    format!(
                        "'{}' is not a demo video URL (demo://<job id>.mp4)",
                        url.chars().take(80).collect::<String>()
                    ),
                )
            })
    }

    /// Frames in the video.
    pub(crate) fn frames(&self) -> u32 {
        match self {
            Self::Video(v) => v.frames(),
            Self::Render(r) => r.frames(),
        }
    }

    /// Seconds of video.
    pub(crate) fn seconds(&self) -> f64 {
        f64::from(self.frames()) / f64::from(FPS)
    }

    fn decode(id: &str) -> Option<Self> {
        let (prefix, encoded) = if let Some(rest) = id.strip_prefix(VIDEO_PREFIX) {
            (VIDEO_PREFIX, rest)
        } else {
            (RENDER_PREFIX, id.strip_prefix(RENDER_PREFIX)?)
        };
        // Ids are short; refuse anything long before decoding it.
        if encoded.len() > 512 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        let (payload, given_tag) = bytes.split_at_checked(bytes.len().checked_sub(TAG_LEN)?)?;
        if given_tag != tag(prefix, payload) {
            return None;
        }
        let mut r = Reader(payload);
        if r.u8()? != VERSION {
            return None;
        }
        let aspect = Aspect::from_code(r.u8()?)?;
        let spec = if prefix == VIDEO_PREFIX {
            Self::Video(VideoSpec {
                aspect,
                words: r.u16()?,
                seed: u64::from_le_bytes(r.array()?),
            })
        } else {
            let background = r.array()?;
            let timeline_ms = r.u16()?;
            if timeline_ms == 0 || u32::from(timeline_ms) > MAX_TIMELINE_MS {
                return None;
            }
            let n = usize::from(r.u8()?);
            if n > MAX_CLIPS {
                return None;
            }
            let mut clips = Vec::with_capacity(n);
            for _ in 0..n {
                let clip = ClipSpec {
                    row: r.u8()?,
                    start_ms: r.u16()?,
                    length_ms: r.u16()?,
                    colour: r.array()?,
                };
                let end = u32::from(clip.start_ms) + u32::from(clip.length_ms);
                if usize::from(clip.row) >= MAX_CLIPS || end > u32::from(timeline_ms) {
                    return None;
                }
                clips.push(clip);
            }
            Self::Render(RenderSpec {
                aspect,
                background,
                timeline_ms,
                clips,
            })
        };
        r.0.is_empty().then_some(spec)
    }
}

/// A checksum over the kind and payload: catches corruption and ids made up by hand. Not a
/// signature: anything well-formed is something the demo could have made, and is harmless.
fn tag(prefix: &str, payload: &[u8]) -> [u8; TAG_LEN] {
    let digest = Sha256::new()
        .chain_update(prefix.as_bytes())
        .chain_update(payload)
        .finalize();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&digest[..TAG_LEN]);
    tag
}

/// Reads the payload front to back; `None` when it runs out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(clips: usize) -> JobSpec {
        JobSpec::Render(RenderSpec {
            aspect: Aspect::Portrait,
            background: [1, 2, 3],
            timeline_ms: 60_000,
            clips: (0..clips)
                .map(|i| ClipSpec {
                    row: (i % 4) as u8,
                    start_ms: (i * 1000) as u16,
                    length_ms: 1500,
                    colour: [i as u8, 9, 9],
                })
                .collect(),
        })
    }

    #[test]
    fn ids_and_urls_round_trip() -> Result<()> {
        let video = JobSpec::Video(VideoSpec {
            aspect: Aspect::Square,
            words: 12,
            seed: 0xdead_beef_0bad_cafe,
        });
        for spec in [video, render(0), render(MAX_CLIPS)] {
            let id = spec.id();
            assert!(id.len() <= 512, "{} characters", id.len());
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
            assert_eq!(JobSpec::from_id(&id)?, spec);
            assert_eq!(JobSpec::from_url(&spec.url())?, spec);
        }
        Ok(())
    }

    #[test]
    fn ids_it_did_not_make_are_refused() {
        let id = render(3).id();
        let mut flipped = id.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        let other_kind = id.replacen("demo-render-", "demo-video-", 1);
        for bad in [
            "",
            "demo-video-",
            "0000000000bad",
            "../../etc?x=1",
            &flipped,
            &other_kind,
            &id[..id.len() - 3],
            &format!("{id}AAAA"),
        ] {
            let e = JobSpec::from_id(bad).err();
            assert_eq!(
                e.as_ref().and_then(|e| e.param()),
                Some("provider_job_id"),
                "{bad}"
            );
        }
        for bad in [
            id.clone(),
            format!("https://example.com/{id}.mp4"),
            format!("demo://{id}"),
        ] {
            let e = JobSpec::from_url(&bad).err();
            assert_eq!(e.as_ref().and_then(|e| e.param()), Some("url"), "{bad}");
        }
    }

    #[test]
    fn lengths_follow_words_and_timelines() {
        let video = |words| VideoSpec {
            aspect: Aspect::Landscape,
            words,
            seed: 0,
        };
        assert_eq!(video(0).frames(), 12, "at least a second");
        assert_eq!(video(10).frames(), 48, "ten words, four seconds");
        assert_eq!(video(1000).frames(), 120, "at most ten seconds");
        let timeline = |ms| RenderSpec {
            aspect: Aspect::Landscape,
            background: [0; 3],
            timeline_ms: ms,
            clips: Vec::new(),
        };
        assert_eq!(timeline(5000).frames(), 60);
        assert_eq!(timeline(40).frames(), 1, "at least a frame");
        assert_eq!(timeline(60_000).frames(), 120, "long timelines play faster");
    }
}
