//! The ports: narrow traits through which core reaches storage, time, randomness, rate limiting,
//! outbound HTTP, blob storage and background work. Adapters implement them; core never names
//! an adapter.

mod blob;
mod http;
mod rate;
mod spawn;
mod store;

pub use blob::{BlobMeta, BlobObject, BlobStore, check_blob_key, check_content_type, served_range};
pub use http::{ByteStream, HttpClient, HttpClientExt, HttpRequest, HttpResponse, RequestOptions};
pub use rate::{FixedWindow, RateDecision, RateLimiter};
pub use spawn::Spawner;
pub use store::{
    AdminKeyStore, AgentQuery, AgentStore, ApiKeyStore, ArtifactStore, InstanceStore, JobStore,
    ModelConfigStore, ProjectStore, ProviderKeyStore, QuotaStore, RequestLogStore, Stores,
    TierStore, WebhookStore,
};
