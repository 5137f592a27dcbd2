//! A tenant's own key for a provider ("bring your own key"), sealed at rest. Calls for the
//! tenant's agents use it instead of the operator's key for that provider.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::Provider;

/// An instance's key for one provider, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceProviderKey {
    /// The instance.
    pub instance_id: String,
    /// The provider.
    pub provider: Provider,
    /// The key, sealed with the operator's `MOLTS_SECRET_KEY`. Never serialized.
    #[serde(skip)]
    pub sealed_key: String,
    /// The last four characters, to recognise the key by.
    pub key_hint: String,
    /// An optional base URL override for this instance.
    pub base_url: Option<String>,
    /// When it was set.
    pub updated_at: Timestamp,
}
