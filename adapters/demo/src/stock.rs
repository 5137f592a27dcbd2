//! Demo stock search over a small bundled catalogue. Matching is by words in each item's tags;
//! URLs use the reserved `.invalid` domain, because the demo has no media host of its own (the
//! artifacts issue will let molts serve demo files itself).

use molts_core::providers::{StockItem, StockKind, StockRequest, StockResponse};

struct Entry {
    id: &'static str,
    kind: StockKind,
    tags: &'static str,
    width: u32,
    height: u32,
    duration: Option<f64>,
    author: &'static str,
}

const CATALOGUE: [Entry; 12] = [
    Entry {
        id: "p-lighthouse-dusk",
        kind: StockKind::Photos,
        tags: "lighthouse coast sea dusk sunset",
        width: 1920,
        height: 1280,
        duration: None,
        author: "Ada Demo",
    },
    Entry {
        id: "p-city-night",
        kind: StockKind::Photos,
        tags: "city night street lights urban",
        width: 1920,
        height: 1080,
        duration: None,
        author: "Bo Demo",
    },
    Entry {
        id: "p-forest-fog",
        kind: StockKind::Photos,
        tags: "forest fog trees nature morning",
        width: 1600,
        height: 1067,
        duration: None,
        author: "Cy Demo",
    },
    Entry {
        id: "p-desk-laptop",
        kind: StockKind::Photos,
        tags: "office desk laptop work coffee",
        width: 1800,
        height: 1200,
        duration: None,
        author: "Di Demo",
    },
    Entry {
        id: "p-mountain-lake",
        kind: StockKind::Photos,
        tags: "mountain lake nature reflection",
        width: 2400,
        height: 1600,
        duration: None,
        author: "Ed Demo",
    },
    Entry {
        id: "p-cat-window",
        kind: StockKind::Photos,
        tags: "cat pet window animal home",
        width: 1200,
        height: 1500,
        duration: None,
        author: "Fi Demo",
    },
    Entry {
        id: "v-waves-beach",
        kind: StockKind::Videos,
        tags: "waves beach sea coast ocean",
        width: 1920,
        height: 1080,
        duration: Some(12.0),
        author: "Gu Demo",
    },
    Entry {
        id: "v-traffic-timelapse",
        kind: StockKind::Videos,
        tags: "city traffic timelapse night urban",
        width: 1920,
        height: 1080,
        duration: Some(15.5),
        author: "Ha Demo",
    },
    Entry {
        id: "v-typing-hands",
        kind: StockKind::Videos,
        tags: "office typing laptop work hands",
        width: 1280,
        height: 720,
        duration: Some(8.0),
        author: "Io Demo",
    },
    Entry {
        id: "v-forest-walk",
        kind: StockKind::Videos,
        tags: "forest walk trees nature path",
        width: 1920,
        height: 1080,
        duration: Some(20.0),
        author: "Jo Demo",
    },
    Entry {
        id: "v-lighthouse-beam",
        kind: StockKind::Videos,
        tags: "lighthouse night beam coast sea",
        width: 3840,
        height: 2160,
        duration: Some(10.0),
        author: "Ka Demo",
    },
    Entry {
        id: "v-clouds-sky",
        kind: StockKind::Videos,
        tags: "clouds sky timelapse weather",
        width: 1920,
        height: 1080,
        duration: Some(18.0),
        author: "Li Demo",
    },
];

fn matches(entry: &Entry, words: &[String]) -> bool {
    words.iter().any(|w| entry.tags.split(' ').any(|t| t == w))
}

fn orientation_ok(entry: &Entry, orientation: Option<&str>) -> bool {
    match orientation {
        Some("landscape") => entry.width > entry.height,
        Some("portrait") => entry.height > entry.width,
        Some("square") => entry.width == entry.height,
        _ => true,
    }
}

pub(crate) fn search(request: &StockRequest) -> StockResponse {
    let words: Vec<String> = request
        .query
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let found: Vec<&Entry> = CATALOGUE
        .iter()
        .filter(|e| {
            e.kind == request.kind
                && matches(e, &words)
                && orientation_ok(e, request.orientation.as_deref())
        })
        .collect();
    let start = ((request.page.saturating_sub(1)) * request.per_page) as usize;
    let media = found
        .iter()
        .skip(start)
        .take(request.per_page as usize)
        .map(|e| {
            let (kind, ext) = match e.kind {
                StockKind::Photos => ("photo", "jpg"),
                StockKind::Videos => ("video", "mp4"),
            };
            StockItem {
                id: e.id.to_owned(),
                kind,
                url: format!("https://demo.molts.invalid/stock/{}.{ext}", e.id),
                preview_url: Some(format!(
                    "https://demo.molts.invalid/stock/{}-preview.jpg",
                    e.id
                )),
                duration: e.duration,
                width: Some(e.width),
                height: Some(e.height),
                provider: "demo".to_owned(),
                photographer: Some(e.author.to_owned()),
                photographer_url: Some(format!(
                    "https://demo.molts.invalid/people/{}",
                    e.author.replace(' ', "-").to_lowercase()
                )),
            }
        })
        .collect();
    StockResponse {
        media,
        total_results: found.len() as u64,
        page: request.page,
        per_page: request.per_page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(query: &str, kind: StockKind, page: u32, per_page: u32) -> StockRequest {
        StockRequest {
            query: query.into(),
            kind,
            page,
            per_page,
            orientation: None,
        }
    }

    #[test]
    fn finds_by_tag_and_kind_and_pages() {
        let photos = search(&q("Lighthouse", StockKind::Photos, 1, 10));
        assert_eq!(photos.total_results, 1);
        assert_eq!(photos.media[0].kind, "photo");
        let videos = search(&q("sea coast", StockKind::Videos, 1, 1));
        assert_eq!(videos.total_results, 2);
        assert_eq!(videos.media.len(), 1);
        let page2 = search(&q("sea coast", StockKind::Videos, 2, 1));
        assert_ne!(page2.media[0].id, videos.media[0].id);
        assert!(
            search(&q("submarine", StockKind::Photos, 1, 10))
                .media
                .is_empty()
        );
    }
}
