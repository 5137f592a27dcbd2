//! Is a job's output the media it claims to be? A provider that answers a download with 200
//! and an error page (HTML, JSON) must not end up stored as `video.mp4`: the first bytes are
//! checked against the declared type before the output is copied into the blob store.

/// How much of an output is read before storing it, to check what it is (12 bytes tell every
/// format checked; the rest is for the message).
pub(super) const SNIFF_BYTES: usize = 16;

/// What a job's output is, by its MIME type or by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    Video,
    Image,
    Audio,
}

impl Media {
    fn noun(self) -> &'static str {
        match self {
            Media::Video => "a video",
            Media::Image => "an image",
            Media::Audio => "audio",
        }
    }
}

/// The media a MIME type claims, for the types job outputs come as and whose files molts can
/// recognise; `None` for any other type (`application/octet-stream`...).
fn claimed_media(content_type: &str) -> Option<Media> {
    match essence(content_type).as_str() {
        "video/mp4" | "video/quicktime" | "video/webm" => Some(Media::Video),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" => Some(Media::Image),
        "audio/mpeg" | "audio/mp3" | "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/ogg" => {
            Some(Media::Audio)
        }
        _ => None,
    }
}

/// The media `head` (a file's first bytes, at least 12 of them when the file has them) starts
/// as, from its magic number; `None` when it is none molts recognises.
fn sniff_media(head: &[u8]) -> Option<Media> {
    let at = |range: std::ops::Range<usize>| head.get(range);
    // ISO BMFF (MP4, MOV): a 32-bit size, then a top-level box type.
    let bmff = matches!(
        at(4..8),
        Some(b"ftyp" | b"moov" | b"mdat" | b"free" | b"wide" | b"skip" | b"pnot")
    );
    if bmff || head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        // The second is EBML: WebM and Matroska.
        Some(Media::Video)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(&[0xff, 0xd8, 0xff])
        || head.starts_with(b"GIF87a")
        || head.starts_with(b"GIF89a")
        || (head.starts_with(b"RIFF") && at(8..12) == Some(b"WEBP"))
    {
        Some(Media::Image)
    } else if (head.starts_with(b"RIFF") && at(8..12) == Some(b"WAVE"))
        || head.starts_with(b"ID3")
        || head.starts_with(b"OggS")
        // An MPEG audio frame: eleven sync bits (JPEG's FF D8 does not have them).
        || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0)
    {
        Some(Media::Audio)
    } else {
        None
    }
}

/// Whether `head` opens a text document — HTML, XML or JSON — rather than a media file.
fn looks_like_document(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    matches!(
        text.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'<' | b'{' | b'[')
    )
}

/// Whether a MIME type is a text document's (an error page, an API's JSON), never media.
fn is_document_type(content_type: &str) -> bool {
    let t = essence(content_type);
    t.starts_with("text/")
        || matches!(t.as_str(), "application/json" | "application/xml")
        || t.ends_with("+json")
        || t.ends_with("+xml")
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Checks a job output's first bytes against the type it is declared as (by the provider or,
/// failing that, the server): a type molts recognises must be that kind of media, in any of
/// its formats (a video/mp4 that is WebM passes); any other type, or none, passes unless the
/// output is a text document. `received` is how many bytes were read (`head` is at most
/// [`SNIFF_BYTES`] of them). The refusal says what came instead and shows no more than those
/// first bytes.
pub(super) fn check_output(
    declared: Option<&str>,
    served: Option<&str>,
    head: &[u8],
    received: usize,
) -> std::result::Result<(), String> {
    let claimed = declared.and_then(claimed_media);
    let found = sniff_media(head);
    let ok = match (claimed, found) {
        (Some(want), Some(got)) => want == got,
        (Some(_), None) => false,
        (None, Some(_)) => true,
        (None, None) => !declared.is_some_and(is_document_type) && !looks_like_document(head),
    };
    if ok {
        return Ok(());
    }
    let expected = claimed.map_or("media", Media::noun);
    let declared = declared.unwrap_or("no content type");
    let served = served.unwrap_or("no content type");
    Err(if head.is_empty() {
        format!("sent an empty output instead of {expected} ({declared}), served as {served}")
    } else {
        format!(
            "sent an output that is not {expected} ({declared}): {} served as {served}, \
             starting `{}`{}",
            found.map_or_else(|| describe(head), Media::noun),
            escaped(head),
            if received > head.len() { "…" } else { "" }
        )
    })
}

/// A word for what a document looks like.
fn describe(head: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<!doctype html") || text.starts_with("<html") {
        "an HTML page"
    } else if text.starts_with("<?xml") || text.starts_with('<') {
        "an XML or HTML document"
    } else if text.starts_with('{') || text.starts_with('[') {
        "JSON"
    } else {
        "something unrecognised"
    }
}

/// Bytes as printable ASCII, anything else as `\xNN`.
fn escaped(head: &[u8]) -> String {
    head.iter()
        .map(|&b| match b {
            b' '..=b'~' if b != b'`' && b != b'\\' => char::from(b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00";
    const HTML: &[u8] = b"<!DOCTYPE html><html><body>Service Unavailable";

    fn check(content_type: &str, head: &[u8]) -> std::result::Result<(), String> {
        let head = &head[..head.len().min(SNIFF_BYTES)];
        check_output(Some(content_type), None, head, head.len())
    }

    /// The refusal's message (empty when it passed).
    fn refused(result: std::result::Result<(), String>) -> String {
        result.err().unwrap_or_default()
    }

    #[test]
    fn videos_are_recognised_by_their_boxes() {
        assert_eq!(check("video/mp4", MP4), Ok(()));
        for boxed in [&b"moov"[..], b"mdat", b"free", b"wide", b"skip"] {
            let mut head = vec![0, 0, 0, 8];
            head.extend_from_slice(boxed);
            head.extend_from_slice(&[0; 4]);
            assert_eq!(sniff_media(&head), Some(Media::Video), "{boxed:?}");
        }
        assert_eq!(check("video/quicktime", MP4), Ok(()));
        assert_eq!(
            check("video/webm", b"\x1a\x45\xdf\xa3\x01\x00\x00\x00"),
            Ok(())
        );
        // Another container than claimed is still a video.
        assert_eq!(
            check("video/mp4", b"\x1a\x45\xdf\xa3\x01\x00\x00\x00"),
            Ok(())
        );
    }

    #[test]
    fn images_and_audio_are_recognised_by_their_magic_numbers() {
        assert_eq!(
            check("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"),
            Ok(())
        );
        assert_eq!(check("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF"), Ok(()));
        assert_eq!(check("image/gif", b"GIF89a\x01\x00\x01\x00"), Ok(()));
        assert_eq!(check("image/webp", b"RIFF\x24\x00\x00\x00WEBPVP8 "), Ok(()));
        assert_eq!(check("audio/wav", b"RIFF\x24\x00\x00\x00WAVEfmt "), Ok(()));
        assert_eq!(
            check("audio/mpeg", b"ID3\x04\x00\x00\x00\x00\x00\x00"),
            Ok(())
        );
        assert_eq!(
            check("audio/mpeg", b"\xff\xfb\x90\xc4\x00\x00\x00\x00"),
            Ok(())
        );
        assert_eq!(check("audio/ogg", b"OggS\x00\x02\x00\x00"), Ok(()));
        // A JPEG is not an MPEG audio frame, nor a WAV a WebP.
        assert_eq!(sniff_media(b"\xff\xd8\xff\xdb"), Some(Media::Image));
        assert!(check("image/webp", b"RIFF\x24\x00\x00\x00WAVEfmt ").is_err());
    }

    #[test]
    fn an_error_page_or_json_is_not_a_video() {
        let served = Some("text/html; charset=utf-8");
        assert_eq!(
            refused(check_output(
                Some("video/mp4"),
                served,
                &HTML[..16],
                HTML.len()
            )),
            "sent an output that is not a video (video/mp4): an HTML page served as \
             text/html; charset=utf-8, starting `<!DOCTYPE html><`…"
        );
        let e = refused(check("video/mp4", br#"{"error":"Forbidden"}"#));
        assert!(e.contains("JSON served as no content type"), "{e}");
        let e = refused(check("image/png", MP4));
        assert!(
            e.contains("not an image (image/png): a video served as"),
            "{e}"
        );
        let e = refused(check("video/mp4", b""));
        assert!(e.contains("empty output instead of a video"), "{e}");
        let e = refused(check("video/mp4", b"\x00\x01`\\z"));
        assert!(e.contains("something unrecognised"), "{e}");
        assert!(e.contains("starting `\\x00\\x01\\x60\\x5cz`"), "{e}");
    }

    #[test]
    fn an_unrecognised_type_or_none_is_refused_only_as_a_document() {
        assert_eq!(check("application/octet-stream", MP4), Ok(()));
        assert_eq!(
            check("application/octet-stream", b"\x00\x01\x02\x03"),
            Ok(())
        );
        assert_eq!(check("image/bmp", b"BM\x36\x00\x0c\x00"), Ok(()));
        assert_eq!(check_output(None, None, b"GIF89a\x01\x00", 8), Ok(()));
        assert!(check("application/octet-stream", b"  \n<html>").is_err());
        assert!(check("application/octet-stream", b"\xef\xbb\xbf{\"a\":1}").is_err());
        assert!(check("text/html", b"\x00\x01\x02\x03").is_err());
        assert!(check("application/problem+json", b"\x00\x01").is_err());
        let e = refused(check_output(None, Some("text/html"), b"<html>", 6));
        assert_eq!(
            e,
            "sent an output that is not media (no content type): an HTML page served as \
             text/html, starting `<html>`"
        );
    }
}
