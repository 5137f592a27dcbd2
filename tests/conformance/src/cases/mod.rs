//! The case table. Each case is an `async fn(&Ctx) -> CaseResult` in a module by theme; the
//! `cases!` macro names it `module.function` and boxes its future.

mod auth;
mod basics;
mod catalog;
mod errors;
mod files;
mod generation;
mod jobs;
mod keys;
mod limits;
mod logs;
mod models;
mod responses;
mod tenancy;

use crate::Case;

macro_rules! cases {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every case, in the order [`crate::run`] runs them.
        pub const CASES: &[Case] = &[
            $(Case {
                name: concat!(stringify!($module), ".", stringify!($name)),
                run: |ctx| Box::pin($module::$name(ctx)),
            }),*
        ];
    };
}

cases![
    basics::health,
    basics::request_id,
    basics::register,
    basics::register_seed_path,
    basics::key_shown_once,
    basics::me_profile,
    basics::usage_shape,
    auth::agent_auth_errors,
    auth::admin_auth_errors,
    auth::suspend_activate,
    keys::lifecycle,
    keys::stranger_key,
    limits::rate_limit,
    limits::tier_change_reflects,
    limits::tiers_crud,
    limits::tier_validation,
    tenancy::admin_isolation,
    tenancy::read_only_admin,
    tenancy::registration_token,
    tenancy::registration_admin_only,
    tenancy::provider_keys,
    tenancy::projects,
    models::model_crud,
    models::model_filters,
    models::model_validation,
    catalog::list_shape,
    catalog::allowed_models,
    errors::invalid_json,
    errors::unknown_field,
    errors::wrong_type,
    errors::body_too_large,
    errors::unsupported_media_type,
    errors::unknown_route,
    errors::wrong_method,
    generation::text,
    generation::text_stream,
    generation::chat_completions,
    generation::images,
    generation::speech,
    generation::holds_bound_the_charge,
    generation::voices_and_stock,
    generation::generation_errors,
    generation::quota_exact_under_concurrency,
    generation::aliases,
    responses::plain,
    responses::item_list,
    responses::streaming,
    responses::quota_refused,
    responses::bad_inputs,
    responses::providers,
    jobs::video,
    jobs::video_seed_paths,
    jobs::render,
    jobs::list,
    jobs::cancel,
    jobs::idempotency,
    jobs::bad_input,
    jobs::callbacks_refused,
    jobs::personas,
    jobs::webhook_endpoint,
    jobs::webhook_delivered,
    jobs::provider_hosted_output,
    files::versions,
    files::storage_caps_and_delete,
    logs::request_log,
];
