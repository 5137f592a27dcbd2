//! The Pexels fake: `GET /v1/search` (photos) and `GET /videos/search` (no `/v1`), pages of
//! deterministic results out of 42 matches.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Ctx;
use crate::respond;

const TOTAL: u64 = 42;

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    if ctx.method != "GET" {
        return None;
    }
    let videos = match ctx.path.as_str() {
        "/v1/search" => false,
        "/videos/search" => true,
        _ => return None,
    };
    let Some(query) = ctx.query.get("query").filter(|q| !q.is_empty()) else {
        return Some(respond::invalid("pexels", "query is required"));
    };
    let number = |k: &str, d: u64| {
        ctx.query
            .get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(d)
    };
    let page = number("page", 1).max(1);
    let per_page = number("per_page", 15).clamp(1, 80);
    let first = (page - 1) * per_page;
    let ids = first..(first + per_page).min(TOTAL);
    let items: Vec<Value> = ids
        .map(|i| {
            if videos {
                video(i + 1, query)
            } else {
                photo(i + 1, query)
            }
        })
        .collect();
    let key = if videos { "videos" } else { "photos" };
    Some(
        axum::Json(json!({"page": page, "per_page": per_page, "total_results": TOTAL, key: items}))
            .into_response(),
    )
}

fn photo(id: u64, query: &str) -> Value {
    let src = |size: &str| format!("https://images.pexels.example/photos/{id}/{size}.jpeg");
    json!({"id": id, "width": 4000, "height": 3000, "url": format!("https://www.pexels.example/photo/{id}/"),
           "photographer": format!("Photographer {id}"), "photographer_url": format!("https://www.pexels.example/@p{id}"),
           "photographer_id": id, "avg_color": "#978E82", "alt": query,
           "src": {"original": src("original"), "large2x": src("large2x"), "large": src("large"),
                   "medium": src("medium"), "small": src("small"), "portrait": src("portrait"),
                   "landscape": src("landscape"), "tiny": src("tiny")}})
}

fn video(id: u64, query: &str) -> Value {
    let file = |fid: u64, quality: &str, w: u32, h: u32| {
        json!({"id": fid, "quality": quality, "file_type": "video/mp4", "width": w, "height": h, "fps": 25.0,
               "link": format!("https://videos.pexels.example/{id}/{quality}-{w}.mp4")})
    };
    json!({"id": id, "width": 1920, "height": 1080, "duration": 10 + id % 5, "url": format!("https://www.pexels.example/video/{query}-{id}/"),
           "image": format!("https://images.pexels.example/videos/{id}/preview.jpg"),
           "user": {"id": id, "name": format!("Filmmaker {id}"), "url": format!("https://www.pexels.example/@f{id}")},
           "video_files": [file(1, "sd", 640, 360), file(2, "hd", 1920, 1080), file(3, "hls", 3840, 2160)],
           "video_pictures": [{"id": 1, "picture": format!("https://images.pexels.example/videos/{id}/1.jpg"), "nr": 0}]})
}
