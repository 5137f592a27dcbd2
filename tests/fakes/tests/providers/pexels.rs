//! Pexels through the real adapter: photos and videos normalised to stock items (a video's URL
//! its largest progressive file, never HLS), paging, and every error class.

use std::time::Duration;

use molts_core::domain::{Modality, Provider};
use molts_core::providers::{Call, StockKind, StockRequest};

use crate::common::{Op, custom, env, error_matrix};

fn stock_model() -> molts_core::domain::ModelConfig {
    let mut m = custom("gpt-4o-mini", Provider::Pexels, "pexels");
    m.modality = Modality::Stock;
    m
}

fn search(kind: StockKind, page: u32, per_page: u32) -> StockRequest {
    StockRequest {
        query: "misty forest".into(),
        kind,
        page,
        per_page,
        orientation: Some("landscape".into()),
    }
}

#[tokio::test]
async fn photos_and_videos_are_normalised() {
    let env = env().await;
    let model = stock_model();
    let credentials = env.registry.credentials(Provider::Pexels).clone();
    let adapter = env.registry.adapter(Provider::Pexels).unwrap();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let photos = adapter
        .stock(call, &search(StockKind::Photos, 1, 3))
        .await
        .unwrap();
    assert_eq!(
        (
            photos.total_results,
            photos.media.len(),
            photos.page,
            photos.per_page
        ),
        (42, 3, 1, 3)
    );
    let p = &photos.media[0];
    assert_eq!(
        (p.id.as_str(), p.kind, p.provider.as_str()),
        ("1", "photo", "pexels")
    );
    assert!(p.url.ends_with("/original.jpeg"));
    assert!(
        p.preview_url
            .as_deref()
            .is_some_and(|u| u.ends_with("/medium.jpeg"))
    );
    assert_eq!((p.width, p.height), (Some(4000), Some(3000)));
    assert_eq!(p.photographer.as_deref(), Some("Photographer 1"));

    let videos = adapter
        .stock(call, &search(StockKind::Videos, 3, 20))
        .await
        .unwrap();
    assert_eq!(videos.media.len(), 2, "42 results: page 3 of 20 holds two");
    let v = &videos.media[0];
    assert_eq!((v.id.as_str(), v.kind), ("41", "video"));
    assert!(v.url.ends_with("/hd-1920.mp4"), "{}", v.url);
    assert_eq!(v.duration, Some(11.0));
    assert_eq!(v.photographer.as_deref(), Some("Filmmaker 41"));

    let sent = env.fake.requests("pexels");
    assert_eq!(sent[0].path, "/v1/search");
    assert_eq!(
        sent[0].query.as_deref(),
        Some("query=misty+forest&page=1&per_page=3&orientation=landscape")
    );
    assert_eq!(sent[1].path, "/videos/search");
}

#[tokio::test]
async fn stock_error_matrix() {
    error_matrix("pexels", &stock_model(), Op::Stock).await;
}
