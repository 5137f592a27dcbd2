//! Pexels: photo search (`/v1/search`) and video search (`/videos/search`, no `/v1`), both
//! normalised to [`StockItem`]; a video's URL is its largest progressive file.

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use http::Method;
use serde::Deserialize;

use crate::error::Result;
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::types::{StockItem, StockKind, StockRequest, StockResponse};
use super::wire::{self, MAX_JSON_BYTES};

/// Pexels' API root.
pub const PEXELS_BASE_URL: &str = "https://api.pexels.com";

/// The adapter for [`Provider::Pexels`](crate::domain::Provider::Pexels).
#[derive(Clone)]
pub struct PexelsAdapter {
    http: Arc<dyn HttpClient>,
}

impl PexelsAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    total_results: u64,
    #[serde(default)]
    photos: Vec<Photo>,
    #[serde(default)]
    videos: Vec<Video>,
}

#[derive(Deserialize)]
struct Photo {
    id: u64,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    photographer: Option<String>,
    #[serde(default)]
    photographer_url: Option<String>,
    src: PhotoSrc,
}

#[derive(Deserialize)]
struct PhotoSrc {
    original: String,
    #[serde(default)]
    medium: Option<String>,
    #[serde(default)]
    tiny: Option<String>,
}

#[derive(Deserialize)]
struct Video {
    id: u64,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    video_files: Vec<VideoFile>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct VideoFile {
    #[serde(default)]
    quality: Option<String>,
    #[serde(default)]
    width: Option<u32>,
    link: String,
}

fn photo(p: Photo) -> StockItem {
    StockItem {
        id: p.id.to_string(),
        kind: "photo",
        preview_url: p.src.medium.or(p.src.tiny),
        url: p.src.original,
        duration: None,
        width: p.width,
        height: p.height,
        provider: "pexels".to_owned(),
        photographer: p.photographer,
        photographer_url: p.photographer_url,
    }
}

fn video(v: Video) -> StockItem {
    // HLS playlists are not files an agent can download and edit.
    let best = v
        .video_files
        .into_iter()
        .filter(|f| f.quality.as_deref() != Some("hls"))
        .max_by_key(|f| f.width.unwrap_or(0));
    let user = v.user.unwrap_or(User {
        name: None,
        url: None,
    });
    StockItem {
        id: v.id.to_string(),
        kind: "video",
        url: best.map(|f| f.link).or(v.url).unwrap_or_default(),
        preview_url: v.image,
        duration: v.duration,
        width: v.width,
        height: v.height,
        provider: "pexels".to_owned(),
        photographer: user.name,
        photographer_url: user.url,
    }
}

#[async_trait]
impl ProviderAdapter for PexelsAdapter {
    async fn stock(&self, call: Call<'_>, request: &StockRequest) -> Result<StockResponse> {
        let path = match request.kind {
            StockKind::Photos => "/v1/search",
            StockKind::Videos => "/videos/search",
        };
        let mut url = url::Url::parse(&format!("{}{path}", call.base_url(PEXELS_BASE_URL)))
            .map_err(|_| {
                crate::error::Error::unavailable(
                    "the provider URL is not valid (check PEXELS_BASE_URL)",
                )
                .with_code(ErrorCode::ProviderNotConfigured)
            })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("query", &request.query)
                .append_pair("page", &request.page.to_string())
                .append_pair("per_page", &request.per_page.to_string());
            if let Some(o) = &request.orientation {
                q.append_pair("orientation", o);
            }
        }
        // Pexels takes the raw key, without `Bearer`.
        let key = wire::secret_header(call.api_key("PEXELS_API_KEY")?)?;
        let req = wire::request(
            Method::GET,
            url.as_str(),
            vec![(http::header::AUTHORIZATION, key)],
            None,
        )?;
        let page: Page = wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let media = match request.kind {
            StockKind::Photos => page.photos.into_iter().map(photo).collect(),
            StockKind::Videos => page.videos.into_iter().map(video).collect(),
        };
        Ok(StockResponse {
            media,
            total_results: page.total_results,
            page: request.page,
            per_page: request.per_page,
        })
    }
}
