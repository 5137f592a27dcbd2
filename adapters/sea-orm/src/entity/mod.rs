//! Hand-written sea-orm entities, one module per table of `molts-migrations`' schema.
//!
//! They mirror the stored representation (text enums, JSON as text, unix-millisecond BIGINTs);
//! turning rows into domain types is `convert`'s job. The entities carry no relations: the
//! schema has no foreign keys, and joins are not needed.

// sea-orm's derives emit `pub` items (`Entity`, `Column`, `ActiveModel`) whatever the model's
// visibility, so the models are `pub` too; the module itself stays private to the crate.
#![allow(unreachable_pub)]

pub(crate) mod admin_key;
pub(crate) mod agent;
pub(crate) mod api_key;
pub(crate) mod artifact;
pub(crate) mod instance;
pub(crate) mod instance_provider_key;
pub(crate) mod job;
pub(crate) mod model_config;
pub(crate) mod project;
pub(crate) mod quota_counter;
pub(crate) mod quota_reservation;
pub(crate) mod request_log;
pub(crate) mod tier;
pub(crate) mod webhook_delivery;
pub(crate) mod webhook_endpoint;
